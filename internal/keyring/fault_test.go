package keyring

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/faultnet"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

// TestEncryptBlackholedStore: requests encrypting for one subject share
// its writer; while the store is silent, each gives up within the store's
// timeout, whether it waits on the store or behind another request that
// does, and encryption works again once the store answers.
func TestEncryptBlackholedStore(t *testing.T) {
	u, err := url.Parse(storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	p := faultnet.New(t, u.Host)
	u.Host = p.Addr()
	const timeout = 300 * time.Millisecond
	st, err := store.Open(context.Background(), config.Store{Driver: "postgres", DSN: u.String(), Timeout: config.Duration(timeout)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	k := newRing(t, st, Options{ReserveBlock: 1}) // every encryption reserves in the store
	ctx := context.Background()
	if _, err := k.Encrypt(ctx, "bob", "$.ssn", []byte(`"x"`)); err != nil {
		t.Fatal(err)
	}
	if err := p.Set(faultnet.Blackhole); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make([]error, n)
	took := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, errs[i] = k.Encrypt(ctx, "bob", "$.ssn", []byte(`"x"`))
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i := range n {
		if !errors.Is(errs[i], ErrUnavailable) {
			t.Errorf("encryption %d: want ErrUnavailable, got %v", i, errs[i])
		}
		if took[i] > timeout+time.Second {
			t.Errorf("encryption %d took %v, want within the timeout %v (+1s)", i, took[i], timeout)
		}
	}
	if err := p.Set(faultnet.Pass); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := k.Encrypt(ctx, "bob", "$.ssn", []byte(`"x"`))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no encryption after the store came back: %v", err)
		}
	}
}
