//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"authd/internal/authdtest"
)

// TestBrowser drives Chromium through the demo page, served with a reverse
// proxy to authd on one origin (http://demo.test, which Chromium maps to
// the demo's port): register and log in with a password, Log in with 42
// through the provider's consent page (a real click on Authorize) and
// link, log out, refresh in vain, Log in with 42 again onto the same user,
// log out. After each step the cookies the browser holds for the origin
// are exactly those the seed's table gives (testdata/seed), with the
// contract's attributes, and document.cookie shows none of them. Each step
// leaves a screenshot in the output folder.
func TestBrowser(t *testing.T) {
	t.Parallel()
	chromium := mustChromium(t)
	s := mustSeed(t)
	// The provider sends the browser back to the demo's origin, where the
	// proxy passes the callback to authd.
	a := mustAuthd(t, "authd", "", append(append([]string{plainHTTP, "AUTHD_TRUSTED_PROXIES=127.0.0.1/32"},
		intraSettings(provider, demoRedirectURI)...), generousThrottles()...)...)
	demo := mustDemo(t, a)
	p := &page{t: t, ctx: mustChrome(t, chromium, demo.Addr), seed: s, origin: "http://" + demoHost}
	const user, pass = "ada_browser", "a browser's long password"

	p.open()
	p.expect("on the page")

	p.fill("username", user)
	p.fill("password", pass)
	if st := p.click("register", "register"); st != 201 {
		t.Fatalf("Register answered %d", st)
	}
	p.expect("after Register") // the contract: register sets no cookie
	if st := p.click("login", "login"); st != 200 {
		t.Fatalf("Log in answered %d", st)
	}
	p.expect("after Log in", "/auth/login/")
	p.wantWho(user, "")
	p.shot("01-password-login")

	// Log in with 42, and link the 42 account to the signed-in user.
	p.startIntra()
	p.expect("on the consent page", "/oauth2/intra/url/")
	p.authorize("kvanderb", "02-consent")
	// The page loads again and gets an access token with the refresh cookie.
	p.expect("back from 42", "/oauth2/intra/callback/", "/auth/refresh/")
	p.wantWho(user, "")
	p.shot("03-back-from-42")
	if st := p.click("intra-link", "intra_link"); st != 200 {
		t.Fatalf("Link answered %d", st)
	}
	p.expect("after Link", "/oauth2/intra/link/")
	p.wantWho(user, "kvanderb")
	p.shot("04-linked")

	kept := p.cookieValue("refresh_token")
	if st := p.click("logout", "logout"); st != 200 {
		t.Fatalf("Log out answered %d", st)
	}
	p.expect("after Log out", "/auth/logout/")
	p.wantWho("", "")
	if st := p.click("refresh", "refresh"); st != 400 {
		t.Errorf("Refresh after Log out answered %d, want 400", st)
	}
	p.expect("after the refused Refresh") // no cookie was sent, none is cleared
	// A copy of the refresh cookie kept from before is refused as well,
	// and the answer clears it.
	p.putCookie("refresh_token", kept)
	if st := p.click("refresh", "refresh"); st != 400 {
		t.Errorf("Refresh with the refresh cookie of the ended session answered %d, want 400", st)
	}
	p.expect("after Refresh with the old cookie") // the contract: a refused refresh clears the cookie
	p.shot("05-logged-out")

	// Log in with 42 again: the linked user.
	p.startIntra()
	p.expect("on the consent page again", "/oauth2/intra/url/")
	p.authorize("kvanderb", "")
	p.expect("back from 42, signed out", "/oauth2/intra/callback/")
	if st := p.click("intra-login", "intra_login"); st != 200 {
		t.Fatalf("Continue with 42 answered %d", st)
	}
	p.expect("after the Intra login", "/oauth2/intra/login/")
	p.wantWho(user, "kvanderb")
	p.shot("06-intra-login")
	if st := p.click("refresh", "refresh"); st != 200 {
		t.Errorf("Refresh answered %d", st)
	}
	p.expect("after Refresh", "/auth/refresh/")
	if st := p.click("logout", "logout"); st != 200 {
		t.Fatalf("Log out answered %d", st)
	}
	p.expect("after the second Log out", "/auth/logout/")
	if st := p.click("refresh", "refresh"); st != 400 {
		t.Errorf("Refresh after Log out answered %d, want 400", st)
	}
	p.expect("after the last Refresh")
	p.shot("07-refresh-after-logout")
}

