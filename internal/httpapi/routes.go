package httpapi

import (
	"net/http"
	"strings"

	"authd/internal/config"
)

// routes registers every endpoint of the contract. Patterns end in {$} so
// that /auth/login/anything is a 404, not the login endpoint. Each path
// also gets a method-less pattern answering 405 with Allow, and "/" a 404,
// so every answer is JSON.
func (s *Server) routes(mux *http.ServeMux) {
	route := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path+"{$}", h)
		mux.Handle(path+"{$}", methodNotAllowed(s, method))
	}
	ip, user := s.byClientIP, s.byUser

	route("POST", "/auth/login/", s.throttle(config.ScopeLogin, ip, s.handleLogin()))
	route("POST", "/auth/logout/", s.authenticated(s.throttle(config.ScopeLogout, user, s.handleLogout())))
	route("POST", "/auth/refresh/", s.sameOrigin(s.throttle(config.ScopeRefresh, ip, s.handleRefresh())))
	if s.Config.Registration {
		route("POST", "/auth/register/", s.throttle(config.ScopeRegister, ip, s.handleRegister()))
	}
	route("GET", "/auth/me/", s.authenticated(s.handleMe()))

	route("GET", "/oauth2/intra/url/", s.throttle(config.ScopeIntraURL, ip, s.handleIntraURL()))
	route("GET", "/oauth2/intra/callback/", s.clearStateCookie(s.throttle(config.ScopeIntraCallback, ip, s.handleIntraCallback())))
	route("POST", "/oauth2/intra/login/", s.sameOrigin(s.throttle(config.ScopeIntraLogin, ip, s.handleIntraLogin())))
	route("POST", "/oauth2/intra/link/", s.sameOrigin(s.authenticated(s.throttle(config.ScopeIntraLink, user, s.handleIntraLink()))))

	mux.Handle("GET /healthz", s.handleHealth())
	mux.Handle("/healthz", methodNotAllowed(s, "GET"))
	mux.Handle("GET /readyz", s.handleReady())
	mux.Handle("/readyz", methodNotAllowed(s, "GET"))

	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errNotFound)
	}))
}

func methodNotAllowed(s *Server, methods ...string) http.Handler {
	allow := strings.Join(methods, ", ")
	if allow == "GET" {
		allow = "GET, HEAD"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.writeError(w, r, &Error{codeMethodNotAllowed, "Method " + r.Method + " is not allowed here; use " + allow + "."})
	})
}
