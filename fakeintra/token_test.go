package fakeintra_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
	"authd/internal/clock"
)

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestTokenSuccess(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, nil)
	code := mustCode(t, s, "jdoe")
	clk.Advance(30 * time.Second)
	w := postToken(s, exchangeForm(code))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	wantHeader := map[string]string{
		"Content-Type":  "application/json; charset=utf-8",
		"Cache-Control": "no-store",
		"Pragma":        "no-cache",
	}
	for k, v := range wantHeader {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	raw := w.Body.String()
	wantOrder := regexp.MustCompile(`^\{"access_token":"[0-9a-f]{64}","token_type":"bearer","expires_in":7200,"refresh_token":"[0-9a-f]{64}","scope":"public","created_at":1698230691,"secret_valid_until":1700649861\}$`)
	if !wantOrder.MatchString(raw) {
		t.Errorf("body %s does not match %s", raw, wantOrder)
	}
	tok := mustDecode[tokenBody](t, strings.NewReader(raw))
	if tok.AccessToken == tok.RefreshToken {
		t.Error("access and refresh tokens are equal")
	}
}

// clientAuth is a way of sending a token request's fields and client
// credentials that real clients use.
type clientAuth struct {
	name  string
	build func(fields url.Values, id, secret string) *http.Request
}

var clientAuths = []clientAuth{
	{"form", func(f url.Values, id, secret string) *http.Request {
		f.Set("client_id", id)
		f.Set("client_secret", secret)
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}},
	{"form with charset", func(f url.Values, id, secret string) *http.Request {
		f.Set("client_id", id)
		f.Set("client_secret", secret)
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
		return r
	}},
	{"multipart", func(f url.Values, id, secret string) *http.Request {
		f.Set("client_id", id)
		f.Set("client_secret", secret)
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for k := range f {
			mw.WriteField(k, f.Get(k))
		}
		mw.Close()
		r := httptest.NewRequest("POST", "/oauth/token", &b)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		return r
	}},
	{"json", func(f url.Values, id, secret string) *http.Request {
		m := map[string]string{"client_id": id, "client_secret": secret}
		for k := range f {
			m[k] = f.Get(k)
		}
		body, _ := json.Marshal(m)
		r := httptest.NewRequest("POST", "/oauth/token", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}},
	{"query", func(f url.Values, id, secret string) *http.Request {
		f.Set("client_id", id)
		f.Set("client_secret", secret)
		return httptest.NewRequest("POST", "/oauth/token?"+f.Encode(), nil)
	}},
	{"basic", func(f url.Values, id, secret string) *http.Request {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(id, secret)
		return r
	}},
	{"basic over wrong fields", func(f url.Values, id, secret string) *http.Request {
		f.Set("client_id", otherApp.ID)
		f.Set("client_secret", "wrong")
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(id, secret)
		return r
	}},
}

func TestTokenClientAuthentication(t *testing.T) {
	t.Parallel()
	for _, ca := range clientAuths {
		t.Run(ca.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newFake(t, nil)
			for _, tc := range []struct {
				name       string
				id, secret string
				wantStatus int
				wantError  string
			}{
				{"right secret", app.ID, app.Secret, http.StatusOK, ""},
				{"wrong secret", app.ID, otherApp.Secret, http.StatusUnauthorized, "invalid_client"},
				{"empty secret", app.ID, "", http.StatusUnauthorized, "invalid_client"},
				{"unknown client", "u-s4t2ud-nobody", app.Secret, http.StatusUnauthorized, "invalid_client"},
			} {
				fields := url.Values{
					"grant_type":   {"authorization_code"},
					"code":         {mustCode(t, s, "jdoe")},
					"redirect_uri": {callback},
				}
				w := serve(s, ca.build(fields, tc.id, tc.secret))
				if w.Code != tc.wantStatus {
					t.Errorf("%s: status %d, want %d: %s", tc.name, w.Code, tc.wantStatus, w.Body)
					continue
				}
				if tc.wantError != "" {
					if got := mustDecode[struct{ Error string }](t, w.Body).Error; got != tc.wantError {
						t.Errorf("%s: error %q, want %q", tc.name, got, tc.wantError)
					}
					continue
				}
				if tok := mustDecode[tokenBody](t, w.Body); !hex64.MatchString(tok.AccessToken) {
					t.Errorf("%s: access token %q", tc.name, tok.AccessToken)
				}
			}
		})
	}
}

