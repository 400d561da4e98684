package tokens

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func TestRevocations(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	a, err := NewRevocations(ctx, st, time.Hour, c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewRevocations(ctx, st, time.Hour, c.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Revoke(ctx, "t1", c.t.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !a.Has("t1") || b.Has("t1") {
		t.Fatalf("at once here, not yet there: %v %v", a.Has("t1"), b.Has("t1"))
	}
	if err := b.reload(ctx); err != nil || !b.Has("t1") {
		t.Fatalf("the other gateway after a reread: %v %v", b.Has("t1"), err)
	}
	// A reread keeps this gateway's own recent revocation even if the
	// store lost it (a read racing the write).
	if err := a.reload(ctx); err != nil || !a.Has("t1") {
		t.Fatal("lost on reread", err)
	}
	// Once the token has expired, the revocation is forgotten everywhere.
	c.t = c.t.Add(6 * time.Minute)
	if err := a.reload(ctx); err != nil || a.Has("t1") {
		t.Fatalf("an expired revocation is kept: %v %v", a.Has("t1"), err)
	}
	if len(a.recent) != 0 {
		t.Fatalf("recent holds %d ids", len(a.recent))
	}
}
