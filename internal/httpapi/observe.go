package httpapi

import (
	"net/http"
	"strings"
)

// Route labels of requests that no route pattern answered.
const (
	routePreflight = "preflight" // a CORS preflight, answered before routing
	routeUnrouted  = "unrouted"  // anything else answered before routing
)

// recordRoute notes the pattern the mux matched, which it sets on the
// request it is given.
func recordRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { requestFrom(r.Context()).route = r.Pattern }()
		mux.ServeHTTP(w, r)
	})
}

// routeLabel is a request's route: its pattern without the {$} anchor
// ("POST /auth/login/"), or one of the labels of requests answered
// before routing.
func routeLabel(r *http.Request, pattern string) string {
	if pattern != "" {
		return strings.TrimSuffix(pattern, "{$}")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		return routePreflight
	}
	return routeUnrouted
}
