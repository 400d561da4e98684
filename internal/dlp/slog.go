package dlp

import (
	"context"
	"fmt"
	"log/slog"
)

// NewRedactingHandler wraps an slog.Handler so that nothing sensitive
// reaches it: the message and every string attribute value are masked with
// s (recursing into groups and resolving LogValuers), a string attribute is
// scanned with its key as the name (FindNamed), so password="..." is masked
// too, and error and fmt.Stringer values with a finding become their masked
// strings. Attributes given to WithAttrs are masked the same way. A record
// with no findings is passed on as it is, without copying.
//
// Other values (numbers, structs, maps, byte slices) are passed on as they
// are: the handler does not format them.
func NewRedactingHandler(next slog.Handler, s *Scanner) slog.Handler {
	return &redactingHandler{next: next, s: s}
}

type redactingHandler struct {
	next slog.Handler
	s    *Scanner
}

// Enabled reports whether the wrapped handler handles level.
func (h *redactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle masks r, when it holds a finding, and passes it on.
func (h *redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	dirty := len(h.s.FindString(r.Message)) > 0
	if !dirty {
		r.Attrs(func(a slog.Attr) bool {
			dirty = h.dirty(a.Key, a.Value)
			return !dirty
		})
	}
	if !dirty {
		return h.next.Handle(ctx, r)
	}
	msg, _ := h.s.MaskString(r.Message)
	nr := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(h.mask(a))
		return true
	})
	return h.next.Handle(ctx, nr)
}

// WithAttrs masks attrs and passes them on.
func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.mask(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(masked), s: h.s}
}

// WithGroup passes the group on.
func (h *redactingHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &redactingHandler{next: h.next.WithGroup(name), s: h.s}
}

// dirty reports whether a value holds a finding.
func (h *redactingHandler) dirty(key string, v slog.Value) bool {
	switch v.Kind() {
	case slog.KindString:
		return len(h.s.FindNamedString(key, v.String())) > 0
	case slog.KindGroup:
		for _, a := range v.Group() {
			if h.dirty(a.Key, a.Value) {
				return true
			}
		}
	case slog.KindLogValuer:
		return h.dirty(key, v.Resolve())
	case slog.KindAny:
		if s, ok := textOf(v.Any()); ok {
			return len(h.s.FindNamedString(key, s)) > 0
		}
	}
	return false
}

// mask returns a with its findings masked, or a itself when it has none.
func (h *redactingHandler) mask(a slog.Attr) slog.Attr {
	v := a.Value
	if v.Kind() == slog.KindLogValuer {
		v = v.Resolve()
	}
	switch v.Kind() {
	case slog.KindString:
		if m, ok := h.maskNamed(a.Key, v.String()); ok {
			return slog.String(a.Key, m)
		}
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, ga := range g {
			out[i] = h.mask(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		if s, ok := textOf(v.Any()); ok {
			if m, ok := h.maskNamed(a.Key, s); ok {
				return slog.String(a.Key, m)
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

func (h *redactingHandler) maskNamed(key, s string) (string, bool) {
	fs := h.s.FindNamedString(key, s)
	if len(fs) == 0 {
		return s, false
	}
	return string(maskTo(make([]byte, 0, len(s)+16), s, fs)), true
}

// textOf returns the text of an error or fmt.Stringer; a method that panics
// (a nil pointer receiver, say) yields a placeholder, as slog itself does.
func textOf(x any) (s string, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s, ok = fmt.Sprintf("!PANIC: %v", r), true
		}
	}()
	switch t := x.(type) {
	case error:
		return t.Error(), true
	case fmt.Stringer:
		return t.String(), true
	}
	return "", false
}
