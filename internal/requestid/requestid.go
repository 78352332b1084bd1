// Package requestid carries a request's id in its context, and adds it to
// every log record written with that context, so that the HTTP layer and
// the account service below it log the same request under one id without
// passing a logger around.
package requestid

import (
	"context"
	"log/slog"
)

type key struct{}

// Key is the context key of the request id, for a context.Context that
// answers several values at once (one allocation per request instead of
// one per value): its Value(Key) is the request id, a string.
var Key any = key{}

// NewContext returns ctx carrying the request id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// FromContext returns the request id ctx carries, if any.
func FromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(key{}).(string)
	return id, ok
}

// Handler returns a handler that adds "request_id" to every record logged
// with a context that carries one, and passes the record to h. A Handler
// given one of its own is returned as it is.
func Handler(h slog.Handler) slog.Handler {
	if _, ok := h.(handler); ok {
		return h
	}
	return handler{h}
}

type handler struct{ next slog.Handler }

func (h handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := FromContext(ctx); ok {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.next.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler { return handler{h.next.WithAttrs(attrs)} }

func (h handler) WithGroup(name string) slog.Handler { return handler{h.next.WithGroup(name)} }
