package intra_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"authd/internal/intra"
)

// fuzzStatuses are the statuses the fuzzed provider answers with.
var fuzzStatuses = []int{200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503}

// FuzzIdentify has a provider answer the code exchange and /v2/me with
// any status and body: Identify never panics, fails only with ErrRejected
// or ErrProvider, and never puts the client secret, the code, the code
// verifier or the provider's access token in its error; what it accepts
// is a usable identity.
func FuzzIdentify(f *testing.F) {
	const code, verifier = "the-authorization-code", "the-code-verifier"
	var (
		mu                    sync.Mutex
		tokenStatus, meStatus int
		tokenBody, meBody     string
	)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		status, body := tokenStatus, tokenBody
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	mux.HandleFunc("GET /v2/me", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		status, body := meStatus, meBody
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	srv := httptest.NewServer(mux)
	f.Cleanup(srv.Close)
	c := intra.New(intra.Config{BaseURL: srv.URL, ClientID: app.ID, ClientSecret: app.Secret, RedirectURI: callback, HTTPClient: srv.Client()})

	const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	goodToken := `{"access_token":"` + token + `","token_type":"bearer","expires_in":7200,"scope":"public","created_at":1,"secret_valid_until":2}`
	f.Add(uint8(0), goodToken, uint8(0), `{"id":1,"login":"x","email":"x@42.fr","displayname":"X","image":{"link":null}}`)
	f.Add(uint8(0), goodToken, uint8(0), `{"id":9223372036854775807,"login":"jdoe","image":{"link":"https://cdn.intra.42.fr/users/jdoe.jpg","versions":{}}}`)
	f.Add(uint8(4), `{"error":"invalid_grant","error_description":"The provided authorization grant is invalid"}`, uint8(0), ``)
	f.Add(uint8(5), `{"error":"invalid_client"}`, uint8(0), ``)
	f.Add(uint8(8), `429 Too Many Requests (Spam Rate Limit Exceeded)`, uint8(0), ``)
	f.Add(uint8(0), `{"access_token":"a\r\nX-Injected: 1","token_type":"bearer"}`, uint8(0), `{}`)
	f.Add(uint8(0), goodToken, uint8(0), `{"id":1e3,"login":"x"}`)
	f.Add(uint8(0), goodToken, uint8(0), `{"id":1,"login":"x","image":"not an object"}`)
	f.Fuzz(func(t *testing.T, ts uint8, tb string, ms uint8, mb string) {
		mu.Lock()
		tokenStatus, tokenBody = fuzzStatuses[int(ts)%len(fuzzStatuses)], tb
		meStatus, meBody = fuzzStatuses[int(ms)%len(fuzzStatuses)], mb
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		id, err := c.Identify(ctx, code, verifier)
		if err == nil {
			if id.ID <= 0 || id.Login == "" || len(id.Login) > 64 || len(id.Email) > 254 || len(id.DisplayName) > 256 || len(id.ImageLink) > 1024 {
				t.Fatalf("Identify accepted %+v", id)
			}
			return
		}
		rejected, failed := errors.Is(err, intra.ErrRejected), errors.Is(err, intra.ErrProvider)
		if rejected == failed {
			t.Fatalf("error %v: wraps ErrRejected %v and ErrProvider %v, want exactly one", err, rejected, failed)
		}
		msg := err.Error()
		for _, secret := range []string{app.Secret, code, verifier} {
			if strings.Contains(msg, secret) {
				t.Fatalf("error %q shows a secret", msg)
			}
		}
		var sent struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal([]byte(tb), &sent) == nil && tokenLike(sent.AccessToken) && strings.Contains(msg, sent.AccessToken) {
			t.Fatalf("error %q shows the provider's access token", msg)
		}
	})
}

// tokenLike reports whether s is long and mixed enough that an error
// message could hold it only by quoting it: with a digit, it is no error
// name; with something else than digits, no number such as an id.
func tokenLike(s string) bool {
	isDigit := func(c rune) bool { return c >= '0' && c <= '9' }
	return len(s) >= 16 && strings.ContainsFunc(s, isDigit) && strings.ContainsFunc(s, func(c rune) bool { return !isDigit(c) })
}
