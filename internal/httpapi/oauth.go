package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"authd/internal/intra"
	"authd/internal/store"
	"authd/internal/token"
)

// defaultProviderTimeout is the most the callback waits on the provider,
// for the code exchange and the /v2/me call together.
const defaultProviderTimeout = 10 * time.Second

type urlResponse struct {
	URL string `json:"url"`
}

// handleIntraURL starts a Log in with 42: a fresh single-use state in the
// state_token cookie, and the provider's authorize URL carrying it.
func (s *Server) handleIntraURL() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Intra == nil {
			s.writeError(w, r, errIntraNotConfigured)
			return
		}
		state := randomID(32)
		s.setCookie(w, cookieState, state, stateTTL)
		encode(w, http.StatusOK, urlResponse{URL: s.Intra.AuthorizeURL(state)})
	})
}

// clearStateCookie clears state_token on every callback answer, throttled
// and failed ones included: a state is good for one callback only.
func (s *Server) clearStateCookie(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.clearCookie(w, cookieState)
		next.ServeHTTP(w, r)
	})
}

// handleIntraCallback receives the browser back from the provider, checks
// the state against the cookie, exchanges the code and keeps the
// identity, signed by us, in the api_token cookie for five minutes. The
// provider's own tokens are dropped here.
func (s *Server) handleIntraCallback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Intra == nil {
			s.writeError(w, r, errIntraNotConfigured)
			return
		}
		q := r.URL.Query()
		state := q.Get("state")
		cookie, _ := cookieValue(r, cookieState)
		if state == "" || cookie == "" || subtle.ConstantTimeCompare([]byte(state), []byte(cookie)) != 1 {
			s.writeError(w, r, &Error{codeInvalidState, "The state is missing or does not match this browser's; start the login again."})
			return
		}
		code := q.Get("code")
		if q.Has("error") || code == "" {
			s.writeError(w, r, &Error{codeAccessDenied, "The provider did not grant access."})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.ProviderTimeout)
		defer cancel()
		id, err := s.Intra.Identify(ctx, code)
		switch {
		case errors.Is(err, intra.ErrRejected):
			s.logger(r).Info("provider rejected the code", "cause", err.Error())
			s.writeError(w, r, &Error{codeInvalidGrant, "The provider refused the authorization code; start the login again."})
			return
		case err != nil:
			s.logger(r).Warn("provider failed", "cause", err.Error())
			s.writeError(w, r, &Error{codeProviderError, "The 42 provider failed to answer properly; try again later."})
			return
		}
		tok, _, err := s.Tokens.Sign(token.Claims{
			Type:        token.Intra,
			IntraID:     id.ID,
			IntraLogin:  id.Login,
			Email:       id.Email,
			DisplayName: id.DisplayName,
			ImageLink:   id.ImageLink,
		}, apiTokenTTL)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("sign api token: %w", err))
			return
		}
		s.setCookie(w, cookieAPI, tok, apiTokenTTL)
		s.logger(r).Info("intra identity received", "intra_id", id.ID)
		encode(w, http.StatusOK, detailBody{Detail: "Intra identity received; log in or link within five minutes."})
	})
}

// intraIdentity reads and verifies the api_token cookie. When it is
// missing or not valid, it answers invalid_api_token, clearing a cookie
// that was sent since it can never become valid, and returns false.
func (s *Server) intraIdentity(w http.ResponseWriter, r *http.Request) (token.Claims, bool) {
	raw, sent := cookieValue(r, cookieAPI)
	if sent {
		if c, err := s.Tokens.Verify(raw, token.Intra); err == nil {
			return c, true
		}
		s.clearCookie(w, cookieAPI)
	}
	s.writeError(w, r, errInvalidAPIToken)
	return token.Claims{}, false
}

