//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"authd/internal/authdtest"
)

// TestBrowserTwoFactor drives Chromium through two-factor authentication
// on the demo page: a user registers, logs in and sets it up; the page
// shows the QR code the demo draws (zbarimg reads it back: the otpauth
// URL of the secret shown beside it) and the secret, from which the test
// computes codes as an app would; a code turns it on and the page shows
// ten recovery codes. Logged out, the password login answers
// mfa_required and sets no refresh cookie, the page asks for the code,
// refuses a malformed one and takes the right one: signed in, the refresh
// cookie set, two-factor authentication on, and still so after a reload.
// Then a login with a recovery code, new recovery codes (given another),
// turning it off with a code of the app, and a login that asks for none.
// The cookies are checked against the seed's and the contract's rows after
// each step; screenshots go to the output folder.
func TestBrowserTwoFactor(t *testing.T) {
	t.Parallel()
	chromium := mustChromium(t)
	rows := mustContractRows(t)
	a := mustAuthd(t, "authd", "", append([]string{plainHTTP, "AUTHD_TRUSTED_PROXIES=127.0.0.1/32"}, generousThrottles()...)...)
	demo := mustDemo(t, a)
	p := &page{t: t, ctx: mustChrome(t, chromium, demo.Addr), seed: mustSeed(t), origin: "http://" + demoHost}
	const user, pass = "ada_two_factor", "a browser's long password"

	p.open()
	p.fill("username", user)
	p.fill("password", pass)
	if st := p.click("register", "register"); st != 201 {
		t.Fatalf("Register answered %d", st)
	}
	if st := p.click("login", "login"); st != 200 {
		t.Fatalf("Log in answered %d", st)
	}
	p.expect("after Log in", "/auth/login/")
	p.wantAccount(user, "", false)

	// Set-up: the QR code and the secret.
	if st := p.click("totp-setup", "totp_setup"); st != 200 {
		t.Fatalf("Set up two-factor authentication answered %d %s", st, p.errorCode())
	}
	p.expectRows("after Set up", rowNamed(t, rows, "TOTP setup"))
	secret := p.eval(`document.getElementById("totp-secret").textContent`)
	if !p.visible("totp-enrol") || p.eval(`document.getElementById("totp-qr").dataset.ready`) != "1" {
		t.Fatal("the page shows no QR code after Set up")
	}
	p.wantNoSecretInStatus(secret)
	p.shot("01-setup")
	p.wantQR(user, secret)
	// authd takes each 30-second step's code once; the app gives codes of
	// successive steps, the previous one first while it has browserDelay
	// left to run, so the three used here seldom wait for the clock.
	app := authdtest.NewAuthenticator(t, secret)

	p.fill("totp-code", app.CodeLasting(browserDelay))
	if st := p.click("totp-confirm", "totp_confirm"); st != 200 {
		t.Fatalf("Turn on answered %d %s", st, p.errorCode())
	}
	p.expectRows("after Turn on", rowNamed(t, rows, "TOTP confirm"))
	codes := p.recoveryCodes()
	if p.visible("totp-enrol") || p.eval(`document.getElementById("totp-secret").textContent`) != "" {
		t.Error("the set-up is still on the page after Turn on")
	}
	p.wantAccount(user, "", true)
	p.wantNoSecretInStatus(codes...)
	p.shot("02-recovery-codes")

	p.logOut()
	if p.visible("recovery-box") || len(p.recoveryCodes()) != 0 {
		t.Error("the recovery codes are still on the page after Log out")
	}

	// The password is not enough any more: the page asks for a code.
	p.firstFactor(rows, "after Log in with two-factor authentication")
	p.shot("03-asks-for-code")
	p.fill("mfa-code", "12345")
	if st := p.click("mfa-submit", "login_mfa"); st != 400 || p.errorCode() != "invalid_code" {
		t.Errorf("a code of 5 digits answered %d %s, want 400 invalid_code", st, p.errorCode())
	}
	p.expect("after a malformed code")
	if !p.visible("mfa-form") {
		t.Fatal("the page stopped asking for the code after a malformed one")
	}
	p.fill("mfa-code", app.CodeLasting(browserDelay))
	p.secondFactor(rows, "after the code of the app")
	p.shot("04-signed-in-with-a-code")

	// A reload gets the session back from the refresh cookie.
	p.open()
	p.expect("after a reload", "/auth/refresh/")
	p.wantAccount(user, "", true)
	p.fill("username", user) // the reload emptied the form
	p.fill("password", pass)

	// Without the phone: a recovery code.
	p.logOut()
	p.firstFactor(rows, "before a recovery code")
	p.fill("mfa-code", codes[0])
	p.secondFactor(rows, "after a recovery code")
	p.shot("05-signed-in-with-a-recovery-code")

	// New recovery codes, given one of the old.
	p.fill("totp-manage-code", codes[1])
	if st := p.click("recovery-new", "recovery_codes"); st != 200 {
		t.Fatalf("New recovery codes answered %d %s", st, p.errorCode())
	}
	p.expectRows("after New recovery codes", rowNamed(t, rows, "New recovery codes"))
	renewed := p.recoveryCodes()
	for _, c := range renewed {
		if slices.Contains(codes, c) {
			t.Errorf("the new recovery code %s is an old one", c)
		}
	}
	p.wantNoSecretInStatus(renewed...)
	p.shot("06-new-recovery-codes")

	// Off, with a code of the app.
	p.fill("totp-manage-code", app.CodeLasting(browserDelay))
	if st := p.click("totp-disable", "totp_disable"); st != 200 {
		t.Fatalf("Turn off answered %d %s", st, p.errorCode())
	}
	p.expectRows("after Turn off", rowNamed(t, rows, "TOTP disable"))
	p.wantAccount(user, "", false)
	if p.visible("recovery-box") {
		t.Error("the recovery codes are still on the page after Turn off")
	}
	p.shot("07-turned-off")

	p.logOut()
	if st := p.click("login", "login"); st != 200 {
		t.Fatalf("Log in after Turn off answered %d", st)
	}
	p.expect("after Log in without two-factor authentication", "/auth/login/")
	if p.visible("mfa-form") {
		t.Error("the page asks for a code of a user without two-factor authentication")
	}
	p.wantAccount(user, "", false)
	p.shot("08-password-alone")
}

