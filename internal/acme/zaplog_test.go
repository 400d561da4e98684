package acme

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
)

func TestSlogCore(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	zl := zap.New(newSlogCore(h)).Named("certmagic").With(zap.String("cache", "c1"))

	zl.Debug("dropped below the handler's level")
	zl.Named("obtain").Info("obtaining certificate", zap.String("identifier", "a.test"), zap.Int("attempt", 2))
	zl.Warn("slow")
	zl.Error("failed", zap.Error(errors.New("boom")), zap.Strings("names", []string{"a.test", "b.test"}))

	var got []map[string]any
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "obtaining certificate", "cache": "c1", "logger": "certmagic.obtain", "identifier": "a.test", "attempt": float64(2)},
		{"level": "WARN", "msg": "slow", "cache": "c1", "logger": "certmagic"},
		{"level": "ERROR", "msg": "failed", "cache": "c1", "logger": "certmagic", "error": "boom", "names": []any{"a.test", "b.test"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}
