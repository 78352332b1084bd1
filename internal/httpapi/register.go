package httpapi

import (
	"net/http"

	"authd/internal/account"
)

type registerRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
	Email    *string `json:"email"`
}

type registerResponse struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// handleRegister creates a user with a password.
func (s *Server) handleRegister() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		var req registerRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		// A missing field breaks its rule as an empty one does.
		u, err := s.Accounts.Register(r.Context(), account.Registration{
			Username: valueOf(req.Username),
			Password: valueOf(req.Password),
			Email:    valueOf(req.Email),
		})
		if err != nil {
			return err
		}
		encode(w, http.StatusCreated, registerResponse{ID: u.ID, Username: u.Username})
		return nil
	})
}

// valueOf is *p, or "" for nil.
func valueOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
