// Package clientip carries a request's client address in its context, as
// the HTTP layer determines it (the TCP peer, or X-Forwarded-For from a
// trusted proxy), so that the account service below it can name the
// client in its audit records without knowing HTTP.
package clientip

import "context"

type key struct{}

// Key is the context key of the client address, for a context.Context that
// answers several values at once (one allocation per request instead of
// one per value): its Value(Key) is the client address, a string.
var Key any = key{}

// NewContext returns ctx carrying the client address.
func NewContext(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, key{}, ip)
}

// FromContext returns the client address ctx carries, if any.
func FromContext(ctx context.Context) (string, bool) {
	ip, ok := ctx.Value(key{}).(string)
	return ip, ok && ip != ""
}