// browserDelay bounds the time from computing a code to authd checking
// it: typing it, a click, the page's call, on a machine that may be busy.
const browserDelay = 10 * time.Second

// rowNamed returns the row of testdata/contract/endpoints.json of
// that name.
func rowNamed(t *testing.T, rows []endpoint, name string) endpoint {
	t.Helper()
	for _, e := range rows {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("testdata/contract/endpoints.json has no row %q", name)
	return endpoint{}
}

// expectRows is expect for rows of the contract's table, which share
// their paths with others.
func (p *page) expectRows(when string, rows ...endpoint) {
	p.t.Helper()
	for _, e := range rows {
		p.held = e.apply(p.held)
	}
	p.expect(when)
}

// visible reports whether the element of the id is shown.
func (p *page) visible(id string) bool {
	p.t.Helper()
	return p.eval(`String(!document.getElementById("`+id+`").hidden)`) == "true"
}

// recoveryCodes returns the recovery codes the page lists: none, or ten
// different ones in the box that says to save them.
func (p *page) recoveryCodes() []string {
	p.t.Helper()
	var codes []string
	raw := p.eval(`JSON.stringify(Array.from(document.querySelectorAll("#recovery-codes li"), li => li.textContent))`)
	if err := json.Unmarshal([]byte(raw), &codes); err != nil {
		p.t.Fatalf("the recovery codes %s: %v", raw, err)
	}
	if len(codes) == 0 {
		return nil
	}
	if len(codes) != 10 || len(slices.Compact(slices.Sorted(slices.Values(codes)))) != 10 || !p.visible("recovery-box") {
		p.t.Fatalf("the page shows the recovery codes %q, want ten different ones", codes)
	}
	if say := p.eval(`document.getElementById("recovery-box").textContent`); !strings.Contains(say, "Save these ten recovery codes now") {
		p.t.Errorf("the recovery codes come with %q", say)
	}
	return codes
}

// wantNoSecretInStatus checks that the page's report of the last call
// does not repeat the secrets it shows once.
func (p *page) wantNoSecretInStatus(secrets ...string) {
	p.t.Helper()
	status := p.eval(`document.getElementById("status").textContent`)
	for _, s := range secrets {
		if s == "" || strings.Contains(status, s) {
			p.t.Errorf("the report of the last call shows %q: %s", s, status)
		}
	}
}

// wantQR reads the QR code the page shows with zbarimg: it must be the
// otpauth URL of the secret the page shows, for user at the default
// issuer. Without zbarimg this check is left out, except under CI.
func (p *page) wantQR(user, secret string) {
	p.t.Helper()
	zbarimg, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") != "" {
			p.t.Fatalf("no zbarimg (%v): under CI the QR code must be read; apt-get install -y zbar-tools", err)
		}
		p.t.Logf("no zbarimg (%v): the QR code is not read back; apt-get install -y zbar-tools", err)
		return
	}
	shot, err := chromedp.Run(p.ctx, chromedp.Screenshot(chromedp.ID("totp-qr")))
	if err != nil {
		p.t.Fatalf("screenshot of the QR code: %v", err)
	}
	file := filepath.Join(outDir, authdtest.LogName(p.t, "qr")+".png")
	if err := os.WriteFile(file, shot, 0o644); err != nil {
		p.t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		p.t.Fatalf("zbarimg read no QR code in %s: %v\n%s", file, err, stderr.Bytes())
	}
	got, err := url.Parse(strings.TrimSuffix(stdout.String(), "\n"))
	if err != nil {
		p.t.Fatalf("the QR code holds %q: %v", stdout.String(), err)
	}
	q := got.Query()
	if got.Scheme != "otpauth" || got.Host != "totp" || got.Path != "/authd:"+user || q.Get("secret") != secret ||
		q.Get("issuer") != "authd" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		p.t.Errorf("the QR code holds %s, want the otpauth URL of %s at authd with the secret %s", got, user, secret)
	}
}

