package authdtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Response is an HTTP answer, read: what every typed answer carries
// besides its body's fields.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Error is the contract's JSON error of an answer of 400 or more.
	Error ErrorBody
}

// ErrorBody is the contract's error: {"error": "code", "detail": "..."}.
type ErrorBody struct {
	Code   string `json:"error"`
	Detail string `json:"detail"`
}

// TokenResponse is the answer of login, refresh and intra login. The
// login of a user with two-factor authentication answers MFARequired and
// an MFAToken instead of an access token (ExpiresIn is then the
// mfa_token's).
type TokenResponse struct {
	Response    `json:"-"`
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	MFARequired bool   `json:"mfa_required"`
	MFAToken    string `json:"mfa_token"`
}

// RegisterRequest is the body of POST /auth/register/; Email is optional.
type RegisterRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email,omitempty"`
}

// RegisterResponse is the answer of register.
type RegisterResponse struct {
	Response `json:"-"`
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// MeResponse is the answer of GET /auth/me/.
type MeResponse struct {
	Response   `json:"-"`
	ID         int64   `json:"id"`
	Username   string  `json:"username"`
	Email      string  `json:"email"`
	IntraLogin *string `json:"intra_login"` // null until a 42 account is linked
	CreatedAt  string  `json:"created_at"`
	TwoFactor  bool    `json:"two_factor"`
}

// Intra returns the linked 42 login, or "" when there is none.
func (m MeResponse) Intra() string {
	if m.IntraLogin == nil {
		return ""
	}
	return *m.IntraLogin
}

// URLResponse is the answer of GET /oauth2/intra/url/.
type URLResponse struct {
	Response `json:"-"`
	URL      string `json:"url"`
}

// DetailResponse is an answer that only says what happened: logout, the
// callback, link.
type DetailResponse struct {
	Response `json:"-"`
	Detail   string `json:"detail"`
}

func (r Response) String() string {
	return strings.TrimSpace(http.StatusText(r.Status) + " " + string(r.Body))
}

// response gives a typed answer's Response to the decoder.
func (r *Response) response() *Response { return r }

// IsJSON reports whether the answer says its body is JSON.
func (r Response) IsJSON() bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
}

// MustDecode decodes the JSON body into v.
func (r Response) MustDecode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%d %q: %v", r.Status, r.Body, err)
	}
}

// Cookies returns the answer's Set-Cookie lines, parsed.
func (r Response) Cookies() []*http.Cookie {
	var out []*http.Cookie
	for _, line := range r.Header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// Sets reports whether the answer sets cookie name to a value.
func (r Response) Sets(name string) bool {
	for _, c := range r.Cookies() {
		if c.Name == name && c.Value != "" && c.MaxAge >= 0 {
			return true
		}
	}
	return false
}

// Clears reports whether the answer clears cookie name.
func (r Response) Clears(name string) bool {
	for _, c := range r.Cookies() {
		if c.Name == name && c.Value == "" && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// Want fails the test unless the answer has the status and, when code is
// not empty, the error code.
func (r Response) Want(t testing.TB, what string, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.Error.Code != code) {
		if code == "" {
			t.Fatalf("%s = %d %s, want %d", what, r.Status, r.Body, status)
		}
		t.Fatalf("%s = %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
}

// GateResponse is the answer of GET /auth/verify/: no body, the user in
// its headers when it admits the request.
type GateResponse struct {
	Response  `json:"-"`
	UserID    string `json:"-"` // X-Auth-User-Id
	Username  string `json:"-"` // X-Auth-Username
	SessionID string `json:"-"` // X-Auth-Session-Id
}

// JWKSResponse is the answer of GET /.well-known/jwks.json.
type JWKSResponse struct {
	Response `json:"-"`
	Keys     []JWK `json:"keys"`
}

// JWK is one public key of a JWKS, as authd publishes Ed25519 keys.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// Kids returns the kid of each key, in order.
func (j JWKSResponse) Kids() []string {
	kids := []string{}
	for _, k := range j.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TokenHeader returns the alg and kid of a JWT's header, or empty strings
// when it has none that reads.
func TokenHeader(tok string) (alg, kid string) {
	head, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", ""
	}
	var h struct{ Alg, Kid string }
	json.Unmarshal(b, &h)
	return h.Alg, h.Kid
}
