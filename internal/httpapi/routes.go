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
//
// A GET pattern also serves HEAD, which must change nothing; the two GET
// endpoints that do change something (a state cookie set, a throttle
// counted, a code spent) answer HEAD with 405.
func (s *Server) routes(mux patternMux) error {
	var errs []error
	// allow lists each path's methods, for its 405s, in the order routed.
	allow := map[string][]string{}
	var paths []string
	route := func(method, path string, h http.Handler) {
		if method == http.MethodGet {
			method = "GET, HEAD"
			mux.Handle("GET "+path+"{$}", h)
		} else {
			mux.Handle(method+" "+path+"{$}", h)
		}
		if allow[path] == nil {
			paths = append(paths, path)
		}
		allow[path] = append(allow[path], method)
	}
	getOnly := func(path string, h http.Handler) {
		mux.Handle("GET "+path+"{$}", h)
		mux.Handle("HEAD "+path+"{$}", s.methodNotAllowed("GET"))
		mux.Handle(path+"{$}", s.methodNotAllowed("GET"))
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
	route("GET", "/auth/sessions/", s.authenticated(s.handleSessions()))
	route("DELETE", "/auth/sessions/{id}/", s.authenticated(throttle(config.ScopeLogout, user, s.handleEndSession())))
	route("POST", "/auth/password/", s.authenticated(throttle(config.ScopePassword, user, s.handleChangePassword())))
	// The gate of reverse proxies: not throttled, since a proxy asks it
	// for every request it admits.
	route("GET", "/auth/verify/", s.authenticated(s.handleVerify()))

	route("POST", "/auth/login/mfa/", throttle(config.ScopeLoginMFA, ip, s.handleLoginMFA()))
	route("POST", "/auth/2fa/totp/setup/", s.authenticated(throttle(config.ScopeTOTP, user, s.handleTOTPSetup())))
	route("POST", "/auth/2fa/totp/confirm/", s.authenticated(throttle(config.ScopeTOTP, user, s.handleTOTPConfirm())))
	route("POST", "/auth/2fa/totp/disable/", s.authenticated(throttle(config.ScopeTOTP, user, s.handleTOTPDisable())))
	route("POST", "/auth/2fa/recovery-codes/", s.authenticated(throttle(config.ScopeTOTP, user, s.handleRecoveryCodes())))

	getOnly("/oauth2/intra/url/", throttle(config.ScopeIntraURL, ip, s.handleIntraURL()))
	getOnly("/oauth2/intra/callback/", s.clearStateCookie(throttle(config.ScopeIntraCallback, ip, s.handleIntraCallback())))
	route("POST", "/oauth2/intra/login/", s.sameOrigin(throttle(config.ScopeIntraLogin, ip, s.handleIntraLogin())))
	route("POST", "/oauth2/intra/link/", s.sameOrigin(s.authenticated(throttle(config.ScopeIntraLink, user, s.handleIntraLink()))))
	route("DELETE", "/oauth2/intra/link/", s.authenticated(throttle(config.ScopeIntraLink, user, s.handleIntraUnlink())))
	for _, path := range paths {
		mux.Handle(path+"{$}", s.methodNotAllowed(strings.Join(allow[path], ", ")))
	}

	mux.Handle("GET "+jwksPath, s.handleJWKS())
	mux.Handle(jwksPath, s.methodNotAllowed("GET, HEAD"))
	mux.Handle("GET /healthz", s.handleHealth())
	mux.Handle("/healthz", s.methodNotAllowed("GET, HEAD"))
	mux.Handle("GET /readyz", s.handleReady())
	mux.Handle("/readyz", s.methodNotAllowed("GET, HEAD"))
	mux.Handle("GET /openapi.yaml", s.handleOpenAPI())
	mux.Handle("/openapi.yaml", s.methodNotAllowed("GET, HEAD"))

	mux.Handle("/", s.handle(func(http.ResponseWriter, *http.Request) error { return errNotFound }))
	return errors.Join(errs...)
}

// methodNotAllowed answers 405 with Allow.
func (s *Server) methodNotAllowed(allow string) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return &Error{codeMethodNotAllowed, "Method " + r.Method + " is not allowed here; use " + allow + "."}
	})
}
