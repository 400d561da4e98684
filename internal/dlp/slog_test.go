package dlp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

func TestRedactingHandler(t *testing.T) {
	const card = "4111111111111111"
	const secret = "q8Zr3TfWm2LxP9vKa7Nc4Hd"
	const email = "alice@example.com"
	var out bytes.Buffer
	h := NewRedactingHandler(slog.NewJSONHandler(&out, nil), MustNew())
	log := slog.New(h)

	log.Info("paid with "+card, "password", secret, "user", email)
	log.Info("grouped", slog.Group("req", slog.String("auth", "Bearer "+testJWT), slog.Group("deep", "mail", email)))
	log.With("token", secret, "who", email).WithGroup("g").With("c", card).Info("with attrs", "n", 1)
	log.Error("failed", "err", errors.New("card "+card+" declined"), "s", stringer{"mail " + email})
	log.Info("clean", "id", 42, "path", "/api/v2/items")

	got := out.String()
	for _, leak := range []string{card, secret, email, testJWT} {
		if strings.Contains(got, leak) {
			t.Errorf("%q reached the inner handler:\n%s", leak, got)
		}
	}
	for _, want := range []string{"************1111", "[REDACTED:secret]", "a***@example.com", "[REDACTED:jwt]", `"id":42`, `"g":{"c":"************1111"`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

// recorder records the record it was given.
type recorder struct {
	slog.Handler
	last slog.Record
}

func (r *recorder) Handle(_ context.Context, rec slog.Record) error { r.last = rec; return nil }

func TestRedactingHandlerFastPath(t *testing.T) {
	rec := &recorder{Handler: slog.DiscardHandler}
	h := NewRedactingHandler(rec, MustNew())
	in := slog.NewRecord(time.Date(2024, 11, 27, 10, 0, 0, 0, time.UTC), slog.LevelInfo, "all clean", 0)
	in.AddAttrs(slog.String("path", "/x"), slog.Int("n", 1))
	allocs := testing.AllocsPerRun(100, func() {
		if err := h.Handle(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("clean record: %v allocations", allocs)
	}
	if rec.last.Message != "all clean" || rec.last.NumAttrs() != 2 {
		t.Errorf("record changed: %+v", rec.last)
	}
	if h.WithGroup("") != h {
		t.Error("WithGroup(\"\") must return the handler")
	}
}