// logOut presses Log out, which clears the refresh cookie.
func (p *page) logOut() {
	p.t.Helper()
	if st := p.click("logout", "logout"); st != 200 {
		p.t.Fatalf("Log out answered %d", st)
	}
	p.expect("after Log out", "/auth/logout/")
	p.wantAccount("", "", false)
}

// firstFactor logs in with the password of a user with two-factor
// authentication: 200 mfa_required, no refresh cookie, nobody signed in,
// and the page asks for the code.
func (p *page) firstFactor(rows []endpoint, when string) {
	p.t.Helper()
	if st := p.click("login", "login"); st != 200 {
		p.t.Fatalf("Log in answered %d %s", st, p.errorCode())
	}
	p.expectRows(when, rowNamed(p.t, rows, "Login with two-factor authentication"))
	if !strings.Contains(p.eval(`document.getElementById("status").textContent`), `"mfa_required": true`) {
		p.t.Errorf("%s: the login did not answer mfa_required", when)
	}
	p.wantAccount("", "", false)
	if !p.visible("mfa-form") {
		p.shot("failed")
		p.t.Fatalf("%s: the page does not ask for the code", when)
	}
}

// secondFactor sends the code typed: 200, the refresh cookie set, the
// user signed in with two-factor authentication on, the question gone.
func (p *page) secondFactor(rows []endpoint, when string) {
	p.t.Helper()
	if st := p.click("mfa-submit", "login_mfa"); st != 200 {
		p.t.Fatalf("%s: Continue answered %d %s", when, st, p.errorCode())
	}
	p.expectRows(when, rowNamed(p.t, rows, "Login, second factor"))
	p.wantAccount("ada_two_factor", "", true)
	if p.visible("mfa-form") {
		p.t.Errorf("%s: the page still asks for a code", when)
	}
}
