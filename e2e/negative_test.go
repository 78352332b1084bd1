//go:build e2e

package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"authd/internal/authdtest"
)

// TestIntraRefusals: the ways a Log in with 42 must fail, each in a
// browser of its own. A failed callback clears state_token and sets no
// api_token.
func TestIntraRefusals(t *testing.T) {
	t.Parallel()
	a := mustAuthd(t, "authd", "", journeySettings()...)

	// failedCallback checks what every refused callback must do.
	failedCallback := func(t *testing.T, r authdtest.DetailResponse, status int, code string) {
		t.Helper()
		r.Want(t, "callback", status, code)
		if !r.Clears("state_token") || r.Sets("api_token") {
			t.Errorf("a refused callback must clear state_token and set no api_token: %q", r.Header.Values("Set-Cookie"))
		}
	}

	t.Run("Cancel on the consent page", func(t *testing.T) {
		b := clientOf(t, a)
		back := b.MustConsent(b.MustIntraURL(), "jdoe", "Cancel")
		if u, _ := url.Parse(back); u.Query().Get("error") != "access_denied" {
			t.Fatalf("Cancel sends the browser to %q, want error=access_denied", back)
		}
		failedCallback(t, b.Callback(back), http.StatusForbidden, "access_denied")
		b.WantCookies("after the refused callback")
	})

	t.Run("state replayed", func(t *testing.T) {
		b := clientOf(t, a)
		back := b.MustAuthorize(b.MustIntraURL(), "jdoe")
		b.Callback(back).Want(t, "first callback", http.StatusOK, "")
		failedCallback(t, b.Callback(back), http.StatusForbidden, "invalid_state")
	})

	t.Run("state of another flow", func(t *testing.T) {
		// Two tabs: the first flow's state_token is replaced by the second's.
		b := clientOf(t, a)
		first := b.MustAuthorize(b.MustIntraURL(), "jdoe")
		second := b.MustAuthorize(b.MustIntraURL(), "jdoe")
		failedCallback(t, b.Callback(first), http.StatusForbidden, "invalid_state")
		// The refused callback spent the second flow's state as well.
		failedCallback(t, b.Callback(second), http.StatusForbidden, "invalid_state")
		b.WantCookies("after both")

		// Another browser's state and code, with this browser's cookie.
		victim, attacker := clientOf(t, a), clientOf(t, a)
		victim.MustIntraURL()
		stolen := attacker.MustAuthorize(attacker.MustIntraURL(), "gfavre")
		failedCallback(t, victim.Callback(stolen), http.StatusForbidden, "invalid_state")
	})

	t.Run("code reused", func(t *testing.T) {
		b := clientOf(t, a)
		first, _ := url.Parse(b.MustAuthorize(b.MustIntraURL(), "jdoe"))
		b.Callback(first.String()).Want(t, "first callback", http.StatusOK, "")
		b.MustIntraURL()
		again := url.URL{Scheme: "http", Host: authdHost, Path: first.Path,
			RawQuery: url.Values{"code": {first.Query().Get("code")}, "state": {b.Cookie("state_token")}}.Encode()}
		failedCallback(t, b.Callback(again.String()), http.StatusForbidden, "invalid_grant")
	})

	t.Run("api_token tampered with", func(t *testing.T) {
		// An expired api_token (5 minutes) cannot be waited for here; every
		// way of presenting a token authd did not issue as it stands is.
		b := clientOf(t, a)
		b.MustIntraIdentity("kvanderb")
		genuine := b.Cookie("api_token")
		parts := strings.Split(genuine, ".")
		if len(parts) != 3 {
			t.Fatalf("api_token %q is not a JWT", genuine)
		}
		b.MustRegister("victor", password)
		access := b.MustLogin("victor", password).AccessToken
		forged := map[string]string{
			"signature changed":       parts[0] + "." + parts[1] + "." + flipFirst(parts[2]),
			"claims changed":          parts[0] + "." + flipFirst(parts[1]) + "." + parts[2],
			"alg none":                b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".",
			"signed with another key": signHS256(`{"alg":"HS256","typ":"JWT"}`, parts[1], "an attacker's key of thirty-two bytes!"),
			"an access token":         access,
			"garbage":                 "not-a-token",
		}
		for name, value := range forged {
			for _, path := range []string{"/oauth2/intra/login/", "/oauth2/intra/link/"} {
				b.PutCookie("api_token", value)
				r := b.Call("POST", path, access, nil)
				r.Want(t, path+" with api_token "+name, http.StatusBadRequest, "invalid_api_token")
				if !r.Clears("api_token") {
					t.Errorf("%s with api_token %s keeps the cookie", path, name)
				}
			}
		}
		// The genuine one still works, once.
		b.PutCookie("api_token", genuine)
		b.IntraLogin().Want(t, "intra login with the genuine api_token", http.StatusOK, "")
		b.IntraLogin().Want(t, "intra login again", http.StatusBadRequest, "invalid_api_token")
	})

	t.Run("access token after logout", func(t *testing.T) {
		b := clientOf(t, a)
		b.MustRegister("olivia", password)
		access := b.MustLogin("olivia", password).AccessToken
		b.Logout(access).Want(t, "logout", http.StatusOK, "")
		b.MustIntraIdentity("cmuller")
		for _, c := range []struct{ method, path string }{
			{"GET", "/auth/me/"},
			{"POST", "/auth/logout/"},
			{"POST", "/oauth2/intra/link/"},
		} {
			r := b.Call(c.method, c.path, access, nil)
			r.Want(t, c.path+" with the logged-out token", http.StatusUnauthorized, "invalid_token")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q, want Bearer", c.path, r.Header.Get("WWW-Authenticate"))
			}
		}
		if b.Cookie("api_token") == "" {
			t.Error("a refused link spent the api_token")
		}
	})

	t.Run("refresh cookie tampered with", func(t *testing.T) {
		b := clientOf(t, a)
		b.MustRegister("rita", password)
		access := b.MustLogin("rita", password).AccessToken
		genuine := b.Cookie("refresh_token")
		parts := strings.Split(genuine, ".")
		for name, value := range map[string]string{
			"signature changed": parts[0] + "." + parts[1] + "." + flipFirst(parts[2]),
			"an access token":   access,
		} {
			b.PutCookie("refresh_token", value)
			r := b.Refresh()
			r.Want(t, "refresh with "+name, http.StatusBadRequest, "invalid_refresh_token")
			if !r.Clears("refresh_token") {
				t.Errorf("a refused refresh (%s) keeps the cookie", name)
			}
		}
	})
}

