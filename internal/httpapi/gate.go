package httpapi

import (
	"net/http"
	"strconv"
)

// jwksPath is where the public keys of access tokens are published (RFC
// 8414's well-known folder, the name OpenID Connect providers use).
const jwksPath = "/.well-known/jwks.json"

// jwksMaxAge is how long a verifier may cache the JWKS, in seconds; a new
// key is published AUTHD_KEY_PUBLISH_DELAY (by default twice this) before
// it signs.
const jwksMaxAge = "300"

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
		// One slice for the three values, and canonical keys set as
		// they are (see withHeaders): this answers every request of
		// every service behind the gate. Cache-Control is withHeaders'.
		v := []string{strconv.FormatInt(p.User.ID, 10), p.User.Username, p.Claims.SessionID}
		h[headerUserID] = v[0:1:1]
		h[headerUsername] = v[1:2:2]
		h[headerSessionID] = v[2:3:3]
		h["Content-Length"] = valueZero
		// This answer goes to the proxy that asked, which copies the
		// X-Auth-* headers and drops the rest: the headers that tell a
		// browser how to treat a page mean nothing here, and writing
		// them (and the load generator reading them) cost the gate a
		// quarter of its rate in ../shared/perf's measure. An error,
		// which a proxy may hand to the browser, keeps them.
		for _, k := range browserHeaders {
			delete(h, k)
		}
		w.WriteHeader(http.StatusOK)
		return nil
	})
}

// handleJWKS serves the public keys that may still verify a live access
// token, for services that verify them on their own; {"keys":[]} when
// access tokens are HS256. It is public and not throttled.
func (s *Server) handleJWKS() http.Handler {
	empty := []byte(`{"keys":[]}`)
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		body := empty
		if s.JWKS != nil {
			body = s.JWKS()
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age="+jwksMaxAge)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(body)
		}
		return nil
	})
}
