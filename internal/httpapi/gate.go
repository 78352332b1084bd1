package httpapi

import (
	"net/http"
	"strconv"
)

// The gate lets a reverse proxy (nginx's auth_request, Caddy's
// forward_auth, Traefik's ForwardAuth) admit a request to another service
// only with a live access token: the proxy asks GET /auth/verify/ with
// the request's Authorization header and passes the user's headers on.
// Being a Bearer endpoint like /auth/me/, it refuses a session at once
// after its logout, which a service verifying tokens on its own cannot.
const (
	headerUserID    = "X-Auth-User-Id"
	headerUsername  = "X-Auth-Username"
	headerSessionID = "X-Auth-Session-Id"
)

// handleVerify answers 200 with no body and the user's headers; the
// authentication before it has answered 401 to anything else.
func (s *Server) handleVerify() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p := principalFrom(r.Context())
		h := w.Header()
		h.Set(headerUserID, strconv.FormatInt(p.User.ID, 10))
		h.Set(headerUsername, p.User.Username)
		h.Set(headerSessionID, p.Claims.SessionID)
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	})
}
