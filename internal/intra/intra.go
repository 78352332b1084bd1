// Package intra is the service's client of the 42 school's Intra OAuth2
// provider: it builds the authorize URL the browser is sent to, and turns
// the authorization code the browser brings back into the identity of the
// provider's user. The provider's tokens go no further than this package.
//
// # PKCE
//
// A login holds the provider to PKCE (RFC 7636, as RFC 9700 §2.1.1 asks of
// every client against code injection, its §4.5): the authorize URL
// carries the S256 challenge of a code verifier, the code exchange the
// verifier, and the provider redeems a code only with the verifier of the
// request it was issued for. So a code obtained in one flow and brought to
// the callback with another flow's state is refused as invalid_grant, and
// cannot log the other flow's browser in as the code's user.
//
// The verifier is not kept anywhere: Verifier derives it from the flow's
// state, an HMAC-SHA256 of it keyed with the client secret. The state is
// 32 random bytes that the browser holds, for one flow, in its HttpOnly
// state_token cookie, so the verifier is per flow and bound to that state
// without a cookie or a server-side record of its own, and every replica
// derives the same one. The key keeps the verifier secret although the
// state travels in URLs. It is the client secret because every replica
// has it and it outlives a flow (changing it fails only the flows begun
// before); the provider, the one other holder, already sees the challenge
// and issues the code.
//
// The binding is to the state, not to the browser beyond it: since the
// callback's state must equal the cookie, someone who learns a callback
// URL (its code and its state) before the code is redeemed can replay both
// from a browser whose cookie they set to that state. Closing that would
// take a cookie value that the URL does not show, such as a state that is
// a hash of the cookie. A provider older than PKCE (Doorkeeper before
// 5.0) ignores the challenge and the verifier; logins then work as
// without PKCE.
package intra

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Errors of Identify; every error it returns wraps one of them.
var (
	// ErrRejected is the provider refusing the code (invalid_grant) or
	// the client's credentials (invalid_client).
	ErrRejected = errors.New("intra: the provider rejected the code or the client credentials")
	// ErrProvider is any other failure: the provider unreachable, too
	// slow, answering 5xx or 429, or answering what cannot be used.
	ErrProvider = errors.New("intra: the provider failed")
)

// DefaultBaseURL is the real provider's.
const DefaultBaseURL = "https://api.intra.42.fr"

// Limits on what the provider sends back.
const (
	maxBody        = 1 << 20
	maxLogin       = 64
	maxEmail       = 254
	maxDisplayName = 256
	maxImageLink   = 1024
)

const defaultUserAgent = "authd"

// Config is the application's registration at the provider.
type Config struct {
	// BaseURL is the provider's; DefaultBaseURL when empty.
	BaseURL      string
	ClientID     string
	ClientSecret string
	// RedirectURI is the callback URL registered for the client.
	RedirectURI string
	// HTTPClient makes the calls; nil means one with bounded dial, TLS
	// and header timeouts that does not follow redirects.
	HTTPClient *http.Client
	// UserAgent is sent on every call (the provider refuses calls without
	// one); "authd" when empty.
	UserAgent string
}

// Client talks to the provider for one registered application.
type Client struct {
	base, id, secret, redirect, userAgent string
	http                                  *http.Client
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	c := &Client{
		base:      strings.TrimRight(cfg.BaseURL, "/"),
		id:        cfg.ClientID,
		secret:    cfg.ClientSecret,
		redirect:  cfg.RedirectURI,
		userAgent: cfg.UserAgent,
		http:      cfg.HTTPClient,
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.userAgent == "" {
		c.userAgent = defaultUserAgent
	}
	if c.http == nil {
		c.http = newHTTPClient()
	}
	return c
}

func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
		},
		// A backstop only: callers bound each Identify with their context.
		Timeout: 30 * time.Second,
		// The provider does not redirect API calls; following one would
		// send the client secret elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// verifierLabel separates the verifiers derived from the client secret
// from any other use of it.
const verifierLabel = "authd intra PKCE code_verifier v1\x00"

