package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/faultnet"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

// logBuffer collects log lines from concurrent goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many lines hold s.
func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

const (
	outageLine   = "store unavailable;"
	recoveryLine = "store available again"
)

// proxied opens a PostgreSQL store (a schema of the test's own) through a
// fault proxy, with the given call timeout.
func proxied(t *testing.T, timeout time.Duration) (*store.Store, *faultnet.Proxy, *logBuffer) {
	t.Helper()
	dsn := storetest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := faultnet.New(t, u.Host)
	u.Host = p.Addr()
	logs := &logBuffer{}
	s, err := store.Open(context.Background(), config.Store{Driver: "postgres", DSN: u.String(), Timeout: config.Duration(timeout)},
		store.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, p, logs
}

// calls runs n concurrent lookups of an unknown key and returns their
// errors and the slowest one's duration.
func calls(s *store.Store, n int) ([]error, time.Duration) {
	errs := make([]error, n)
	took := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, errs[i] = s.APIKey(context.Background(), "nope")
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	var slowest time.Duration
	for _, d := range took {
		slowest = max(slowest, d)
	}
	return errs, slowest
}

// TestFaultsBoundedByTimeout puts a real PostgreSQL behind a fault proxy:
// whether the server is silent, refuses or resets, every call fails with
// ErrUnavailable within the store's timeout (more calls than the pool has
// connections, so waiting for a connection is bounded too); a slow server
// under the timeout still answers; once the fault is gone the pool serves
// again at once, and each outage is logged once when it starts and once
// when it ends.
func TestFaultsBoundedByTimeout(t *testing.T) {
	// A PostgreSQL connection costs about 60ms to set up on a two-core
	// machine, and 16 at once (the pool refilling after a fault) about
	// 0.5s: the timeout bounds a call and the connection it opens.
	const timeout = time.Second
	const n = 24 // more than the pool's 16 connections
	s, p, logs := proxied(t, timeout)
	if errs, _ := calls(s, n); !errors.Is(errs[0], store.ErrNotFound) {
		t.Fatalf("healthy: %v", errs[0])
	}
	outages := 0
	for _, mode := range []faultnet.Mode{faultnet.Blackhole, faultnet.Closed, faultnet.Reset} {
		t.Run(mode.String(), func(t *testing.T) {
			if err := p.Set(mode); err != nil {
				t.Fatal(err)
			}
			errs, slowest := calls(s, n)
			for i, err := range errs {
				if !errors.Is(err, store.ErrUnavailable) {
					t.Fatalf("call %d: want ErrUnavailable, got %v", i, err)
				}
			}
			t.Logf("%s: %d calls failed, slowest %v (timeout %v)", mode, n, slowest, timeout)
			if slowest > timeout+time.Second {
				t.Errorf("slowest call took %v, want under timeout %v + 1s", slowest, timeout)
			}
			if err := p.Set(faultnet.Pass); err != nil {
				t.Fatal(err)
			}
			// database/sql may still hand one caller the error of a
			// connection its opener goroutine was making during the
			// fault: recovery is the first answer, within a timeout.
			if took := recovered(t, s, timeout); took > 0 {
				t.Logf("after %s: first answer after %v", mode, took)
			}
			// Half the pool at once: every one of those slots must be
			// usable again (none held by a call or a dial the fault
			// stranded). Not the whole pool: 16 PostgreSQL backends
			// starting together take about the timeout here.
			errs, slowest = calls(s, 8)
			for i, err := range errs {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("after %s, call %d: want ErrNotFound (an answer), got %v", mode, i, err)
				}
			}
			t.Logf("after %s: %d calls answered, slowest %v", mode, len(errs), slowest)
			if slowest > timeout {
				t.Errorf("after %s the slowest call took %v: the pool kept broken connections", mode, slowest)
			}
			outages++
			if got := logs.count(outageLine); got != outages {
				t.Errorf("outage lines after %d outages: %d", outages, got)
			}
			if got := logs.count(recoveryLine); got != outages {
				t.Errorf("recovery lines after %d outages: %d", outages, got)
			}
		})
		// The outage line is held back for 10s after the last one (a
		// flapping store is not logged once per flap): wait it out here
		// rather than in a real gateway's logs.
		if t.Failed() {
			return
		}
		store.ResetOutageClock(s)
	}

	t.Run("slow", func(t *testing.T) {
		// 25ms a chunk each way: a call on a pooled connection costs two
		// chunks, a new connection's set-up about six more; within the
		// pool's size, every call fits well under the timeout.
		const delay = timeout / 20
		if err := p.SetSlow(delay); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = p.Set(faultnet.Pass) }()
		errs, slowest := calls(s, 8)
		for i, err := range errs {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("slow, call %d: want an answer, got %v", i, err)
			}
		}
		t.Logf("slow (%v a chunk): %d calls answered, slowest %v", delay, len(errs), slowest)
	})
}

