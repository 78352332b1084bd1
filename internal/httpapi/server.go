// Package httpapi is authd's HTTP interface: the routes of the contract,
// their handlers, cookies, errors, CORS and the middleware around them.
// Handlers translate requests into calls of the account service and its
// results into answers; the rules themselves live in package account.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"authd/internal/account"
	"authd/internal/config"
	"authd/internal/intra"
	"authd/internal/requestid"
	"authd/internal/throttle"
)

// Deps is everything the server needs; run builds it.
type Deps struct {
	Config   config.Config
	Accounts *account.Service
	// Limiter counts the requests of every throttle scope.
	Limiter throttle.Limiter
	// Intra is the provider client; nil when Log in with 42 is not configured.
	Intra *intra.Client
	// ProviderTimeout bounds the callback's calls to the provider, the code
	// exchange and /v2/me together; zero means 10 seconds.
	ProviderTimeout time.Duration
	// Logger receives one record per request and the causes of failures;
	// nil discards them.
	Logger *slog.Logger
	// Ready holds the readiness checks of /readyz by name ("database",
	// "redis"); each must answer within the context's deadline.
	Ready map[string]func(context.Context) error
	// Status adds facts to /readyz's body that do not make the service
	// unready, such as a throttle degraded to in-process counting; may be nil.
	Status func() map[string]string
	// ObserveRequest, when set, is told of every answer: the route
	// pattern that answered it (see withRequest), its status and its
	// duration. Metrics count them.
	ObserveRequest func(route string, status int, elapsed time.Duration)
	// JWKS returns the JSON Web Key Set of the public keys that verify
	// access tokens; nil serves the empty set (HS256 access tokens).
	JWKS func() []byte
}

// Server serves the contract's endpoints.
type Server struct {
	Deps
	cors    map[string]bool
	sameOri *http.CrossOriginProtection
	handler http.Handler
}

// NewServer returns the service's handler with every route and
// middleware, or an error when the configuration cannot be served (an
// origin that is not one, a scope without a rate).
func NewServer(d Deps) (*Server, error) {
	if d.Accounts == nil || d.Limiter == nil {
		return nil, fmt.Errorf("httpapi: Deps needs Accounts and Limiter")
	}
	if d.ProviderTimeout <= 0 {
		d.ProviderTimeout = defaultProviderTimeout
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	// Every record logged with a request's context carries its id.
	d.Logger = slog.New(requestid.Handler(d.Logger.Handler()))
	s := &Server{Deps: d, cors: make(map[string]bool)}
	s.sameOri = http.NewCrossOriginProtection()
	for _, o := range d.Config.CORSOrigins {
		s.cors[o] = true
		if err := s.sameOri.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("httpapi: AUTHD_CORS_ORIGINS: %w", err)
		}
	}
	s.sameOri.SetDenyHandler(s.handle(func(http.ResponseWriter, *http.Request) error {
		return errForbiddenOrigin
	}))
	mux := http.NewServeMux()
	if err := s.routes(mux); err != nil {
		return nil, err
	}
	s.handler = s.withRequest(s.withRecover(s.withHeaders(s.withCORS(recordRoute(mux)))))
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// handlerFunc is a handler that returns its failure; handle writes it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to http.Handler: an error h returns is answered by
// writeError, so a failure is one return.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}
