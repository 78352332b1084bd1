package apidoctest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func mustValidator(t *testing.T) *Validator {
	t.Helper()
	v, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func exchange(method, path, reqBody string, status int, header map[string]string, body string) Exchange {
	req := httptest.NewRequest(method, "http://authd.test"+path, strings.NewReader(reqBody))
	if reqBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	h := http.Header{"X-Request-Id": {"r1"}, "Content-Type": {"application/json"}}
	for k, v := range header {
		h.Set(k, v)
	}
	return Exchange{Request: req, RequestBody: []byte(reqBody), Status: status, Header: h, Body: []byte(body)}
}

const (
	goodLogin = `{"username":"alice","password":"alice-password"}`
	token     = `{"access_token":"x.y.z","token_type":"Bearer","expires_in":900}`
)

// TestCheck shows that the validation can fail: each exchange that breaks
// the document is caught, each that keeps it passes.
func TestCheck(t *testing.T) {
	t.Parallel()
	v := mustValidator(t)
	noStore := map[string]string{"Cache-Control": "no-store"}
	for _, tc := range []struct {
		name string
		ex   Exchange
		ok   bool
	}{
		{"a login", exchange("POST", "/auth/login/", goodLogin, 200, noStore, token), true},
		{"a refused login", exchange("POST", "/auth/login/", goodLogin, 400, nil, `{"error":"invalid_credentials","detail":"No."}`), true},
		{"a bad body refused", exchange("POST", "/auth/login/", `{"username":1}`, 400, nil, `{"error":"invalid_request","detail":"No."}`), true},
		{"a throttled login", exchange("POST", "/auth/login/", goodLogin, 429, map[string]string{"Retry-After": "7"}, `{"error":"throttled","detail":"Wait."}`), true},
		{"an unknown path", exchange("GET", "/nowhere", "", 404, nil, `{"error":"not_found","detail":"No such endpoint."}`), true},
		{"a wrong method", exchange("DELETE", "/auth/login/", "", 405, nil, `{"error":"method_not_allowed","detail":"No."}`), true},
		{"HEAD of a GET", exchange("HEAD", "/healthz", "", 200, nil, ""), true},
		{"a path without its slash", exchange("POST", "/auth/login", "", 307, map[string]string{"Location": "/auth/login/"}, ""), true},
		{"keys in another case", exchange("POST", "/auth/login/", `{"USERNAME":"alice","Password":"alice-password"}`, 200, noStore, token), true},
		{"a user", exchange("GET", "/auth/me/", "", 200, nil, `{"id":1,"username":"a","email":"","intra_login":null,"created_at":"2026-11-28T12:00:00Z","two_factor":false}`), true},

		{"a redirect to no operation", exchange("POST", "/auth/login", "", 307, map[string]string{"Location": "/nowhere/"}, ""), false},
		{"a bad body accepted", exchange("POST", "/auth/login/", `{"username":1}`, 200, noStore, token), false},
		{"an undocumented status", exchange("POST", "/auth/login/", goodLogin, 418, nil, `{"error":"teapot","detail":"No."}`), false},
		{"a code of another status", exchange("POST", "/auth/login/", goodLogin, 400, nil, `{"error":"throttled","detail":"No."}`), false},
		{"a token without its type", exchange("POST", "/auth/login/", goodLogin, 200, noStore, `{"access_token":"x","expires_in":900}`), false},
		{"a token answer that may be cached", exchange("POST", "/auth/login/", goodLogin, 200, nil, token), false},
		{"429 without Retry-After", exchange("POST", "/auth/login/", goodLogin, 429, nil, `{"error":"throttled","detail":"Wait."}`), false},
		{"401 without WWW-Authenticate", exchange("GET", "/auth/me/", "", 401, nil, `{"error":"invalid_token","detail":"No."}`), false},
		{"an unknown path answered 200", exchange("GET", "/nowhere", "", 200, nil, `{}`), false},
		{"a 404 that is not the JSON error", exchange("GET", "/nowhere", "", 404, map[string]string{"Content-Type": "text/plain"}, "404 page not found"), false},
		{"a user with a field too many", exchange("GET", "/auth/me/", "", 200, nil, `{"id":1,"username":"a","email":"","intra_login":null,"created_at":"2026-11-28T12:00:00Z","two_factor":false,"password":"x"}`), false},
		{"an error without detail", exchange("POST", "/auth/register/", `{"username":"alice","password":"alice-password"}`, 409, nil, `{"error":"username_taken"}`), false},
	} {
		err := v.Check(tc.ex)
		if tc.ok && err != nil {
			t.Errorf("%s: %v, want it to pass", tc.name, err)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s: passed, want an error", tc.name)
		}
	}
}
