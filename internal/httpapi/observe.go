package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"authd/internal/clientip"
)

// withClientIP puts the client's address, as the throttles determine it
// (the peer, or X-Forwarded-For from a trusted proxy; an IPv6 client as
// its /64), in the request's context, so that the account service's audit
// records name it.
func (s *Server) withClientIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := s.Config.TrustedProxies.ClientKey(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
		next.ServeHTTP(w, r.WithContext(clientip.NewContext(r.Context(), ip)))
	})
}

// Route labels of requests that no route pattern answered.
const (
	routePreflight = "preflight" // a CORS preflight, answered before routing
	routeUnrouted  = "unrouted"  // anything else answered before routing
)

// routeNote is where recordRoute leaves the pattern that answered a
// request, for withObserver, which sees the request before routing.
type routeNote struct{ pattern string }

type routeNoteKey struct{}

// withObserver tells Deps.ObserveRequest of every answer: its route (the
// pattern of routes.go that answered it, never the raw path, so that the
// labels of metrics stay few whatever clients send), its status and how
// long it took.
func (s *Server) withObserver(next http.Handler) http.Handler {
	if s.ObserveRequest == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note := &routeNote{}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		defer func() {
			// A panic that got past withRecover (http.ErrAbortHandler)
			// ends the request too, counted as a 500, and goes on up.
			status, v := rec.status, recover()
			if v != nil {
				status = http.StatusInternalServerError
			}
			s.ObserveRequest(routeLabel(r, note), status, time.Since(start))
			if v != nil {
				panic(v)
			}
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeNoteKey{}, note)))
	})
}

// recordRoute notes the pattern the mux matched, which it sets on the
// request it is given.
func recordRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if note, ok := r.Context().Value(routeNoteKey{}).(*routeNote); ok {
				note.pattern = r.Pattern
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// routeLabel is a request's route: its pattern without the {$} anchor
// ("POST /auth/login/"), or one of the labels of requests answered
// before routing.
func routeLabel(r *http.Request, note *routeNote) string {
	if note.pattern != "" {
		return strings.TrimSuffix(note.pattern, "{$}")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		return routePreflight
	}
	return routeUnrouted
}
