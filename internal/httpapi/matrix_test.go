package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"strings"
	"testing"
	"time"

	"authd/internal/config"
	"authd/internal/throttle"
	"authd/internal/token"
)

// outcome is the status and error code of an answer; code is "" for a
// success.
type outcome struct {
	status int
	code   string
}

// matrixEndpoint is an endpoint of the contract and its answer to a
// request with no credentials and no usable body.
type matrixEndpoint struct {
	method, path string
	base         outcome
}

var matrixEndpoints = []matrixEndpoint{
	{"POST", "/auth/login/", outcome{400, codeInvalidRequest}},
	{"POST", "/auth/register/", outcome{400, codeInvalidRequest}},
	{"POST", "/auth/refresh/", outcome{400, codeInvalidRefreshToken}},
	{"POST", "/auth/logout/", outcome{401, codeInvalidToken}},
	{"GET", "/auth/me/", outcome{401, codeInvalidToken}},
	{"GET", "/oauth2/intra/url/", outcome{200, ""}},
	{"GET", "/oauth2/intra/callback/", outcome{403, codeInvalidState}},
	{"POST", "/oauth2/intra/login/", outcome{400, codeInvalidAPIToken}},
	{"POST", "/oauth2/intra/link/", outcome{401, codeInvalidToken}},
	{"DELETE", "/oauth2/intra/link/", outcome{401, codeInvalidToken}},
	{"GET", "/auth/sessions/", outcome{401, codeInvalidToken}},
	{"DELETE", "/auth/sessions/" + strings.Repeat("9", 10<<10) + "/", outcome{401, codeInvalidToken}},
	{"DELETE", "/auth/sessions/not-a-session/", outcome{401, codeInvalidToken}},
	{"POST", "/auth/password/", outcome{401, codeInvalidToken}},
	{"POST", "/auth/login/mfa/", outcome{400, codeInvalidRequest}},
	{"POST", "/auth/2fa/totp/setup/", outcome{401, codeInvalidToken}},
	{"POST", "/auth/2fa/totp/confirm/", outcome{401, codeInvalidToken}},
	{"POST", "/auth/2fa/totp/disable/", outcome{401, codeInvalidToken}},
	{"POST", "/auth/2fa/recovery-codes/", outcome{401, codeInvalidToken}},
	{"GET", "/healthz", outcome{200, ""}},
	{"GET", "/readyz", outcome{200, ""}},
}

// badInput is one kind of hostile request, sent to every endpoint.
type badInput struct {
	name string
	// body, contentType (when set, even to ""), authorization, cookie and
	// query make the request; the headers are sent as they are.
	body          string
	contentType   *string
	authorization string
	cookie        string
	query         string
	// want overrides an endpoint's base answer, by path.
	want map[string]outcome
}

func ptr(s string) *string { return &s }

// forge signs header and claims with key under h, as a token of ours
// would be were its header ours.
func forge(header, claims string, key []byte, h func() hash.Hash) string {
	b64 := base64.RawURLEncoding
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
	if h == nil {
		return in + "."
	}
	m := hmac.New(h, key)
	m.Write([]byte(in))
	return in + "." + b64.EncodeToString(m.Sum(nil))
}

// parts returns the header and claims of a token, decoded.
func parts(t *testing.T, tok string) (header, claims string) {
	t.Helper()
	seg := strings.Split(tok, ".")
	h, err1 := base64.RawURLEncoding.DecodeString(seg[0])
	c, err2 := base64.RawURLEncoding.DecodeString(seg[1])
	if len(seg) != 3 || err1 != nil || err2 != nil {
		t.Fatalf("token %q does not split", tok)
	}
	return string(h), string(c)
}

// nonCanonical re-encodes a token's signature with its unused trailing
// bits set: the same bytes for a lenient decoder, not for ours.
func nonCanonical(tok string) string {
	last := tok[len(tok)-1]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return tok[:len(tok)-1] + string(alphabet[strings.IndexByte(alphabet, last)|1])
}

