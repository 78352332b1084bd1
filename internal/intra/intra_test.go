package intra_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
	"authd/internal/clock"
	"authd/internal/intra"
)

const (
	callback  = "http://127.0.0.1:8000/oauth2/intra/callback/"
	callback2 = "http://localhost:8000/oauth2/intra/callback/?from=42&x=a b"
	userAgent = "authd-test/1.0 (+https://authd.example)"
)

var app = fakeintra.Client{
	ID:           "u-s4t2ud-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	Secret:       "s-s4t2ud-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	RedirectURIs: []string{callback, callback2},
}

// provider is a fake provider on a local port, which records what it
// was sent.
type provider struct {
	fake *fakeintra.Server
	srv  *httptest.Server

	mu       sync.Mutex
	agents   map[string]string // path → last User-Agent
	forms    []url.Values      // token request bodies
	tokens   []string          // access tokens handed out
	tokenCTs []string          // token request content types
}

func newProvider(t *testing.T, edit func(*fakeintra.Options)) *provider {
	t.Helper()
	users, err := fakeintra.LoadUsers("../../testdata/intra/users.json")
	if err != nil {
		t.Fatal(err)
	}
	opts := fakeintra.Options{Clients: []fakeintra.Client{app}, Users: users}
	if edit != nil {
		edit(&opts)
	}
	p := &provider{fake: fakeintra.New(opts), agents: map[string]string{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.fake.ClearFaults()
		p.srv.Close()
	})
	return p
}

func (p *provider) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.agents[r.URL.Path] = r.Header.Get("User-Agent")
	p.mu.Unlock()
	if r.URL.Path != "/oauth/token" {
		p.fake.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	p.fake.ServeHTTP(rec, r)
	if m := regexp.MustCompile(`"access_token":"([0-9a-f]+)"`).FindSubmatch(rec.Body.Bytes()); m != nil {
		p.mu.Lock()
		p.tokens = append(p.tokens, string(m[1]))
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.forms = append(p.forms, form)
	p.tokenCTs = append(p.tokenCTs, r.Header.Get("Content-Type"))
	p.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func (p *provider) client(redirect, secret string) *intra.Client {
	return intra.New(intra.Config{
		BaseURL: p.srv.URL, ClientID: app.ID, ClientSecret: secret, RedirectURI: redirect,
		HTTPClient: p.srv.Client(), UserAgent: userAgent,
	})
}

// flowState is the state of the flows of mustCode.
const flowState = "s+t/a=t&e"

// mustCode logs login in through the authorize URL of c for a flow of
// state flowState, as the browser would, and returns the code the
// provider sends back; c.Verifier(flowState) redeems it.
func (p *provider) mustCode(t *testing.T, c *intra.Client, login string) string {
	t.Helper()
	return p.mustCodeOf(t, c, login, flowState)
}

// mustCodeOf is mustCode for a flow of the given state.
func (p *provider) mustCodeOf(t *testing.T, c *intra.Client, login, state string) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(c.AuthorizeURL(state, intra.Challenge(c.Verifier(state))) + "&login=" + login + "&consent=authorize")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize: status %d: %v", resp.StatusCode, err)
	}
	if got := loc.Query().Get("state"); got != state {
		t.Fatalf("state %q, want %q", got, state)
	}
	return loc.Query().Get("code")
}

func TestAuthorizeURL(t *testing.T) {
	t.Parallel()
	const pkce = "&code_challenge=" + rfcChallenge + "&code_challenge_method=S256"
	tests := []struct {
		base, redirect, state, want string
	}{
		{
			"https://api.intra.42.fr", callback, "abc",
			"https://api.intra.42.fr/oauth/authorize?client_id=" + app.ID + pkce +
				"&redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Foauth2%2Fintra%2Fcallback%2F&response_type=code&scope=public&state=abc",
		},
		{
			"http://127.0.0.1:9042/", callback2, "a+b/c=d&e f",
			"http://127.0.0.1:9042/oauth/authorize?client_id=" + app.ID + pkce +
				"&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Foauth2%2Fintra%2Fcallback%2F%3Ffrom%3D42%26x%3Da+b" +
				"&response_type=code&scope=public&state=a%2Bb%2Fc%3Dd%26e+f",
		},
		{
			"", callback, "x",
			"https://api.intra.42.fr/oauth/authorize?client_id=" + app.ID + pkce +
				"&redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Foauth2%2Fintra%2Fcallback%2F&response_type=code&scope=public&state=x",
		},
	}
	for _, tt := range tests {
		c := intra.New(intra.Config{BaseURL: tt.base, ClientID: app.ID, ClientSecret: app.Secret, RedirectURI: tt.redirect})
		if got := c.AuthorizeURL(tt.state, rfcChallenge); got != tt.want {
			t.Errorf("AuthorizeURL(%q)\n got %s\nwant %s", tt.state, got, tt.want)
		}
	}
}

