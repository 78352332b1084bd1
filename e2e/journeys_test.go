//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"
)

const password = "correct horse battery staple"

// TestPasswordJourney: register, log in, who am I, refresh, log out; the
// refresh cookie is then refused, a kept copy of it too, and so is the
// access token; logging in again works.
func TestPasswordJourney(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)
	b := browserOf(t, a)

	r := b.call("POST", "/auth/register/", "", map[string]string{"username": "ada", "password": password, "email": "ada@example.com"})
	want(t, "register", r, http.StatusCreated, "")
	id := r.body["id"]
	if r.str("username") != "ada" || id == nil {
		t.Fatalf("register = %s, want the id and username", r.text)
	}
	wantCookies(t, b, "after register")

	access := b.mustLogin("ada", password)
	wantCookies(t, b, "after login", "refresh_token")
	kept := b.cookie("refresh_token")

	me := b.mustMe(access)
	if me.body["id"] != id || me.str("username") != "ada" || me.str("email") != "ada@example.com" || me.body["intra_login"] != nil || me.str("created_at") == "" {
		t.Errorf("me = %s", me.text)
	}

	r = b.call("POST", "/auth/refresh/", "", nil)
	want(t, "refresh", r, http.StatusOK, "")
	refreshed := r.str("access_token")
	if refreshed == "" || refreshed == access {
		t.Errorf("refresh gave access token %q, want a new one", refreshed)
	}
	wantCookies(t, b, "after refresh", "refresh_token")
	if b.mustMe(refreshed).body["id"] != id {
		t.Error("the refreshed token is someone else's")
	}

	r = b.call("POST", "/auth/logout/", refreshed, nil)
	want(t, "logout", r, http.StatusOK, "")
	wantCookies(t, b, "after logout")

	r = b.call("POST", "/auth/refresh/", "", nil)
	want(t, "refresh after logout", r, http.StatusBadRequest, "invalid_refresh_token")

	// A copy of the refresh cookie kept from before the logout is refused
	// too, and the answer clears it.
	b.putCookie("refresh_token", kept)
	r = b.call("POST", "/auth/refresh/", "", nil)
	want(t, "refresh with a copy kept from before the logout", r, http.StatusBadRequest, "invalid_refresh_token")
	wantCookies(t, b, "after the refused refresh")

	// Both access tokens of the session are refused by authd's own
	// Bearer endpoints.
	for _, tok := range []string{access, refreshed} {
		r = b.call("GET", "/auth/me/", tok, nil)
		want(t, "me after logout", r, http.StatusUnauthorized, "invalid_token")
	}

	access = b.mustLogin("ada", password)
	wantCookies(t, b, "after logging in again", "refresh_token")
	r = b.call("POST", "/auth/refresh/", "", nil)
	want(t, "refresh after logging in again", r, http.StatusOK, "")
	if b.mustMe(r.str("access_token")).body["id"] != id || b.mustMe(access).body["id"] != id {
		t.Error("logging in again gave another user")
	}
}

// TestIntraJourney: Log in with 42 through the provider's consent page,
// as a person clicks it: url, consent, Authorize, callback, intra login,
// who am I, refresh, log out. A second Log in with 42 lands on the same
// user.
func TestIntraJourney(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)
	b := browserOf(t, a)

	authorize := b.mustIntraURL()
	if !strings.HasPrefix(authorize, provider.base+"/oauth/authorize?") {
		t.Fatalf("url = %q, want the provider's authorize URL", authorize)
	}
	wantCookies(t, b, "after url", "state_token")

	back := b.mustConsent(authorize, "jdoe", "Authorize")
	r := b.callback(back)
	want(t, "callback", r, http.StatusOK, "")
	wantCookies(t, b, "after the callback", "api_token")

	r = b.call("POST", "/oauth2/intra/login/", "", nil)
	want(t, "intra login", r, http.StatusOK, "")
	access := r.str("access_token")
	wantCookies(t, b, "after intra login", "refresh_token")

	me := b.mustMe(access)
	if me.str("username") != "jdoe" || me.str("intra_login") != "jdoe" || me.str("email") != "jdoe@student.42.fr" {
		t.Errorf("me = %s, want the user created from jdoe", me.text)
	}
	id := me.body["id"]

	r = b.call("POST", "/auth/refresh/", "", nil)
	want(t, "refresh", r, http.StatusOK, "")
	r = b.call("POST", "/auth/logout/", r.str("access_token"), nil)
	want(t, "logout", r, http.StatusOK, "")
	wantCookies(t, b, "after logout")
	r = b.call("POST", "/auth/refresh/", "", nil)
	want(t, "refresh after logout", r, http.StatusBadRequest, "invalid_refresh_token")

	// Again, in a new browser: the same user, no second one created.
	b = browserOf(t, a)
	b.mustIntraIdentity("jdoe")
	if me := b.mustMe(b.mustIntraLogin()); me.body["id"] != id || me.str("username") != "jdoe" {
		t.Errorf("second Log in with 42: me = %s, want user %v", me.text, id)
	}
}

// TestLinkJourney: a password user goes through 42 and links the 42
// account; then a Log in with 42 from a new browser lands on that user.
// Linking the same pair again is fine; another user cannot take the 42
// account.
func TestLinkJourney(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)
	b := browserOf(t, a)
	b.mustRegister("grace", password)
	access := b.mustLogin("grace", password)
	id := b.mustMe(access).body["id"]

	authorize := b.mustIntraURL()
	r := b.callback(b.mustConsent(authorize, "tnguyen", "Authorize"))
	want(t, "callback", r, http.StatusOK, "")
	wantCookies(t, b, "back from 42, logged in", "api_token", "refresh_token")

	r = b.call("POST", "/oauth2/intra/link/", access, nil)
	want(t, "link", r, http.StatusOK, "")
	wantCookies(t, b, "after link", "refresh_token")
	if me := b.mustMe(access); me.str("intra_login") != "tnguyen" || me.str("username") != "grace" {
		t.Errorf("me after link = %s", me.text)
	}

	b.mustIntraIdentity("tnguyen")
	r = b.call("POST", "/oauth2/intra/link/", access, nil)
	want(t, "linking the same pair again", r, http.StatusOK, "")

	fresh := browserOf(t, a)
	fresh.mustIntraIdentity("tnguyen")
	me := fresh.mustMe(fresh.mustIntraLogin())
	if me.body["id"] != id || me.str("username") != "grace" || me.str("intra_login") != "tnguyen" {
		t.Errorf("Log in with 42 after the link: me = %s, want grace (id %v)", me.text, id)
	}

	other := browserOf(t, a)
	other.mustRegister("mallory", password)
	otherAccess := other.mustLogin("mallory", password)
	other.mustIntraIdentity("tnguyen")
	r = other.call("POST", "/oauth2/intra/link/", otherAccess, nil)
	want(t, "linking a 42 account linked to another user", r, http.StatusBadRequest, "already_linked")
}
