package fakeintra_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/fakeintra"
	"authd/internal/clock"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/intra/golden")

// TestGolden keeps the provider's answers, status, headers and body,
// under testdata/intra/golden; tokens and codes, which are random, are
// written as <64 hex>.
func TestGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// run makes the call whose answer is kept.
		run func(t *testing.T, s *fakeintra.Server, clk *clock.Fake) *httptest.ResponseRecorder
	}{
		{"token_success", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return postToken(s, exchangeForm(mustCode(t, s, "jdoe")))
		}},
		{"token_client_credentials", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return postToken(s, url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ID}, "client_secret": {app.Secret}})
		}},
		{"token_invalid_grant", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return postToken(s, exchangeForm("reused-or-unknown"))
		}},
		{"token_invalid_client", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Set("client_secret", "wrong")
			return postToken(s, f)
		}},
		{"token_invalid_request", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Del("redirect_uri")
			return postToken(s, f)
		}},
		{"token_unsupported_grant_type", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			f := exchangeForm(mustCode(t, s, "jdoe"))
			f.Set("grant_type", "password")
			return postToken(s, f)
		}},
		{"token_rate_limited", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			s.SetFault(fakeintra.Token, fakeintra.Fault{Kind: fakeintra.RateLimited})
			return postToken(s, exchangeForm("any"))
		}},
		{"token_pkce_missing_verifier", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return postToken(s, exchangeForm(mustPKCECode(t, s, rfcChallenge, "S256")))
		}},
		{"token_pkce_wrong_verifier", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return postToken(s, withVerifier(mustPKCECode(t, s, rfcChallenge, "S256"), "the-verifier-of-another-flow"))
		}},
		{"token_refresh_without_client_authentication", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return postToken(s, refreshForm(mustToken(t, s, "jdoe").RefreshToken, "", ""))
		}},
		{"token_refresh_used_wrong_secret", func(t *testing.T, s *fakeintra.Server, clk *clock.Fake) *httptest.ResponseRecorder {
			rt := mustToken(t, s, "jdoe").RefreshToken
			if w := postToken(s, refreshForm(rt, app.ID, app.Secret)); w.Code != http.StatusOK {
				t.Fatalf("first refresh: %d %s", w.Code, w.Body)
			}
			clk.Advance(time.Second) // past the secondly limit
			return postToken(s, refreshForm(rt, app.ID, "wrong"))
		}},
		{"me_jdoe", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return getMe(s, mustToken(t, s, "jdoe").AccessToken)
		}},
		{"me_tnguyen", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return getMe(s, mustToken(t, s, "tnguyen").AccessToken)
		}},
		{"me_invalid_token", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return getMe(s, "unknown")
		}},
		{"me_expired_token", func(t *testing.T, s *fakeintra.Server, clk *clock.Fake) *httptest.ResponseRecorder {
			tok := mustToken(t, s, "jdoe").AccessToken
			clk.Advance(3 * time.Hour)
			return getMe(s, tok)
		}},
		{"me_no_user_agent", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return serve(s, meRequestNoUA(mustToken(t, s, "jdoe").AccessToken))
		}},
		{"token_info", func(t *testing.T, s *fakeintra.Server, clk *clock.Fake) *httptest.ResponseRecorder {
			tok := mustToken(t, s, "jdoe").AccessToken
			clk.Advance(26 * time.Second)
			r := httptest.NewRequest("GET", "/oauth/token/info", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return serve(s, r)
		}},
		{"authorize_denied", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return getAuthorize(s, authorizeQuery("consent", "cancel"))
		}},
		{"authorize_invalid_code_challenge_method", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return getAuthorize(s, authorizeQuery("code_challenge", rfcChallenge, "code_challenge_method", "MD5"))
		}},
		{"authorize_bad_redirect_uri", func(t *testing.T, s *fakeintra.Server, _ *clock.Fake) *httptest.ResponseRecorder {
			return getAuthorize(s, authorizeQuery("redirect_uri", "https://evil.example/"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, clk := newFake(t, func(o *fakeintra.Options) { o.RateLimit = true })
			got := render(tt.run(t, s, clk))
			path := filepath.Join("..", "testdata", "intra", "golden", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

var randomHex = regexp.MustCompile(`[0-9a-f]{64}`)

// render writes an answer as text: status, headers in order, and the body,
// indented when it is JSON.
func render(w *httptest.ResponseRecorder) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s\n", w.Code, http.StatusText(w.Code))
	keys := make([]string, 0, len(w.Header()))
	for k := range w.Header() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range w.Header()[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	body := w.Body.Bytes()
	var indented bytes.Buffer
	if json.Valid(body) && json.Indent(&indented, body, "", "  ") == nil {
		body = append(indented.Bytes(), '\n')
	}
	b.Write(body)
	out := b.String()
	// The client's own id holds 64 hex digits that are not random.
	out = strings.ReplaceAll(out, app.ID, "<client id>")
	return randomHex.ReplaceAllString(out, "<64 hex>")
}

func meRequestNoUA(token string) *http.Request {
	r := httptest.NewRequest("GET", "/v2/me", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}
