package httpapi

import (
	"errors"
	"net/http"
	"time"

	"authd/internal/account"
)

type detailBody struct {
	Detail string `json:"detail"`
}

// handleLogout ends sessions as the optional scope says: by default the
// session of the access token, and that of the refresh cookie when one is
// sent, clearing the cookie; "others" every other session of the user,
// keeping the cookie; "global" all of them, clearing it.
func (s *Server) handleLogout() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		scope, err := logoutScope(w, r)
		if err != nil {
			return err
		}
		raw, _ := cookieValue(r, cookieRefresh)
		if err := s.Accounts.Logout(r.Context(), principalFrom(r.Context()), raw, scope); err != nil {
			return err
		}
		if scope == account.LogoutOthers {
			encode(w, http.StatusOK, detailBody{Detail: "Your other sessions have ended."})
			return nil
		}
		s.clearCookie(w, cookieRefresh)
		encode(w, http.StatusOK, detailBody{Detail: "Logged out."})
		return nil
	})
}

// handleRefresh issues a new access token for the live session named by
// the refresh_token cookie. A refused refresh clears the cookie it got.
func (s *Server) handleRefresh() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		raw, sent := cookieValue(r, cookieRefresh)
		if !sent {
			return errInvalidRefresh
		}
		g, err := s.Accounts.Refresh(r.Context(), raw)
		if errors.Is(err, account.ErrInvalidRefreshToken) {
			s.clearCookie(w, cookieRefresh)
		}
		if err != nil {
			return err
		}
		s.writeGrant(w, g)
		return nil
	})
}

type meResponse struct {
	ID         int64   `json:"id"`
	Username   string  `json:"username"`
	Email      string  `json:"email"`
	IntraLogin *string `json:"intra_login"`
	CreatedAt  string  `json:"created_at"`
	TwoFactor  bool    `json:"two_factor"`
}

// handleMe describes the authenticated user.
func (s *Server) handleMe() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		u := principalFrom(r.Context()).User
		twoFactor, err := s.Accounts.TwoFactorEnabled(r.Context(), u.ID)
		if err != nil {
			return err
		}
		resp := meResponse{ID: u.ID, Username: u.Username, Email: u.Email, CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339), TwoFactor: twoFactor}
		if u.Intra != nil {
			resp.IntraLogin = &u.Intra.Login
		}
		encode(w, http.StatusOK, resp)
		return nil
	})
}
