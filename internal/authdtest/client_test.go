package authdtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
)

// TestConsent goes through the fake provider's consent page, both
// buttons, and around it.
func TestConsent(t *testing.T) {
	t.Parallel()
	const redirect = "http://authd.test/oauth2/intra/callback/"
	users, err := fakeintra.LoadUsers("../../testdata/intra/users.json")
	if err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(fakeintra.New(fakeintra.Options{
		Clients: []fakeintra.Client{{ID: "u-s4t2ud-test", Secret: "s-s4t2ud-test", RedirectURIs: []string{redirect}}},
		Users:   users,
	}))
	t.Cleanup(fake.Close)
	authorize := fake.URL + "/oauth/authorize?" + url.Values{
		"client_id": {"u-s4t2ud-test"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"public"}, "state": {"xyz"},
	}.Encode()

	c := NewClient(t, "http://authd.test")
	for _, tc := range []struct {
		name string
		back string
		want url.Values // of the redirect, but for the code
	}{
		{"Authorize", c.MustConsent(authorize, "tnguyen", "Authorize"), url.Values{"state": {"xyz"}}},
		{"Cancel", c.MustConsent(authorize, "tnguyen", "Cancel"), url.Values{"state": {"xyz"}, "error": {"access_denied"}, "error_description": nil}},
		{"skipped", c.MustAuthorize(authorize, "jdoe"), url.Values{"state": {"xyz"}}},
	} {
		back, err := url.Parse(tc.back)
		if err != nil || back.Scheme+"://"+back.Host+back.Path != redirect {
			t.Errorf("%s: back to %q, want %s", tc.name, tc.back, redirect)
			continue
		}
		q := back.Query()
		if tc.want.Has("error") {
			if q.Has("code") {
				t.Errorf("%s: a code with the error: %s", tc.name, tc.back)
			}
			tc.want["error_description"] = q["error_description"]
		} else {
			if q.Get("code") == "" {
				t.Errorf("%s: no code in %s", tc.name, tc.back)
			}
			q.Del("code")
		}
		if diff := cmp.Diff(tc.want, q); diff != "" {
			t.Errorf("%s: the redirect's query (-want +got):\n%s", tc.name, diff)
		}
	}
}

// stand is a stand-in for authd: a login that sets a Secure refresh
// cookie, a me that refuses, an echo of the cookies and the forwarded
// address received.
func stand(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/login/", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "refresh_token", Value: "r1", Path: "/", MaxAge: 60, Secure: true, HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"a1","token_type":"Bearer","expires_in":900}`)
	})
	mux.HandleFunc("GET /auth/me/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("WWW-Authenticate", "Bearer")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid_token","detail":"The access token is not valid."}`)
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"detail":"`+r.Header.Get("Cookie")+`|`+r.Header.Get("X-Forwarded-For")+`"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestTypedCalls(t *testing.T) {
	t.Parallel()
	srv := stand(t)
	var seen []string
	c := NewClient(t, srv.URL, Observe(func(req *http.Request, r Response) {
		seen = append(seen, fmt.Sprintf("%s %s %d", req.Method, req.URL.Path, r.Status))
	}))

	tok := c.MustLogin("ada", "a password")
	if diff := cmp.Diff(TokenResponse{AccessToken: "a1", TokenType: "Bearer", ExpiresIn: 900}, tok, cmpBodyOnly); diff != "" {
		t.Errorf("login (-want +got):\n%s", diff)
	}
	if tok.Status != 200 || !tok.Sets("refresh_token") || tok.Header.Get("Content-Type") != "application/json" {
		t.Errorf("login answer: %d, Set-Cookie %q", tok.Status, tok.Header.Values("Set-Cookie"))
	}
	if got := c.Cookie("refresh_token"); got != "r1" {
		t.Errorf("the jar holds refresh_token %q, want r1", got)
	}

	me := c.Me(tok.AccessToken)
	want := ErrorBody{Code: "invalid_token", Detail: "The access token is not valid."}
	if me.Status != 401 || me.Error != want || me.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("me = %d %+v, want 401 %+v", me.Status, me.Error, want)
	}
	if diff := cmp.Diff([]string{"POST /auth/login/ 200", "GET /auth/me/ 401"}, seen); diff != "" {
		t.Errorf("answers observed (-want +got):\n%s", diff)
	}
}

// TestRawCookies keeps a Secure cookie over plain HTTP and sends it back.
func TestRawCookies(t *testing.T) {
	t.Parallel()
	srv := stand(t)
	c := NewClient(t, srv.URL, RawCookies())
	c.MustLogin("ada", "a password")
	c.WantCookies("after login", "refresh_token")
	var echo DetailResponse
	c.Call("GET", "/echo", "", nil).MustDecode(t, &echo)
	if echo.Detail != "refresh_token=r1|" {
		t.Errorf("cookies sent back: %q, want refresh_token=r1", echo.Detail)
	}
	c.DropCookie("refresh_token")
	c.WantCookies("after dropping it")
}

// TestVia reaches two servers under one name: the cookies of one go to
// the other, and the client's headers to both.
func TestVia(t *testing.T) {
	t.Parallel()
	one, two := stand(t), stand(t)
	c := NewClient(t, "http://authd.test", RawCookies(), Header("X-Forwarded-For", "203.0.113.9"))
	c.Via(strings.TrimPrefix(one.URL, "http://")).MustLogin("ada", "a password")
	var echo DetailResponse
	c.Via(strings.TrimPrefix(two.URL, "http://")).Call("GET", "/echo", "", nil).MustDecode(t, &echo)
	if echo.Detail != "refresh_token=r1|203.0.113.9" {
		t.Errorf("the second server received %q", echo.Detail)
	}
}

// cmpBodyOnly compares typed answers by their body's fields.
var cmpBodyOnly = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Response" }, cmp.Ignore())