const (
	invalidGrant  = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
	invalidClient = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
	invalidReq    = "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed."
	badGrantType  = "The authorization grant type is not supported by the authorization server."
)

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare returns the request's form, given a fake and its clock.
		prepare  func(t *testing.T, s *fakeintra.Server, clk *clock.Fake) url.Values
		wantErr  string
		wantDesc string
	}{
		{"code reused", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) url.Values {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			if w := postToken(s, f); w.Code != http.StatusOK {
				t.Fatalf("first use: status %d", w.Code)
			}
			return f
		}, "invalid_grant", invalidGrant},
		{"redirect uri mismatch", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) url.Values {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Set("redirect_uri", callbackAlt)
			return f
		}, "invalid_grant", invalidGrant},
		{"redirect uri with a trailing difference", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) url.Values {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Set("redirect_uri", strings.TrimSuffix(callback, "/"))
			return f
		}, "invalid_grant", invalidGrant},
		{"code expired", func(t *testing.T, s *fakeintra.Server, clk *clock.Fake) url.Values {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			clk.Advance(fakeintra.CodeTTL + time.Second)
			return f
		}, "invalid_grant", invalidGrant},
		{"code of another client", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) url.Values {
			q := authorizeQuery("client_id", otherApp.ID, "redirect_uri", otherApp.RedirectURIs[0], "login", "jdoe", "consent", "authorize")
			code := mustLocation(t, getAuthorize(s, q)).Query().Get("code")
			return exchangeForm(code)
		}, "invalid_grant", invalidGrant},
		{"unknown code", func(*testing.T, *fakeintra.Server, *clock.Fake) url.Values {
			return exchangeForm(strings.Repeat("ab", 32))
		}, "invalid_grant", invalidGrant},
		{"no code", func(*testing.T, *fakeintra.Server, *clock.Fake) url.Values {
			f := exchangeForm("")
			f.Del("code")
			return f
		}, "invalid_grant", invalidGrant},
		{"no redirect uri", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) url.Values {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Del("redirect_uri")
			return f
		}, "invalid_request", invalidReq},
		{"wrong secret", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) url.Values {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Set("client_secret", app.Secret+"x")
			return f
		}, "invalid_client", invalidClient},
		{"no client authentication", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) url.Values {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Del("client_id")
			f.Del("client_secret")
			return f
		}, "invalid_client", invalidClient},
		{"unknown grant type", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) url.Values {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Set("grant_type", "password")
			return f
		}, "unsupported_grant_type", badGrantType},
		{"no grant type", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) url.Values {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Del("grant_type")
			return f
		}, "invalid_request", invalidReq},
		{"bad refresh token", func(*testing.T, *fakeintra.Server, *clock.Fake) url.Values {
			return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {app.ID}, "client_secret": {app.Secret}}
		}, "invalid_grant", invalidGrant},
		{"client credentials with an unknown scope", func(*testing.T, *fakeintra.Server, *clock.Fake) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "scope": {"root"}, "client_id": {app.ID}, "client_secret": {app.Secret}}
		}, "invalid_scope", "The requested scope is invalid, unknown, or malformed."},
	}
	for _, status := range []int{0, http.StatusBadRequest} {
		for _, tt := range tests {
			t.Run(tt.name+"/"+http.StatusText(status), func(t *testing.T) {
				t.Parallel()
				s, clk := newFake(t, func(o *fakeintra.Options) { o.TokenErrorStatus = status })
				w := postToken(s, tt.prepare(t, s, clk))
				wantStatus := http.StatusUnauthorized
				if status == http.StatusBadRequest && tt.wantErr != "invalid_client" {
					wantStatus = http.StatusBadRequest
				}
				if w.Code != wantStatus {
					t.Errorf("status %d, want %d", w.Code, wantStatus)
				}
				wantBody := `{"error":"` + tt.wantErr + `","error_description":"` + tt.wantDesc + `"}`
				if got := w.Body.String(); got != wantBody {
					t.Errorf("body\n got %s\nwant %s", got, wantBody)
				}
				wantHeader := map[string]string{
					"WWW-Authenticate": `Bearer realm="42 API", error="` + tt.wantErr + `", error_description="` + tt.wantDesc + `"`,
					"Content-Type":     "application/json; charset=utf-8",
					"Cache-Control":    "no-store",
					"Pragma":           "no-cache",
				}
				for k, v := range wantHeader {
					if got := w.Header().Get(k); got != v {
						t.Errorf("%s:\n got %q\nwant %q", k, got, v)
					}
				}
			})
		}
	}
}

