package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuery: the filter, the last N of the matches, oldest first, then
// (with Follow) the matches appended later; an error from emit stops it.
func TestQuery(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	add := func(i int, subject string) {
		b, _ := json.Marshal(Event{V: EventVersion, RequestID: fmt.Sprintf("r%d", i), Subject: subject, Decisions: []Decision{}})
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		add(i, []string{"bob", "carol"}[i%2])
	}
	ids := func(opt QueryOptions, ctx context.Context) ([]string, error) {
		var got []string
		err := Query(ctx, dir, opt, func(raw []byte) error {
			var ev Event
			if err := json.Unmarshal(raw, &ev); err != nil {
				return err
			}
			got = append(got, ev.RequestID)
			return nil
		})
		return got, err
	}
	bob := Filter{Subject: "bob"}
	if got, err := ids(QueryOptions{Filter: bob}, context.Background()); err != nil || strings.Join(got, ",") != "r0,r2,r4" {
		t.Errorf("bob: %v, %v", got, err)
	}
	if got, err := ids(QueryOptions{Filter: bob, Last: 2}, context.Background()); err != nil || strings.Join(got, ",") != "r2,r4" {
		t.Errorf("bob, last 2: %v, %v", got, err)
	}
	if got, err := ids(QueryOptions{Last: 1}, context.Background()); err != nil || strings.Join(got, ",") != "r5" {
		t.Errorf("last 1: %v, %v", got, err)
	}

	stop := errors.New("stop")
	n := 0
	err = Query(context.Background(), dir, QueryOptions{}, func([]byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("emit's error: %v after %d events", err, n)
	}

	// Follow: the matches so far, then bob's next event; a done context
	// ends it without an error.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	done, first := make(chan error, 1), make(chan struct{})
	go func() {
		done <- Query(ctx, dir, QueryOptions{Filter: bob, Last: 1, Follow: true, Every: time.Millisecond}, func(raw []byte) error {
			var ev Event
			_ = json.Unmarshal(raw, &ev)
			got = append(got, ev.RequestID)
			switch ev.RequestID {
			case "r4":
				close(first)
			case "r6":
				cancel()
			}
			return nil
		})
	}()
	<-first // the log as it was is read: what comes now is followed
	add(7, "carol")
	add(6, "bob")
	if err := <-done; err != nil || strings.Join(got, ",") != "r4,r6" {
		t.Errorf("follow: %v, %v", got, err)
	}
}

func TestReadProof(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "proof.json")
	b, _ := json.Marshal(Proof{Index: 3, TreeSize: 7})
	if err := os.WriteFile(good, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := ReadProof(good); err != nil || p.Index != 3 || p.TreeSize != 7 {
		t.Errorf("ReadProof: %+v, %v", p, err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadProof(bad); err == nil || !strings.Contains(err.Error(), "not a proof") {
		t.Errorf("a bad proof: %v", err)
	}
	if _, err := ReadProof(filepath.Join(dir, "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no file: %v", err)
	}
}
