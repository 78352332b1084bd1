package authdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Client is one user agent of authd: a cookie jar, redirects shown rather
// than followed, and typed calls of the API. It reaches authd at its base
// URL, whose host may be a name that Resolve maps to an address, as the
// host of the redirect URI registered with the provider must be.
//
// A request that cannot be made at all fails the test. The status of an
// answer is the caller's to check, but for the Must calls, which fail the
// test unless they succeed. A typed call also fails it when the answer is
// not the contract's JSON: its body on success, the JSON error otherwise.
type Client struct {
	t      testing.TB
	base   *url.URL
	http   *http.Client
	jar    http.CookieJar
	header http.Header
	routes map[string]func() string
	seen   []func(*http.Request, Response)
	shared *shared
}

// shared is what a client and the copies Via returns have in common.
type shared struct {
	mu         sync.Mutex
	via        map[string]*http.Client
	transports []*http.Transport
}

// ClientOption configures a client.
type ClientOption func(*Client)

// Resolve makes the client connect to addr() (host:port, asked at each
// new connection) whenever it reaches host.
func Resolve(host string, addr func() string) ClientOption {
	return func(c *Client) { c.routes[host] = addr }
}

// Header adds a header to every request that does not set it itself.
func Header(key, value string) ClientOption {
	return func(c *Client) { c.header.Add(key, value) }
}

// Observe has see called with every answer the client reads, authd's
// and the provider's, and the request it answers: for a program that
// checks every answer while the typed calls make them.
func Observe(see func(req *http.Request, r Response)) ClientOption {
	return func(c *Client) { c.seen = append(c.seen, see) }
}

// RawCookies keeps authd's cookies by name alone, whatever their
// attributes, and sends them all back to authd: Secure ones over plain
// HTTP too. For tests that look at the raw Set-Cookie lines; the cookies
// of other hosts are dropped.
func RawCookies() ClientOption {
	return func(c *Client) { c.jar = &rawJar{host: c.base.Host, cookies: map[string]string{}} }
}

// NewClient returns a user agent of authd at base (http://host[:port]).
func NewClient(t testing.TB, base string, opts ...ClientOption) *Client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		t.Fatalf("client of %q: want http://host[:port]", base)
	}
	u.Path, u.RawQuery = "", ""
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{t: t, base: u, jar: jar, header: http.Header{}, routes: map[string]func() string{},
		shared: &shared{via: map[string]*http.Client{}}}
	for _, o := range opts {
		o(c)
	}
	c.http = c.newHTTP(c.route)
	return c
}

// route returns the address to dial for addr.
func (c *Client) route(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if f, ok := c.routes[host]; ok {
			return f()
		}
	}
	return addr
}

func (c *Client) newHTTP(route func(addr string) string) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, route(addr))
		},
		MaxIdleConnsPerHost: 2,
	}
	c.shared.mu.Lock()
	c.shared.transports = append(c.shared.transports, tr)
	c.shared.mu.Unlock()
	c.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Jar:           c.jar,
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Via returns the same user agent, its cookies and headers, connecting to
// authd at addr: another replica behind the same name.
func (c *Client) Via(addr string) *Client {
	c.shared.mu.Lock()
	hc := c.shared.via[addr]
	c.shared.mu.Unlock()
	if hc == nil {
		host := c.base.Hostname()
		hc = c.newHTTP(func(a string) string {
			if h, _, err := net.SplitHostPort(a); err == nil && h == host {
				return addr
			}
			return c.route(a)
		})
		c.shared.mu.Lock()
		if had := c.shared.via[addr]; had != nil {
			hc = had
		} else {
			c.shared.via[addr] = hc
		}
		c.shared.mu.Unlock()
	}
	v := *c
	v.http = hc
	return &v
}

// CloseIdleConnections closes the connections the client keeps open, so
// that the next request dials anew (after authd restarted, say).
func (c *Client) CloseIdleConnections() {
	c.shared.mu.Lock()
	defer c.shared.mu.Unlock()
	for _, tr := range c.shared.transports {
		tr.CloseIdleConnections()
	}
}

// NewRequest returns a request of authd's path; bearer, when not empty,
// goes in the Authorization header, and body, when not nil, as JSON.
func (c *Client) NewRequest(method, path, bearer string, body any) *http.Request {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base.String()+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return req
}

