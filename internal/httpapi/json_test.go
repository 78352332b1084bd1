package httpapi

import "testing"

// TestBodiesMustBeUTF8: bytes that are not UTF-8, and escaped lone
// surrogates, would reach the handlers as U+FFFD, so that different
// passwords hashed alike; register and login refuse them, and accept
// real UTF-8 and escaped surrogate pairs.
func TestBodiesMustBeUTF8(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, generous)
	for _, tc := range []struct {
		name, path, body string
		want             string
	}{
		{"raw bytes in a password", "/auth/register/", "{\"username\":\"alice\",\"password\":\"pw-\xff\xfe-long-enough\"}", codeInvalidRequest},
		{"raw bytes in a username", "/auth/login/", "{\"username\":\"al\xc3\",\"password\":\"long-enough\"}", codeInvalidRequest},
		{"overlong encoding", "/auth/login/", "{\"username\":\"alice\",\"password\":\"\xc0\xafslash\"}", codeInvalidRequest},
		{"lone high surrogate", "/auth/register/", `{"username":"bob","password":"pw-\ud800-long-enough"}`, codeInvalidRequest},
		{"lone low surrogate", "/auth/login/", `{"username":"bob","password":"pw-\udc00-long-enough"}`, codeInvalidRequest},
		{"high then no low", "/auth/login/", `{"username":"bob","password":"\ud83d\u0041-long-enough"}`, codeInvalidRequest},
		{"surrogate in an email", "/auth/register/", `{"username":"carol","password":"long-enough","email":"c\udfff@x.y"}`, codeInvalidRequest},
		{"escaped backslash before u", "/auth/login/", `{"username":"bob","password":"\\ud800-is-text"}`, codeInvalidCredentials},
		{"a pair", "/auth/login/", `{"username":"bob","password":"rocket-\ud83d\ude80"}`, codeInvalidCredentials},
		{"real UTF-8", "/auth/login/", `{"username":"bob","password":"zoë-🚀-password"}`, codeInvalidCredentials},
	} {
		r := e.do(t, request{method: "POST", path: tc.path, body: tc.body})
		if r.code() != tc.want {
			t.Errorf("%s: %s = %d %s, want %s", tc.name, tc.path, r.status, r.raw, tc.want)
		}
	}
	users, err := e.store.ListUsers(t.Context())
	if err != nil || len(users) != 0 {
		t.Errorf("users after refused registrations: %v, %v; want none", users, err)
	}
}
