package fakeintra

import (
	"net/http"
	"strconv"
)

// handleMe is GET /v2/me: the token owner's full user JSON.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("User-Agent") == "" {
		// The real API refuses requests without a User-Agent, with no body.
		w.WriteHeader(http.StatusForbidden)
		return
	}
	t, reason := s.bearer(r)
	if reason != "" {
		w.Header().Set("WWW-Authenticate", authenticateHeader("invalid_token", reason))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !s.allow(w, t.clientID) {
		return
	}
	u := s.byID[t.userID]
	if u == nil {
		// A client-credentials token has no resource owner.
		writeJSON(w, http.StatusNotFound, struct{}{})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "max-age=0, private, must-revalidate")
	h.Set("Content-Length", strconv.Itoa(len(u.Document)))
	w.WriteHeader(http.StatusOK)
	w.Write(u.Document)
}
