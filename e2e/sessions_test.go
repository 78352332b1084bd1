//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSessionsJourney: one user in two browsers lists their sessions,
// ends the other browser's, whose refresh is then refused; changes the
// password, which ends every other session; logs out the others; links
// 42 and unlinks it. Each bad input gets the contract's answer and
// changes nothing.
func TestSessionsJourney(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)
	laptop, phone := clientOf(t, a), clientOf(t, a)
	laptop.MustRegister("henry", password)
	access := laptop.MustLogin("henry", password).AccessToken
	phoneAccess := phone.MustLogin("henry", password).AccessToken

	list := laptop.Sessions(access)
	list.Want(t, "sessions", http.StatusOK, "")
	if len(list.Sessions) != 2 || !list.Sessions[1].Current && !list.Sessions[0].Current {
		t.Fatalf("sessions = %s, want two, one current", list.Body)
	}
	other := phone.Sessions(phoneAccess).Current().ID
	for _, s := range list.Sessions {
		if s.Method != "password" || s.IP == "" || s.CreatedAt == "" || s.LastUsedAt == "" || s.ExpiresAt == "" {
			t.Errorf("session %+v lacks a field", s)
		}
	}

	mallory := clientOf(t, a)
	mallory.MustRegister("mallory", password)
	malloryAccess := mallory.MustLogin("mallory", password).AccessToken
	for name, id := range map[string]string{
		"another user's": other, "no one's": "AAAAAAAAAAAAAAAAAAAAAA", "non-numeric": "not-a-session", "10 KB": strings.Repeat("7", 10<<10),
	} {
		mallory.EndSession(malloryAccess, id).Want(t, "ending "+name+" session", http.StatusNotFound, "not_found")
	}
	phone.MustRefresh()

	laptop.EndSession(access, other).Want(t, "ending the phone's session", http.StatusOK, "")
	phone.Refresh().Want(t, "the phone's refresh after its session was ended", http.StatusBadRequest, "invalid_refresh_token")
	laptop.EndSession(access, other).Want(t, "ending it again", http.StatusNotFound, "not_found")

	// Logout scopes other than the three change nothing.
	phone.MustLogin("henry", password)
	for _, scope := range []string{"all", "LOCAL", ""} {
		laptop.LogoutScope(access, scope).Want(t, "logout scope "+scope, http.StatusBadRequest, "invalid_request")
	}
	phone.MustRefresh()
	laptop.LogoutScope(access, "others").Want(t, "logout others", http.StatusOK, "")
	laptop.WantCookies("after logging out the others", "refresh_token")
	phone.Refresh().Want(t, "the phone after logout others", http.StatusBadRequest, "invalid_refresh_token")
	laptop.MustRefresh()

	// Password change: the bad ones change nothing; the good one ends the
	// phone's session and keeps the laptop's.
	phone.MustLogin("henry", password)
	for _, bad := range []string{"short", strings.Repeat("p", 1025)} {
		laptop.ChangePassword(access, password, bad).Want(t, "a new password breaking the rule", http.StatusBadRequest, "invalid_request")
	}
	laptop.ChangePassword(access, "not the password", "a brand new password").Want(t, "a wrong current password", http.StatusBadRequest, "invalid_credentials")
	phone.MustRefresh()
	laptop.ChangePassword(access, password, "a brand new password").Want(t, "change password", http.StatusOK, "")
	phone.Refresh().Want(t, "the phone after the password change", http.StatusBadRequest, "invalid_refresh_token")
	laptop.MustRefresh()
	laptop.MustLogin("henry", "a brand new password")
	access = laptop.MustLogin("henry", "a brand new password").AccessToken

	// Link, unlink, unlink twice; the api_token is good once.
	laptop.IntraUnlink(access).Want(t, "unlink, nothing linked", http.StatusBadRequest, "not_linked")
	laptop.MustIntraIdentity("tnguyen")
	kept := laptop.Cookie("api_token")
	laptop.IntraLink(access).Want(t, "link", http.StatusOK, "")
	laptop.PutCookie("api_token", kept)
	laptop.IntraLogin().Want(t, "intra login with the api_token the link took", http.StatusBadRequest, "invalid_api_token")
	laptop.IntraUnlink(access).Want(t, "unlink", http.StatusOK, "")
	laptop.IntraUnlink(access).Want(t, "unlink twice", http.StatusBadRequest, "not_linked")
}

// TestRotationJourney: with rotation on, a refresh replaces the cookie;
// the replaced cookie still answers, with the newest, within the reuse
// interval, also from two tabs at once; after it, it revokes the session.
func TestRotationJourney(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", append(journeySettings(), "AUTHD_REFRESH_ROTATION=true", "AUTHD_REFRESH_REUSE_INTERVAL=3s")...)
	b := clientOf(t, a)
	b.MustRegister("iris", password)
	b.MustLogin("iris", password)
	first := b.Cookie("refresh_token")

	r := b.Refresh()
	r.Want(t, "refresh", http.StatusOK, "")
	if !r.Sets("refresh_token") || b.Cookie("refresh_token") == first {
		t.Fatalf("a refresh with rotation did not replace the cookie: %q", r.Header.Values("Set-Cookie"))
	}
	second := b.Cookie("refresh_token")

	// Two tabs send the cookie just replaced at once: both stay logged in.
	tabs := [2]string{}
	var wg sync.WaitGroup
	for i := range tabs {
		tab := clientOf(t, a)
		tab.PutCookie("refresh_token", first)
		wg.Go(func() {
			r := tab.Refresh()
			if r.Status == http.StatusOK {
				tabs[i] = tab.Cookie("refresh_token")
			}
		})
	}
	wg.Wait()
	for i, c := range tabs {
		if c == "" {
			t.Errorf("tab %d with the replaced cookie within the interval was refused", i)
		}
	}
	b.MustRefresh() // the newest rotates on
	third := b.Cookie("refresh_token")
	if third == second {
		t.Fatal("the newest cookie did not rotate")
	}

	time.Sleep(3500 * time.Millisecond)
	thief := clientOf(t, a)
	thief.PutCookie("refresh_token", second)
	r = thief.Refresh()
	r.Want(t, "the replaced cookie after the interval", http.StatusBadRequest, "invalid_refresh_token")
	if !r.Clears("refresh_token") {
		t.Error("the refused reuse keeps the cookie")
	}
	b.Refresh().Want(t, "the newest cookie once a replaced one was reused", http.StatusBadRequest, "invalid_refresh_token")
}
