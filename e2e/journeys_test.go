//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"

	"authd/internal/authdtest"
)

const password = "correct horse battery staple"

// TestPasswordJourney: register, log in, who am I, refresh, log out; the
// refresh cookie is then refused, a kept copy of it too, and so is the
// access token; logging in again works.
func TestPasswordJourney(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)
	b := clientOf(t, a)

	reg := b.Register(authdtest.RegisterRequest{Username: "ada", Password: password, Email: "ada@example.com"})
	reg.Want(t, "register", http.StatusCreated, "")
	id := reg.ID
	if reg.Username != "ada" || id == 0 {
		t.Fatalf("register = %s, want the id and username", reg.Body)
	}
	b.WantCookies("after register")

	access := b.MustLogin("ada", password).AccessToken
	b.WantCookies("after login", "refresh_token")
	kept := b.Cookie("refresh_token")

	me := b.MustMe(access)
	if me.ID != id || me.Username != "ada" || me.Email != "ada@example.com" || me.IntraLogin != nil || me.CreatedAt == "" {
		t.Errorf("me = %s", me.Body)
	}

	r := b.Refresh()
	r.Want(t, "refresh", http.StatusOK, "")
	refreshed := r.AccessToken
	if refreshed == "" || refreshed == access {
		t.Errorf("refresh gave access token %q, want a new one", refreshed)
	}
	b.WantCookies("after refresh", "refresh_token")
	if b.MustMe(refreshed).ID != id {
		t.Error("the refreshed token is someone else's")
	}

	b.Logout(refreshed).Want(t, "logout", http.StatusOK, "")
	b.WantCookies("after logout")

	b.Refresh().Want(t, "refresh after logout", http.StatusBadRequest, "invalid_refresh_token")

	// A copy of the refresh cookie kept from before the logout is refused
	// too, and the answer clears it.
	b.PutCookie("refresh_token", kept)
	b.Refresh().Want(t, "refresh with a copy kept from before the logout", http.StatusBadRequest, "invalid_refresh_token")
	b.WantCookies("after the refused refresh")

	// Both access tokens of the session are refused by authd's own
	// Bearer endpoints.
	for _, tok := range []string{access, refreshed} {
		b.Me(tok).Want(t, "me after logout", http.StatusUnauthorized, "invalid_token")
	}

	access = b.MustLogin("ada", password).AccessToken
	b.WantCookies("after logging in again", "refresh_token")
	r = b.Refresh()
	r.Want(t, "refresh after logging in again", http.StatusOK, "")
	if b.MustMe(r.AccessToken).ID != id || b.MustMe(access).ID != id {
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
	b := clientOf(t, a)

	authorize := b.MustIntraURL()
	if !strings.HasPrefix(authorize, provider.URL+"/oauth/authorize?") {
		t.Fatalf("url = %q, want the provider's authorize URL", authorize)
	}
	b.WantCookies("after url", "state_token")

	back := b.MustConsent(authorize, "jdoe", "Authorize")
	b.Callback(back).Want(t, "callback", http.StatusOK, "")
	b.WantCookies("after the callback", "api_token")

	r := b.IntraLogin()
	r.Want(t, "intra login", http.StatusOK, "")
	access := r.AccessToken
	b.WantCookies("after intra login", "refresh_token")

	me := b.MustMe(access)
	if me.Username != "jdoe" || me.Intra() != "jdoe" || me.Email != "jdoe@student.42.fr" {
		t.Errorf("me = %s, want the user created from jdoe", me.Body)
	}
	id := me.ID

	r = b.Refresh()
	r.Want(t, "refresh", http.StatusOK, "")
	b.Logout(r.AccessToken).Want(t, "logout", http.StatusOK, "")
	b.WantCookies("after logout")
	b.Refresh().Want(t, "refresh after logout", http.StatusBadRequest, "invalid_refresh_token")

	// Again, in a new browser: the same user, no second one created.
	b = clientOf(t, a)
	b.MustIntraIdentity("jdoe")
	if me := b.MustMe(b.MustIntraLogin().AccessToken); me.ID != id || me.Username != "jdoe" {
		t.Errorf("second Log in with 42: me = %s, want user %v", me.Body, id)
	}
}

// TestLinkJourney: a password user goes through 42 and links the 42
// account; then a Log in with 42 from a new browser lands on that user.
// Linking the same pair again is fine; another user cannot take the 42
// account.
func TestLinkJourney(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)
	b := clientOf(t, a)
	b.MustRegister("grace", password)
	access := b.MustLogin("grace", password).AccessToken
	id := b.MustMe(access).ID

	authorize := b.MustIntraURL()
	b.Callback(b.MustConsent(authorize, "tnguyen", "Authorize")).Want(t, "callback", http.StatusOK, "")
	b.WantCookies("back from 42, logged in", "api_token", "refresh_token")

	b.IntraLink(access).Want(t, "link", http.StatusOK, "")
	b.WantCookies("after link", "refresh_token")
	if me := b.MustMe(access); me.Intra() != "tnguyen" || me.Username != "grace" {
		t.Errorf("me after link = %s", me.Body)
	}

	b.MustIntraIdentity("tnguyen")
	b.IntraLink(access).Want(t, "linking the same pair again", http.StatusOK, "")

	fresh := clientOf(t, a)
	fresh.MustIntraIdentity("tnguyen")
	me := fresh.MustMe(fresh.MustIntraLogin().AccessToken)
	if me.ID != id || me.Username != "grace" || me.Intra() != "tnguyen" {
		t.Errorf("Log in with 42 after the link: me = %s, want grace (id %v)", me.Body, id)
	}

	other := clientOf(t, a)
	other.MustRegister("mallory", password)
	otherAccess := other.MustLogin("mallory", password).AccessToken
	other.MustIntraIdentity("tnguyen")
	other.IntraLink(otherAccess).Want(t, "linking a 42 account linked to another user", http.StatusBadRequest, "already_linked")
}