func TestIdentify(t *testing.T) {
	t.Parallel()
	p := newProvider(t, nil)
	c := p.client(callback, app.Secret)
	want := map[string]intra.Identity{
		"jdoe":     {ID: 110423, Login: "jdoe", Email: "jdoe@student.42.fr", DisplayName: "John Doe"},
		"gfavre":   {ID: 2931, Login: "gfavre", Email: "gfavre@42.fr", DisplayName: "Gabrielle Favre"},
		"tnguyen":  {ID: 201877, Login: "tnguyen", Email: "tnguyen@student.42.fr", DisplayName: "Thao Nguyen"},
		"cmuller":  {ID: 154310, Login: "cmuller", Email: "chloé.müller@student.42lausanne.ch", DisplayName: "Chloé Müller-Ødegård"},
		"alice":    {ID: 163522, Login: "alice", Email: "alice@student.42lyon.fr", DisplayName: "Alice Moreau"},
		"kvanderb": {ID: 121874, Login: "kvanderb", Email: "kvanderb@student.codam.nl", DisplayName: "Koen van der Berg"},
	}
	for _, u := range p.fake.Users() {
		t.Run(u.Login, func(t *testing.T) {
			got, err := c.Identify(context.Background(), p.mustCode(t, c, u.Login), c.Verifier(flowState))
			if err != nil {
				t.Fatal(err)
			}
			w, ok := want[u.Login]
			if !ok {
				t.Fatalf("no expected identity for %s", u.Login)
			}
			// Every fixture user but tnguyen has a picture; its link is the fixture's.
			if u.Login != "tnguyen" {
				if u.ImageLink == "" {
					t.Fatalf("fixture %s has no picture", u.Login)
				}
				w.ImageLink = u.ImageLink
			}
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIdentifySendsWhatTheProviderExpects(t *testing.T) {
	t.Parallel()
	p := newProvider(t, nil)
	c := p.client(callback2, app.Secret)
	code := p.mustCode(t, c, "jdoe")
	if _, err := c.Identify(context.Background(), code, c.Verifier(flowState)); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	wantForm := url.Values{
		"grant_type": {"authorization_code"}, "client_id": {app.ID}, "client_secret": {app.Secret},
		"code": {code}, "code_verifier": {c.Verifier(flowState)}, "redirect_uri": {callback2},
	}
	if diff := cmp.Diff([]url.Values{wantForm}, p.forms); diff != "" {
		t.Errorf("token form (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"application/x-www-form-urlencoded"}, p.tokenCTs); diff != "" {
		t.Errorf("token Content-Type (-want +got):\n%s", diff)
	}
	for _, path := range []string{"/oauth/token", "/v2/me"} {
		if got := p.agents[path]; got != userAgent {
			t.Errorf("%s: User-Agent %q, want %q", path, got, userAgent)
		}
	}
}

func TestDefaultUserAgent(t *testing.T) {
	t.Parallel()
	p := newProvider(t, nil)
	c := intra.New(intra.Config{BaseURL: p.srv.URL, ClientID: app.ID, ClientSecret: app.Secret, RedirectURI: callback})
	if _, err := c.Identify(context.Background(), p.mustCode(t, c, "jdoe"), c.Verifier(flowState)); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if got := p.agents["/v2/me"]; got != "authd" {
		t.Errorf("User-Agent %q, want authd", got)
	}
}

// secretsIn returns what must never appear in an error of the client.
func (p *provider) secretsIn(code string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := append([]string{app.Secret, intra.New(intra.Config{ClientSecret: app.Secret}).Verifier(flowState)}, p.tokens...)
	if code != "" {
		s = append(s, code)
	}
	return s
}

var hexRun = regexp.MustCompile(`[0-9a-f]{32,}`)

func assertClean(t *testing.T, err error, secrets []string) {
	t.Helper()
	msg := err.Error()
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error %q holds a secret", msg)
		}
	}
	if hexRun.MatchString(msg) {
		t.Errorf("error %q holds something like a token", msg)
	}
}

func TestIdentifyRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// code returns the code to identify with, and the client to use.
		code func(t *testing.T, p *provider) (string, *intra.Client)
	}{
		{"code reused", func(t *testing.T, p *provider) (string, *intra.Client) {
			c := p.client(callback, app.Secret)
			code := p.mustCode(t, c, "jdoe")
			if _, err := c.Identify(context.Background(), code, c.Verifier(flowState)); err != nil {
				t.Fatal(err)
			}
			return code, c
		}},
		{"unknown code", func(t *testing.T, p *provider) (string, *intra.Client) {
			return "not-a-code", p.client(callback, app.Secret)
		}},
		{"empty code", func(t *testing.T, p *provider) (string, *intra.Client) {
			return "", p.client(callback, app.Secret)
		}},
		{"redirect uri mismatch", func(t *testing.T, p *provider) (string, *intra.Client) {
			code := p.mustCode(t, p.client(callback, app.Secret), "jdoe")
			return code, p.client(callback2, app.Secret)
		}},
		{"wrong secret", func(t *testing.T, p *provider) (string, *intra.Client) {
			c := p.client(callback, "s-s4t2ud-wrong")
			return p.mustCode(t, c, "jdoe"), c
		}},
		{"unknown client", func(t *testing.T, p *provider) (string, *intra.Client) {
			code := p.mustCode(t, p.client(callback, app.Secret), "jdoe")
			c := intra.New(intra.Config{BaseURL: p.srv.URL, ClientID: "u-s4t2ud-nobody", ClientSecret: app.Secret, RedirectURI: callback})
			return code, c
		}},
	}
	for _, status := range []int{401, 400} {
		for _, tt := range tests {
			t.Run(tt.name+"/"+http.StatusText(status), func(t *testing.T) {
				t.Parallel()
				p := newProvider(t, func(o *fakeintra.Options) { o.TokenErrorStatus = status })
				code, c := tt.code(t, p)
				_, err := c.Identify(context.Background(), code, c.Verifier(flowState))
				if !errors.Is(err, intra.ErrRejected) || errors.Is(err, intra.ErrProvider) {
					t.Fatalf("err %v, want ErrRejected only", err)
				}
				assertClean(t, err, p.secretsIn(code))
			})
		}
	}
}

func TestIdentifyFaults(t *testing.T) {
	t.Parallel()
	type fault struct {
		endpoint fakeintra.Endpoint
		fault    fakeintra.Fault
	}
	tests := []struct {
		name   string
		faults []fault
		opts   func(*fakeintra.Options)
	}{
		{"token 500", []fault{{fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status, Status: 500}}}, nil},
		{"token 502", []fault{{fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status, Status: 502}}}, nil},
		{"token 503", []fault{{fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status, Status: 503}}}, nil},
		{"token 404", []fault{{fakeintra.Token, fakeintra.Fault{Kind: fakeintra.Status, Status: 404}}}, nil},
		{"token 429", []fault{{fakeintra.Token, fakeintra.Fault{Kind: fakeintra.RateLimited}}}, nil},
		{"token malformed", []fault{{fakeintra.Token, fakeintra.Fault{Kind: fakeintra.MalformedJSON}}}, nil},
		{"token truncated", []fault{{fakeintra.Token, fakeintra.Fault{Kind: fakeintra.TruncatedJSON}}}, nil},
		{"me 500", []fault{{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Status, Status: 500}}}, nil},
		{"me 502", []fault{{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Status, Status: 502}}}, nil},
		{"me 503", []fault{{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Status, Status: 503}}}, nil},
		{"me 401", []fault{{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.Status, Status: 401}}}, nil},
		{"me 429", []fault{{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.RateLimited}}}, nil},
		{"me malformed", []fault{{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.MalformedJSON}}}, nil},
		{"me truncated", []fault{{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.TruncatedJSON}}}, nil},
		{"me without id", []fault{{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.MeMissingID}}}, nil},
		{"me without login", []fault{{fakeintra.Me, fakeintra.Fault{Kind: fakeintra.MeMissingLogin}}}, nil},
		{"real rate limit", nil, func(o *fakeintra.Options) {
			o.RateLimit = true
			o.SecondlyLimit = 1 // the token call uses it up, /v2/me is refused
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewFake(time.Unix(1698230661, 0))
			p := newProvider(t, func(o *fakeintra.Options) {
				o.Now = clk.Now
				if tt.opts != nil {
					tt.opts(o)
				}
			})
			c := p.client(callback, app.Secret)
			code := p.mustCode(t, c, "jdoe")
			for _, f := range tt.faults {
				p.fake.SetFault(f.endpoint, f.fault)
			}
			id, err := c.Identify(context.Background(), code, c.Verifier(flowState))
			if !errors.Is(err, intra.ErrProvider) || errors.Is(err, intra.ErrRejected) {
				t.Fatalf("Identify = %+v, %v; want ErrProvider only", id, err)
			}
			if id != (intra.Identity{}) {
				t.Errorf("identity %+v along with the error", id)
			}
			assertClean(t, err, p.secretsIn(code))
		})
	}
}