// recovered waits, at most timeout, for the store to answer a call again,
// and returns how long that took.
func recovered(t *testing.T, s *store.Store, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := s.APIKey(context.Background(), "nope")
		if errors.Is(err, store.ErrNotFound) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("no answer %v after the fault was removed: %v", timeout, err)
		}
	}
}

// TestCallerCancelIsNoOutage: a caller that gives up (a client hung up)
// gets its context's error, and the store is not reported down; a
// caller's own deadline that passes before the store answers is the store
// not answering in time.
func TestCallerCancelIsNoOutage(t *testing.T) {
	s, p, logs := proxied(t, time.Second)
	if err := p.Set(faultnet.Blackhole); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := s.APIKey(ctx, "nope")
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("want the caller's cancellation, not ErrUnavailable: %v", err)
	}
	if got := logs.count(outageLine); got != 0 {
		t.Errorf("%d outage lines for a caller that hung up", got)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.APIKey(ctx, "nope"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("the caller's deadline passed: want ErrUnavailable, got %v", err)
	}
	if got := logs.count(outageLine); got != 1 {
		t.Errorf("%d outage lines, want 1", got)
	}
}

// TestOpenBlackholed: opening a store whose server accepts and never
// answers fails within the connect timeout (store.timeout), not never.
func TestOpenBlackholed(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	u, _ := url.Parse(dsn)
	p := faultnet.New(t, u.Host)
	if err := p.Set(faultnet.Blackhole); err != nil {
		t.Fatal(err)
	}
	u.Host = p.Addr()
	start := time.Now()
	s, err := store.Open(context.Background(), config.Store{Driver: "postgres", DSN: u.String(), Timeout: config.Duration(300 * time.Millisecond)})
	if err == nil {
		_ = s.Close()
		t.Fatal("opened a store that never answers")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Open took %v against a blackhole", took)
	}
}

// TestAnswersAreNoOutage: refusals the store decides (not found, a
// duplicate) leave it healthy, on both back ends.
func TestAnswersAreNoOutage(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			k := store.APIKey{ID: "k1", Name: "n", Subject: "s", Hash: []byte{1}, CreatedAt: time.Now()}
			if err := s.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateAPIKey(ctx, k); !errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrUnavailable) {
				t.Errorf("duplicate: %v", err)
			}
			if _, err := s.APIKey(ctx, "k2"); !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
				t.Errorf("unknown: %v", err)
			}
			if err := s.RevokeAPIKey(ctx, "k2", time.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("revoking unknown: %v", err)
			}
		})
	}
}

// TestSQLiteClosedIsUnavailable: a closed SQLite store's calls wrap
// ErrUnavailable too, and the default timeout applies.
func TestSQLiteClosedIsUnavailable(t *testing.T) {
	s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	if s.Timeout() != config.DefaultStoreTimeout {
		t.Errorf("timeout %v, want the default %v", s.Timeout(), config.DefaultStoreTimeout)
	}
	_ = s.Close()
	if _, err := s.APIKey(context.Background(), "x"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("closed store: %v", err)
	}
}
