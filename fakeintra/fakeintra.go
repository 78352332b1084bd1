// Package fakeintra is a fake of the 42 school's Intra OAuth2 provider
// (https://api.intra.42.fr, a Rails application whose OAuth2 side is
// Doorkeeper), faithful in everything a client of it can observe. Tests
// mount it with httptest; cmd/fakeintra serves it as a program.
//
// # Routes
//
//	GET    /oauth/authorize    the consent page, or the provider's own error page
//	POST   /oauth/authorize    the consent form's Authorize; with _method=delete, its Cancel
//	DELETE /oauth/authorize    Cancel
//	POST   /oauth/token        grants authorization_code, client_credentials and refresh_token
//	GET    /oauth/token/info   what the provider knows of an access token
//	GET    /v2/me              the token owner's full user JSON
//	GET    /_fake/faults       the faults in force (control endpoint)
//	POST   /_fake/faults       set one fault (control endpoint)
//	DELETE /_fake/faults       clear every fault (control endpoint)
//
// # Who is signed in at the provider
//
// The consent page acts for the user named by the login query parameter of
// GET /oauth/authorize (a parameter of the fake, not of the real provider),
// else by Options.Login. With neither, the page offers a picker of every
// user, preselecting the one last authorized in this browser (the
// fakeintra_login cookie that Authorize sets). The consent query parameter
// (consent=authorize or consent=cancel) skips the page and answers as the
// button of that name would, for the user chosen as above, so a test needs
// no HTML:
//
//	GET /oauth/authorize?client_id=...&redirect_uri=...&response_type=code&state=...&login=jdoe&consent=authorize
//
// # Doorkeeper version
//
// 42 runs a Doorkeeper older than 5.1: its token errors are 401s, which
// 5.1 made 400s. Where what a client sees differs between the releases
// before 5.1, the fake answers as Doorkeeper 5.0.0, the first with PKCE
// and the last whose refresh_token grant needs no client authentication:
//
//   - PKCE (RFC 7636). GET /oauth/authorize takes code_challenge and
//     code_challenge_method; with a challenge, a method other than plain
//     or S256 gets the error page "The code challenge method must be
//     plain or S256." (from the consent form's POST, a redirect with
//     error=invalid_code_challenge_method). The code of a request with a
//     challenge is redeemed only with its code_verifier: none is
//     invalid_request, a wrong one invalid_grant, and the code stays good
//     for the right one. A code_verifier sent for a code issued without a
//     challenge is invalid_grant; with neither, the exchange is the one
//     without PKCE. Options.WithoutPKCE ignores all three parameters, as
//     Doorkeeper 4 does.
//   - The refresh_token grant checks the refresh token before the client:
//     an unknown or used refresh token is invalid_grant whatever the
//     credentials sent with it; then credentials that are sent must be
//     right (invalid_client) and name the token's client (invalid_grant);
//     a request with no client authentication at all gets its tokens,
//     as before Doorkeeper 5.0.1. A scope parameter may narrow the scopes
//     (invalid_scope when it asks for more).
//
// Options.TokenErrorStatus switches the statuses to those of 5.1 and
// later; the rules stay those of 5.0.0. Some texts are older than 5.0
// because the real provider answers with them: token_type "bearer" in
// lower case, the scopes and expires_in_seconds of /oauth/token/info, and
// "The redirect uri included is not valid." (Doorkeeper 4.2 wrote all
// three so; 5.0.0 writes "Bearer", scope and expires_in, and another
// sentence). They suggest that the real provider predates PKCE, in which
// case it ignores code_challenge and code_verifier as WithoutPKCE does.
//
// # Rate limits
//
// With Options.RateLimit, every application (client) may make
// Options.SecondlyLimit requests a second and Options.HourlyLimit an hour
// (2 and 1,200 unless set, as the real provider) to /oauth/token,
// /oauth/token/info and /v2/me, counted in fixed windows of the clock's
// second and hour; refused requests are not counted. Those responses carry
// X-Secondly-RateLimit-Limit, X-Secondly-RateLimit-Remaining,
// X-Hourly-RateLimit-Limit and X-Hourly-RateLimit-Remaining; a refused one
// is a 429 with a Retry-After and the plain-text body
// "429 Too Many Requests (Spam Rate Limit Exceeded)". Requests the fake
// cannot attribute to a registered application are not counted.
//
// # Faults
//
// Server.SetFault makes calls of the token or the me endpoint fail (see
// Fault). The control endpoint does the same for a running program:
//
//	POST /_fake/faults   {"endpoint":"token","kind":"status","status":503}
//	POST /_fake/faults   {"endpoint":"me","kind":"hang","delay":"30s","count":-1}
//	GET /_fake/faults    200 {"token":{"kind":"status","status":503,"count":1},"me":null}
//	DELETE /_fake/faults 204, and releases hanging calls
//
// endpoint is "token" or "me"; kind one of "none", "status",
// "rate_limited", "hang", "malformed_json", "truncated_json",
// "me_missing_id", "me_missing_login"; status (for "status", 500 when
// omitted), delay (a Go duration, for "hang", one minute when omitted) and
// count (calls to fail, 1 when omitted, -1 for every call until cleared)
// are optional. POST answers 200 with the faults in force, as GET does; a
// malformed request gets 400 with {"error":"invalid_request",
// "error_description":"..."}.
package fakeintra

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Credentials of a development client, registered by cmd/fakeintra unless
// told otherwise, in the provider's own formats. They open nothing real.
const (
	DevClientID     = "u-s4t2ud-5d1f0e7c3b2a49687f6e5d4c3b2a19080f1e2d3c4b5a69788796a5b4c3d2e1f0"
	DevClientSecret = "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"
	DevRedirectURI  = "http://localhost:8000/oauth2/intra/callback/"
)