// TestProviderFailures: the provider fails in every way a network service
// can; each callback answers 502 provider_error, clears state_token and
// sets no api_token. The test has a provider of its own, whose faults
// touch no other test, and ends by stopping it.
func TestProviderFailures(t *testing.T) {
	t.Parallel()
	p := mustProvider(t)
	a := mustAuthd(t, "authd", "", append(append([]string{plainHTTP}, intraSettings(p, redirectURI)...), generousThrottles()...)...)

	// arrive brings a browser to the callback with a good code and state.
	arrive := func(t *testing.T) (*authdtest.Client, string) {
		b := clientOf(t, a)
		return b, b.MustAuthorize(b.MustIntraURL(), "jdoe")
	}
	providerError := func(t *testing.T, r authdtest.DetailResponse) {
		t.Helper()
		r.Want(t, "callback", http.StatusBadGateway, "provider_error")
		if !r.Clears("state_token") || r.Sets("api_token") {
			t.Errorf("a failed callback must clear state_token and set no api_token: %q", r.Header.Values("Set-Cookie"))
		}
	}

	for _, f := range []struct{ name, fault string }{
		{"token endpoint answers 503", `{"endpoint":"token","kind":"status","status":503}`},
		{"token endpoint rate limited", `{"endpoint":"token","kind":"rate_limited"}`},
		{"me answers 500", `{"endpoint":"me","kind":"status","status":500}`},
		{"me answers malformed JSON", `{"endpoint":"me","kind":"malformed_json"}`},
		{"me answers truncated JSON", `{"endpoint":"me","kind":"truncated_json"}`},
	} {
		t.Run(f.name, func(t *testing.T) {
			b, back := arrive(t)
			p.MustFault(t, f.fault)
			defer p.MustClearFaults(t)
			providerError(t, b.Callback(back))
		})
	}

	t.Run("slower than the 10 s bound", func(t *testing.T) {
		b, back := arrive(t)
		p.MustFault(t, `{"endpoint":"token","kind":"hang","delay":"60s"}`)
		defer p.MustClearFaults(t)
		began := time.Now()
		r := b.Callback(back)
		took := time.Since(began)
		providerError(t, r)
		if took < 9*time.Second || took > 20*time.Second {
			t.Errorf("the callback answered after %s; authd's bound on the provider is 10 s", took.Round(time.Millisecond))
		}
	})

	t.Run("back to normal", func(t *testing.T) {
		b, back := arrive(t)
		b.Callback(back).Want(t, "callback", http.StatusOK, "")
	})

	t.Run("down", func(t *testing.T) {
		b, back := arrive(t)
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
		providerError(t, b.Callback(back))
	})
}

// flipFirst changes the first character of a base64url string, whose six
// bits all carry data (the last character's may be padding, which a
// decoder can ignore).
func flipFirst(s string) string {
	if s == "" {
		return "A"
	}
	repl := "A"
	if s[0] == 'A' {
		repl = "B"
	}
	return repl + s[1:]
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signHS256 returns a JWT of header and the (encoded) claims, signed with key.
func signHS256(header, claims, key string) string {
	signing := b64(header) + "." + claims
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