// handleIntraLogin starts a session for the user linked to the Intra
// identity in api_token, creating that user first when auto-provisioning
// is on.
func (s *Server) handleIntraLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.intraIdentity(w, r)
		if !ok {
			return
		}
		u, err := s.Store.UserByIntraID(r.Context(), c.IntraID)
		if errors.Is(err, store.ErrNotFound) {
			if !s.Config.IntraAutoProvision {
				// The cookie is kept: the user may log in another way and link.
				s.writeError(w, r, &Error{codeNotLinked, "No account is linked to this Intra account; log in and link it first."})
				return
			}
			u, err = s.provision(r.Context(), c)
			if err == nil {
				s.logger(r).Info("user created from intra login", "user_id", u.ID, "intra_id", c.IntraID)
			}
		}
		if err != nil {
			s.writeError(w, r, fmt.Errorf("intra login: %w", err))
			return
		}
		if u.Disabled {
			s.writeError(w, r, errAccountDisabled)
			return
		}
		s.clearCookie(w, cookieAPI)
		s.startSession(w, r, u)
	})
}

// maxUsernameTries bounds the search for a free username.
const maxUsernameTries = 20

// provision creates a user without a password for an Intra identity,
// named after the Intra login: the first free of login, login-2, login-3,
// ..., and as a last resort intra-<id>, which no other Intra account can
// take.
func (s *Server) provision(ctx context.Context, c token.Claims) (store.User, error) {
	acct := &store.IntraAccount{
		ID: c.IntraID, Login: c.IntraLogin, Email: c.Email,
		DisplayName: c.DisplayName, ImageLink: c.ImageLink, LinkedAt: s.Now(),
	}
	for _, name := range usernameCandidates(c.IntraLogin, c.IntraID) {
		u, err := s.Store.CreateUser(ctx, store.NewUser{Username: name, Email: c.Email, Intra: acct}, s.Now())
		switch {
		case err == nil:
			return u, nil
		case errors.Is(err, store.ErrUsernameTaken):
			continue
		case errors.Is(err, store.ErrIntraLinked):
			// A concurrent login created the user first.
			return s.Store.UserByIntraID(ctx, c.IntraID)
		default:
			return store.User{}, fmt.Errorf("create user: %w", err)
		}
	}
	return store.User{}, fmt.Errorf("no free username for intra login %q", c.IntraLogin)
}

// usernameCandidates lists the usernames tried, in order, for an Intra
// login: the login reduced to the username alphabet and length, then
// numbered variants, then one derived from the Intra id.
func usernameCandidates(login string, intraID int64) []string {
	var b strings.Builder
	for i := 0; i < len(login) && b.Len() < store.MaxUsername; i++ {
		c := login[i]
		if store.UsernameByte(c) {
			b.WriteByte(c)
		}
	}
	base := b.String()
	last := "intra-" + strconv.FormatInt(intraID, 10)
	if len(base) < store.MinUsername {
		return []string{last}
	}
	out := []string{base}
	for n := 2; len(out) < maxUsernameTries-1; n++ {
		suffix := "-" + strconv.Itoa(n)
		stem := base
		if len(stem)+len(suffix) > store.MaxUsername {
			stem = stem[:store.MaxUsername-len(suffix)]
		}
		out = append(out, stem+suffix)
	}
	return append(out, last)
}

// handleIntraLink links the Intra identity in api_token to the Bearer
// user. Linking the same pair again succeeds.
func (s *Server) handleIntraLink() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		c, ok := s.intraIdentity(w, r)
		if !ok {
			return
		}
		err := s.Store.LinkIntra(r.Context(), p.User.ID, store.IntraAccount{
			ID: c.IntraID, Login: c.IntraLogin, Email: c.Email,
			DisplayName: c.DisplayName, ImageLink: c.ImageLink, LinkedAt: s.Now(),
		}, s.Now())
		if errors.Is(err, store.ErrIntraLinked) || errors.Is(err, store.ErrUserLinked) {
			s.writeError(w, r, &Error{codeAlreadyLinked, "This Intra account or this user is already linked to another."})
			return
		}
		if err != nil {
			s.writeError(w, r, fmt.Errorf("intra link: %w", err))
			return
		}
		s.clearCookie(w, cookieAPI)
		s.logger(r).Info("intra account linked", "user_id", p.User.ID, "intra_id", c.IntraID)
		encode(w, http.StatusOK, detailBody{Detail: "Intra account linked."})
	})
}
