package safetext

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler wraps a slog.Handler and redacts (Redact) the message and every
// attribute before passing the record on: strings, errors, Stringers, and
// any other value whose printed form holds a secret. LogValuers are resolved
// first, so a redacting LogValue keeps its own form.
type Handler struct{ next slog.Handler }

var _ slog.Handler = Handler{}

// NewHandler returns h behind redaction. Wrapping twice is harmless.
func NewHandler(h slog.Handler) slog.Handler {
	if rh, ok := h.(Handler); ok {
		return rh
	}
	return Handler{next: h}
}

func (h Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h Handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return Handler{next: h.next.WithAttrs(red)}
}

func (h Handler) WithGroup(name string) slog.Handler { return Handler{next: h.next.WithGroup(name)} }

func redactAttr(a slog.Attr) slog.Attr {
	a.Key = Redact(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		a.Value = slog.GroupValue(red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			a.Value = slog.StringValue(Redact(x.Error()))
		case fmt.Stringer:
			a.Value = slog.StringValue(Redact(x.String()))
		default:
			// Keep the value (a JSON handler marshals it) unless its
			// printed form holds a secret.
			if s := fmt.Sprintf("%+v", x); Redact(s) != s {
				a.Value = slog.StringValue(Redact(s))
			} else {
				a.Value = v
			}
		}
	default:
		a.Value = v
	}
	return a
}
