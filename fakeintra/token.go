package fakeintra

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// oauthError is a Doorkeeper error, by its name and description.
type oauthError struct {
	Name        string `json:"error"`
	Description string `json:"error_description"`
}

// Doorkeeper's errors, with its English descriptions.
var (
	errInvalidRequest          = oauthError{"invalid_request", "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed."}
	errInvalidClient           = oauthError{"invalid_client", "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."}
	errInvalidGrant            = oauthError{"invalid_grant", "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."}
	errUnsupportedGrantType    = oauthError{"unsupported_grant_type", "The authorization grant type is not supported by the authorization server."}
	errInvalidScope            = oauthError{"invalid_scope", "The requested scope is invalid, unknown, or malformed."}
	errAccessDenied            = oauthError{"access_denied", "The resource owner or authorization server denied the request."}
	errUnsupportedResponseType = oauthError{"unsupported_response_type", "The authorization server does not support this response type."}
	errInvalidRedirectURI      = oauthError{"invalid_redirect_uri", "The redirect uri included is not valid."}
)

// Descriptions of an unusable access token.
const (
	tokenInvalid = "The access token is invalid"
	tokenExpired = "The access token expired"
	tokenRevoked = "The access token was revoked"
)

// authenticateHeader is the WWW-Authenticate value for an error.
func authenticateHeader(name, description string) string {
	return `Bearer realm="` + realm + `", error="` + name + `", error_description="` + description + `"`
}

// grant is an authorization code's promise. A redeemed grant is kept,
// revoked, until it expires, as Doorkeeper keeps it.
type grant struct {
	clientID    string
	redirectURI string
	userID      int64
	scopes      []string
	created     time.Time
	revoked     bool
	// challenge and challengeMethod are the PKCE parameters of the
	// authorization request, as sent; see pkce.go.
	challenge, challengeMethod string
}

// accessToken is an issued access token and its refresh token.
type accessToken struct {
	access   string
	refresh  string // empty for client credentials
	clientID string
	userID   int64 // zero for client credentials: no resource owner
	scopes   []string
	created  time.Time
	revoked  bool
}

func (t *accessToken) expired(now time.Time) bool {
	return now.Sub(t.created) > TokenTTL
}

// tokenResponse is Doorkeeper's success body, its fields in Doorkeeper's
// order, then 42's own.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshToken     string `json:"refresh_token,omitempty"`
	Scope            string `json:"scope"`
	CreatedAt        int64  `json:"created_at"`
	SecretValidUntil int64  `json:"secret_valid_until"`
}

// handleToken is POST /oauth/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	p, err := tokenParams(w, r)
	if err != nil {
		s.tokenError(w, errInvalidRequest)
		return
	}
	// Doorkeeper takes the credentials of HTTP Basic, else of the
	// parameters: the first whose client id is not blank
	// (lib/doorkeeper/oauth/client/credentials.rb).
	id, secret, ok := r.BasicAuth()
	if !ok || blank(id) {
		id, secret = p.Get("client_id"), p.Get("client_secret")
	}
	if _, known := s.clients[id]; known && !s.allow(w, id) {
		return
	}
	var resp tokenResponse
	var oerr *oauthError
	switch p.Get("grant_type") {
	case "authorization_code":
		resp, oerr = s.exchangeCode(id, secret, p)
	case "client_credentials":
		resp, oerr = s.clientCredentials(id, secret, p)
	case "refresh_token":
		resp, oerr = s.refreshToken(id, secret, p)
	case "":
		oerr = &errInvalidRequest
	default:
		oerr = &errUnsupportedGrantType
	}
	if oerr != nil {
		s.tokenError(w, *oerr)
		return
	}
	noStore(w)
	writeJSON(w, http.StatusOK, resp)
}

// tokenParams gathers the token request's parameters as Rails does: the
// query, overridden by the body, be it form-encoded, multipart or JSON.
func tokenParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	params := r.URL.Query()
	body := http.MaxBytesReader(w, r.Body, maxRequestBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var fromBody url.Values
	switch ct {
	case "application/x-www-form-urlencoded", "":
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		if fromBody, err = url.ParseQuery(string(data)); err != nil {
			return nil, err
		}
	case "multipart/form-data":
		r.Body = body
		if err := r.ParseMultipartForm(maxRequestBody); err != nil {
			return nil, err
		}
		defer r.MultipartForm.RemoveAll()
		fromBody = r.MultipartForm.Value
	case "application/json":
		var m map[string]any
		dec := json.NewDecoder(body)
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		fromBody = make(url.Values, len(m))
		for k, v := range m {
			switch v := v.(type) {
			case string:
				fromBody.Set(k, v)
			case json.Number:
				fromBody.Set(k, v.String())
			case bool:
				fromBody.Set(k, strconv.FormatBool(v))
			}
		}
	}
	for k, v := range fromBody {
		params[k] = v
	}
	return params, nil
}