// mustChromium finds the browser. Without one the test skips, except
// under CI, where it fails.
func mustChromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AUTHD_E2E_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	found, err := exec.LookPath(path)
	if err == nil {
		return found
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no Chromium at %s (%v): under CI the browser test must run; install it with apt-get install -y chromium", path, err)
	}
	t.Skipf("no Chromium at %s (%v); apt-get install -y chromium, or set AUTHD_E2E_CHROMIUM. Under CI this fails", path, err)
	return ""
}

// mustChrome starts a headless Chromium that reaches demo.test at
// demoAddr, and returns the context of its tab. The browser ends with the
// test.
func mustChrome(t *testing.T, path, demoAddr string) context.Context {
	t.Helper()
	logFile, err := os.Create(filepath.Join(outDir, authdtest.LogName(t, "chromium")+".log"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("host-resolver-rules", "MAP "+demoHost+" "+demoAddr),
		chromedp.WindowSize(1000, 1100),
		chromedp.CombinedOutput(logFile),
		// Chromium's own temporary files go with the test.
		chromedp.Env("TMPDIR=" + t.TempDir()),
		// No UserDataDir: chromedp passes a fresh --user-data-dir of its
		// own, and removes it with any process still using it when the
		// browser ends.
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		logFile.Close()
		if t.Failed() {
			t.Logf("the last lines of %s:\n%s", logFile.Name(), authdtest.Tail(logFile.Name(), 30))
		}
	})
	// Start the browser now, so that a failure to start says so.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// page is the browser's tab on the demo page, and the cookies the seed's
// table says it holds for the origin.
type page struct {
	t      *testing.T
	ctx    context.Context
	seed   seed
	origin string
	held   []string
}

const stepTimeout = 30 * time.Second

// do runs browser actions, failing the test with a screenshot if they
// fail.
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.shot("failed")
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func (p *page) eval(expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open loads the demo page and waits until it has tried its refresh.
func (p *page) open() {
	p.t.Helper()
	p.do("open the demo page", chromedp.Navigate(p.origin+"/"))
	p.waitReady()
}

func (p *page) waitReady() {
	p.t.Helper()
	p.do("wait for the demo page", chromedp.WaitVisible(chromedp.ID("status")),
		chromedp.Poll[chromedp.Void](`document.body.dataset.ready === "1"`, chromedp.WithPollingTimeout(stepTimeout)))
}

// fill types into a field of the page.
func (p *page) fill(id, text string) {
	p.t.Helper()
	p.do("type into #"+id, chromedp.SendKeys(chromedp.ID(id), text))
}

// click presses a button of the page, waits until the page reports the
// call it makes and returns that call's HTTP status.
func (p *page) click(id, call string) int {
	p.t.Helper()
	return p.press("#"+id, chromedp.Click(chromedp.ID(id)), call)
}

// press runs click, the click of the button what names, waits until the
// page reports the call it makes and returns that call's HTTP status.
func (p *page) press(what string, click chromedp.Action[chromedp.Void], call string) int {
	p.t.Helper()
	p.do("press "+what,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("status").dataset.call = ""`),
		click,
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById("status").dataset.call === %q`, call),
			chromedp.WithPollingTimeout(stepTimeout)),
	)
	st, err := strconv.Atoi(p.eval(`document.getElementById("status").dataset.status`))
	if err != nil {
		p.t.Fatalf("the page reports no status for %s: %v", call, err)
	}
	return st
}

// startIntra presses "Log in with 42" and waits for the provider's
// consent page.
func (p *page) startIntra() {
	p.t.Helper()
	p.do("Log in with 42", chromedp.Click(chromedp.ID("intra-url")), chromedp.WaitVisible(chromedp.CSS("button.authorize")))
}

// authorize picks the provider's user and clicks Authorize, with a
// screenshot of the consent page first when shot is not empty; the
// browser goes through authd's callback back to the demo page.
func (p *page) authorize(login, shot string) {
	p.t.Helper()
	p.do("pick "+login, chromedp.SetValue(chromedp.CSS(`select[name="login"]`), login))
	if shot != "" {
		p.shot(shot)
	}
	p.do("Authorize as "+login,
		chromedp.Click(chromedp.CSS("button.authorize")),
		chromedp.WaitVisible(chromedp.CSS("#intra-back[data-outcome]")),
	)
	p.waitReady()
	if outcome := p.eval(`document.getElementById("intra-back").dataset.outcome`); outcome != "ok" {
		p.shot("failed")
		p.t.Fatalf("back from 42 with %q, want ok", outcome)
	}
}

