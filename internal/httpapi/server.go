// Package httpapi is authd's HTTP interface: the routes of the contract,
// their handlers, cookies, errors, CORS and the middleware around them.
// It knows the store, token, password, throttle and intra packages by
// their interfaces and types, never SQL or HTTP clients.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"authd/internal/config"
	"authd/internal/intra"
	"authd/internal/password"
	"authd/internal/store"
	"authd/internal/throttle"
	"authd/internal/token"
)

// Deps is everything the server needs; run builds it.
type Deps struct {
	Config    config.Config
	Store     store.Store
	Tokens    *token.Issuer
	Passwords *password.Hasher
	Limiter   throttle.Limiter
	// Intra is the provider client; nil when Log in with 42 is not configured.
	Intra *intra.Client
	// ProviderTimeout bounds the callback's calls to the provider, the code
	// exchange and /v2/me together; zero means 10 seconds.
	ProviderTimeout time.Duration
	Logger          *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Ready holds the readiness checks of /readyz by name ("database",
	// "redis"); each must answer within the context's deadline.
	Ready map[string]func(context.Context) error
	// Status adds facts to /readyz's body that do not make the service
	// unready, such as a throttle degraded to in-process counting; may be nil.
	Status func() map[string]string
}

// Server serves the contract's endpoints.
type Server struct {
	Deps
	cors    map[string]bool
	sameOri *http.CrossOriginProtection
	handler http.Handler
}

// NewServer returns the service's handler with every route and middleware.
func NewServer(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.ProviderTimeout <= 0 {
		d.ProviderTimeout = defaultProviderTimeout
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{Deps: d, cors: make(map[string]bool)}
	s.sameOri = http.NewCrossOriginProtection()
	for _, o := range d.Config.CORSOrigins {
		s.cors[o] = true
		// Origins are validated by config; an error here would be a bug there.
		if err := s.sameOri.AddTrustedOrigin(o); err != nil {
			panic(fmt.Sprintf("httpapi: trusted origin %q: %v", o, err))
		}
	}
	s.sameOri.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errForbiddenOrigin)
	}))
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.withRequestID(s.withRecover(s.withHeaders(s.withCORS(mux))))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

type ctxKey int

const loggerKey ctxKey = iota

// logger returns the request's logger, which carries its request id.
func (s *Server) logger(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return s.Logger
}

// withRequestID gives every request an id (the client's X-Request-Id when
// it is short and plain, else a random one), echoes it in the response,
// and logs one line per request. The query string is never logged: the
// callback's carries the provider's code.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !plainID(id) {
			id = randomID(12)
		}
		w.Header().Set("X-Request-Id", id)
		l := s.Logger.With("request_id", id)
		r = r.WithContext(context.WithValue(r.Context(), loggerKey, l))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		l.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", s.Config.TrustedProxies.ClientKey(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))),
		)
	})
}

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
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// withCORS lets the configured origins, and only them, call with
// credentials, and answers their preflights.
func (s *Server) withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		h.Add("Vary", "Origin")
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
			h.Set("Access-Control-Allow-Methods", "GET, POST")
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