// Lifetimes and limits of the real provider.
const (
	CodeTTL         = 600 * time.Second  // an authorization code's life
	TokenTTL        = 7200 * time.Second // an access token's life
	DefaultSecondly = 2                  // requests a second per application
	DefaultHourly   = 1200               // requests an hour per application
)

const (
	secretValidity   = 28 * 24 * time.Hour
	realm            = "42 API"
	defaultScope     = "public"
	loginCookie      = "fakeintra_login"
	maxRequestBody   = 1 << 20
	sweepEveryIssues = 1024
)

// scopes are those the real provider knows.
var scopes = map[string]bool{"public": true, "projects": true, "profile": true, "elearning": true, "tig": true, "forum": true}

// Client is an application registered at the provider.
type Client struct {
	ID     string
	Secret string
	// RedirectURIs are the callback URLs registered for the client; a
	// redirect_uri must equal one of them character for character.
	RedirectURIs []string
	// Name is shown on the consent page; "authd" when empty.
	Name string
	// SecretValidUntil is the token response's secret_valid_until; 28 days
	// after New when zero.
	SecretValidUntil time.Time
}

// Options configure a Server.
type Options struct {
	Clients []Client
	// Users are the provider's accounts; with none, a small built-in set
	// (see BuiltinUsers). LoadUsers reads the fixtures.
	Users []User
	// Now is the clock for code and token expiry and rate-limit windows;
	// nil means time.Now.
	Now func() time.Time
	// Login, when set, is the user signed in at the provider: the consent
	// page acts for that user instead of offering a picker.
	Login string
	// RateLimit enforces the per-application rate limits; off when false.
	RateLimit bool
	// SecondlyLimit and HourlyLimit are the limits per application;
	// DefaultSecondly and DefaultHourly when zero.
	SecondlyLimit, HourlyLimit int
	// TokenErrorStatus is the status of the token endpoint's errors: 401
	// for all of them when zero or 401 (Doorkeeper before 5.1, which 42
	// runs), or 400 for all but invalid_client (Doorkeeper 5.1 and later).
	// It changes the status only, not which error a request gets.
	TokenErrorStatus int
	// WithoutPKCE makes the fake a Doorkeeper older than 5.0, which knows
	// no PKCE: code_challenge, code_challenge_method and code_verifier are
	// ignored.
	WithoutPKCE bool
}