// wantWho checks whom the page shows as signed in ("" for nobody), a user
// without two-factor authentication.
func (p *page) wantWho(username, intraLogin string) {
	p.t.Helper()
	p.wantAccount(username, intraLogin, false)
}

// wantAccount checks whom the page shows as signed in ("" for nobody),
// and whether two-factor authentication is on for them.
func (p *page) wantAccount(username, intraLogin string, twoFactor bool) {
	p.t.Helper()
	gotUser := p.eval(`document.getElementById("who").dataset.username || ""`)
	gotIntra := p.eval(`document.getElementById("who").dataset.intraLogin || ""`)
	if gotUser != username || (username != "" && gotIntra != intraLogin) {
		p.t.Errorf("the page shows user %q (42: %q), want %q (42: %q)", gotUser, gotIntra, username, intraLogin)
	}
	want := "off"
	if twoFactor {
		want = "on"
	}
	if got := p.eval(`document.getElementById("who").dataset.twoFactor || ""`); username != "" && got != want {
		p.t.Errorf("the page shows two-factor authentication %q, want %s", got, want)
	}
	// Every step is a call the page lists.
	if n := p.eval(`document.getElementById("calls").dataset.count`); n == "" || n == "0" {
		p.t.Errorf("the page lists %q last calls, want some", n)
	}
}

// cookies returns the cookies the browser holds for the demo's origin,
// HttpOnly ones included.
func (p *page) cookies() []*network.Cookie {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.origin + "/"}})
	if err != nil {
		p.t.Fatalf("Network.getCookies: %v", err)
	}
	return res.Cookies
}

func (p *page) cookieValue(name string) string {
	for _, c := range p.cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	p.t.Fatalf("the browser holds no %s", name)
	return ""
}

// putCookie stores a cookie for the origin, as someone who kept a copy
// would put it back. The cookies expected stay as they were: the next
// call must clear it.
func (p *page) putCookie(name, value string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: name, Value: value, URL: p.origin + "/", Path: "/",
		HTTPOnly: new(true), SameSite: network.CookieSameSite(p.seed.cookies[name].SameSite),
	})
	if err != nil {
		p.t.Fatalf("Network.setCookie: %v", err)
	}
}

// expect applies the seed rows of the successful calls of a step to the
// cookies the browser should hold, and checks that it holds exactly
// those, with the contract's attributes, and that the page's JavaScript
// sees none of them.
func (p *page) expect(when string, paths ...string) {
	p.t.Helper()
	for _, path := range paths {
		p.held = p.seed.endpoint(p.t, path).apply(p.held)
	}
	if p.held == nil {
		p.held = []string{}
	}
	var names []string
	now := float64(time.Now().Unix())
	for _, c := range p.cookies() {
		names = append(names, c.Name)
		rule, ok := p.seed.cookies[c.Name]
		if !ok {
			continue // reported with the names below
		}
		got := fmt.Sprintf("HttpOnly=%v SameSite=%s Path=%s Secure=%v Domain=%s Session=%v",
			c.HTTPOnly, c.SameSite, c.Path, c.Secure, c.Domain, c.Session)
		want := fmt.Sprintf("HttpOnly=%v SameSite=%s Path=%s Secure=%v Domain=%s Session=%v",
			rule.HTTPOnly, rule.SameSite, rule.Path, false, demoHost, false)
		if got != want {
			p.t.Errorf("%s: cookie %s is\n\t%s\nwant\t%s", when, c.Name, got, want)
		}
		// Set at most a few minutes ago, with the contract's Max-Age.
		if left := c.Expires - now; left > float64(rule.MaxAge)+5 || left < float64(rule.MaxAge)-300 {
			p.t.Errorf("%s: cookie %s expires in %.0f s, want about its Max-Age, %d s", when, c.Name, left, rule.MaxAge)
		}
	}
	slices.Sort(names)
	if names == nil {
		names = []string{}
	}
	if !slices.Equal(names, p.held) {
		p.shot("failed")
		p.t.Fatalf("%s: the browser holds the cookies %q, the seed's table gives %q", when, names, p.held)
	}
	if onDemo := p.eval(`location.host`) == demoHost; onDemo {
		if seen := p.eval(`document.cookie`); seen != "" {
			p.t.Errorf("%s: document.cookie is %q; refresh_token, state_token and api_token must be HttpOnly", when, seen)
		}
	}
}

// shot saves a screenshot of the page in the output folder.
func (p *page) shot(name string) {
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(outDir, authdtest.LogName(p.t, name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
	}
}