// TestBadInputMatrix sends every endpoint every kind of hostile input
// and checks that each answer is the contract's: its status and JSON
// error (never a 5xx), and that the server then answers a normal login
// and /auth/me/ as usual.
func TestBadInputMatrix(t *testing.T) {
	t.Parallel()
	// Every request is followed by a login: more than generous's rate.
	e := newIntraEnv(t, func(c *config.Config) { c.Rates[config.ScopeLogin] = throttle.Rate{N: 100000, Period: time.Minute} })
	e.mustUser(t, "alice", "alice-password")
	canary, _ := e.mustLogin(t, "alice", "alice-password")
	access, refreshCookie := e.mustLogin(t, "alice", "alice-password")
	refresh := refreshCookie.Value
	api := e.mustIdentity(t, "jdoe").Value

	hdr, accessClaims := parts(t, access)
	_, refreshClaims := parts(t, refresh)
	key := token.DeriveKey([]byte(testSecret), token.Access)
	var kid struct {
		Kid string `json:"kid"`
	}
	json.Unmarshal([]byte(hdr), &kid)
	pad := `{"pad":"` + strings.Repeat("x", 4096) + `",` + accessClaims[1:]
	overlong := forge(hdr, pad, key, sha256.New)
	none := forge(`{"alg":"none","typ":"JWT"}`, accessClaims, nil, nil)
	hs512 := forge(`{"alg":"HS512","typ":"JWT","kid":"`+kid.Kid+`"}`, accessClaims, key, sha512.New)
	otherKey := forge(hdr, accessClaims, []byte("another-signing-key-of-32-bytes-or-more"), sha256.New)
	expired, _, err := mustIssuer(t, e.clock.Now().Add(-time.Hour)).Sign(claimsOf(t, e, access), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("A", 4096)

	valid := `{"username":"alice","password":"alice-password"}`
	bodyOnly := func(status int, code string) map[string]outcome {
		return map[string]outcome{"/auth/login/": {status, code}, "/auth/register/": {status, code}, "/auth/login/mfa/": {status, code}}
	}
	// A JSON object without a string mfa_token is refused for its token
	// by the mfa step.
	noMFAToken := map[string]outcome{"/auth/login/mfa/": {400, codeInvalidMFAToken}}
	inputs := []badInput{
		{name: "no body", contentType: ptr("application/json")},
		{name: "empty JSON", body: `{}`, want: noMFAToken},
		{name: "malformed JSON", body: `{"username":"alice","password":`},
		{name: "JSON of the wrong types", body: `{"username":["alice"],"password":{"$ne":null},"email":7}`, want: noMFAToken},
		{name: "JSON nulls", body: `{"username":null,"password":null,"email":null}`, want: noMFAToken},
		{name: "a JSON null", body: `null`, want: noMFAToken},
		{name: "a JSON array", body: `[` + valid + `]`},
		{name: "duplicate keys", body: `{"username":"bob","username":"alice","password":"alice-password","password":"alice-password"}`},
		{name: "duplicate keys in another case", body: `{"username":"alice","USERNAME":"alice","password":"alice-password"}`},
		{name: "trailing data", body: valid + ` {}`},
		{name: "10 MiB body", body: `{"username":"alice","password":"` + strings.Repeat("p", 10<<20) + `"}`,
			want: bodyOnly(413, codeRequestTooLarge)},
		{name: "100 KiB username", body: `{"username":"` + strings.Repeat("u", 100<<10) + `","password":"alice-password"}`,
			want: bodyOnly(413, codeRequestTooLarge)},
		{name: "60 KiB username", body: `{"username":"` + strings.Repeat("u", 60<<10) + `","password":"alice-password"}`, want: noMFAToken},
		{name: "1025-byte password", body: `{"username":"alice","password":"` + strings.Repeat("p", 1025) + `"}`, want: noMFAToken},
		{name: "escaped NUL bytes", body: `{"username":"ali\u0000ce","password":"alice-pass\u0000word"}`,
			want: map[string]outcome{"/auth/login/": {400, codeInvalidCredentials}, "/auth/login/mfa/": {400, codeInvalidMFAToken}}},
		{name: "raw NUL bytes", body: "{\"username\":\"ali\x00ce\",\"password\":\"alice-password\"}"},
		{name: "invalid UTF-8", body: "{\"username\":\"\xff\xfe\xfd\",\"password\":\"\xc3\x28-password\"}"},
		{name: "an escaped lone surrogate", body: `{"username":"alice","password":"\ud800-password"}`},
		{name: "a byte-order mark", body: "\xef\xbb\xbf" + valid},

		{name: "text/plain", body: valid, contentType: ptr("text/plain")},
		{name: "a form", body: "username=alice&password=alice-password", contentType: ptr("application/x-www-form-urlencoded")},
		{name: "multipart", body: "--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--b--\r\n", contentType: ptr("multipart/form-data; boundary=b")},
		{name: "no content type", body: valid, contentType: ptr("")},
		{name: "a JSON-like content type", body: valid, contentType: ptr("application/json-patch+json")},
		{name: "a broken content type", body: valid, contentType: ptr("application/json; =")},

		{name: "overlong tokens", authorization: "Bearer " + overlong, cookie: "refresh_token=" + overlong + "; api_token=" + overlong},
		{name: "non-canonical tokens", authorization: "Bearer " + nonCanonical(access), cookie: "refresh_token=" + nonCanonical(refresh) + "; api_token=" + nonCanonical(api)},
		{name: "padded tokens", authorization: "Bearer " + access + "=", cookie: "refresh_token=" + refresh + "==; api_token=" + api + "="},
		{name: "alg none", authorization: "Bearer " + none, cookie: "refresh_token=" + forge(`{"alg":"none"}`, refreshClaims, nil, nil) + "; api_token=" + none},
		{name: "alg HS512", authorization: "Bearer " + hs512, cookie: "refresh_token=" + forge(`{"alg":"HS512","typ":"JWT","kid":"`+kid.Kid+`"}`, refreshClaims, key, sha512.New) + "; api_token=" + hs512},
		{name: "another key's tokens", authorization: "Bearer " + otherKey, cookie: "refresh_token=" + forge(hdr, refreshClaims, []byte("another-signing-key-of-32-bytes-or-more"), sha256.New)},
		{name: "expired tokens", authorization: "Bearer " + expired, cookie: "refresh_token=" + expired},
		{name: "refresh token as access token", authorization: "Bearer " + refresh},
		{name: "access token as refresh token", cookie: "refresh_token=" + access},
		{name: "api_token as access and refresh token", authorization: "Bearer " + api, cookie: "refresh_token=" + api},
		{name: "access and refresh tokens as api_token", cookie: "api_token=" + access + "; refresh_token=" + api},
		{name: "refresh token as api_token", cookie: "api_token=" + refresh},
		{name: "4 KiB cookie values", authorization: "Bearer " + big, cookie: "refresh_token=" + big + "; api_token=" + big + "; state_token=" + big, query: "state=" + big,
			want: map[string]outcome{"/oauth2/intra/callback/": {403, codeAccessDenied}}},
		{name: "NUL bytes and invalid UTF-8 in credentials", authorization: "Bearer a\x00b.\xff.c", cookie: "refresh_token=\x00\xff; api_token=\xc3\x28; state_token=\x00", query: "state=%00&code=%ff"},
		{name: "the wrong authorization scheme", authorization: "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="},
		{name: "an empty Bearer", authorization: "Bearer ", cookie: "refresh_token=; api_token=; state_token=", query: "state=&code="},
	}

	cells := 0
	check := func(t *testing.T, what string, r response, want outcome) {
		t.Helper()
		cells++
		if r.status >= 500 {
			t.Errorf("%s: %d %s", what, r.status, r.raw)
			return
		}
		if r.status != want.status || r.code() != want.code {
			t.Errorf("%s: %d %q, want %d %q (%s)", what, r.status, r.code(), want.status, want.code, truncate(r.raw))
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", what, ct)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", what, r.header)
		}
		if r.status >= 400 {
			if d, _ := r.body["detail"].(string); d == "" {
				t.Errorf("%s: error without a detail: %s", what, truncate(r.raw))
			}
			if statusOf[r.code()] != r.status {
				t.Errorf("%s: error %q with status %d", what, r.code(), r.status)
			}
		}
		if r.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%s: 401 without WWW-Authenticate: Bearer", what)
		}
		// Then the server answers normally.
		if r := e.do(t, request{method: "GET", path: "/auth/me/", bearer: canary}); r.status != 200 || r.body["username"] != "alice" {
			t.Fatalf("after %s: /auth/me/ = %d %s", what, r.status, truncate(r.raw))
		}
		if r := e.do(t, request{method: "POST", path: "/auth/login/", body: valid}); r.status != 200 {
			t.Fatalf("after %s: login = %d %s", what, r.status, truncate(r.raw))
		}
	}

	for _, in := range inputs {
		for _, ep := range matrixEndpoints {
			rq := request{method: ep.method, path: ep.path, body: in.body, header: map[string]string{}}
			if in.contentType != nil {
				rq.header["Content-Type"] = *in.contentType
			}
			if in.authorization != "" {
				rq.header["Authorization"] = in.authorization
			}
			if in.cookie != "" {
				rq.header["Cookie"] = in.cookie
			}
			if in.query != "" {
				rq.path += "?" + in.query
			}
			want := ep.base
			if o, ok := in.want[ep.path]; ok {
				want = o
			}
			check(t, in.name+" to "+ep.method+" "+ep.path, e.do(t, rq), want)
		}
	}

	// The one input that carries a live Bearer token: an access token as
	// api_token. Each endpoint gets a session of its own, since logout
	// ends it.
	for _, ep := range matrixEndpoints {
		tok, _ := e.mustLogin(t, "alice", "alice-password")
		want := ep.base
		switch ep.path {
		case "/auth/logout/", "/auth/me/":
			want = outcome{200, ""}
		case "/oauth2/intra/link/":
			want = outcome{400, codeInvalidAPIToken}
			if ep.method == "DELETE" {
				want = outcome{400, codeNotLinked}
			}
		case "/auth/sessions/":
			want = outcome{200, ""}
		case "/auth/password/", "/auth/2fa/totp/confirm/", "/auth/2fa/totp/disable/", "/auth/2fa/recovery-codes/":
			want = outcome{400, codeInvalidRequest}
		case "/auth/2fa/totp/setup/":
			want = outcome{200, ""}
		}
		if strings.HasPrefix(ep.path, "/auth/sessions/") && ep.path != "/auth/sessions/" {
			want = outcome{404, codeNotFound}
		}
		r := e.do(t, request{method: ep.method, path: ep.path, bearer: tok, header: map[string]string{"Cookie": "api_token=" + tok}})
		check(t, "access token as api_token, with a Bearer, to "+ep.method+" "+ep.path, r, want)
	}

	// Wrong methods: 405 with Allow.
	served := map[string]map[string]bool{}
	for _, ep := range matrixEndpoints {
		if served[ep.path] == nil {
			served[ep.path] = map[string]bool{}
		}
		served[ep.path][ep.method] = true
	}
	for _, ep := range matrixEndpoints {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
			if served[ep.path][m] {
				continue
			}
			r := e.do(t, request{method: m, path: ep.path, body: valid})
			check(t, m+" "+ep.path, r, outcome{405, codeMethodNotAllowed})
			if !strings.Contains(r.header.Get("Allow"), ep.method) {
				t.Errorf("%s %s: Allow %q", m, ep.path, r.header.Get("Allow"))
			}
		}
	}
	t.Logf("%d requests, each an expected answer followed by two normal ones", cells)
}

