package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"authd/internal/store"
	"authd/internal/throttle"
	"authd/internal/token"
)

// keyFunc names who a request is counted against.
type keyFunc func(r *http.Request) string

// byClientIP counts the client's address (its /64 for IPv6), believing
// X-Forwarded-For only from trusted proxies.
func (s *Server) byClientIP(r *http.Request) string {
	return "ip:" + s.Config.TrustedProxies.ClientKey(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}

// byUser counts the authenticated user; it runs after authenticated.
func (s *Server) byUser(r *http.Request) string {
	return "user:" + strconv.FormatInt(principalFrom(r.Context()).User.ID, 10)
}

// throttle refuses a request once its client has used up the scope's
// rate. Each scope has its own counters: the key starts with the scope.
func (s *Server) throttle(scope string, key keyFunc, next http.Handler) http.Handler {
	rate, ok := s.Config.Rates[scope]
	if !ok {
		panic("httpapi: no rate configured for scope " + scope)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.Limiter.Allow(r.Context(), scope+"|"+key(r), rate)
		if err != nil {
			// Without a working limiter, brute-force protection is gone:
			// refuse rather than serve unprotected.
			s.writeError(w, r, fmt.Errorf("throttle %s: %w", scope, err))
			return
		}
		if !d.Allowed {
			s.writeThrottled(w, r, d)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeThrottled answers a request the limiter refused: 429 with
// Retry-After.
func (s *Server) writeThrottled(w http.ResponseWriter, r *http.Request, d throttle.Decision) {
	secs := throttle.RetryAfterSeconds(d.RetryAfter)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.writeError(w, r, &Error{codeThrottled, fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs)})
}

// principal is the authenticated caller of a Bearer endpoint.
type principal struct {
	User   store.User
	Claims token.Claims
}

type principalKey struct{}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// authenticated admits a request only with a valid access token whose
// session is live and whose user exists and is enabled; otherwise 401.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func (s *Server) authenticate(r *http.Request) (principal, error) {
	raw, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return principal{}, errInvalidToken
	}
	c, err := s.Tokens.Verify(raw, token.Access)
	if err != nil {
		return principal{}, errInvalidToken
	}
	u, err := s.liveUser(r.Context(), c.SessionID, c.Subject)
	if err != nil {
		if errors.Is(err, errSessionGone) {
			return principal{}, errInvalidToken
		}
		return principal{}, err
	}
	return principal{User: u, Claims: c}, nil
}

// errSessionGone: the session or its user can no longer be used.
var errSessionGone = errors.New("session revoked, expired or its user gone or disabled")

// liveUser returns the user of a live session, or errSessionGone.
func (s *Server) liveUser(ctx context.Context, sid, sub string) (store.User, error) {
	uid, err := strconv.ParseInt(sub, 10, 64)
	if err != nil {
		return store.User{}, errSessionGone
	}
	sess, err := s.Store.Session(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errSessionGone
	}
	if err != nil {
		return store.User{}, fmt.Errorf("load session: %w", err)
	}
	if !sess.Live(s.Now()) || sess.UserID != uid {
		return store.User{}, errSessionGone
	}
	u, err := s.Store.UserByID(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errSessionGone
	}
	if err != nil {
		return store.User{}, fmt.Errorf("load user: %w", err)
	}
	if u.Disabled {
		return store.User{}, errSessionGone
	}
	return u, nil
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
