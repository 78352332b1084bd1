package fakeintra_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"authd/fakeintra"
	"authd/internal/clock"
)

func TestMe(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, nil)
	for _, u := range mustUsers(t) {
		t.Run(u.Login, func(t *testing.T) {
			tok := mustToken(t, s, u.Login)
			w := getMe(s, tok.AccessToken)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got, want := w.Body.String(), string(u.Document); got != want {
				t.Errorf("body is not the user's document:\n got %s\nwant %s", got, want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestMeRefused(t *testing.T) {
	t.Parallel()
	const (
		invalid = `Bearer realm="42 API", error="invalid_token", error_description="The access token is invalid"`
		expired = `Bearer realm="42 API", error="invalid_token", error_description="The access token expired"`
	)
	tests := []struct {
		name       string
		request    func(t *testing.T, s *fakeintra.Server, clk *clock.Fake) *http.Request
		wantStatus int
		wantAuth   string
	}{
		{"no authorization", func(*testing.T, *fakeintra.Server, *clock.Fake) *http.Request {
			return meRequest("")
		}, http.StatusUnauthorized, invalid},
		{"unknown token", func(*testing.T, *fakeintra.Server, *clock.Fake) *http.Request {
			return meRequest("Bearer 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
		}, http.StatusUnauthorized, invalid},
		{"basic scheme", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *http.Request {
			return meRequest("Basic " + mustToken(t, s, "jdoe").AccessToken)
		}, http.StatusUnauthorized, invalid},
		{"refresh token as access token", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *http.Request {
			return meRequest("Bearer " + mustToken(t, s, "jdoe").RefreshToken)
		}, http.StatusUnauthorized, invalid},
		{"expired", func(t *testing.T, s *fakeintra.Server, clk *clock.Fake) *http.Request {
			r := meRequest("Bearer " + mustToken(t, s, "jdoe").AccessToken)
			clk.Advance(fakeintra.TokenTTL + time.Second)
			return r
		}, http.StatusUnauthorized, expired},
		{"at the end of its life", func(t *testing.T, s *fakeintra.Server, clk *clock.Fake) *http.Request {
			r := meRequest("Bearer " + mustToken(t, s, "jdoe").AccessToken)
			clk.Advance(fakeintra.TokenTTL)
			return r
		}, http.StatusOK, ""},
		{"lower-case scheme", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *http.Request {
			return meRequest("bearer " + mustToken(t, s, "jdoe").AccessToken)
		}, http.StatusOK, ""},
		{"access_token parameter", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *http.Request {
			r := meRequest("")
			r.URL.RawQuery = "access_token=" + mustToken(t, s, "jdoe").AccessToken
			return r
		}, http.StatusOK, ""},
		{"no user agent", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *http.Request {
			r := meRequest("Bearer " + mustToken(t, s, "jdoe").AccessToken)
			r.Header.Del("User-Agent")
			return r
		}, http.StatusForbidden, ""},
		{"no user agent, no token", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *http.Request {
			r := meRequest("")
			r.Header.Del("User-Agent")
			return r
		}, http.StatusForbidden, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, clk := newFake(t, nil)
			w := serve(s, tt.request(t, s, clk))
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate\n got %q\nwant %q", got, tt.wantAuth)
			}
			if tt.wantStatus != http.StatusOK && w.Body.Len() != 0 {
				t.Errorf("body %q, want none", w.Body)
			}
		})
	}
}

func meRequest(authorization string) *http.Request {
	r := httptest.NewRequest("GET", "/v2/me", nil)
	r.Header.Set("User-Agent", userAgent)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}
