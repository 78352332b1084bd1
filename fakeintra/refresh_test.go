package fakeintra_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
)

// refreshForm is a refresh_token grant of app for token; with empty id
// and secret it sends no client authentication.
func refreshForm(token, id, secret string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	if id != "" {
		f.Set("client_id", id)
	}
	if secret != "" {
		f.Set("client_secret", secret)
	}
	return f
}

// TestRefreshTokenChecks: Doorkeeper 5.0.0's refresh_token grant checks
// the token before the client, lets a request without client
// authentication through, and refuses a client that is not the token's.
func TestRefreshTokenChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// form returns the request, given a live refresh token of app and
		// one already used.
		form func(live, used string) url.Values
		want [2]any
	}{
		{"right client", func(live, _ string) url.Values { return refreshForm(live, app.ID, app.Secret) }, answerOK},
		{"no client authentication", func(live, _ string) url.Values { return refreshForm(live, "", "") }, answerOK},
		{"a secret without client id", func(live, _ string) url.Values { return refreshForm(live, "", "wrong") }, answerOK},
		{"wrong secret", func(live, _ string) url.Values { return refreshForm(live, app.ID, "wrong") }, answerInvalidClient},
		{"client id without secret", func(live, _ string) url.Values { return refreshForm(live, app.ID, "") }, answerInvalidClient},
		{"unknown client", func(live, _ string) url.Values { return refreshForm(live, "u-s4t2ud-nobody", app.Secret) }, answerInvalidClient},
		{"another client", func(live, _ string) url.Values { return refreshForm(live, otherApp.ID, otherApp.Secret) }, answerInvalidGrant},
		{"used token", func(_, used string) url.Values { return refreshForm(used, app.ID, app.Secret) }, answerInvalidGrant},
		{"used token, wrong secret", func(_, used string) url.Values { return refreshForm(used, app.ID, "wrong") }, answerInvalidGrant},
		{"used token, no client authentication", func(_, used string) url.Values { return refreshForm(used, "", "") }, answerInvalidGrant},
		{"unknown token, wrong secret", func(string, string) url.Values { return refreshForm("nope", app.ID, "wrong") }, answerInvalidGrant},
		{"no token, wrong secret", func(string, string) url.Values { return refreshForm("", app.ID, "wrong") }, answerInvalidRequest},
		{"blank token", func(string, string) url.Values { return refreshForm("  ", app.ID, app.Secret) }, answerInvalidRequest},
		{"narrower scope", func(live, _ string) url.Values {
			f := refreshForm(live, app.ID, app.Secret)
			f.Set("scope", "public")
			return f
		}, answerOK},
		{"wider scope", func(live, _ string) url.Values {
			f := refreshForm(live, app.ID, app.Secret)
			f.Set("scope", "public tig")
			return f
		}, answerInvalidScope},
		{"scope with a tab", func(live, _ string) url.Values {
			f := refreshForm(live, app.ID, app.Secret)
			f.Set("scope", "public\tprojects")
			return f
		}, answerInvalidScope},
		{"wider scopes parameter", func(live, _ string) url.Values {
			f := refreshForm(live, "", "")
			f.Set("scopes", "forum")
			return f
		}, answerInvalidScope},
		{"wrong secret and wider scope", func(live, _ string) url.Values {
			f := refreshForm(live, app.ID, "wrong")
			f.Set("scope", "forum")
			return f
		}, answerInvalidClient},
	}
	for _, status := range []int{0, http.StatusBadRequest} {
		for _, tt := range tests {
			t.Run(tt.name+"/"+http.StatusText(status), func(t *testing.T) {
				t.Parallel()
				s, _ := newFake(t, func(o *fakeintra.Options) { o.TokenErrorStatus = status })
				q := authorizeQuery("login", "jdoe", "consent", "authorize", "scope", "public projects")
				code := mustLocation(t, getAuthorize(s, q)).Query().Get("code")
				live := mustDecode[tokenBody](t, postToken(s, exchangeForm(code)).Body)
				used := mustToken(t, s, "jdoe")
				if w := postToken(s, refreshForm(used.RefreshToken, app.ID, app.Secret)); w.Code != http.StatusOK {
					t.Fatalf("first refresh: %d %s", w.Code, w.Body)
				}
				want := tt.want
				if status == http.StatusBadRequest && want != answerOK && want != answerInvalidClient {
					want[0] = http.StatusBadRequest
				}
				if diff := cmp.Diff(want, tokenAnswer(t, postToken(s, tt.form(live.RefreshToken, used.RefreshToken)))); diff != "" {
					t.Errorf("answer (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestRefreshWithoutClientAuthentication: the tokens a refresh without
// client authentication gets are the token's client's and work, and the
// old ones are revoked.
func TestRefreshWithoutClientAuthentication(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	first := mustToken(t, s, "alice")
	w := postToken(s, refreshForm(first.RefreshToken, "", ""))
	if w.Code != http.StatusOK {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	second := mustDecode[tokenBody](t, w.Body)
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.Scope != "public" || second.SecretValidUntil != first.SecretValidUntil {
		t.Errorf("refresh gave %+v after %+v", second, first)
	}
	if w := getMe(s, second.AccessToken); w.Code != http.StatusOK {
		t.Errorf("new access token: /v2/me %d", w.Code)
	}
	if w := getMe(s, first.AccessToken); w.Code != http.StatusUnauthorized {
		t.Errorf("old access token: /v2/me %d, want 401", w.Code)
	}
	// The new refresh token is the client's: another client cannot use it.
	if diff := cmp.Diff(answerInvalidGrant, tokenAnswer(t, postToken(s, refreshForm(second.RefreshToken, otherApp.ID, otherApp.Secret)))); diff != "" {
		t.Errorf("another client (-want +got):\n%s", diff)
	}
}

// TestRefreshNarrowsScopes: the scope parameter of a refresh becomes the
// new token's scopes.
func TestRefreshNarrowsScopes(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	q := authorizeQuery("login", "jdoe", "consent", "authorize", "scope", "public projects")
	code := mustLocation(t, getAuthorize(s, q)).Query().Get("code")
	tok := mustDecode[tokenBody](t, postToken(s, exchangeForm(code)).Body)
	if tok.Scope != "public projects" {
		t.Fatalf("scope %q", tok.Scope)
	}
	f := refreshForm(tok.RefreshToken, app.ID, app.Secret)
	f.Set("scope", "projects projects")
	w := postToken(s, f)
	if got := mustDecode[tokenBody](t, w.Body).Scope; w.Code != http.StatusOK || got != "projects" {
		t.Errorf("refresh: status %d, scope %q, want 200 projects", w.Code, got)
	}
}
