package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/internal/config"
)

const (
	setRefresh   = "refresh_token=eyJ.x.y; Path=/; Max-Age=86400; HttpOnly; SameSite=Strict"
	clearRefresh = "refresh_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
	setState     = "state_token=abc; Path=/; Max-Age=600; HttpOnly; SameSite=Lax"
	clearState   = "state_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
	setAPI       = "api_token=eyJ.a.b; Path=/; Max-Age=300; HttpOnly; SameSite=Lax"
	clearAPI     = "api_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
)

func TestEndpointOf(t *testing.T) {
	t.Parallel()
	tests := []struct{ method, url, want string }{
		{"POST", "http://127.0.0.1:8000/auth/login/", config.ScopeLogin},
		{"GET", "http://127.0.0.1:8000/oauth2/intra/callback/?code=c&state=s", config.ScopeIntraCallback},
		{"GET", "http://127.0.0.1:8000/auth/login/", ""},
		{"POST", "http://127.0.0.1:8000/auth/login/x", ""},
		{"GET", "http://127.0.0.1:9042/oauth/authorize?x=1", ""},
		{"GET", "::", ""},
	}
	r := routesOf(endpoints)
	for _, tt := range tests {
		if got := r.endpointOf(tt.method, tt.url); got != tt.want {
			t.Errorf("endpointOf(%s, %s) = %q, want %q", tt.method, tt.url, got, tt.want)
		}
	}
}

func TestCookieAudit(t *testing.T) {
	t.Parallel()
	const base = "http://127.0.0.1:8000"
	a := newCookieAudit()
	observe := func(method, path string, status int, setCookies ...string) {
		a.observe(method, base+path, status, http.Header{"Set-Cookie": setCookies})
	}
	// As the contract says.
	observe("POST", "/auth/login/", 200, setRefresh)
	observe("POST", "/auth/login/", 429)
	observe("POST", "/auth/login/", 400)
	observe("POST", "/oauth2/intra/login/", 200, clearAPI, setRefresh)
	observe("POST", "/auth/logout/", 200, clearRefresh)
	observe("GET", "/oauth2/intra/callback/?code=c&state=s", 200, clearState, setAPI)
	observe("GET", "/oauth2/intra/callback/?code=c&state=s", 429, clearState)
	observe("GET", "/oauth2/intra/callback/?state=s", 403, clearState)
	observe("GET", "/oauth2/intra/url/", 200, setState)
	observe("POST", "/oauth2/intra/link/", 200, clearAPI)
	observe("GET", "/auth/me/", 200)
	// Against it.
	observe("POST", "/auth/login/", 200)
	observe("POST", "/auth/logout/", 200, setRefresh)
	observe("GET", "/oauth2/intra/callback/?code=c&state=s", 502)
	observe("POST", "/auth/refresh/", 429, clearRefresh)
	// Not authd's, or no answer: not counted.
	observe("GET", "/oauth/authorize", 302, "fakeintra_login=jdoe; Path=/")
	observe("POST", "/auth/login/", 0)

	type tally struct{ Responses, Exceptions int }
	got := map[string]tally{}
	for _, r := range a.rows() {
		got[r.Rule] = tally{r.Responses, r.Exceptions}
	}
	want := map[string]tally{
		"login 200 sets refresh_token":                                {2, 1},
		"intra login 200 sets refresh_token":                          {1, 0},
		"intra login 200 clears api_token":                            {1, 0},
		"logout 200 clears refresh_token":                             {2, 1},
		"every intra callback clears state_token":                     {4, 1},
		"intra callback 200 sets api_token":                           {1, 0},
		"intra url 200 sets state_token":                              {1, 0},
		"intra link 200 clears api_token":                             {1, 0},
		"a 429 sets no cookie (a callback's only clears state_token)": {3, 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tallies (-want +got):\n%s", diff)
	}
	if n := a.total(); n != 15 {
		t.Errorf("total = %d, want 15", n)
	}
	for _, r := range a.rows() {
		if r.Exceptions > 0 && !strings.Contains(r.Example, "answered") {
			t.Errorf("%s: example %q does not describe the exception", r.Rule, r.Example)
		}
	}
}