// Verifier is the PKCE code verifier of the login flow whose state is
// state: 43 characters of base64url, as RFC 7636 §4.1 recommends, the
// same for the same state and client secret (see the package comment).
func (c *Client) Verifier(state string) string {
	m := hmac.New(sha256.New, []byte(c.secret))
	m.Write([]byte(verifierLabel))
	m.Write([]byte(state))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Challenge is the S256 code challenge of verifier (RFC 7636 §4.2):
// BASE64URL(SHA256(verifier)) without padding.
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthorizeURL is where the browser is sent to log in with 42, state
// being the value the callback must bring back and challenge the S256
// challenge of the flow's code verifier, Challenge(c.Verifier(state)).
func (c *Client) AuthorizeURL(state, challenge string) string {
	q := url.Values{
		"client_id":             {c.id},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
		"redirect_uri":          {c.redirect},
		"response_type":         {"code"},
		"scope":                 {"public"},
		"state":                 {state},
	}
	// Encode sorts by key: the documented parameters keep their order,
	// PKCE's come after client_id.
	return c.base + "/oauth/authorize?" + q.Encode()
}

// Identity is the provider's user, as the service keeps it.
type Identity struct {
	ID          int64
	Login       string
	Email       string
	DisplayName string
	// ImageLink is empty for a user without a picture.
	ImageLink string
}

// Identify exchanges an authorization code for an access token, proving
// with verifier, the code verifier of the flow the callback belongs to,
// that the code was issued to that flow; then it fetches the user the
// token belongs to. ctx bounds the whole. The error wraps ErrRejected or
// ErrProvider and holds neither the code, the verifier, the client secret
// nor the provider's token.
func (c *Client) Identify(ctx context.Context, code, verifier string) (Identity, error) {
	if code == "" {
		return Identity{}, fmt.Errorf("%w: empty code", ErrRejected)
	}
	token, err := c.exchange(ctx, code, verifier)
	if err != nil {
		return Identity{}, err
	}
	return c.me(ctx, token)
}

// exchange trades the code for an access token at POST /oauth/token.
func (c *Client) exchange(ctx context.Context, code, verifier string) (string, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {c.id},
		"client_secret": {c.secret},
		"code":          {code},
		"code_verifier": {verifier},
		"redirect_uri":  {c.redirect},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: token: %v", ErrProvider, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, body, err := c.do(req, "token")
	if err != nil {
		return "", err
	}
	switch status {
	case http.StatusOK:
	case http.StatusBadRequest, http.StatusUnauthorized:
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(body, &e) // a body that is not Doorkeeper's leaves e empty
		name := errorName(e.Error)
		if name == "invalid_grant" || name == "invalid_client" {
			return "", fmt.Errorf("%w: token: %d %s", ErrRejected, status, name)
		}
		return "", fmt.Errorf("%w: token: answered %d %s", ErrProvider, status, name)
	default:
		return "", fmt.Errorf("%w: token: answered %d", ErrProvider, status)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return "", fmt.Errorf("%w: token: %s", ErrProvider, jsonProblem(err))
	}
	if t.AccessToken == "" {
		return "", fmt.Errorf("%w: token: no access_token", ErrProvider)
	}
	if !strings.EqualFold(t.TokenType, "bearer") {
		return "", fmt.Errorf("%w: token: token_type %q, want bearer", ErrProvider, errorName(t.TokenType))
	}
	return t.AccessToken, nil
}

// me fetches GET /v2/me with the access token.
func (c *Client) me(ctx context.Context, token string) (Identity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v2/me", nil)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: me: %v", ErrProvider, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	status, body, err := c.do(req, "me")
	if err != nil {
		return Identity{}, err
	}
	if status != http.StatusOK {
		return Identity{}, fmt.Errorf("%w: me: answered %d", ErrProvider, status)
	}
	var m struct {
		ID          *int64 `json:"id"`
		Login       string `json:"login"`
		Email       string `json:"email"`
		DisplayName string `json:"displayname"`
		Image       struct {
			Link *string `json:"link"`
		} `json:"image"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return Identity{}, fmt.Errorf("%w: me: %s", ErrProvider, jsonProblem(err))
	}
	id := Identity{Login: m.Login, Email: m.Email, DisplayName: m.DisplayName}
	if m.Image.Link != nil {
		id.ImageLink = *m.Image.Link
	}
	switch {
	case m.ID == nil:
		return Identity{}, fmt.Errorf("%w: me: no id", ErrProvider)
	case *m.ID <= 0:
		return Identity{}, fmt.Errorf("%w: me: id %d is not positive", ErrProvider, *m.ID)
	case id.Login == "":
		return Identity{}, fmt.Errorf("%w: me: no login", ErrProvider)
	case len(id.Login) > maxLogin, len(id.Email) > maxEmail, len(id.DisplayName) > maxDisplayName, len(id.ImageLink) > maxImageLink:
		return Identity{}, fmt.Errorf("%w: me: a field of user %d is too long", ErrProvider, *m.ID)
	}
	id.ID = *m.ID
	return id, nil
}

// do sends req and reads the answer, at most maxBody bytes of it.
func (c *Client) do(req *http.Request, what string) (int, []byte, error) {
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s: %w", ErrProvider, what, withoutURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s: reading the answer: %w", ErrProvider, what, withoutURL(err))
	}
	if len(body) > maxBody {
		return 0, nil, fmt.Errorf("%w: %s: answer over %d bytes", ErrProvider, what, maxBody)
	}
	return resp.StatusCode, body, nil
}

// withoutURL drops the request URL that net/http puts in its errors,
// keeping what went wrong.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// jsonProblem describes why a body is not the JSON expected, without
// quoting it.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("JSON field %q is a %s", typ.Field, typ.Value)
	}
	return "malformed JSON"
}

var errorNamePattern = regexp.MustCompile(`^[a-z_]{1,64}$`)

// errorName is an error name of the provider fit to log, or "?".
func errorName(s string) string {
	if errorNamePattern.MatchString(strings.ToLower(s)) {
		return s
	}
	return "?"
}
