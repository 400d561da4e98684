package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-gw/rampart/internal/background"
)

// Follow calls fn with every event of the log in dir from index from on,
// then with each event appended later, as it appears, until ctx is done
// (it then returns nil) or fn fails: rampart audit tail --follow. It polls
// every `every`, reading only what is new since the last poll, across
// segment rotations; a record still being written is read once it is
// whole. A segment removed under it (retention) is an error. It waits on
// clock (the system clock when nil).
func Follow(ctx context.Context, clock background.Clock, dir string, from int64, every time.Duration, fn func(i int64, ev Event, raw []byte) error) error {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	if clock == nil {
		clock = background.System()
	}
	k, base, err := segmentOf(dir, from)
	if err != nil {
		return err
	}
	var off int64 // bytes of whole records read in segment k
	next := base  // index of the record at off
	for {
		for {
			// Whether k is finished is known before it is read: the writer
			// creates the next segment only after k is complete.
			_, statErr := os.Stat(filepath.Join(dir, segName(k+1)))
			moved := statErr == nil
			n, m, err := readFrom(dir, k, off, next, func(i int64, payload []byte) error {
				if i < from || isLogRecord(payload) {
					return nil
				}
				var ev Event
				if err := json.Unmarshal(payload, &ev); err != nil {
					return fmt.Errorf("record %d is not an event: %w", i, err)
				}
				return fn(i, ev, payload)
			})
			off, next = off+n, next+m
			if err != nil {
				return err
			}
			if !moved {
				break
			}
			k, off = k+1, 0
		}
		// A timer per wait, not a ticker: the next wait starts after a
		// pass, so a slow pass never queues another.
		t := clock.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.Chan():
		}
	}
}

// segmentOf finds the segment that holds record from (or the last one,
// when from is past the end) and the index of its first record.
func segmentOf(dir string, from int64) (int, int64, error) {
	ks, err := segments(dir)
	if err != nil {
		return 0, 0, err
	}
	if len(ks) == 0 {
		return 0, 0, fmt.Errorf("%s holds no audit log", dir)
	}
	for j := len(ks) - 1; j >= 0; j-- {
		start := int64(0)
		if ks[j] != 0 {
			st, err := readStart(dir, ks[j])
			if err != nil {
				return 0, 0, err
			}
			start = st.size
		}
		if start <= from || j == 0 {
			return ks[j], start, nil
		}
	}
	return ks[0], 0, nil
}

// readFrom reads the whole records of segment k after byte off (whose
// first has index first), and reports the bytes and records it consumed;
// a torn tail is left for the next read.
func readFrom(dir string, k int, off, first int64, fn func(i int64, payload []byte) error) (int64, int64, error) {
	f, err := os.Open(filepath.Join(dir, segName(k))) // #nosec G304 -- the operator's audit dir
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, 0, fmt.Errorf("segment %s was removed while it was followed", segName(k))
		}
		return 0, 0, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, 0, err
	}
	var records int64
	n, err := scan(f, func(i int64, _ [32]byte, payload []byte) error {
		records = i + 1
		return fn(first+i, payload)
	})
	var torn *TornError
	if errors.As(err, &torn) {
		return n, torn.Index, nil
	}
	return n, records, err
}
