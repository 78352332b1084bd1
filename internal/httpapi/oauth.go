package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"authd/internal/account"
	"authd/internal/intra"
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
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if s.Intra == nil {
			return errIntraNotConfigured
		}
		state := randomID(32)
		s.setCookie(w, cookieState, state, stateTTL)
		// The PKCE verifier is derived from the state, so state_token
		// carries it too (see package intra).
		challenge := intra.Challenge(s.Intra.Verifier(state))
		encode(w, http.StatusOK, urlResponse{URL: s.Intra.AuthorizeURL(state, challenge)})
		return nil
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
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if s.Intra == nil {
			return errIntraNotConfigured
		}
		q := r.URL.Query()
		state := q.Get("state")
		cookie, _ := cookieValue(r, cookieState)
		if state == "" || cookie == "" || subtle.ConstantTimeCompare([]byte(state), []byte(cookie)) != 1 {
			return &Error{codeInvalidState, "The state is missing or does not match this browser's; start the login again."}
		}
		code := q.Get("code")
		if q.Has("error") || code == "" {
			return &Error{codeAccessDenied, "The provider did not grant access."}
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.ProviderTimeout)
		defer cancel()
		// This browser's flow's verifier: the provider refuses a code that
		// was issued to another flow.
		id, err := s.Intra.Identify(ctx, code, s.Intra.Verifier(cookie))
		switch {
		case errors.Is(err, intra.ErrRejected):
			s.Logger.InfoContext(ctx, "provider rejected the code", "cause", err.Error())
			return &Error{codeInvalidGrant, "The provider refused the authorization code; start the login again."}
		case err != nil:
			s.Logger.WarnContext(ctx, "provider failed", "cause", err.Error())
			return &Error{codeProviderError, "The 42 provider failed to answer properly; try again later."}
		}
		tok, err := s.Accounts.IntraToken(id)
		if err != nil {
			return err
		}
		s.setCookie(w, cookieAPI, tok, account.APITokenTTL)
		s.Logger.InfoContext(ctx, "intra identity received", "intra_id", id.ID)
		encode(w, http.StatusOK, detailBody{Detail: "Intra identity received; log in or link within five minutes."})
		return nil
	})
}

// apiToken returns the api_token cookie, or errInvalidAPIToken.
func apiToken(r *http.Request) (string, error) {
	raw, sent := cookieValue(r, cookieAPI)
	if !sent {
		return "", errInvalidAPIToken
	}
	return raw, nil
}

// clearRefusedAPIToken clears an api_token that was refused as invalid:
// it can never become valid.
func (s *Server) clearRefusedAPIToken(w http.ResponseWriter, err error) {
	if errors.Is(err, account.ErrInvalidAPIToken) {
		s.clearCookie(w, cookieAPI)
	}
}

// handleIntraLogin starts a session for the user linked to the Intra
// identity in api_token, creating that user first when auto-provisioning
// is on.
func (s *Server) handleIntraLogin() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		raw, err := apiToken(r)
		if err != nil {
			return err
		}
		// On not_linked the cookie is kept: the user may log in another
		// way and link.
		g, err := s.Accounts.IntraLogin(s.withClient(r), raw)
		s.clearRefusedAPIToken(w, err)
		if err != nil {
			return err
		}
		s.clearCookie(w, cookieAPI)
		s.writeGrant(w, g)
		return nil
	})
}

// handleIntraLink links the Intra identity in api_token to the Bearer
// user. Linking the same pair again succeeds.
func (s *Server) handleIntraLink() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		raw, err := apiToken(r)
		if err != nil {
			return err
		}
		err = s.Accounts.LinkIntra(r.Context(), principalFrom(r.Context()), raw)
		s.clearRefusedAPIToken(w, err)
		if err != nil {
			return err
		}
		s.clearCookie(w, cookieAPI)
		encode(w, http.StatusOK, detailBody{Detail: "Intra account linked."})
		return nil
	})
}