func TestTokenMalformedBodies(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	for _, tc := range []struct{ ct, body string }{
		{"application/json", `{"grant_type":`},
		{"application/json", `[1,2]`},
		{"multipart/form-data; boundary=x", "garbage"},
		{"application/x-www-form-urlencoded", "a=%zz"},
		{"application/x-www-form-urlencoded", "grant_type=" + strings.Repeat("a", 2<<20)},
	} {
		r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", tc.ct)
		w := serve(s, r)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"invalid_request"`) {
			t.Errorf("%s %.20q: status %d, body %.200s", tc.ct, tc.body, w.Code, w.Body)
		}
	}
}

func TestCodeLifetime(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, nil)
	code := mustCode(t, s, "jdoe")
	clk.Advance(fakeintra.CodeTTL)
	if w := postToken(s, exchangeForm(code)); w.Code != http.StatusOK {
		t.Errorf("at exactly %v: status %d, want 200", fakeintra.CodeTTL, w.Code)
	}
}

// TestFailedExchangeKeepsCode: as Doorkeeper, a refused exchange does not
// use the code up.
func TestFailedExchangeKeepsCode(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	code := mustCode(t, s, "jdoe")
	bad := exchangeForm(code)
	bad.Set("redirect_uri", callbackAlt)
	if w := postToken(s, bad); w.Code != http.StatusUnauthorized {
		t.Fatalf("mismatch: status %d", w.Code)
	}
	other := exchangeForm(code)
	other.Set("client_id", otherApp.ID)
	other.Set("client_secret", otherApp.Secret)
	if w := postToken(s, other); w.Code != http.StatusUnauthorized {
		t.Fatalf("other client: status %d", w.Code)
	}
	if w := postToken(s, exchangeForm(code)); w.Code != http.StatusOK {
		t.Fatalf("right exchange: status %d: %s", w.Code, w.Body)
	}
}

func TestClientCredentialsAndRefresh(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, nil)

	w := postToken(s, url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ID}, "client_secret": {app.Secret}})
	if w.Code != http.StatusOK {
		t.Fatalf("client credentials: status %d: %s", w.Code, w.Body)
	}
	if body := w.Body.String(); strings.Contains(body, "refresh_token") {
		t.Errorf("client credentials gave a refresh token: %s", body)
	}
	cc := mustDecode[tokenBody](t, w.Body)
	if w := getMe(s, cc.AccessToken); w.Code != http.StatusNotFound {
		t.Errorf("/v2/me with a client token: status %d, want 404", w.Code)
	}

	first := mustToken(t, s, "alice")
	clk.Advance(time.Hour)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}, "client_id": {app.ID}, "client_secret": {app.Secret}}
	w = postToken(s, refresh)
	if w.Code != http.StatusOK {
		t.Fatalf("refresh: status %d: %s", w.Code, w.Body)
	}
	second := mustDecode[tokenBody](t, w.Body)
	if second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken || second.RefreshToken == "" {
		t.Errorf("refresh gave %+v after %+v", second, first)
	}
	if second.CreatedAt != start.Add(time.Hour).Unix() {
		t.Errorf("created_at %d", second.CreatedAt)
	}
	if w := getMe(s, second.AccessToken); w.Code != http.StatusOK {
		t.Errorf("new token: status %d", w.Code)
	}
	w = getMe(s, first.AccessToken)
	if got := w.Header().Get("WWW-Authenticate"); w.Code != http.StatusUnauthorized || !strings.Contains(got, "The access token was revoked") {
		t.Errorf("old token: status %d, WWW-Authenticate %q", w.Code, got)
	}
	if w := postToken(s, refresh); w.Code != http.StatusUnauthorized {
		t.Errorf("refresh token reused: status %d", w.Code)
	}
	other := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}, "client_id": {otherApp.ID}, "client_secret": {otherApp.Secret}}
	if w := postToken(s, other); w.Code != http.StatusUnauthorized {
		t.Errorf("refresh by another client: status %d", w.Code)
	}
}

func TestTokenInfo(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, nil)
	tok := mustToken(t, s, "jdoe")
	clk.Advance(26 * time.Second)
	for _, how := range []string{"header", "parameter"} {
		r := httptest.NewRequest("GET", "/oauth/token/info", nil)
		if how == "header" {
			r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		} else {
			r.URL.RawQuery = "access_token=" + tok.AccessToken
		}
		w := serve(s, r)
		want := `{"resource_owner_id":110423,"scopes":["public"],"expires_in_seconds":7174,"application":{"uid":"` + app.ID + `"},"created_at":1698230661}`
		if w.Code != http.StatusOK || w.Body.String() != want {
			t.Errorf("%s: status %d, body\n got %s\nwant %s", how, w.Code, w.Body, want)
		}
	}

	clk.Advance(fakeintra.TokenTTL)
	for name, token := range map[string]string{"expired": tok.AccessToken, "unknown": "nope"} {
		r := httptest.NewRequest("GET", "/oauth/token/info", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := serve(s, r)
		desc := map[string]string{"expired": "The access token expired", "unknown": "The access token is invalid"}[name]
		want := `{"error":"invalid_token","error_description":"` + desc + `"}`
		if w.Code != http.StatusUnauthorized || w.Body.String() != want {
			t.Errorf("%s: status %d, body %s", name, w.Code, w.Body)
		}
		if got, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="42 API", error="invalid_token", error_description="`+desc+`"`; got != want {
			t.Errorf("%s: WWW-Authenticate %q", name, got)
		}
	}
}

func TestSecretValidUntil(t *testing.T) {
	t.Parallel()
	until := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	s, _ := newFake(t, func(o *fakeintra.Options) {
		c := app
		c.SecretValidUntil = until
		o.Clients = []fakeintra.Client{c}
	})
	tok := mustToken(t, s, "jdoe")
	if diff := cmp.Diff(until.Unix(), tok.SecretValidUntil); diff != "" {
		t.Errorf("secret_valid_until (-want +got):\n%s", diff)
	}
}
