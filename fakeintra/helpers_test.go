package fakeintra_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"authd/fakeintra"
	"authd/internal/clock"
)

const (
	usersPath   = "../testdata/intra/users.json"
	callback    = "http://127.0.0.1:8000/oauth2/intra/callback/"
	callbackAlt = "https://authd.example/oauth2/intra/callback/?tenant=42"
	userAgent   = "authd-test/1"
)

var (
	app = fakeintra.Client{
		ID:           "u-s4t2ud-1111111111111111111111111111111111111111111111111111111111111111",
		Secret:       "s-s4t2ud-2222222222222222222222222222222222222222222222222222222222222222",
		RedirectURIs: []string{callback, callbackAlt},
		Name:         "authd test",
	}
	otherApp = fakeintra.Client{
		ID:           "u-s4t2ud-3333333333333333333333333333333333333333333333333333333333333333",
		Secret:       "s-s4t2ud-4444444444444444444444444444444444444444444444444444444444444444",
		RedirectURIs: []string{"http://127.0.0.1:9000/callback"},
	}
	// start is 2023-10-25T10:44:21Z, the created_at of the provider's
	// documented example.
	start = time.Unix(1698230661, 0).UTC()
)

func mustUsers(t testing.TB) []fakeintra.User {
	t.Helper()
	users, err := fakeintra.LoadUsers(usersPath)
	if err != nil {
		t.Fatal(err)
	}
	return users
}

// newFake returns a fake with app and otherApp, the fixture users and a
// clock at start; edit adjusts its options.
func newFake(t testing.TB, edit func(*fakeintra.Options)) (*fakeintra.Server, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(start)
	opts := fakeintra.Options{
		Clients: []fakeintra.Client{app, otherApp},
		Users:   mustUsers(t),
		Now:     clk.Now,
	}
	if edit != nil {
		edit(&opts)
	}
	s := fakeintra.New(opts)
	t.Cleanup(s.ClearFaults)
	return s, clk
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// authorizeQuery is a valid authorization request of app.
func authorizeQuery(extra ...string) url.Values {
	q := url.Values{
		"client_id":     {app.ID},
		"redirect_uri":  {callback},
		"response_type": {"code"},
		"scope":         {"public"},
		"state":         {"st4te"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
			continue
		}
		q.Set(extra[i], extra[i+1])
	}
	return q
}

func getAuthorize(s http.Handler, q url.Values) *httptest.ResponseRecorder {
	return serve(s, httptest.NewRequest("GET", "/oauth/authorize?"+q.Encode(), nil))
}

// mustLocation returns the redirect of a 302 answer.
func mustLocation(t testing.TB, w *httptest.ResponseRecorder) *url.URL {
	t.Helper()
	if w.Code != http.StatusFound {
		t.Fatalf("status %d, want 302; body %s", w.Code, w.Body)
	}
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// mustCode runs the consent for login and returns the code.
func mustCode(t testing.TB, s http.Handler, login string) string {
	t.Helper()
	u := mustLocation(t, getAuthorize(s, authorizeQuery("login", login, "consent", "authorize")))
	code := u.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", u)
	}
	return code
}

// exchangeForm is the form of a code exchange by app.
func exchangeForm(code string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {app.ID},
		"client_secret": {app.Secret},
		"code":          {code},
		"redirect_uri":  {callback},
	}
}

func postToken(s http.Handler, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return serve(s, r)
}

type tokenBody struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	Scope            string `json:"scope"`
	CreatedAt        int64  `json:"created_at"`
	SecretValidUntil int64  `json:"secret_valid_until"`
}

func mustDecode[T any](t testing.TB, body io.Reader) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(body).Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

// mustToken runs the whole flow for login and returns the token body.
func mustToken(t testing.TB, s http.Handler, login string) tokenBody {
	t.Helper()
	w := postToken(s, exchangeForm(mustCode(t, s, login)))
	if w.Code != http.StatusOK {
		t.Fatalf("token: status %d: %s", w.Code, w.Body)
	}
	return mustDecode[tokenBody](t, w.Body)
}

func getMe(s http.Handler, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/v2/me", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("User-Agent", userAgent)
	return serve(s, r)
}
