package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/rampart-gw/rampart/internal/background"
)

// QueryOptions says which events Query hands over.
type QueryOptions struct {
	// Filter selects the events.
	Filter Filter
	// Last keeps only the last Last matching events of the log as it is
	// now; 0 keeps them all.
	Last int
	// Follow, after those, hands over each matching event appended later,
	// as it is written, until the context is done.
	Follow bool
	// Every is how often a followed log is polled; 0 is 500ms.
	Every time.Duration
	// Clock paces the polls; nil is the system clock.
	Clock background.Clock
}

// Query calls emit with the raw JSON of every event of the log in dir that
// passes opt.Filter (the last opt.Last of them when set), oldest first,
// then, with opt.Follow, with each matching event appended later until ctx
// is done: rampart audit query and tail. The events read before an error
// are still handed over.
func Query(ctx context.Context, dir string, opt QueryOptions, emit func(raw []byte) error) error {
	var out [][]byte
	next := int64(0)
	err := Each(dir, func(i int64, ev Event, raw []byte) error {
		next = i + 1
		if !opt.Filter.Match(ev) {
			return nil
		}
		out = append(out, raw)
		if opt.Last > 0 && len(out) > opt.Last {
			out = out[1:]
		}
		return nil
	})
	for _, r := range out {
		if eerr := emit(r); eerr != nil {
			return eerr
		}
	}
	if err != nil || !opt.Follow {
		return err
	}
	every := opt.Every
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	return Follow(ctx, opt.Clock, dir, next, every, func(_ int64, ev Event, raw []byte) error {
		if opt.Filter.Match(ev) {
			return emit(raw)
		}
		return nil
	})
}

// ReadProof reads an inclusion proof written by rampart audit prove.
func ReadProof(path string) (Proof, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the caller names the file
	if err != nil {
		return Proof{}, err
	}
	var p Proof
	if err := json.Unmarshal(b, &p); err != nil {
		return Proof{}, fmt.Errorf("%s: not a proof: %w", path, err)
	}
	return p, nil
}
