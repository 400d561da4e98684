package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
)

// TestFollow: a follower started at index 3 sees every later event once,
// in order, while the writer appends and rotates segments under it.
func TestFollow(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Sync: true, MaxSegmentBytes: 600})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	add := func(i int) {
		b, _ := json.Marshal(Event{V: EventVersion, RequestID: fmt.Sprintf("r%d", i), Method: "GET", Path: "/x", Decisions: []Decision{}})
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		add(i)
	}
	// The log's own records (checkpoint records) sit between events:
	// follow from the index of r3.
	from := int64(-1)
	_ = Each(dir, func(i int64, ev Event, _ []byte) error {
		if ev.RequestID == "r3" {
			from = i
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	clock := clockwork.NewFakeClock()
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		last := int64(-1)
		done <- Follow(ctx, clock, dir, from, 5*time.Millisecond, func(i int64, ev Event, _ []byte) error {
			mu.Lock()
			defer mu.Unlock()
			if want := fmt.Sprintf("r%d", len(got)+3); ev.RequestID != want || i <= last {
				return fmt.Errorf("index %d holds %s, want %s after index %d", i, ev.RequestID, want, last)
			}
			last = i
			got = append(got, ev.RequestID)
			return nil
		})
	}()
	followed := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	backgroundtest.Parked(t, clock, 1) // the first pass is over
	if n := followed(); n != 2 {
		t.Fatalf("the first pass followed %d events, want r3 and r4", n)
	}
	for i := 5; i < 40; i++ {
		add(i)        // Sync: on disk when Append returns
		if i%7 == 0 { // the follower catches up mid-stream
			backgroundtest.Tick(t, clock, 5*time.Millisecond, 1)
			if n := followed(); n != i-2 {
				t.Fatalf("after r%d was written and a poll: followed %d events", i, n)
			}
		}
	}
	backgroundtest.Tick(t, clock, 5*time.Millisecond, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	segs, _ := segments(dir)
	if len(got) != 37 || got[0] != "r3" || got[36] != "r39" || len(segs) < 3 {
		t.Fatalf("followed %d events (%v) over %d segments", len(got), got, len(segs))
	}
}