// claimsOf returns the claims of one of the env's tokens.
func claimsOf(t *testing.T, e *intraEnv, tok string) token.Claims {
	t.Helper()
	c, err := e.tokens.Verify(tok, token.Access)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// TestRepeatedKeys checks decode's refusal of a key given twice, keys
// compared as encoding/json matches them.
func TestRepeatedKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want string
	}{
		{`{"a":1,"b":2}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"user":{"x":1,"x":2},"name":[1,{"y":2}]}`, ""}, // only the request's own fields
		{`{"username":"a","UserName":"b"}`, "UserName"},
		{`{"k":1,"\u212a":2}`, "\u212a"}, // the Kelvin sign folds to k
		{`{"s":1,"\u017f":2}`, "\u017f"}, // and the long s to s
		{`{"\u00e9":1,"\u00c9":2}`, "\u00c9"},
	} {
		got, ok := repeatedKey([]byte(tc.body))
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("repeatedKey(%s) = %q, %v; want %q", tc.body, got, ok, tc.want)
		}
	}
	e := newTestEnv(t, generous)
	r := e.do(t, request{method: "POST", path: "/auth/register/", body: `{"username":"mallory","password":"a-password","Username":"admin"}`})
	if r.status != 400 || r.code() != codeInvalidRequest {
		t.Errorf("register with a repeated key = %d %s", r.status, r.raw)
	}
}
