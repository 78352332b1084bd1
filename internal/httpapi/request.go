package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"authd/internal/account"
	"authd/internal/clientip"
	"authd/internal/requestid"
)

// requestContext is the context of every request, carrying what the
// middleware learns of it: its id, its client's address, the route that
// answered it and, once authenticated, its caller. One value holds them
// all, so that a request is copied once (by WithContext) rather than once
// for each: the read path's cost is mostly such allocations.
//
// Only the request's own goroutine writes to it: withRequest makes it,
// recordRoute sets the route, authenticated the principal.
type requestContext struct {
	context.Context
	id        string
	clientIP  string
	route     string // the pattern that answered, "" before routing
	principal account.Principal

	// Allocated with it, for the same reason.
	rec      statusRecorder
	idHeader [1]string
}

type requestContextKey struct{}

// Value answers the keys of requestid, clientip and this package.
func (c *requestContext) Value(key any) any {
	switch key {
	case requestContextKey{}:
		return c
	case requestid.Key:
		return c.id
	case clientip.Key:
		return c.clientIP
	}
	return c.Context.Value(key)
}

// requestFrom returns the requestContext of ctx; a context made elsewhere
// (a test's) gets an empty one.
func requestFrom(ctx context.Context) *requestContext {
	if c, ok := ctx.(*requestContext); ok {
		return c
	}
	if c, ok := ctx.Value(requestContextKey{}).(*requestContext); ok {
		return c
	}
	return &requestContext{Context: ctx}
}

// clientKey is the request's client as withRequest determined it: the
// address the throttles count and the audit records and sessions name.
func clientKey(r *http.Request) string {
	return requestFrom(r.Context()).clientIP
}

// principalFrom returns the caller that authenticated admitted.
func principalFrom(ctx context.Context) account.Principal {
	return requestFrom(ctx).principal
}

// withRequest is the outermost middleware. It gives every request an id
// (the client's X-Request-Id when it is short and plain, else a random
// one), echoed in the answer; the client's address, as the throttles
// determine it (the peer, or X-Forwarded-For from a trusted proxy; an IPv6
// client as its /64), for the account service's audit records; and, once
// answered, logs one line (never the query string: the callback's carries
// the provider's code) and tells Deps.ObserveRequest of its route (the
// pattern that answered, never the raw path, so that the labels of metrics
// stay few whatever clients send), status and duration.
func (s *Server) withRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !plainID(id) {
			id = randomID(12)
		}
		rc := &requestContext{
			Context:  r.Context(),
			id:       id,
			clientIP: s.Config.TrustedProxies.ClientKey(r.RemoteAddr, r.Header.Values("X-Forwarded-For")),
			rec:      statusRecorder{ResponseWriter: w, status: http.StatusOK},
			idHeader: [1]string{id},
		}
		w.Header()["X-Request-Id"] = rc.idHeader[:]
		r = r.WithContext(rc)
		rec := &rc.rec
		start := time.Now()
		defer func() {
			// A panic that got past withRecover (http.ErrAbortHandler)
			// ends the request too, counted as a 500, and goes on up.
			status, v := rec.status, recover()
			if v != nil {
				status = http.StatusInternalServerError
			}
			elapsed := time.Since(start)
			if s.ObserveRequest != nil {
				s.ObserveRequest(routeLabel(r, rc.route), status, elapsed)
			}
			if s.Logger.Enabled(rc, slog.LevelInfo) {
				s.Logger.LogAttrs(rc, slog.LevelInfo, "request",
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Int64("bytes", rec.bytes),
					slog.Duration("duration", elapsed),
					slog.String("remote", rc.clientIP),
				)
			}
			if v != nil {
				panic(v)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}