func TestIdentifyHang(t *testing.T) {
	t.Parallel()
	for _, e := range []fakeintra.Endpoint{fakeintra.Token, fakeintra.Me} {
		t.Run(e.String(), func(t *testing.T) {
			t.Parallel()
			p := newProvider(t, nil)
			c := p.client(callback, app.Secret)
			code := p.mustCode(t, c, "jdoe")
			p.fake.SetFault(e, fakeintra.Fault{Kind: fakeintra.Hang}) // one minute
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			begin := time.Now()
			_, err := c.Identify(ctx, code, c.Verifier(flowState))
			if elapsed := time.Since(begin); elapsed > 5*time.Second {
				t.Errorf("Identify took %v under a 200ms deadline", elapsed)
			}
			if !errors.Is(err, intra.ErrProvider) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err %v, want ErrProvider and DeadlineExceeded", err)
			}
			assertClean(t, err, p.secretsIn(code))
		})
	}
}

func TestIdentifyUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	c := intra.New(intra.Config{BaseURL: base, ClientID: app.ID, ClientSecret: app.Secret, RedirectURI: callback})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Identify(ctx, "code", "the-verifier")
	if !errors.Is(err, intra.ErrProvider) {
		t.Fatalf("err %v, want ErrProvider", err)
	}
	assertClean(t, err, []string{app.Secret, "the-verifier"})
}

