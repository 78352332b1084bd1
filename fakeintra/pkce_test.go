package fakeintra_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
)

// The example of RFC 7636, Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

const badChallengeMethod = "The code challenge method must be plain or S256."

// mustPKCECode runs the consent for jdoe with the given PKCE parameters
// (none when empty) and returns the code.
func mustPKCECode(t testing.TB, s http.Handler, challenge, method string) string {
	t.Helper()
	u := mustLocation(t, getAuthorize(s, authorizeQuery("login", "jdoe", "consent", "authorize", "code_challenge", challenge, "code_challenge_method", method)))
	code := u.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %s", u)
	}
	return code
}

// withVerifier is the exchange form of code with a code_verifier
// parameter, even an empty one.
func withVerifier(code, verifier string) url.Values {
	f := exchangeForm(code)
	f["code_verifier"] = []string{verifier}
	return f
}

// tokenAnswer is the status and the error name of a token answer, ""
// for a success.
func tokenAnswer(t testing.TB, w *httptest.ResponseRecorder) [2]any {
	t.Helper()
	if w.Code == http.StatusOK {
		return [2]any{w.Code, ""}
	}
	return [2]any{w.Code, mustDecode[struct{ Error string }](t, w.Body).Error}
}

var (
	answerOK             = [2]any{http.StatusOK, ""}
	answerInvalidGrant   = [2]any{http.StatusUnauthorized, "invalid_grant"}
	answerInvalidRequest = [2]any{http.StatusUnauthorized, "invalid_request"}
	answerInvalidClient  = [2]any{http.StatusUnauthorized, "invalid_client"}
	answerInvalidScope   = [2]any{http.StatusUnauthorized, "invalid_scope"}
)

