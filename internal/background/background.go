// Package background owns the process's periodic work: the loops that
// reread a store, reload a file, flush a buffer or poll for shreds. Every
// loop runs on a Runner, waits on the Runner's Clock, and stops, awaited,
// when the Runner (or the Runner it descends from) is closed, so no loop
// outlives what started it and no test has to sleep to see one run: a test
// gives the Runner a fake clock and advances it.
//
// It does not decide what a loop does or how often (its owner does), and
// it does not retry: a loop body that fails logs and waits for its next
// turn.
package background

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Clock is the time source a loop waits on. System returns the real one;
// tests give a *clockwork.FakeClock and advance it.
type Clock = clockwork.Clock

// System returns the real clock.
func System() Clock { return clockwork.NewRealClock() }

// Runner starts background loops and stops them. A Runner made by
// NewRunner is a root; Child makes one whose loops stop on its own Close
// and on any ancestor's. Its methods are safe for concurrent use.
type Runner struct {
	clock  Clock
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	// wgs are this runner's wait group and its ancestors': a loop counts
	// in each, so closing any of them waits for it.
	wgs []*sync.WaitGroup

	// mu is shared by a root and all its descendants: a loop is started
	// either before a Close of any of them cancels, or not at all.
	mu     *sync.Mutex
	closed bool
}

// NewRunner returns a root Runner on clock (System when nil) that logs a
// loop body's panic to log (slog.Default when nil).
func NewRunner(clock Clock, log *slog.Logger) *Runner {
	if clock == nil {
		clock = System()
	}
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{clock: clock, log: log, ctx: ctx, cancel: cancel, mu: new(sync.Mutex), wgs: []*sync.WaitGroup{new(sync.WaitGroup)}}
}

// Or returns r, or a new root Runner on the system clock when r is nil:
// what a component uses when its caller gave it no Runner.
func Or(r *Runner, log *slog.Logger) *Runner {
	if r != nil {
		return r
	}
	return NewRunner(nil, log)
}

// Clock returns the clock the runner's loops wait on.
func (r *Runner) Clock() Clock { return r.clock }

// Child returns a Runner on the same clock whose loops stop when it or r
// is closed; closing r waits for them too.
func (r *Runner) Child() *Runner {
	ctx, cancel := context.WithCancel(r.ctx)
	c := &Runner{clock: r.clock, log: r.log, ctx: ctx, cancel: cancel, mu: r.mu}
	c.wgs = append([]*sync.WaitGroup{new(sync.WaitGroup)}, r.wgs...)
	return c
}

// Every runs fn every interval until the runner is closed. The wait
// starts again when fn returns, so a slow turn delays the next one instead
// of piling turns up. fn's context is cancelled on Close; fn must return
// soon after.
func (r *Runner) Every(name string, interval time.Duration, fn func(context.Context)) {
	r.EveryOrWake(name, interval, nil, fn)
}

// EveryOrWake is Every, and also runs fn as soon as wake receives (a
// notice that something changed); a nil wake never receives.
func (r *Runner) EveryOrWake(name string, interval time.Duration, wake <-chan struct{}, fn func(context.Context)) {
	if interval <= 0 {
		panic("background: " + name + ": the interval must be positive") // a programming error, not input
	}
	r.Go(name, func(ctx context.Context) {
		for {
			t := r.clock.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.Chan():
			case <-wake:
				t.Stop()
			}
			if !r.turn(ctx, name, fn) {
				return
			}
		}
	})
}

// Go runs fn once, in its own goroutine, until it returns; its context is
// cancelled on Close, which waits for fn to return. After Close it starts
// nothing, and reports false.
func (r *Runner) Go(name string, fn func(context.Context)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.ctx.Err() != nil {
		return false
	}
	for _, wg := range r.wgs {
		wg.Add(1)
	}
	go func() {
		defer func() {
			for _, wg := range r.wgs {
				wg.Done()
			}
		}()
		r.turn(r.ctx, name, fn)
	}()
	return true
}

// turn runs fn once and reports whether the loop goes on: a panic is
// logged (the process keeps serving; the next turn tries again) and a
// cancelled context ends the loop.
func (r *Runner) turn(ctx context.Context, name string, fn func(context.Context)) (goOn bool) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("background: a loop panicked; it runs again at its next turn", "loop", name, "panic", v)
			goOn = ctx.Err() == nil
		}
	}()
	fn(ctx)
	return ctx.Err() == nil
}

// Close stops the runner's loops and those of its children, and waits for
// them to return. It is idempotent.
func (r *Runner) Close() {
	r.mu.Lock()
	r.closed = true
	r.cancel() // under mu: a Go that holds mu sees the cancellation
	r.mu.Unlock()
	r.wgs[0].Wait()
}