// Send makes a request and reads the answer; its error is the
// transport's. Safe to call from any goroutine.
func (c *Client) Send(req *http.Request) (Response, error) {
	for k, v := range c.header {
		if req.Header.Get(k) == "" {
			req.Header[k] = v
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, fmt.Errorf("%s %s: reading the body: %w", req.Method, req.URL, err)
	}
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if r.Status >= 400 && r.IsJSON() {
		json.Unmarshal(body, &r.Error)
	}
	for _, see := range c.seen {
		see(req, r)
	}
	return r, nil
}

// Do is Send, failing the test when the request cannot be made.
func (c *Client) Do(req *http.Request) Response {
	c.t.Helper()
	r, err := c.Send(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return r
}

// Call sends a request to authd (see NewRequest) and reads the answer.
func (c *Client) Call(method, path, bearer string, body any) Response {
	c.t.Helper()
	return c.Do(c.NewRequest(method, path, bearer, body))
}

// Get fetches any URL as a browser navigating does: a provider's page,
// or where it redirects.
func (c *Client) Get(rawURL string) Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/json")
	return c.Do(req)
}

// PostForm submits a form as a browser does.
func (c *Client) PostForm(rawURL string, form url.Values) Response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// typed reads an answer of authd into T: its body when it succeeded, the
// contract's JSON error otherwise.
func typed[T any, P interface {
	*T
	response() *Response
}](c *Client, what string, r Response) T {
	c.t.Helper()
	var out T
	p := P(&out)
	if r.Status < 400 {
		if err := json.Unmarshal(r.Body, p); err != nil {
			c.t.Fatalf("%s = %d %q: not the JSON expected: %v", what, r.Status, r.Body, err)
		}
	} else if r.Error.Code == "" {
		c.t.Fatalf("%s = %d %q %q: not the contract's JSON error", what, r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	*p.response() = r
	return out
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Register is POST /auth/register/.
func (c *Client) Register(req RegisterRequest) RegisterResponse {
	c.t.Helper()
	return typed[RegisterResponse](c, "register "+req.Username, c.Call("POST", "/auth/register/", "", req))
}

// Login is POST /auth/login/ with a password.
func (c *Client) Login(username, password string) TokenResponse {
	c.t.Helper()
	return typed[TokenResponse](c, "login "+username, c.Call("POST", "/auth/login/", "", credentials{username, password}))
}

// Me is GET /auth/me/ with an access token.
func (c *Client) Me(access string) MeResponse {
	c.t.Helper()
	return typed[MeResponse](c, "me", c.Call("GET", "/auth/me/", access, nil))
}

// Refresh is POST /auth/refresh/ with the refresh cookie the jar holds.
func (c *Client) Refresh() TokenResponse {
	c.t.Helper()
	return typed[TokenResponse](c, "refresh", c.Call("POST", "/auth/refresh/", "", nil))
}

// Logout is POST /auth/logout/ with an access token.
func (c *Client) Logout(access string) DetailResponse {
	c.t.Helper()
	return typed[DetailResponse](c, "logout", c.Call("POST", "/auth/logout/", access, nil))
}

// IntraURL is GET /oauth2/intra/url/, the start of a Log in with 42.
func (c *Client) IntraURL() URLResponse {
	c.t.Helper()
	return typed[URLResponse](c, "intra url", c.Call("GET", "/oauth2/intra/url/", "", nil))
}

// Callback follows the provider's redirect back to authd's callback.
func (c *Client) Callback(location string) DetailResponse {
	c.t.Helper()
	u, err := url.Parse(location)
	if err != nil || u.Host != c.base.Host || u.Path != "/oauth2/intra/callback/" {
		c.t.Fatalf("the provider redirects to %q, want authd's callback at %s", location, c.base.Host)
	}
	return typed[DetailResponse](c, "callback", c.Get(location))
}

// IntraLogin is POST /oauth2/intra/login/ with the api_token the jar holds.
func (c *Client) IntraLogin() TokenResponse {
	c.t.Helper()
	return typed[TokenResponse](c, "intra login", c.Call("POST", "/oauth2/intra/login/", "", nil))
}

// IntraLink is POST /oauth2/intra/link/ with an access token and the
// api_token the jar holds.
func (c *Client) IntraLink(access string) DetailResponse {
	c.t.Helper()
	return typed[DetailResponse](c, "intra link", c.Call("POST", "/oauth2/intra/link/", access, nil))
}

// MustRegister registers a user with a password.
func (c *Client) MustRegister(username, password string) RegisterResponse {
	c.t.Helper()
	r := c.Register(RegisterRequest{Username: username, Password: password})
	r.Want(c.t, "register "+username, http.StatusCreated, "")
	return r
}

// MustLogin logs in with a password.
func (c *Client) MustLogin(username, password string) TokenResponse {
	c.t.Helper()
	r := c.Login(username, password)
	r.Want(c.t, "login "+username, http.StatusOK, "")
	return r
}

// MustMe returns /auth/me/ for the access token.
func (c *Client) MustMe(access string) MeResponse {
	c.t.Helper()
	r := c.Me(access)
	r.Want(c.t, "me", http.StatusOK, "")
	return r
}

// MustRefresh gets a new access token with the refresh cookie.
func (c *Client) MustRefresh() TokenResponse {
	c.t.Helper()
	r := c.Refresh()
	r.Want(c.t, "refresh", http.StatusOK, "")
	return r
}

// MustLogout ends the session of the access token.
func (c *Client) MustLogout(access string) {
	c.t.Helper()
	c.Logout(access).Want(c.t, "logout", http.StatusOK, "")
}

// MustIntraURL starts a Log in with 42 and returns the provider's
// authorize URL; the jar then holds state_token.
func (c *Client) MustIntraURL() string {
	c.t.Helper()
	r := c.IntraURL()
	r.Want(c.t, "intra url", http.StatusOK, "")
	if c.Cookie("state_token") == "" {
		c.t.Fatalf("intra url set no state_token: %q", r.Header.Values("Set-Cookie"))
	}
	return r.URL
}

// MustIntraLogin logs in with the api_token and returns the tokens.
func (c *Client) MustIntraLogin() TokenResponse {
	c.t.Helper()
	r := c.IntraLogin()
	r.Want(c.t, "intra login", http.StatusOK, "")
	return r
}

// MustIntraLink links the 42 account of the api_token to the user of the
// access token.
func (c *Client) MustIntraLink(access string) {
	c.t.Helper()
	c.IntraLink(access).Want(c.t, "intra link", http.StatusOK, "")
}

// MustIntraIdentity goes through the provider as login, skipping its
// consent page, and back through the callback: the jar then holds an
// api_token.
func (c *Client) MustIntraIdentity(login string) {
	c.t.Helper()
	r := c.Callback(c.MustAuthorize(c.MustIntraURL(), login))
	r.Want(c.t, "callback", http.StatusOK, "")
	if c.Cookie("api_token") == "" {
		c.t.Fatalf("the callback set no api_token: %q", r.Header.Values("Set-Cookie"))
	}
}

// Cookie returns the value of authd's cookie name in the jar, or "".
func (c *Client) Cookie(name string) string {
	for _, ck := range c.jar.Cookies(c.base) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// CookieNames lists authd's cookies in the jar, sorted.
func (c *Client) CookieNames() []string {
	names := []string{}
	for _, ck := range c.jar.Cookies(c.base) {
		names = append(names, ck.Name)
	}
	slices.Sort(names)
	return names
}

// PutCookie stores a cookie of authd's in the jar, as a user agent that
// kept or forged one would.
func (c *Client) PutCookie(name, value string) {
	c.jar.SetCookies(c.base, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// DropCookie forgets a cookie of authd's, as a user agent whose cookie
// expired would.
func (c *Client) DropCookie(name string) {
	c.jar.SetCookies(c.base, []*http.Cookie{{Name: name, Path: "/", MaxAge: -1}})
}

// WantCookies fails the test unless the jar holds exactly these cookies
// of authd's.
func (c *Client) WantCookies(when string, names ...string) {
	c.t.Helper()
	want := append([]string{}, names...)
	slices.Sort(want)
	if got := c.CookieNames(); !slices.Equal(got, want) {
		c.t.Fatalf("cookies %s: %q, want %q", when, got, want)
	}
}

// rawJar keeps one host's cookies by name, whatever their attributes.
type rawJar struct {
	host    string
	mu      sync.Mutex
	cookies map[string]string
}

func (j *rawJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if u.Host != j.host {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cookies {
		if c.Value == "" || c.MaxAge < 0 {
			delete(j.cookies, c.Name)
		} else {
			j.cookies[c.Name] = c.Value
		}
	}
}

func (j *rawJar) Cookies(u *url.URL) []*http.Cookie {
	if u.Host != j.host {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for name, value := range j.cookies {
		out = append(out, &http.Cookie{Name: name, Value: value})
	}
	return out
}

// Verify is GET /auth/verify/, the gate of reverse proxies, with an
// access token; its answer carries the user's headers on success.
func (c *Client) Verify(access string) GateResponse {
	c.t.Helper()
	r := c.Call("GET", "/auth/verify/", access, nil)
	if r.Status < 400 {
		if len(r.Body) != 0 {
			c.t.Fatalf("gate = %d with a body %q, want none", r.Status, r.Body)
		}
		return GateResponse{Response: r, UserID: r.Header.Get("X-Auth-User-Id"),
			Username: r.Header.Get("X-Auth-Username"), SessionID: r.Header.Get("X-Auth-Session-Id")}
	}
	return typed[GateResponse](c, "gate", r)
}

// JWKS is GET /.well-known/jwks.json, the public keys of access tokens.
func (c *Client) JWKS() JWKSResponse {
	c.t.Helper()
	return typed[JWKSResponse](c, "jwks", c.Call("GET", "/.well-known/jwks.json", "", nil))
}