func TestPKCEExchange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		challenge, method string // of the authorization request
		form              func(code string) url.Values
		want              [2]any
	}{
		{"S256, right verifier", rfcChallenge, "S256", func(c string) url.Values { return withVerifier(c, rfcVerifier) }, answerOK},
		{"S256, wrong verifier", rfcChallenge, "S256", func(c string) url.Values { return withVerifier(c, rfcVerifier+"x") }, answerInvalidGrant},
		{"S256, the challenge as verifier", rfcChallenge, "S256", func(c string) url.Values { return withVerifier(c, rfcChallenge) }, answerInvalidGrant},
		{"S256, no verifier", rfcChallenge, "S256", exchangeForm, answerInvalidRequest},
		{"S256, empty verifier", rfcChallenge, "S256", func(c string) url.Values { return withVerifier(c, "") }, answerInvalidRequest},
		{"S256, blank verifier", rfcChallenge, "S256", func(c string) url.Values { return withVerifier(c, " \t") }, answerInvalidRequest},
		{"plain, right verifier", rfcVerifier, "plain", func(c string) url.Values { return withVerifier(c, rfcVerifier) }, answerOK},
		{"plain, wrong verifier", rfcVerifier, "plain", func(c string) url.Values { return withVerifier(c, rfcVerifier+"x") }, answerInvalidGrant},
		{"plain, no verifier", rfcVerifier, "plain", exchangeForm, answerInvalidRequest},
		{"no challenge, no verifier", "", "", exchangeForm, answerOK},
		{"no challenge, a verifier", "", "", func(c string) url.Values { return withVerifier(c, rfcVerifier) }, answerInvalidGrant},
		{"no challenge, an empty verifier", "", "", func(c string) url.Values { return withVerifier(c, "") }, answerInvalidGrant},
		{"a method without challenge, no verifier", "", "S256", exchangeForm, answerOK},
		{"a method without challenge, a verifier", "", "S256", func(c string) url.Values { return withVerifier(c, rfcVerifier) }, answerInvalidGrant},
		{"a blank challenge, no verifier", "  ", "S256", exchangeForm, answerOK},
		// The attributes come before the client: no verifier outweighs a
		// wrong secret, a wrong verifier does not.
		{"no verifier and a wrong secret", rfcChallenge, "S256", func(c string) url.Values {
			f := exchangeForm(c)
			f.Set("client_secret", "wrong")
			return f
		}, answerInvalidRequest},
		{"wrong verifier and a wrong secret", rfcChallenge, "S256", func(c string) url.Values {
			f := withVerifier(c, "wrong")
			f.Set("client_secret", "wrong")
			return f
		}, answerInvalidClient},
		{"wrong verifier and a wrong redirect uri", rfcChallenge, "S256", func(c string) url.Values {
			f := withVerifier(c, "wrong")
			f.Set("redirect_uri", callbackAlt)
			return f
		}, answerInvalidGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newFake(t, nil)
			code := mustPKCECode(t, s, tt.challenge, tt.method)
			if diff := cmp.Diff(tt.want, tokenAnswer(t, postToken(s, tt.form(code)))); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPKCERefusalKeepsCode: a refused verifier does not use the code up;
// the right one still redeems it, once.
func TestPKCERefusalKeepsCode(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	code := mustPKCECode(t, s, rfcChallenge, "S256")
	for _, step := range []struct {
		name string
		form url.Values
		want [2]any
	}{
		{"no verifier", exchangeForm(code), answerInvalidRequest},
		{"wrong verifier", withVerifier(code, "another-flow's-verifier"), answerInvalidGrant},
		{"right verifier", withVerifier(code, rfcVerifier), answerOK},
		{"right verifier again", withVerifier(code, rfcVerifier), answerInvalidGrant},
		// Doorkeeper finds the redeemed grant still, and its challenge.
		{"no verifier after use", exchangeForm(code), answerInvalidRequest},
	} {
		if diff := cmp.Diff(step.want, tokenAnswer(t, postToken(s, step.form))); diff != "" {
			t.Errorf("%s: answer (-want +got):\n%s", step.name, diff)
		}
	}
}

func TestPKCEConsentForm(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	q := authorizeQuery("code_challenge", rfcChallenge, "code_challenge_method", "S256")
	page := getAuthorize(s, q).Body.String()
	for _, want := range []string{
		`<input type="hidden" name="code_challenge" value="` + rfcChallenge + `">`,
		`<input type="hidden" name="code_challenge_method" value="S256">`,
	} {
		if got := strings.Count(page, want); got != 2 {
			t.Errorf("page has %d of %q, want 2 (Authorize and Cancel)", got, want)
		}
	}
	// The Authorize button posts the page's fields; the code is bound to
	// the challenge.
	q.Set("login", "jdoe")
	r := httptest.NewRequest("POST", "/oauth/authorize", strings.NewReader(q.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code := mustLocation(t, serve(s, r)).Query().Get("code")
	if diff := cmp.Diff(answerInvalidGrant, tokenAnswer(t, postToken(s, withVerifier(code, "wrong")))); diff != "" {
		t.Errorf("wrong verifier (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(answerOK, tokenAnswer(t, postToken(s, withVerifier(code, rfcVerifier)))); diff != "" {
		t.Errorf("right verifier (-want +got):\n%s", diff)
	}
}

func TestAuthorizeCodeChallengeMethod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, challenge, method string
		ok                      bool
	}{
		{"S256", rfcChallenge, "S256", true},
		{"plain", rfcVerifier, "plain", true},
		{"no method", rfcChallenge, "", false},
		{"lower case", rfcChallenge, "s256", false},
		{"trailing space", rfcChallenge, "S256 ", false},
		{"another hash", rfcChallenge, "SHA512", false},
		{"a method without challenge", "", "MD5", true},
		// Ruby's ^ and $ anchor at lines.
		{"one line of it S256", rfcChallenge, "MD5\nS256", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newFake(t, nil)
			for _, consent := range []string{"", "authorize", "cancel"} {
				w := getAuthorize(s, authorizeQuery("login", "jdoe", "consent", consent, "code_challenge", tt.challenge, "code_challenge_method", tt.method))
				refused := w.Code == http.StatusBadRequest && w.Header().Get("Location") == "" && strings.Contains(w.Body.String(), badChallengeMethod)
				if refused == tt.ok {
					t.Errorf("consent %q: status %d, Location %q, body %s", consent, w.Code, w.Header().Get("Location"), w.Body)
				}
			}
			// From the consent form, the error goes back to the client.
			form := authorizeQuery("login", "jdoe", "code_challenge", tt.challenge, "code_challenge_method", tt.method)
			r := httptest.NewRequest("POST", "/oauth/authorize", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			got := mustLocation(t, serve(s, r)).Query()
			if tt.ok {
				if got.Get("code") == "" {
					t.Errorf("form: redirected with %v, want a code", got)
				}
				return
			}
			want := url.Values{"error": {"invalid_code_challenge_method"}, "error_description": {badChallengeMethod}, "state": {"st4te"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("form: query (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuthorizeChecksInOrder: the code challenge method is checked last.
func TestAuthorizeChecksInOrder(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	w := getAuthorize(s, authorizeQuery("scope", "admin", "code_challenge", rfcChallenge, "code_challenge_method", "MD5"))
	if got := mustLocation(t, w).Query().Get("error"); got != "invalid_scope" {
		t.Errorf("bad scope and method: error %q, want invalid_scope", got)
	}
	w = getAuthorize(s, authorizeQuery("redirect_uri", "https://evil.example/", "code_challenge", rfcChallenge, "code_challenge_method", "MD5"))
	if body := w.Body.String(); w.Code != http.StatusBadRequest || !strings.Contains(body, "The redirect uri included is not valid.") {
		t.Errorf("bad redirect uri and method: %d %s", w.Code, body)
	}
}

// TestMethodOnOtherLineNeverRedeems: a method Doorkeeper lets through at
// authorize for one of its lines fails the token endpoint's comparison.
func TestMethodOnOtherLineNeverRedeems(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	code := mustPKCECode(t, s, rfcChallenge, "MD5\nS256")
	for _, f := range []url.Values{exchangeForm(code), withVerifier(code, rfcVerifier)} {
		if got := tokenAnswer(t, postToken(s, f)); got == answerOK {
			t.Errorf("redeemed with %v", f)
		}
	}
}

func TestWithoutPKCE(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, func(o *fakeintra.Options) { o.WithoutPKCE = true })
	tests := []struct {
		name, challenge, method string
		form                    func(code string) url.Values
	}{
		{"no verifier", rfcChallenge, "S256", exchangeForm},
		{"wrong verifier", rfcChallenge, "S256", func(c string) url.Values { return withVerifier(c, "wrong") }},
		{"unknown method", rfcChallenge, "MD5", func(c string) url.Values { return withVerifier(c, rfcVerifier) }},
		{"verifier without challenge", "", "", func(c string) url.Values { return withVerifier(c, rfcVerifier) }},
	}
	for _, tt := range tests {
		code := mustPKCECode(t, s, tt.challenge, tt.method)
		if diff := cmp.Diff(answerOK, tokenAnswer(t, postToken(s, tt.form(code)))); diff != "" {
			t.Errorf("%s: answer (-want +got):\n%s", tt.name, diff)
		}
	}
	page := getAuthorize(s, authorizeQuery("code_challenge", rfcChallenge, "code_challenge_method", "S256")).Body.String()
	if strings.Contains(page, rfcChallenge) {
		t.Error("the consent page of a provider without PKCE carries the challenge")
	}
}
