package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
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
	var mu sync.Mutex
	var got []string
	done := make(chan error, 1)
	go func() {
		last := int64(-1)
		done <- Follow(ctx, dir, from, 5*time.Millisecond, func(i int64, ev Event, _ []byte) error {
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
	for i := 5; i < 40; i++ {
		add(i)
		if i%7 == 0 {
			time.Sleep(10 * time.Millisecond) // let the follower catch up mid-stream
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 37 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	segs, _ := segments(dir)
	if len(got) != 37 || got[0] != "r3" || got[36] != "r39" || len(segs) < 3 {
		t.Fatalf("followed %d events (%v) over %d segments", len(got), got, len(segs))
	}
}
