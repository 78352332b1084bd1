//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// TestBrowserSessions drives two Chromium profiles, a laptop and a phone
// (two browser contexts of one browser, each with cookies of its own),
// signed in as one user on the demo page. The laptop lists two sessions,
// its own marked as this browser, and ends the phone's from the list; the
// phone's next refresh is refused with invalid_refresh_token and clears
// its refresh cookie. Then the page's other account actions: Log out my
// other sessions (the phone's refresh refused again, the laptop's cookie
// kept), Unlink with nothing linked, Change password, and once the
// session is no longer fresh, the page asks to log in again. After each
// step the cookies each browser holds are those the seed's table gives;
// each step leaves a screenshot in the output folder.
func TestBrowserSessions(t *testing.T) {
	t.Parallel()
	chromium := mustChromium(t)
	s := mustSeed(t)
	const reauthWindow = 6 * time.Second
	a := mustAuthd(t, "authd", "", append([]string{plainHTTP, "AUTHD_TRUSTED_PROXIES=127.0.0.1/32",
		"AUTHD_REAUTH_WINDOW=" + reauthWindow.String()}, generousThrottles()...)...)
	demo := mustDemo(t, a)
	ctx := mustChrome(t, chromium, demo.Addr)
	laptop := &page{t: t, ctx: ctx, seed: s, origin: "http://" + demoHost}
	phone := &page{t: t, ctx: mustOtherProfile(t, ctx), seed: s, origin: "http://" + demoHost}
	const user, pass, newPass = "ada_sessions", "a browser's long password", "a browser's new password"

	logIn := func(p *page, who string) {
		t.Helper()
		if st := p.click("login", "login"); st != 200 {
			t.Fatalf("Log in on the %s answered %d", who, st)
		}
		p.expect("after Log in on the "+who, "/auth/login/")
		p.wantWho(user, "")
	}

	laptop.open()
	laptop.fill("username", user)
	laptop.fill("password", pass)
	if st := laptop.click("register", "register"); st != 201 {
		t.Fatalf("Register answered %d", st)
	}
	logIn(laptop, "laptop")
	phone.open()
	phone.expect("on the page in the phone's profile") // none of the laptop's cookies
	phone.fill("username", user)
	phone.fill("password", pass)
	logIn(phone, "phone")

	// Each lists the two sessions, newest first, its own marked and the
	// other's with an End button.
	if st := phone.click("sessions", "sessions"); st != 200 {
		t.Fatalf("Show my sessions on the phone answered %d", st)
	}
	onPhone := phone.sessions()
	if len(onPhone) != 2 || !onPhone[0].Current || onPhone[1].Current {
		t.Fatalf("the phone lists %+v, want two, the newest its own", onPhone)
	}
	phoneID, laptopID := onPhone[0].ID, onPhone[1].ID
	if st := laptop.click("sessions", "sessions"); st != 200 {
		t.Fatalf("Show my sessions on the laptop answered %d", st)
	}
	want := []listedSession{{ID: phoneID, Current: false, End: true}, {ID: laptopID, Current: true, End: false}}
	if diff := cmp.Diff(want, laptop.sessions()); diff != "" {
		t.Fatalf("the laptop's list of sessions (-want +got):\n%s", diff)
	}
	laptop.shot("laptop-01-two-sessions")

	// End the phone's session from the laptop's list.
	end := chromedp.Click(chromedp.CSS(fmt.Sprintf(`#session-list li[data-session-id=%q] button.end-session`, phoneID)))
	if st := laptop.press("End this session, the phone's", end, "end_session"); st != 200 {
		t.Fatalf("End this session answered %d", st)
	}
	laptop.expect("after ending the phone's session")
	if diff := cmp.Diff(want[1:], laptop.sessions()); diff != "" {
		t.Errorf("the laptop's list after ending the phone's session (-want +got):\n%s", diff)
	}
	laptop.shot("laptop-02-phone-ended")

	// The phone's refresh is refused, and the answer clears its cookie.
	phone.refused("after its session was ended", "phone-03-refresh-refused")

	// Log out my other sessions: the phone's again.
	logIn(phone, "phone")
	if st := laptop.click("logout-others", "logout_others"); st != 200 {
		t.Fatalf("Log out my other sessions answered %d", st)
	}
	laptop.expect("after Log out my other sessions") // its own cookie stays
	laptop.wantWho(user, "")
	if n := len(laptop.sessions()); n != 1 {
		t.Errorf("after Log out my other sessions the laptop lists %d sessions, want its own alone", n)
	}
	laptop.shot("laptop-04-others-logged-out")
	phone.refused("after Log out my other sessions on the laptop", "phone-05-refresh-refused")

	// A fresh session: Unlink with nothing linked says so, Change
	// password works.
	logIn(laptop, "laptop")
	fresh := time.Now()
	if st := laptop.click("intra-unlink", "intra_unlink"); st != 400 || laptop.errorCode() != "not_linked" {
		t.Errorf("Unlink with nothing linked answered %d %s, want 400 not_linked", st, laptop.errorCode())
	}
	if laptop.notice() == "" {
		t.Error("the page says nothing of the refused Unlink")
	}
	laptop.fill("current-password", pass)
	laptop.fill("new-password", newPass)
	if st := laptop.click("change-password", "change_password"); st != 200 {
		t.Fatalf("Change password answered %d %s", st, laptop.errorCode())
	}
	if got := laptop.notice(); got != "" {
		t.Errorf("after Change password the page says %q, want nothing", got)
	}
	laptop.expect("after Change password")
	laptop.shot("laptop-06-password-changed")

	// Once the session is older than the reauthentication window, the
	// sensitive actions ask for a new login, and the page says so.
	time.Sleep(time.Until(fresh.Add(reauthWindow + time.Second)))
	laptop.fill("new-password", "yet another password")
	for _, action := range []struct{ id, call string }{{"change-password", "change_password"}, {"intra-unlink", "intra_unlink"}} {
		if st := laptop.click(action.id, action.call); st != 403 || laptop.errorCode() != "reauth_required" {
			t.Errorf("#%s in a session that is not fresh answered %d %s, want 403 reauth_required", action.id, st, laptop.errorCode())
		}
		if got, want := laptop.notice(), "Log in again to do this."; got != want {
			t.Errorf("after #%s the page says %q, want %q", action.id, got, want)
		}
	}
	laptop.shot("laptop-07-log-in-again")

	// Logging in again, with the new password, makes the session fresh.
	laptop.do("clear the password", chromedp.Evaluate[chromedp.Void](`document.getElementById("password").value = ""`))
	laptop.fill("password", newPass)
	logIn(laptop, "laptop")
	if st := laptop.click("intra-unlink", "intra_unlink"); st != 400 || laptop.errorCode() != "not_linked" {
		t.Errorf("Unlink after logging in again answered %d %s, want 400 not_linked", st, laptop.errorCode())
	}
}

