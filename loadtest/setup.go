package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"golang.org/x/sync/errgroup"

	"authd/internal/authdtest"
)

// Client addresses. Requests reach authd from 127.0.0.1, a trusted proxy,
// so X-Forwarded-For names the client: the attacked clients are in
// 198.18.0.0/24 and every preparation is a user agent with an address of
// its own in 198.19.0.0/16 (both in the range set aside for benchmarks),
// making at most one request of each throttle scope, so that preparing
// never uses up an attacked client's rate.
const trustedProxy = "127.0.0.1/32"

// addrSeq hands out fresh client addresses for the preparations.
type addrSeq struct{ n atomic.Uint32 }

func (a *addrSeq) next() string {
	n := a.n.Add(1)
	return fmt.Sprintf("198.19.%d.%d", n>>8&0xff, n&0xff)
}

// password of every user the harness creates.
const userPassword = "load-test-password"

// authdHost is the name the preparations reach authd by: the host of
// intraRedirectURI, so that the provider's redirect back comes to authd.
const authdHost = "authd.test"

// prep makes the preparatory requests: users, sessions, Intra identities.
// Each preparation is a user agent of its own (authdtest's client, run by
// authdtest.Try), and every answer of authd it reads goes through the
// cookie audit.
type prep struct {
	authd *authdtest.Server
	addrs *addrSeq
	audit *cookieAudit
}

func newPrep(authd *authdtest.Server, audit *cookieAudit) *prep {
	return &prep{authd: authd, addrs: &addrSeq{}, audit: audit}
}

// agent is a new user agent of authd for t: a cookie jar of its own, a
// fresh client address, and its answers from authd audited.
func (p *prep) agent(t testing.TB) *authdtest.Client {
	return authdtest.NewClient(t, "http://"+authdHost,
		authdtest.Resolve(authdHost, func() string { return p.authd.Addr }),
		authdtest.Header("X-Forwarded-For", p.addrs.next()),
		authdtest.Observe(func(req *http.Request, r authdtest.Response) {
			if req.URL.Host == authdHost {
				p.audit.observe(req.Method, req.URL.String(), r.Status, r.Header)
			}
		}))
}

// register creates a user with userPassword.
func (p *prep) register(ctx context.Context, username string) error {
	return authdtest.Try(ctx, func(t testing.TB) {
		p.agent(t).MustRegister(username, userPassword)
	})
}

// session is a logged-in session of a user.
type session struct {
	access  string // the Bearer token
	refresh string // the refresh_token cookie
}

// login starts a session of username.
func (p *prep) login(ctx context.Context, username string) (session, error) {
	var s session
	err := authdtest.Try(ctx, func(t testing.TB) {
		c := p.agent(t)
		tok := c.MustLogin(username, userPassword)
		s = session{access: tok.AccessToken, refresh: c.Cookie(cookieRefresh)}
		if s.access == "" || s.refresh == "" {
			t.Fatalf("login %s: no access token or no %s cookie: %s, Set-Cookie %q", username, cookieRefresh, tok.Body, tok.Header.Values("Set-Cookie"))
		}
	})
	return s, err
}

// me is GET /auth/me/ of the session's user; it returns the answer's body.
func (p *prep) me(ctx context.Context, s session) ([]byte, error) {
	var body []byte
	err := authdtest.Try(ctx, func(t testing.TB) {
		body = p.agent(t).MustMe(s.access).Body
	})
	return body, err
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
// provider's consent, skipped, for intraLogin. It returns the grant, left
// for authd's callback.
func (p *prep) authorize(ctx context.Context, intraLogin string) (grant, error) {
	var g grant
	err := authdtest.Try(ctx, func(t testing.TB) {
		c := p.agent(t)
		back, err := url.Parse(c.MustAuthorize(c.MustIntraURL(), intraLogin))
		if err != nil {
			t.Fatalf("provider authorize: %v", err)
		}
		g = grant{state: back.Query().Get("state"), code: back.Query().Get("code")}
		if g.code == "" || g.state != c.Cookie(cookieState) {
			t.Fatalf("provider authorize: redirect %q lacks the code or the state", back.Redacted())
		}
	})
	return g, err
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

// apiToken completes a Log in with 42 up to authd's api_token cookie.
func (p *prep) apiToken(ctx context.Context, intraLogin string) (string, error) {
	var tok string
	err := authdtest.Try(ctx, func(t testing.TB) {
		c := p.agent(t)
		c.MustIntraIdentity(intraLogin)
		tok = c.Cookie(cookieAPI)
	})
	return tok, err
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
