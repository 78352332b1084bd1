package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"authd/internal/account"
	"authd/internal/store"
)

// withClient returns r's context carrying its client, as the sessions it
// starts keep it: the address the throttles count, and the User-Agent.
func (s *Server) withClient(r *http.Request) context.Context {
	return account.WithClient(r.Context(), account.Client{
		IP:        clientKey(r),
		UserAgent: r.Header.Get("User-Agent"),
	})
}

type sessionBody struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	ExpiresAt  string `json:"expires_at"`
	Method     string `json:"method"`
	UserAgent  string `json:"user_agent"`
	IP         string `json:"ip"`
	Current    bool   `json:"current"`
}

type sessionsResponse struct {
	Sessions []sessionBody `json:"sessions"`
}

func timeText(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// handleSessions lists the live sessions of the Bearer user, newest first,
// marking the one of the access token.
func (s *Server) handleSessions() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p := principalFrom(r.Context())
		list, err := s.Accounts.Sessions(r.Context(), p)
		if err != nil {
			return err
		}
		resp := sessionsResponse{Sessions: make([]sessionBody, 0, len(list))}
		for _, sess := range list {
			resp.Sessions = append(resp.Sessions, describeSession(sess, p.Claims.SessionID))
		}
		encode(w, http.StatusOK, resp)
		return nil
	})
}

func describeSession(sess store.Session, current string) sessionBody {
	last := sess.LastUsedAt
	if last.IsZero() {
		last = sess.CreatedAt
	}
	return sessionBody{
		ID:         sess.ID,
		CreatedAt:  timeText(sess.CreatedAt),
		LastUsedAt: timeText(last),
		ExpiresAt:  timeText(sess.ExpiresAt),
		Method:     sess.Method,
		UserAgent:  sess.UserAgent,
		IP:         sess.IP,
		Current:    sess.ID == current,
	}
}

// handleEndSession revokes one session of the Bearer user, named by the
// path; another user's or an unknown one is 404.
func (s *Server) handleEndSession() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.Accounts.EndSession(r.Context(), principalFrom(r.Context()), r.PathValue("id")); err != nil {
			return err
		}
		encode(w, http.StatusOK, detailBody{Detail: "Session ended."})
		return nil
	})
}

type logoutRequest struct {
	Scope *string `json:"scope"`
}

// logoutScope reads the optional scope of a logout: no body at all (the
// seed's logout) is local; a body must be a JSON object.
func logoutScope(w http.ResponseWriter, r *http.Request) (account.LogoutScope, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return "", &Error{codeRequestTooLarge, fmt.Sprintf("The body is over %d KiB.", maxBody>>10)}
	}
	if err != nil {
		return "", invalidRequest("The body could not be read.")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return account.LogoutLocal, nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req logoutRequest
	if err := decode(w, r, &req); err != nil {
		return "", err
	}
	if req.Scope == nil {
		return account.LogoutLocal, nil
	}
	if *req.Scope == "" {
		return "", invalidRequest("The scope must be local, others or global.")
	}
	return account.ParseLogoutScope(*req.Scope)
}

type passwordRequest struct {
	CurrentPassword *string `json:"current_password"`
	NewPassword     *string `json:"new_password"`
}

// handleChangePassword sets the Bearer user's password and revokes their
// other sessions (see account.Service.ChangePassword).
func (s *Server) handleChangePassword() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p := principalFrom(r.Context())
		if err := s.Accounts.Fresh(p); err != nil {
			return err
		}
		var req passwordRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		if req.NewPassword == nil {
			return invalidRequest("The new_password field is required.")
		}
		current := ""
		if req.CurrentPassword != nil {
			current = *req.CurrentPassword
		}
		if err := s.Accounts.ChangePassword(r.Context(), p, current, *req.NewPassword); err != nil {
			return err
		}
		encode(w, http.StatusOK, detailBody{Detail: "Password changed; your other sessions have ended."})
		return nil
	})
}

// handleIntraUnlink removes the Bearer user's Intra link.
func (s *Server) handleIntraUnlink() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := s.Accounts.UnlinkIntra(r.Context(), principalFrom(r.Context())); err != nil {
			return err
		}
		encode(w, http.StatusOK, detailBody{Detail: "Intra account unlinked."})
		return nil
	})
}
