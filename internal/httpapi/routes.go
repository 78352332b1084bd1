package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"authd/internal/config"
)

// routes registers every endpoint of the contract. Patterns end in {$} so
// that /auth/login/anything is a 404, not the login endpoint. Each path
// also gets a method-less pattern answering 405 with Allow, and "/" a 404,
// so every answer is JSON.
func (s *Server) routes(mux *http.ServeMux) error {
	var errs []error
	route := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path+"{$}", h)
		mux.Handle(path+"{$}", methodNotAllowed(s, method))
	}
	// throttle is s.throttle, its error kept for the end, where it makes
	// NewServer fail.
	throttle := func(scope string, key keyFunc, next http.Handler) http.Handler {
		h, err := s.throttle(scope, key, next)
		if err != nil {
			errs = append(errs, err)
			return next
		}
		return h
	}
	ip, user := s.byClientIP, s.byUser

	route("POST", "/auth/login/", throttle(config.ScopeLogin, ip, s.handleLogin()))
	route("POST", "/auth/logout/", s.authenticated(throttle(config.ScopeLogout, user, s.handleLogout())))
	route("POST", "/auth/refresh/", s.sameOrigin(throttle(config.ScopeRefresh, ip, s.handleRefresh())))
	if s.Config.Registration {
		route("POST", "/auth/register/", throttle(config.ScopeRegister, ip, s.handleRegister()))
	}
	route("GET", "/auth/me/", s.authenticated(s.handleMe()))

	route("GET", "/oauth2/intra/url/", throttle(config.ScopeIntraURL, ip, s.handleIntraURL()))
	route("GET", "/oauth2/intra/callback/", s.clearStateCookie(throttle(config.ScopeIntraCallback, ip, s.handleIntraCallback())))
	route("POST", "/oauth2/intra/login/", s.sameOrigin(throttle(config.ScopeIntraLogin, ip, s.handleIntraLogin())))
	route("POST", "/oauth2/intra/link/", s.sameOrigin(s.authenticated(throttle(config.ScopeIntraLink, user, s.handleIntraLink()))))

	mux.Handle("GET /healthz", s.handleHealth())
	mux.Handle("/healthz", methodNotAllowed(s, "GET"))
	mux.Handle("GET /readyz", s.handleReady())
	mux.Handle("/readyz", methodNotAllowed(s, "GET"))

	mux.Handle("/", s.handle(func(http.ResponseWriter, *http.Request) error { return errNotFound }))
	return errors.Join(errs...)
}

func methodNotAllowed(s *Server, methods ...string) http.Handler {
	allow := strings.Join(methods, ", ")
	if allow == "GET" {
		allow = "GET, HEAD"
	}
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return &Error{codeMethodNotAllowed, "Method " + r.Method + " is not allowed here; use " + allow + "."}
	})
}
