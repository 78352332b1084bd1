package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// Client addresses. Requests reach authd from 127.0.0.1, a trusted proxy,
// so X-Forwarded-For names the client: the attacked clients are in
// 198.18.0.0/24 and every preparatory request gets an address of its own
// in 198.19.0.0/16 (both in the range set aside for benchmarks), so that
// preparing never uses up an attacked client's rate.
const trustedProxy = "127.0.0.1/32"

// addrSeq hands out fresh client addresses for preparatory requests.
type addrSeq struct{ n atomic.Uint32 }

func (a *addrSeq) next() string {
	n := a.n.Add(1)
	return fmt.Sprintf("198.19.%d.%d", n>>8&0xff, n&0xff)
}

// password of every user the harness creates.
const userPassword = "load-test-password"

// prep makes the preparatory requests: users, sessions, Intra identities.
// Every response of authd goes through the cookie audit.
type prep struct {
	authd string // base URL
	http  *http.Client
	addrs *addrSeq
	audit *cookieAudit
}

func newPrep(authd string, audit *cookieAudit, timeout time.Duration) *prep {
	return &prep{
		authd: authd,
		// The provider's redirect back to authd is read, not followed.
		http:  newClient(timeout, 0),
		addrs: &addrSeq{},
		audit: audit,
	}
}

// close closes the idle connections of the client.
func (p *prep) close() { p.http.CloseIdleConnections() }

// do sends one request from a fresh client address and returns the
// response with its body read.
func (p *prep) do(ctx context.Context, method, rawURL string, body any, hdr http.Header) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-For", p.addrs.next())
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	if strings.HasPrefix(rawURL, p.authd) {
		p.audit.observe(method, rawURL, resp.StatusCode, resp.Header)
	}
	return resp, b, nil
}

// expect fails unless resp has the wanted status.
func expect(what string, resp *http.Response, body []byte, want int) error {
	if resp.StatusCode != want {
		return fmt.Errorf("%s: status %d, want %d: %s", what, resp.StatusCode, want, bytes.TrimSpace(body))
	}
	return nil
}

func cookieOf(resp *http.Response, name string) (string, error) {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.Value != "" {
			return c.Value, nil
		}
	}
	return "", fmt.Errorf("no %s cookie in the answer", name)
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// register creates a user with userPassword.
func (p *prep) register(ctx context.Context, username string) error {
	resp, body, err := p.do(ctx, http.MethodPost, p.authd+"/auth/register/", credentials{username, userPassword}, nil)
	if err != nil {
		return fmt.Errorf("register %s: %w", username, err)
	}
	return expect("register "+username, resp, body, http.StatusCreated)
}

// session is a logged-in session of a user.
type session struct {
	access  string // the Bearer token
	refresh string // the refresh_token cookie
}

// login starts a session of username.
func (p *prep) login(ctx context.Context, username string) (session, error) {
	resp, body, err := p.do(ctx, http.MethodPost, p.authd+"/auth/login/", credentials{username, userPassword}, nil)
	if err != nil {
		return session{}, fmt.Errorf("login %s: %w", username, err)
	}
	if err := expect("login "+username, resp, body, http.StatusOK); err != nil {
		return session{}, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return session{}, fmt.Errorf("login %s: no access token in %s", username, body)
	}
	refresh, err := cookieOf(resp, cookieRefresh)
	if err != nil {
		return session{}, fmt.Errorf("login %s: %w", username, err)
	}
	return session{access: tok.AccessToken, refresh: refresh}, nil
}

// sessions starts n sessions of username.
func (p *prep) sessions(ctx context.Context, username string, n int) ([]session, error) {
	return prepareEach(ctx, n, func(ctx context.Context, _ int) (session, error) {
		return p.login(ctx, username)
	})
}

// grant is what the browser brings back from the provider: the state of
// its state_token cookie and the provider's code for it.
type grant struct {
	state string
	code  string
}

// authorize plays the browser of a Log in with 42 up to the provider's
// redirect back: authd's authorize URL and state_token, then the fake
// provider's consent, skipped with consent=authorize for intraLogin.
func (p *prep) authorize(ctx context.Context, intraLogin string) (grant, error) {
	resp, body, err := p.do(ctx, http.MethodGet, p.authd+"/oauth2/intra/url/", nil, nil)
	if err != nil {
		return grant{}, fmt.Errorf("intra url: %w", err)
	}
	if err := expect("intra url", resp, body, http.StatusOK); err != nil {
		return grant{}, err
	}
	state, err := cookieOf(resp, cookieState)
	if err != nil {
		return grant{}, fmt.Errorf("intra url: %w", err)
	}
	var u struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(body, &u); err != nil || u.URL == "" {
		return grant{}, fmt.Errorf("intra url: no url in %s", body)
	}
	q := url.Values{"login": {intraLogin}, "consent": {"authorize"}}
	resp, body, err = p.do(ctx, http.MethodGet, u.URL+"&"+q.Encode(), nil, nil)
	if err != nil {
		return grant{}, fmt.Errorf("provider authorize: %w", err)
	}
	if resp.StatusCode != http.StatusFound {
		return grant{}, fmt.Errorf("provider authorize: status %d, want 302: %.200s", resp.StatusCode, body)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return grant{}, fmt.Errorf("provider authorize: %w", err)
	}
	g := grant{state: back.Query().Get("state"), code: back.Query().Get("code")}
	if g.code == "" || g.state != state {
		return grant{}, fmt.Errorf("provider authorize: redirect %q lacks the code or the state", back.Redacted())
	}
	return g, nil
}

// grants prepares n grants for intraLogin.
func (p *prep) grants(ctx context.Context, intraLogin string, n int) ([]grant, error) {
	return prepareEach(ctx, n, func(ctx context.Context, _ int) (grant, error) {
		return p.authorize(ctx, intraLogin)
	})
}

// query is the query of authd's callback for g.
func (g grant) query() string {
	return url.Values{"code": {g.code}, "state": {g.state}}.Encode()
}

// callbackURL is authd's callback for a grant.
func (p *prep) callbackURL(g grant) string {
	return p.authd + "/oauth2/intra/callback/?" + g.query()
}

// apiToken completes a Log in with 42 up to authd's api_token cookie.
func (p *prep) apiToken(ctx context.Context, intraLogin string) (string, error) {
	g, err := p.authorize(ctx, intraLogin)
	if err != nil {
		return "", err
	}
	hdr := http.Header{"Cookie": {cookieState + "=" + g.state}}
	resp, body, err := p.do(ctx, http.MethodGet, p.callbackURL(g), nil, hdr)
	if err != nil {
		return "", fmt.Errorf("intra callback: %w", err)
	}
	if err := expect("intra callback for "+intraLogin, resp, body, http.StatusOK); err != nil {
		return "", err
	}
	tok, err := cookieOf(resp, cookieAPI)
	if err != nil {
		return "", fmt.Errorf("intra callback: %w", err)
	}
	return tok, nil
}

// prepConcurrency bounds the preparatory requests in flight: logins hash.
const prepConcurrency = 4

// prepareEach calls prepare for 0..n-1, at most prepConcurrency at once,
// and returns the n results in order. The first error cancels the
// context of the others and is returned once all have stopped.
func prepareEach[T any](ctx context.Context, n int, prepare func(ctx context.Context, i int) (T, error)) ([]T, error) {
	out := make([]T, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(prepConcurrency)
	for i := range n {
		if gctx.Err() != nil {
			break // a preparation failed, or ctx is done: start no more
		}
		g.Go(func() error {
			v, err := prepare(gctx, i)
			out[i] = v
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// ctx may have ended before the last ones started.
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}