// authenticate checks a client's credentials.
func (s *Server) authenticate(id, secret string) (Client, bool) {
	c, ok := s.clients[id]
	if !ok || id == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return Client{}, false
	}
	return c, true
}

// exchangeCode is the authorization_code grant. Its checks come in
// Doorkeeper's order (lib/doorkeeper/oauth/authorization_code_request.rb):
// the request's attributes, the client, the grant, the redirect URI, the
// PKCE verifier. The grant is looked up by its code alone, so the first
// check sees a grant of another client, or one already redeemed, too.
func (s *Server) exchangeCode(id, secret string, p url.Values) (tokenResponse, *oauthError) {
	code, redirectURI := p.Get("code"), p.Get("redirect_uri")
	verifier, sentVerifier := p.Get("code_verifier"), p.Has("code_verifier")
	if s.noPKCE {
		verifier, sentVerifier = "", false
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.codes[code]
	if blank(redirectURI) || g != nil && g.verifierMissing(verifier) {
		return tokenResponse{}, &errInvalidRequest
	}
	c, ok := s.authenticate(id, secret)
	if !ok {
		return tokenResponse{}, &errInvalidClient
	}
	if g == nil || g.revoked || g.clientID != c.ID || now.Sub(g.created) > CodeTTL || g.redirectURI != redirectURI {
		return tokenResponse{}, &errInvalidGrant
	}
	if !g.verifierMatches(verifier, sentVerifier) {
		return tokenResponse{}, &errInvalidGrant
	}
	g.revoked = true
	return s.issueLocked(c, g.userID, g.scopes, now, true), nil
}

func (s *Server) clientCredentials(id, secret string, p url.Values) (tokenResponse, *oauthError) {
	c, ok := s.authenticate(id, secret)
	if !ok {
		return tokenResponse{}, &errInvalidClient
	}
	list, ok := parseScopes(p.Get("scope"))
	if !ok {
		return tokenResponse{}, &errInvalidScope
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(c, 0, list, now, false), nil
}

// refreshToken trades a refresh token for a new pair; the old access and
// refresh tokens are revoked. The checks are those of Doorkeeper 5.0.0
// (lib/doorkeeper/oauth/refresh_token_request.rb), in its order: a
// refresh_token parameter at all (invalid_request); the token, known and
// not revoked (invalid_grant), before anything of the client, so a used
// token with a wrong secret is invalid_grant; the client's credentials
// when it sent some, a client id being enough to count as sending them
// (invalid_client); then that an authenticated client is the token's
// (invalid_grant), a request without client authentication passing,
// which Doorkeeper 5.0.1 (its #1151) stopped; last, a scope parameter
// must ask for no more than the token had (invalid_scope).
func (s *Server) refreshToken(id, secret string, p url.Values) (tokenResponse, *oauthError) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := p.Get("refresh_token")
	old := s.refresh[rt]
	switch {
	case old == nil && blank(rt):
		return tokenResponse{}, &errInvalidRequest
	case old == nil || old.revoked:
		return tokenResponse{}, &errInvalidGrant
	}
	if !blank(id) {
		c, ok := s.authenticate(id, secret)
		if !ok {
			return tokenResponse{}, &errInvalidClient
		}
		if c.ID != old.clientID {
			return tokenResponse{}, &errInvalidGrant
		}
	}
	scopes := old.scopes
	asked := p.Get("scope")
	if !p.Has("scope") {
		asked = p.Get("scopes") // Doorkeeper reads either
	}
	if !blank(asked) {
		if scopes = narrowScopes(asked, old.scopes); scopes == nil {
			return tokenResponse{}, &errInvalidScope
		}
	}
	old.revoked = true
	delete(s.refresh, rt)
	return s.issueLocked(s.clients[old.clientID], old.userID, scopes, now, true), nil
}

// narrowScopes is the scope parameter of a refresh, when it asks for
// nothing the token lacks, or nil (Doorkeeper's ScopeChecker, which also
// refuses tabs and line breaks in the parameter).
func narrowScopes(asked string, had []string) []string {
	if strings.ContainsAny(asked, "\n\r\t") {
		return nil
	}
	var list []string
	for _, sc := range strings.Fields(asked) {
		if !slices.Contains(had, sc) {
			return nil
		}
		if !slices.Contains(list, sc) {
			list = append(list, sc)
		}
	}
	return list
}

// issueLocked issues an access token, with a refresh token if asked.
// s.mu is held.
func (s *Server) issueLocked(c Client, userID int64, scopes []string, now time.Time, withRefresh bool) tokenResponse {
	t := &accessToken{access: randomHex(), clientID: c.ID, userID: userID, scopes: scopes, created: now}
	if withRefresh {
		t.refresh = randomHex()
		s.refresh[t.refresh] = t
	}
	s.access[t.access] = t
	s.issued++
	if s.issued%sweepEveryIssues == 0 {
		s.sweepLocked(now)
	}
	return tokenResponse{
		AccessToken:      t.access,
		TokenType:        "bearer",
		ExpiresIn:        int64(TokenTTL / time.Second),
		RefreshToken:     t.refresh,
		Scope:            strings.Join(scopes, " "),
		CreatedAt:        now.Unix(),
		SecretValidUntil: c.SecretValidUntil.Unix(),
	}
}

// forgetAfter is how long after expiry a token is still known, so that a
// late call hears "expired" rather than "invalid" and a refresh still works.
const forgetAfter = 24 * time.Hour

// sweepLocked forgets expired codes and long-expired tokens, so that the
// fake's memory stays bounded. s.mu is held.
func (s *Server) sweepLocked(now time.Time) {
	for k, g := range s.codes {
		if now.Sub(g.created) > CodeTTL {
			delete(s.codes, k)
		}
	}
	for k, t := range s.access {
		if now.Sub(t.created) > TokenTTL+forgetAfter {
			delete(s.access, k)
			delete(s.refresh, t.refresh)
		}
	}
}

// tokenError writes a Doorkeeper error of the token endpoint.
func (s *Server) tokenError(w http.ResponseWriter, e oauthError) {
	status := http.StatusUnauthorized
	if s.errStatus == http.StatusBadRequest && e.Name != errInvalidClient.Name {
		status = http.StatusBadRequest
	}
	noStore(w)
	w.Header().Set("WWW-Authenticate", authenticateHeader(e.Name, e.Description))
	writeJSON(w, status, e)
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// bearer finds the request's access token, from the Authorization header
// or the access_token parameter. When it cannot be used, the reason is
// one of the tokenInvalid, tokenExpired and tokenRevoked descriptions.
func (s *Server) bearer(r *http.Request) (accessToken, string) {
	raw := ""
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, tok, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			raw = strings.TrimSpace(tok)
		}
	} else {
		raw = r.URL.Query().Get("access_token")
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.access[raw]
	switch {
	case raw == "" || t == nil:
		return accessToken{}, tokenInvalid
	case t.revoked:
		return accessToken{}, tokenRevoked
	case t.expired(now):
		return accessToken{}, tokenExpired
	}
	return *t, ""
}

// tokenInfo is Doorkeeper's /oauth/token/info body.
type tokenInfo struct {
	ResourceOwnerID  *int64          `json:"resource_owner_id"`
	Scopes           []string        `json:"scopes"`
	ExpiresInSeconds int64           `json:"expires_in_seconds"`
	Application      applicationInfo `json:"application"`
	CreatedAt        int64           `json:"created_at"`
}

type applicationInfo struct {
	UID string `json:"uid"`
}

// handleTokenInfo is GET /oauth/token/info.
func (s *Server) handleTokenInfo(w http.ResponseWriter, r *http.Request) {
	t, reason := s.bearer(r)
	if reason != "" {
		w.Header().Set("WWW-Authenticate", authenticateHeader("invalid_token", reason))
		noStore(w)
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_token", reason})
		return
	}
	if !s.allow(w, t.clientID) {
		return
	}
	left := t.created.Add(TokenTTL).Sub(s.now()).Round(time.Second)
	info := tokenInfo{
		Scopes:           t.scopes,
		ExpiresInSeconds: max(int64(left/time.Second), 0),
		Application:      applicationInfo{UID: t.clientID},
		CreatedAt:        t.created.Unix(),
	}
	if t.userID != 0 {
		info.ResourceOwnerID = &t.userID
	}
	writeJSON(w, http.StatusOK, info)
}

// randomHex is a fresh secret of 64 hex digits, as Doorkeeper makes its
// codes and tokens.
func randomHex() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
