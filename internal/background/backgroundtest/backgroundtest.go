// Package backgroundtest drives background loops in tests: a Runner on a
// fake clock, and Tick, which moves the clock on and returns once every
// loop has finished the turn that caused, so a test sees a loop's effect
// without sleeping. Eventually is the one poll for what no clock drives (a
// real server starting, a real Redis coming back).
package backgroundtest

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rampart-gw/rampart/internal/background"
)

// wait bounds every wait for loops to park: a loop that never waits on the
// clock again (it hangs, or it stopped) fails the test instead of hanging
// it.
const wait = 10 * time.Second

// Runner returns a root Runner on a new fake clock, closed when the test
// ends, and the clock.
func Runner(t testing.TB) (*background.Runner, *clockwork.FakeClock) {
	t.Helper()
	clock := clockwork.NewFakeClock()
	r := background.NewRunner(clock, nil)
	t.Cleanup(r.Close)
	return r, clock
}

// Parked waits until loops goroutines wait on clock.
func Parked(t testing.TB, clock *clockwork.FakeClock, loops int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, loops); err != nil {
		t.Fatalf("%d loops never waited on the clock: %v", loops, err)
	}
}

// Tick waits until loops wait on clock, advances it by d, and waits until
// they wait again: every turn that d caused is over when it returns.
func Tick(t testing.TB, clock *clockwork.FakeClock, d time.Duration, loops int) {
	t.Helper()
	Parked(t, clock, loops)
	clock.Advance(d)
	Parked(t, clock, loops)
}

// Eventually polls cond until it holds, failing the test after within.
// It is for what no clock of ours drives: a process starting, a real
// server recovering. Loops are driven with Tick instead.
func Eventually(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		<-poll.C
	}
}