// mustOtherProfile opens a tab in a browser context of its own in the
// browser of ctx: a profile with cookies and storage of its own, as a
// second device has. It is closed with the test, before the browser.
func mustOtherProfile(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	other, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(other, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("open a second browser context: %v", err)
	}
	return other
}

// listedSession is an entry of the page's list of sessions.
type listedSession struct {
	ID      string `json:"id"`
	Current bool   `json:"current"`
	End     bool   `json:"end"` // it has a button that ends it
}

// sessions returns the page's list of sessions, in its order.
func (p *page) sessions() []listedSession {
	p.t.Helper()
	var list []listedSession
	raw := p.eval(`JSON.stringify(Array.from(document.querySelectorAll("#session-list li"), li => ({
		id: li.dataset.sessionId,
		current: li.dataset.current === "true",
		end: li.querySelector("button.end-session") !== null,
	})))`)
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		p.t.Fatalf("the list of sessions %s: %v", raw, err)
	}
	return list
}

// errorCode is the error code of the last call's answer, "" for none.
func (p *page) errorCode() string {
	p.t.Helper()
	return p.eval(`document.getElementById("status").dataset.error`)
}

// notice is the sentence the page shows about the last call.
func (p *page) notice() string {
	p.t.Helper()
	return p.eval(`document.getElementById("notice").textContent`)
}

// refused presses Refresh in a browser whose session has ended: the
// answer is 400 invalid_refresh_token, clears the refresh cookie the
// browser held, and the page shows nobody signed in.
func (p *page) refused(when, shot string) {
	p.t.Helper()
	if !slices.Contains(p.held, "refresh_token") {
		p.t.Fatalf("Refresh %s: the browser is not expected to hold a refresh cookie", when)
	}
	if st := p.click("refresh", "refresh"); st != 400 || p.errorCode() != "invalid_refresh_token" {
		p.t.Errorf("Refresh %s answered %d %s, want 400 invalid_refresh_token", when, st, p.errorCode())
	}
	// The contract: a refused refresh clears the cookie it was sent.
	p.held = slices.DeleteFunc(p.held, func(c string) bool { return c == "refresh_token" })
	p.expect("after the refused Refresh " + when)
	p.wantWho("", "")
	p.shot(shot)
}
