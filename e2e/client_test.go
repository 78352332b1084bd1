//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// browser is one user's HTTP client: a real cookie jar, redirects shown
// rather than followed, and authd reached as http://authd.test, the host
// of the redirect URI registered with the provider.
type browser struct {
	t    *testing.T
	http *http.Client
	jar  *cookiejar.Jar
	home *url.URL // http://authd.test/
	// box, when not nil, replaces the jar for authd's cookies: a plain
	// map, sent back whatever the cookies' attributes (Secure ones over
	// plain HTTP too), for tests that look at the raw Set-Cookie lines.
	box map[string]string
}

// newBrowser returns a browser whose authd.test is the address target
// returns at the time of each connection (it changes when authd restarts).
func newBrowser(t *testing.T, target func() string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == authdHost+":80" {
				addr = target()
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 2,
	}
	t.Cleanup(tr.CloseIdleConnections)
	home, _ := url.Parse("http://" + authdHost + "/")
	return &browser{
		t:   t,
		jar: jar,
		http: &http.Client{
			Jar:           jar,
			Transport:     tr,
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		home: home,
	}
}

// browserOf returns a browser for a.
func browserOf(t *testing.T, a *authd) *browser {
	return newBrowser(t, func() string { return a.addr })
}

// reply is an HTTP answer, read.
type reply struct {
	status int
	header http.Header
	text   string
	body   map[string]any // the JSON object of the body, if it is one
}

// str returns a string member of the JSON body, or "".
func (r reply) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func (r reply) String() string {
	return strings.TrimSpace(http.StatusText(r.status) + " " + r.text)
}

// setCookies returns the Set-Cookie lines of the answer, parsed.
func (r reply) setCookies() []*http.Cookie {
	var out []*http.Cookie
	for _, line := range r.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// sets reports whether the answer sets cookie name to a value, and
// clears whether it clears it.
func (r reply) sets(name string) bool {
	for _, c := range r.setCookies() {
		if c.Name == name && c.Value != "" && c.MaxAge >= 0 {
			return true
		}
	}
	return false
}

func (r reply) clears(name string) bool {
	for _, c := range r.setCookies() {
		if c.Name == name && c.Value == "" && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

// withoutJar makes the browser keep authd's cookies in a plain map.
func (b *browser) withoutJar() *browser {
	b.http.Jar = nil
	b.box = map[string]string{}
	return b
}

// send makes a request and reads the answer.
func (b *browser) send(req *http.Request) reply {
	b.t.Helper()
	toAuthd := req.URL.Host == authdHost
	if b.box != nil && toAuthd {
		for name, value := range b.box {
			req.AddCookie(&http.Cookie{Name: name, Value: value})
		}
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, text: string(data)}
	if b.box != nil && toAuthd {
		for _, c := range r.setCookies() {
			if c.Value == "" || c.MaxAge < 0 {
				delete(b.box, c.Name)
			} else {
				b.box[c.Name] = c.Value
			}
		}
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		json.Unmarshal(data, &r.body)
	}
	return r
}

// call sends a request to authd; bearer, when not empty, goes in the
// Authorization header and body, when not nil, as JSON.
func (b *browser) call(method, path, bearer string, body any) reply {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			b.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://"+authdHost+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return b.send(req)
}

// get fetches any URL: a provider's page, or where it redirects.
func (b *browser) get(rawURL string) reply {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/json")
	return b.send(req)
}

// postForm submits a form as a browser does.
func (b *browser) postForm(rawURL string, form url.Values) reply {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req)
}

// cookie returns the value the jar holds for authd, or "".
func (b *browser) cookie(name string) string {
	if b.box != nil {
		return b.box[name]
	}
	for _, c := range b.jar.Cookies(b.home) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// cookieNames lists the cookies the jar holds for authd, sorted.
func (b *browser) cookieNames() []string {
	var names []string
	if b.box != nil {
		for name := range b.box {
			names = append(names, name)
		}
		slices.Sort(names)
		return names
	}
	for _, c := range b.jar.Cookies(b.home) {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// putCookie stores a cookie for authd in the jar, as a user agent that
// kept or forged one would.
func (b *browser) putCookie(name, value string) {
	if b.box != nil {
		b.box[name] = value
		return
	}
	b.jar.SetCookies(b.home, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// dropCookie forgets a cookie of authd's, as a user agent whose cookie
// expired would.
func (b *browser) dropCookie(name string) {
	if b.box != nil {
		delete(b.box, name)
		return
	}
	b.jar.SetCookies(b.home, []*http.Cookie{{Name: name, Path: "/", MaxAge: -1}})
}

// want fails the test unless r has the status and, for an error, the
// error code.
func want(t *testing.T, what string, r reply, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.str("error") != code) {
		if code == "" {
			t.Fatalf("%s = %d %s, want %d", what, r.status, r.text, status)
		}
		t.Fatalf("%s = %d %s, want %d %s", what, r.status, r.text, status, code)
	}
}

// wantCookies fails the test unless the jar holds exactly these cookies
// for authd.
func wantCookies(t *testing.T, b *browser, when string, names ...string) {
	t.Helper()
	slices.Sort(names)
	if got := b.cookieNames(); !slices.Equal(got, names) {
		t.Fatalf("cookies %s: %q, want %q", when, got, names)
	}
}

// Password flows.

func (b *browser) mustRegister(username, password string) {
	b.t.Helper()
	r := b.call("POST", "/auth/register/", "", map[string]string{"username": username, "password": password})
	want(b.t, "register "+username, r, http.StatusCreated, "")
}

// mustLogin logs in with a password and returns the access token.
func (b *browser) mustLogin(username, password string) string {
	b.t.Helper()
	r := b.call("POST", "/auth/login/", "", map[string]string{"username": username, "password": password})
	want(b.t, "login "+username, r, http.StatusOK, "")
	return r.str("access_token")
}

// mustMe returns /auth/me/ for the token.
func (b *browser) mustMe(access string) reply {
	b.t.Helper()
	r := b.call("GET", "/auth/me/", access, nil)
	want(b.t, "me", r, http.StatusOK, "")
	return r
}

// Log in with 42.

// mustIntraURL starts a Log in with 42 and returns the provider's
// authorize URL.
func (b *browser) mustIntraURL() string {
	b.t.Helper()
	r := b.call("GET", "/oauth2/intra/url/", "", nil)
	want(b.t, "intra url", r, http.StatusOK, "")
	if b.cookie("state_token") == "" {
		b.t.Fatalf("intra url set no state_token: %v", r.header.Values("Set-Cookie"))
	}
	return r.str("url")
}

var (
	formRE   = regexp.MustCompile(`(?s)<form method="post" action="([^"]*)">(.*?)</form>`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	buttonRE = regexp.MustCompile(`<button type="submit"[^>]*>([^<]+)</button>`)
)

// mustConsent opens the provider's consent page at authorize, signs in
// as login and presses button ("Authorize" or "Cancel") as a person
// would, by submitting that button's form. It returns where the provider
// sends the browser: authd's callback.
func (b *browser) mustConsent(authorize, login, button string) string {
	b.t.Helper()
	page := b.get(authorize)
	if page.status != http.StatusOK || !strings.Contains(page.text, "Authorization required") {
		b.t.Fatalf("consent page = %d:\n%s", page.status, page.text)
	}
	base, _ := url.Parse(authorize)
	for _, f := range formRE.FindAllStringSubmatch(page.text, -1) {
		action, inner := f[1], f[2]
		btn := buttonRE.FindStringSubmatch(inner)
		if btn == nil || strings.TrimSpace(btn[1]) != button {
			continue
		}
		form := url.Values{}
		for _, in := range hiddenRE.FindAllStringSubmatch(inner, -1) {
			form.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
		}
		if button == "Authorize" {
			form.Set("login", login) // the page's picker of who is signed in
		}
		to, err := base.Parse(html.UnescapeString(action))
		if err != nil {
			b.t.Fatal(err)
		}
		r := b.postForm(to.String(), form)
		want(b.t, button+" on the consent page", r, http.StatusFound, "")
		return r.header.Get("Location")
	}
	b.t.Fatalf("the consent page has no %q button:\n%s", button, page.text)
	return ""
}

// mustAuthorize skips the consent page with the fake's own parameters.
func (b *browser) mustAuthorize(authorize, login string) string {
	b.t.Helper()
	r := b.get(authorize + "&login=" + url.QueryEscape(login) + "&consent=authorize")
	want(b.t, "authorize as "+login, r, http.StatusFound, "")
	return r.header.Get("Location")
}

// callback follows the provider's redirect back to authd.
func (b *browser) callback(location string) reply {
	b.t.Helper()
	u, err := url.Parse(location)
	if err != nil || u.Host != authdHost || u.Path != "/oauth2/intra/callback/" {
		b.t.Fatalf("the provider redirects to %q, want authd's callback", location)
	}
	return b.get(location)
}

// mustIntraIdentity goes through the provider as login and returns with
// the api_token cookie.
func (b *browser) mustIntraIdentity(login string) {
	b.t.Helper()
	r := b.callback(b.mustAuthorize(b.mustIntraURL(), login))
	want(b.t, "callback", r, http.StatusOK, "")
	if b.cookie("api_token") == "" {
		b.t.Fatalf("the callback set no api_token: %v", r.header.Values("Set-Cookie"))
	}
}

// mustIntraLogin logs in with the api_token and returns the access token.
func (b *browser) mustIntraLogin() string {
	b.t.Helper()
	r := b.call("POST", "/oauth2/intra/login/", "", nil)
	want(b.t, "intra login", r, http.StatusOK, "")
	return r.str("access_token")
}
