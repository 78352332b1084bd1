package httpapi

import (
	"net/http"
	"time"

	"authd/internal/account"
)

type loginRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// handleLogin checks a username and password and starts a session (see
// account.Service.Login for the lockout and the equal work for every
// failure).
func (s *Server) handleLogin() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req loginRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		if req.Username == nil || req.Password == nil {
			return invalidRequest("Both username and password are required.")
		}
		g, err := s.Accounts.Login(s.withClient(r), *req.Username, *req.Password)
		if err != nil {
			return err
		}
		s.writeGrant(w, g)
		return nil
	})
}

// writeGrant answers with the grant's access token and, when it starts a
// session, sets its refresh_token cookie; a grant of an mfa_token is
// answered mfa_required, without a cookie.
func (s *Server) writeGrant(w http.ResponseWriter, g account.Grant) {
	if g.MFAToken != "" {
		writeMFARequired(w, g.MFAToken, g.MFATTL)
		return
	}
	if g.RefreshToken != "" {
		s.setCookie(w, cookieRefresh, g.RefreshToken, g.RefreshTTL)
	}
	encode(w, http.StatusOK, tokenResponse{
		AccessToken: g.AccessToken,
		TokenType:   "Bearer",
		ExpiresIn:   int64(g.AccessTTL / time.Second),
	})
}