// Server is the fake provider; it is an http.Handler.
type Server struct {
	now       func() time.Time
	login     string
	rateLimit bool
	perSecond int
	perHour   int
	errStatus int
	noPKCE    bool
	clients   map[string]Client
	users     []User
	byLogin   map[string]*User
	byID      map[int64]*User
	mux       *http.ServeMux

	mu      sync.Mutex
	codes   map[string]*grant
	access  map[string]*accessToken
	refresh map[string]*accessToken
	issued  int
	usage   map[string]*usage
	faults  map[Endpoint]*Fault
	release chan struct{}
}

// New returns a fake provider with the given clients and users.
func New(opts Options) *Server {
	s := &Server{
		now:       opts.Now,
		login:     opts.Login,
		rateLimit: opts.RateLimit,
		perSecond: opts.SecondlyLimit,
		perHour:   opts.HourlyLimit,
		errStatus: http.StatusUnauthorized,
		noPKCE:    opts.WithoutPKCE,
		clients:   make(map[string]Client, len(opts.Clients)),
		users:     opts.Users,
		byLogin:   make(map[string]*User),
		byID:      make(map[int64]*User),
		codes:     make(map[string]*grant),
		access:    make(map[string]*accessToken),
		refresh:   make(map[string]*accessToken),
		usage:     make(map[string]*usage),
		faults:    make(map[Endpoint]*Fault),
		release:   make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.perSecond <= 0 {
		s.perSecond = DefaultSecondly
	}
	if s.perHour <= 0 {
		s.perHour = DefaultHourly
	}
	if opts.TokenErrorStatus == http.StatusBadRequest {
		s.errStatus = http.StatusBadRequest
	}
	start := s.now()
	for _, c := range opts.Clients {
		if c.Name == "" {
			c.Name = "authd"
		}
		if c.SecretValidUntil.IsZero() {
			c.SecretValidUntil = start.Add(secretValidity)
		}
		c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
		s.clients[c.ID] = c
	}
	if len(s.users) == 0 {
		s.users = BuiltinUsers()
	}
	s.users = append([]User(nil), s.users...)
	for i := range s.users {
		u := &s.users[i]
		if len(u.Document) == 0 {
			u.Document = u.synthesize()
		}
		s.byLogin[u.Login] = u
		s.byID[u.ID] = u
	}
	s.mux = s.routes()
	return s
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /oauth/authorize", s.handleConsent)
	mux.HandleFunc("DELETE /oauth/authorize", s.handleConsent)
	mux.Handle("POST /oauth/token", s.withFaults(Token, s.handleToken))
	mux.HandleFunc("GET /oauth/token/info", s.handleTokenInfo)
	mux.Handle("GET /v2/me", s.withFaults(Me, s.handleMe))
	mux.HandleFunc("GET /_fake/faults", s.handleGetFaults)
	mux.HandleFunc("POST /_fake/faults", s.handleSetFault)
	mux.HandleFunc("DELETE /_fake/faults", s.handleClearFaults)
	return mux
}

// ServeHTTP answers as the provider would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Users returns the provider's accounts.
func (s *Server) Users() []User {
	return append([]User(nil), s.users...)
}

// registered reports whether uri is, character for character, one of the
// client's redirect URIs.
func (c Client) registered(uri string) bool {
	for _, u := range c.RedirectURIs {
		if u == uri {
			return true
		}
	}
	return false
}

// parseScopes splits a space-separated scope parameter; an empty one is
// the default scope. ok is false when a scope is unknown.
func parseScopes(param string) (list []string, ok bool) {
	list = strings.Fields(param)
	if len(list) == 0 {
		return []string{defaultScope}, true
	}
	for _, sc := range list {
		if !scopes[sc] {
			return nil, false
		}
	}
	return list, true
}
