package fakeintra_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
)

func TestAuthorizeErrorPage(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	const (
		badClient   = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
		badRedirect = "The redirect uri included is not valid."
	)
	tests := []struct {
		name string
		q    url.Values
		want string
	}{
		{"unknown client", authorizeQuery("client_id", "u-s4t2ud-nobody"), badClient},
		{"no client", authorizeQuery("client_id", ""), badClient},
		{"other client's redirect uri", authorizeQuery("redirect_uri", otherApp.RedirectURIs[0]), badRedirect},
		{"redirect uri without its trailing slash", authorizeQuery("redirect_uri", strings.TrimSuffix(callback, "/")), badRedirect},
		{"redirect uri in another case", authorizeQuery("redirect_uri", strings.ToUpper(callback)), badRedirect},
		{"redirect uri with more query", authorizeQuery("redirect_uri", callback+"?next=/"), badRedirect},
		{"redirect uri elsewhere", authorizeQuery("redirect_uri", "https://evil.example/cb"), badRedirect},
		{"no redirect uri", authorizeQuery("redirect_uri", ""), badRedirect},
		{"bad redirect uri and bad response type", authorizeQuery("redirect_uri", "https://evil.example/cb", "response_type", "token"), badRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, consent := range []string{"", "authorize", "cancel"} {
				q := url.Values{}
				for k, v := range tt.q {
					q[k] = v
				}
				if consent != "" {
					q.Set("consent", consent)
					q.Set("login", "jdoe")
				}
				w := getAuthorize(s, q)
				if w.Code != http.StatusBadRequest {
					t.Errorf("consent %q: status %d, want 400", consent, w.Code)
				}
				if loc := w.Header().Get("Location"); loc != "" {
					t.Errorf("consent %q: redirected to %s", consent, loc)
				}
				if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type %q", ct)
				}
				body := w.Body.String()
				if !strings.Contains(body, "An error has occurred") || !strings.Contains(body, tt.want) {
					t.Errorf("consent %q: body does not give %q:\n%s", consent, tt.want, body)
				}
			}
		})
	}
}

