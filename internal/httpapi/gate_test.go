package httpapi

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/config"
	"authd/internal/throttle"
	"authd/internal/token"
)

// gateHeaders are the headers the gate answers with.
func gateHeaders(h http.Header) map[string]string {
	return map[string]string{
		"X-Auth-User-Id":    h.Get("X-Auth-User-Id"),
		"X-Auth-Username":   h.Get("X-Auth-Username"),
		"X-Auth-Session-Id": h.Get("X-Auth-Session-Id"),
	}
}

func TestGate(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	u := e.mustUser(t, "Alice", "alice-password")
	access, _ := e.mustLogin(t, "alice", "alice-password")
	c, err := e.tokens.Verify(access, token.Access)
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"GET", "HEAD"} {
		r := e.do(t, request{method: method, path: "/auth/verify/", bearer: access})
		if r.status != 200 || r.raw != "" {
			t.Fatalf("%s /auth/verify/ = %d %q, want 200 and no body", method, r.status, r.raw)
		}
		want := map[string]string{"X-Auth-User-Id": strconv.FormatInt(u.ID, 10), "X-Auth-Username": "Alice", "X-Auth-Session-Id": c.SessionID}
		if diff := cmp.Diff(want, gateHeaders(r.header)); diff != "" {
			t.Errorf("%s: headers (-want +got):\n%s", method, diff)
		}
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control = %q, want no-store", method, got)
		}
		for _, k := range browserHeaders {
			if v := r.header.Get(k); v != "" {
				t.Errorf("%s: the proxy's answer carries %s: %q, for browsers", method, k, v)
			}
		}
		if len(r.setRaw) != 0 {
			t.Errorf("%s: Set-Cookie %q", method, r.setRaw)
		}
	}
	// A refusal, which a proxy may pass on to the browser, keeps them.
	if r := e.do(t, request{method: "GET", path: "/auth/verify/", bearer: "nope"}); r.status != 401 || r.header.Get("X-Frame-Options") != "DENY" ||
		r.header.Get("Content-Security-Policy") == "" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("refused /auth/verify/ = %d with headers %v, want 401 with the browsers' headers", r.status, r.header)
	}
	for _, method := range []string{"POST", "PUT", "DELETE"} {
		r := e.do(t, request{method: method, path: "/auth/verify/", bearer: access})
		if r.status != 405 || r.code() != codeMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /auth/verify/ = %d %s Allow %q, want 405 with Allow GET, HEAD", method, r.status, r.raw, r.header.Get("Allow"))
		}
	}

	// Logout is honoured at once.
	if r := e.do(t, request{method: "POST", path: "/auth/logout/", bearer: access}); r.status != 200 {
		t.Fatalf("logout = %d %s", r.status, r.raw)
	}
	r := e.do(t, request{method: "GET", path: "/auth/verify/", bearer: access})
	if r.status != 401 || r.code() != codeInvalidToken || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("the gate after logout = %d %s, WWW-Authenticate %q; want 401 invalid_token", r.status, r.raw, r.header.Get("WWW-Authenticate"))
	}
	if diff := cmp.Diff(map[string]string{"X-Auth-User-Id": "", "X-Auth-Username": "", "X-Auth-Session-Id": ""}, gateHeaders(r.header)); diff != "" {
		t.Errorf("headers of a refusal (-want +got):\n%s", diff)
	}
}

