package background_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
)

func TestEveryRunsOnTheClock(t *testing.T) {
	clock := clockwork.NewFakeClock()
	r := background.NewRunner(clock, nil)
	defer r.Close()
	var turns atomic.Int32
	r.Every("count", time.Minute, func(context.Context) { turns.Add(1) })
	backgroundtest.Parked(t, clock, 1)
	clock.Advance(59 * time.Second)
	backgroundtest.Parked(t, clock, 1)
	if n := turns.Load(); n != 0 {
		t.Fatalf("%d turns before the interval", n)
	}
	for want := int32(1); want <= 3; want++ {
		clock.Advance(time.Minute)
		backgroundtest.Parked(t, clock, 1) // the turn is over once the loop waits again
		if n := turns.Load(); n != want {
			t.Fatalf("after %d intervals: %d turns", want, n)
		}
	}
}

func TestWakeRunsATurnAtOnce(t *testing.T) {
	clock := clockwork.NewFakeClock()
	r := background.NewRunner(clock, nil)
	defer r.Close()
	wake := make(chan struct{})
	ran := make(chan struct{}, 1)
	r.EveryOrWake("wake", time.Hour, wake, func(context.Context) { ran <- struct{}{} })
	wake <- struct{}{}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("a wake did not run a turn")
	}
}

func TestCloseStopsAndWaits(t *testing.T) {
	clock := clockwork.NewFakeClock()
	root := background.NewRunner(clock, nil)
	child := root.Child()
	var running, stopped atomic.Int32
	started := make(chan struct{})
	child.Go("long", func(ctx context.Context) {
		running.Add(1)
		close(started)
		<-ctx.Done()
		stopped.Add(1)
	})
	child.Every("tick", time.Second, func(context.Context) {})
	root.Every("root tick", time.Second, func(context.Context) {})
	<-started
	child.Close()
	if stopped.Load() != 1 {
		t.Fatal("the child's Close returned before its loop did")
	}
	backgroundtest.Parked(t, clock, 1) // the root's loop still runs
	root.Close()
	if child.Go("late", func(context.Context) { t.Error("a loop started after Close") }) {
		t.Error("Go reported a start after Close")
	}
	if root.Go("late", func(context.Context) { t.Error("a loop started after Close") }) {
		t.Error("Go reported a start after Close")
	}
	root.Close() // idempotent
}

func TestRootCloseStopsChildren(t *testing.T) {
	root := background.NewRunner(clockwork.NewFakeClock(), nil)
	child := root.Child().Child()
	done := make(chan struct{})
	started := make(chan struct{})
	child.Go("grandchild", func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		close(done)
	})
	<-started
	root.Close()
	select {
	case <-done:
	default:
		t.Fatal("the root's Close returned before a grandchild's loop")
	}
}

func TestPanicIsLoggedAndTheLoopGoesOn(t *testing.T) {
	var logs bytes.Buffer
	clock := clockwork.NewFakeClock()
	r := background.NewRunner(clock, slog.New(slog.NewTextHandler(&logs, nil)))
	defer r.Close()
	var turns atomic.Int32
	r.Every("flaky", time.Second, func(context.Context) {
		if turns.Add(1) == 1 {
			panic("boom")
		}
	})
	for range 2 {
		backgroundtest.Parked(t, clock, 1)
		clock.Advance(time.Second)
	}
	backgroundtest.Parked(t, clock, 1)
	if n := turns.Load(); n != 2 {
		t.Fatalf("%d turns, want 2: the loop stopped after its panic", n)
	}
	if !strings.Contains(logs.String(), "loop=flaky") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("the panic was not logged with the loop's name:\n%s", logs.String())
	}
}

func TestOr(t *testing.T) {
	r := background.NewRunner(nil, nil)
	defer r.Close()
	if background.Or(r, nil) != r {
		t.Error("Or replaced a given runner")
	}
	o := background.Or(nil, nil)
	defer o.Close()
	if o == nil || o.Clock() == nil {
		t.Error("Or(nil) gave no runner")
	}
}