func TestAuthorizeRedirectedErrors(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	tests := []struct {
		name string
		q    url.Values
		want url.Values
	}{
		{
			"unsupported response type", authorizeQuery("response_type", "token"),
			url.Values{"error": {"unsupported_response_type"}, "error_description": {"The authorization server does not support this response type."}, "state": {"st4te"}},
		},
		{
			"no response type", authorizeQuery("response_type", ""),
			url.Values{"error": {"unsupported_response_type"}, "error_description": {"The authorization server does not support this response type."}, "state": {"st4te"}},
		},
		{
			"unknown scope", authorizeQuery("scope", "public admin"),
			url.Values{"error": {"invalid_scope"}, "error_description": {"The requested scope is invalid, unknown, or malformed."}, "state": {"st4te"}},
		},
		{
			"unknown scope, no state", authorizeQuery("scope", "admin", "state", ""),
			url.Values{"error": {"invalid_scope"}, "error_description": {"The requested scope is invalid, unknown, or malformed."}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := mustLocation(t, getAuthorize(s, tt.q))
			if got := u.Scheme + "://" + u.Host + u.Path; got != callback {
				t.Errorf("redirected to %s, want %s", got, callback)
			}
			if diff := cmp.Diff(tt.want, u.Query()); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConsentPage(t *testing.T) {
	t.Parallel()
	users := mustUsers(t)
	tests := []struct {
		name       string
		login      string // Options.Login
		param      string // the login query parameter
		cookie     string
		wantFixed  string // the page acts for this login only
		wantPicked string // the picker preselects this login
	}{
		{name: "picker"},
		{name: "options login", login: "gfavre", wantFixed: "gfavre"},
		{name: "login parameter", param: "cmuller", wantFixed: "cmuller"},
		{name: "parameter over options", login: "gfavre", param: "alice", wantFixed: "alice"},
		{name: "options over cookie", login: "gfavre", cookie: "alice", wantFixed: "gfavre"},
		{name: "cookie preselects", cookie: "tnguyen", wantPicked: "tnguyen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newFake(t, func(o *fakeintra.Options) { o.Login = tt.login })
			r := httptest.NewRequest("GET", "/oauth/authorize?"+authorizeQuery("login", tt.param).Encode(), nil)
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "fakeintra_login", Value: tt.cookie})
			}
			w := serve(s, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			body := w.Body.String()
			for _, want := range []string{
				"authd test", "Access the user&#39;s public data",
				`<button type="submit" class="authorize">Authorize</button>`,
				`<button type="submit">Cancel</button>`,
				`<input type="hidden" name="_method" value="delete">`,
				`<input type="hidden" name="state" value="st4te">`,
				`<input type="hidden" name="redirect_uri" value="` + callback + `">`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if tt.wantFixed != "" {
				if strings.Contains(body, "<select") {
					t.Error("page offers a picker for a fixed login")
				}
				if want := `<input type="hidden" name="login" value="` + tt.wantFixed + `">`; !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
				return
			}
			for _, u := range users {
				if !strings.Contains(body, `<option value="`+u.Login+`"`) {
					t.Errorf("picker lacks %s", u.Login)
				}
			}
			selected := regexp.MustCompile(`<option value="([a-z]+)" selected>`).FindAllStringSubmatch(body, -1)
			var got string
			if len(selected) == 1 {
				got = selected[0][1]
			}
			if got != tt.wantPicked || len(selected) > 1 {
				t.Errorf("preselected %v, want %q", selected, tt.wantPicked)
			}
		})
	}
}

func TestConsentUnknownLogin(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	for _, consent := range []string{"", "authorize"} {
		w := getAuthorize(s, authorizeQuery("login", "nobody", "consent", consent))
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "nobody") {
			t.Errorf("consent %q: status %d, body %s", consent, w.Code, w.Body)
		}
	}
	w := getAuthorize(s, authorizeQuery("login", "jdoe", "consent", "maybe"))
	if w.Code != http.StatusBadRequest {
		t.Errorf("consent=maybe: status %d", w.Code)
	}
}

func TestConsentAnswers(t *testing.T) {
	t.Parallel()
	denied := url.Values{
		"error":             {"access_denied"},
		"error_description": {"The resource owner or authorization server denied the request."},
		"state":             {"st4te"},
	}
	form := func(extra ...string) string { return authorizeQuery(extra...).Encode() }
	tests := []struct {
		name     string
		method   string
		target   string
		body     string
		wantBase string
		want     url.Values // "code" is checked for presence only
	}{
		{"authorize button", "POST", "/oauth/authorize", form("login", "jdoe"), callback, url.Values{"code": nil, "state": {"st4te"}}},
		{"cancel button", "POST", "/oauth/authorize", form("_method", "delete"), callback, denied},
		{"delete", "DELETE", "/oauth/authorize?" + form(), "", callback, denied},
		{"consent=authorize", "GET", "/oauth/authorize?" + form("login", "alice", "consent", "authorize"), "", callback, url.Values{"code": nil, "state": {"st4te"}}},
		{"consent=cancel", "GET", "/oauth/authorize?" + form("consent", "cancel"), "", callback, denied},
		{"no state", "GET", "/oauth/authorize?" + form("login", "alice", "consent", "authorize", "state", ""), "", callback, url.Values{"code": nil}},
		{"state with odd characters", "GET", "/oauth/authorize?" + form("consent", "cancel", "state", "a b&c=d/é"), "", callback, url.Values{
			"error": denied["error"], "error_description": denied["error_description"], "state": {"a b&c=d/é"},
		}},
		{"redirect uri with its own query", "GET", "/oauth/authorize?" + form("login", "jdoe", "consent", "authorize", "redirect_uri", callbackAlt), "",
			"https://authd.example/oauth2/intra/callback/", url.Values{"code": nil, "state": {"st4te"}, "tenant": {"42"}}},
		{"default scope", "GET", "/oauth/authorize?" + form("login", "jdoe", "consent", "authorize", "scope", ""), "", callback, url.Values{"code": nil, "state": {"st4te"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newFake(t, nil)
			r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.body != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := serve(s, r)
			u := mustLocation(t, w)
			if got := u.Scheme + "://" + u.Host + u.Path; got != tt.wantBase {
				t.Errorf("redirected to %s, want %s", got, tt.wantBase)
			}
			got := u.Query()
			if _, wantCode := tt.want["code"]; wantCode {
				if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(got.Get("code")) {
					t.Errorf("code %q is not 64 hex digits", got.Get("code"))
				}
				got["code"] = nil
				if c := w.Result().Cookies(); len(c) != 1 || c[0].Name != "fakeintra_login" {
					t.Errorf("cookies %v, want fakeintra_login", c)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConsentFormUsesCookie(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	r := httptest.NewRequest("POST", "/oauth/authorize", strings.NewReader(authorizeQuery().Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: "fakeintra_login", Value: "cmuller"})
	code := mustLocation(t, serve(s, r)).Query().Get("code")
	tok := mustDecode[tokenBody](t, postToken(s, exchangeForm(code)).Body)
	w := getMe(s, tok.AccessToken)
	if got := mustDecode[struct{ Login string }](t, w.Body).Login; got != "cmuller" {
		t.Errorf("login %q, want cmuller", got)
	}
}

// TestBrowserFlow runs the flow over a real connection as a browser
// would: page, Authorize button, callback, exchange, /v2/me.
func TestBrowserFlow(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	resp, err := client.Get(srv.URL + "/oauth/authorize?" + authorizeQuery().Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("page: status %d", resp.StatusCode)
	}
	resp, err = client.PostForm(srv.URL+"/oauth/authorize", authorizeQuery("login", "kvanderb"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize: status %d: %v", resp.StatusCode, err)
	}
	resp, err = client.PostForm(srv.URL+"/oauth/token", exchangeForm(loc.Query().Get("code")))
	if err != nil {
		t.Fatal(err)
	}
	tok := mustDecode[tokenBody](t, resp.Body)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v2/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	me := mustDecode[struct {
		ID    int64
		Login string
	}](t, resp.Body)
	if me.ID != 121874 || me.Login != "kvanderb" {
		t.Errorf("me = %+v", me)
	}
}