// TestGateRefuses is the table of tokens the gate refuses: each a 401
// with the contract's JSON, no cookie set, no header of a user, and
// nothing changed: the live session still passes afterwards.
func TestGateRefuses(t *testing.T) {
	t.Parallel()
	e := newIntraEnv(t, func(c *config.Config) { c.Audience = []string{"api"} })
	u := e.mustUser(t, "alice", "alice-password")
	access, refresh := e.mustLogin(t, "alice", "alice-password")
	api := e.mustIdentity(t, "jdoe").Value
	hdr, claims := parts(t, access)
	c, err := e.tokens.Verify(access, token.Access)
	if err != nil {
		t.Fatal(err)
	}
	sub, sid := strconv.FormatInt(u.ID, 10), c.SessionID
	now := e.clock.Now().Unix()
	times := `"iat":` + strconv.FormatInt(now, 10) + `,"exp":` + strconv.FormatInt(now+300, 10)
	mfaClaims := `{"iss":"authd","sub":"` + sub + `","sid":"` + sid + `","jti":"m1",` + times + `,"token_type":"mfa"}`
	mfaKey := token.DeriveKey([]byte(testSecret), "mfa")
	without := func(name string) string {
		return strings.Replace(claims, `"aud":"api",`, map[string]string{"aud": "", "foreign": `"aud":"other",`}[name], 1)
	}
	accessKey := token.DeriveKey([]byte(testSecret), token.Access)
	expired, _, err := mustIssuer(t, e.clock.Now().Add(-time.Hour)).Sign(c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(claims, `"aud":"api",`) {
		t.Fatalf("access token claims %s carry no aud", claims)
	}

	tests := []struct {
		name   string
		header map[string]string
	}{
		{"no Authorization", nil},
		{"Basic", map[string]string{"Authorization": "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="}},
		{"garbage", map[string]string{"Authorization": "Bearer garbage"}},
		{"the refresh token", map[string]string{"Authorization": "Bearer " + refresh.Value}},
		{"the api_token", map[string]string{"Authorization": "Bearer " + api}},
		{"an mfa token, signed with the mfa key", map[string]string{"Authorization": "Bearer " + forge(`{"alg":"HS256","typ":"JWT"}`, mfaClaims, mfaKey, sha256.New)}},
		{"an mfa token, signed with the access key", map[string]string{"Authorization": "Bearer " + forge(hdr, mfaClaims, accessKey, sha256.New)}},
		{"access claims signed with the secret itself", map[string]string{"Authorization": "Bearer " + forge(`{"alg":"HS256","typ":"JWT"}`, claims, []byte(testSecret), sha256.New)}},
		{"aud missing", map[string]string{"Authorization": "Bearer " + forge(hdr, without("aud"), accessKey, sha256.New)}},
		{"aud foreign", map[string]string{"Authorization": "Bearer " + forge(hdr, without("foreign"), accessKey, sha256.New)}},
		{"alg none", map[string]string{"Authorization": "Bearer " + forge(`{"alg":"none","typ":"JWT"}`, claims, nil, nil)}},
		{"expired", map[string]string{"Authorization": "Bearer " + expired}},
		{"over 4 KiB", map[string]string{"Authorization": "Bearer " + strings.Repeat("A", 5000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, request{method: "GET", path: "/auth/verify/", header: tc.header})
			if r.status != 401 || r.code() != codeInvalidToken || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("gate = %d %s, WWW-Authenticate %q; want 401 invalid_token", r.status, r.raw, r.header.Get("WWW-Authenticate"))
			}
			if len(r.setRaw) != 0 || gateHeaders(r.header)["X-Auth-User-Id"] != "" {
				t.Errorf("a refusal sets %q, headers %v", r.setRaw, gateHeaders(r.header))
			}
		})
	}
	// Nothing changed: the session, its refresh token and the api_token
	// are as they were.
	if r := e.do(t, request{method: "GET", path: "/auth/verify/", bearer: access}); r.status != 200 {
		t.Errorf("the gate with the session's access token after the refusals = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{refresh}}); r.status != 200 {
		t.Errorf("refresh after the refusals = %d %s", r.status, r.raw)
	}
	if r := e.do(t, request{method: "POST", path: "/oauth2/intra/login/", cookies: []*http.Cookie{{Name: cookieAPI, Value: api}}}); r.status != 200 {
		t.Errorf("intra login with the api_token after the refusals = %d %s", r.status, r.raw)
	}
}

// TestGateNotThrottled: a proxy asks the gate for every request, so even
// with every scope at 1/minute it answers them all.
func TestGateNotThrottled(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) {
		for _, s := range config.Scopes {
			c.Rates[s] = throttle.Rate{N: 1, Period: time.Minute}
		}
	})
	e.mustUser(t, "alice", "alice-password")
	access, _ := e.mustLogin(t, "alice", "alice-password")
	for i := range 50 {
		if r := e.do(t, request{method: "GET", path: "/auth/verify/", bearer: access}); r.status != 200 {
			t.Fatalf("call %d = %d %s", i+1, r.status, r.raw)
		}
	}
}

// TestGateDisabledUser: disabling a user closes the gate to their tokens.
func TestGateDisabledUser(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, nil)
	u := e.mustUser(t, "alice", "alice-password")
	access, _ := e.mustLogin(t, "alice", "alice-password")
	if err := e.store.SetDisabled(context.Background(), u.ID, true, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, request{method: "GET", path: "/auth/verify/", bearer: access}); r.status != 401 {
		t.Errorf("the gate for a disabled user = %d %s, want 401", r.status, r.raw)
	}
}