// TestIdentifyOddAnswers covers answers no fault of the fake gives.
func TestIdentifyOddAnswers(t *testing.T) {
	t.Parallel()
	const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	goodToken := `{"access_token":"` + token + `","token_type":"bearer","expires_in":7200,"scope":"public","created_at":1,"secret_valid_until":2}`
	goodMe := `{"id":1,"login":"x","email":"x@42.fr","displayname":"X","image":{"link":null}}`
	tests := []struct {
		name             string
		tokenStatus      int
		tokenBody        string
		meStatus         int
		meBody           string
		wantErr          error
		wantInMessage    string
		redirectTokenURL bool
	}{
		{name: "token not json", tokenStatus: 200, tokenBody: "<html>maintenance</html>", wantErr: intra.ErrProvider},
		{name: "token without access_token", tokenStatus: 200, tokenBody: `{"token_type":"bearer"}`, wantErr: intra.ErrProvider},
		{name: "token of another type", tokenStatus: 200, tokenBody: `{"access_token":"` + token + `","token_type":"mac"}`, wantErr: intra.ErrProvider},
		{name: "token access_token a number", tokenStatus: 200, tokenBody: `{"access_token":12}`, wantErr: intra.ErrProvider},
		{name: "token 401 without a body", tokenStatus: 401, wantErr: intra.ErrProvider},
		{name: "token 400 invalid_request", tokenStatus: 400, tokenBody: `{"error":"invalid_request","error_description":"x"}`, wantErr: intra.ErrProvider, wantInMessage: "invalid_request"},
		{name: "token 401 unsupported_grant_type", tokenStatus: 401, tokenBody: `{"error":"unsupported_grant_type"}`, wantErr: intra.ErrProvider},
		{name: "token 400 invalid_grant", tokenStatus: 400, tokenBody: `{"error":"invalid_grant"}`, wantErr: intra.ErrRejected},
		{name: "token 500 invalid_grant", tokenStatus: 500, tokenBody: `{"error":"invalid_grant"}`, wantErr: intra.ErrProvider},
		{name: "token 401 odd error name", tokenStatus: 401, tokenBody: `{"error":"` + token + `"}`, wantErr: intra.ErrProvider},
		{name: "token redirect", redirectTokenURL: true, wantErr: intra.ErrProvider},
		{name: "token over a mebibyte", tokenStatus: 200, tokenBody: `{"access_token":"` + token + `","token_type":"bearer","pad":"` + strings.Repeat("x", 1<<20) + `"}`, wantErr: intra.ErrProvider},
		{name: "me over a mebibyte", tokenStatus: 200, tokenBody: goodToken, meStatus: 200, meBody: `{"id":1,"login":"x","pad":"` + strings.Repeat("x", 1<<20) + `"}`, wantErr: intra.ErrProvider},
		{name: "me id a string", tokenStatus: 200, tokenBody: goodToken, meStatus: 200, meBody: `{"id":"1","login":"x"}`, wantErr: intra.ErrProvider},
		{name: "me id zero", tokenStatus: 200, tokenBody: goodToken, meStatus: 200, meBody: `{"id":0,"login":"x"}`, wantErr: intra.ErrProvider},
		{name: "me id null", tokenStatus: 200, tokenBody: goodToken, meStatus: 200, meBody: `{"id":null,"login":"x"}`, wantErr: intra.ErrProvider},
		{name: "me login empty", tokenStatus: 200, tokenBody: goodToken, meStatus: 200, meBody: `{"id":1,"login":""}`, wantErr: intra.ErrProvider},
		{name: "me login huge", tokenStatus: 200, tokenBody: goodToken, meStatus: 200, meBody: `{"id":1,"login":"` + strings.Repeat("x", 65) + `"}`, wantErr: intra.ErrProvider},
		{name: "me an array", tokenStatus: 200, tokenBody: goodToken, meStatus: 200, meBody: `[]`, wantErr: intra.ErrProvider},
		{name: "me 403 without user agent rule", tokenStatus: 200, tokenBody: goodToken, meStatus: 403, wantErr: intra.ErrProvider},
		{name: "me minimal", tokenStatus: 200, tokenBody: goodToken, meStatus: 200, meBody: goodMe},
		{name: "token type in capitals", tokenStatus: 200, tokenBody: `{"access_token":"` + token + `","token_type":"Bearer"}`, meStatus: 200, meBody: goodMe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
				if tt.redirectTokenURL {
					http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
					return
				}
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(tt.tokenStatus)
				io.WriteString(w, tt.tokenBody)
			})
			mux.HandleFunc("GET /v2/me", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+token {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				w.WriteHeader(tt.meStatus)
				io.WriteString(w, tt.meBody)
			})
			mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
				t.Error("the client followed a redirect")
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			c := intra.New(intra.Config{BaseURL: srv.URL, ClientID: app.ID, ClientSecret: app.Secret, RedirectURI: callback})
			id, err := c.Identify(context.Background(), "the-code", "the-verifier")
			if tt.wantErr == nil {
				if err != nil || id.ID != 1 || id.Login != "x" {
					t.Fatalf("Identify = %+v, %v", id, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantInMessage) {
				t.Errorf("err %q does not mention %q", err, tt.wantInMessage)
			}
			assertClean(t, err, []string{app.Secret, token, "the-code", "the-verifier"})
		})
	}
}
