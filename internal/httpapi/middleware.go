package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"authd/internal/account"
)

// plainID reports whether a client's X-Request-Id is short and plain
// enough to be used as the request's id.
func plainID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// withRecover turns a panic into a logged internal_error, so one bad
// request never takes the process down.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, panicError{v})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withHeaders sets the headers every answer carries. Nothing this service
// says may be cached: every answer is about one user at one moment.
func (s *Server) withHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// The keys are canonical and the values shared: Set would
		// canonicalise each key and allocate each value, on every request.
		// Sharing is safe: Set replaces a slice, and Add appends to one
		// whose capacity is its length, which copies it.
		h["Cache-Control"] = valueNoStore
		h["X-Content-Type-Options"] = valueNoSniff
		h["Referrer-Policy"] = valueNoReferrer
		h["X-Frame-Options"] = valueDeny
		h["Content-Security-Policy"] = valueCSP
		next.ServeHTTP(w, r)
	})
}

// browserHeaders are the headers of withHeaders that only a browser
// reads, for a page.
var browserHeaders = []string{"X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "Content-Security-Policy"}

// The values of the headers every answer carries (see withHeaders).
var (
	valueNoStore    = []string{"no-store"}
	valueNoSniff    = []string{"nosniff"}
	valueNoReferrer = []string{"no-referrer"}
	valueDeny       = []string{"DENY"}
	valueCSP        = []string{"default-src 'none'; frame-ancestors 'none'"}
	valueJSON       = []string{"application/json"}
	valueOrigin     = []string{"Origin"}
	valueZero       = []string{"0"}
)

// withCORS lets the configured origins, and only them, call with
// credentials, and answers their preflights.
func (s *Server) withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		if h["Vary"] == nil {
			h["Vary"] = valueOrigin // see withHeaders
		} else {
			h.Add("Vary", "Origin")
		}
		allowed := origin != "" && s.cors[origin]
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				s.writeError(w, r, errForbiddenOrigin)
				return
			}
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses cross-site requests from origins that are not
// configured, for endpoints a cookie alone authenticates.
func (s *Server) sameOrigin(next http.Handler) http.Handler {
	return s.sameOri.Handler(next)
}

// randomID returns n random bytes, base64url without padding.
func randomID(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails (it crashes the program rather than
	// return an error), per its documentation since Go 1.24.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// keyFunc names who a request is counted against.
type keyFunc func(r *http.Request) string

// byClientIP counts the client's address (its /64 for IPv6), believing
// X-Forwarded-For only from trusted proxies.
func (s *Server) byClientIP(r *http.Request) string {
	return "ip:" + clientKey(r)
}

// byUser counts the authenticated user; it runs after authenticated.
func (s *Server) byUser(r *http.Request) string {
	return "user:" + strconv.FormatInt(principalFrom(r.Context()).User.ID, 10)
}

// throttle refuses a request once its client has used up the scope's
// rate. Each scope has its own counters: the key starts with the scope.
// The rate is looked up once, when the route is made.
func (s *Server) throttle(scope string, key keyFunc, next http.Handler) (http.Handler, error) {
	rate, ok := s.Config.Rates[scope]
	if !ok {
		return nil, fmt.Errorf("httpapi: no rate configured for scope %s", scope)
	}
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		d, err := s.Limiter.Allow(r.Context(), scope+"|"+key(r), rate)
		if err != nil {
			// Without a working limiter, brute-force protection is gone:
			// refuse rather than serve unprotected.
			return fmt.Errorf("throttle %s: %w: %w", scope, account.ErrUnavailable, err)
		}
		if !d.Allowed {
			return throttledError{d.RetryAfter}
		}
		next.ServeHTTP(w, r)
		return nil
	}), nil
}

// authenticated admits a request only with a valid access token whose
// session is live and whose user exists and is enabled; otherwise 401.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		raw, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			return errInvalidToken
		}
		p, err := s.Accounts.Authenticate(r.Context(), raw)
		if err != nil {
			return err
		}
		requestFrom(r.Context()).principal = p
		next.ServeHTTP(w, r)
		return nil
	})
}

// bearer extracts the token of an "Authorization: Bearer <token>" header;
// the scheme is case-insensitive (RFC 9110 section 11.1).
func bearer(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	t := strings.TrimSpace(h[len(prefix):])
	return t, t != ""
}
