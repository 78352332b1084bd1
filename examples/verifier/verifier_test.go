package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"authd/internal/authdtest"
)

// countingTransport counts the requests that go through it.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestAgainstAuthd runs a real authd signing with EdDSA and checks the
// verifier with its tokens: accepted, the JWKS fetched once, fetched again
// for the kid of a key rotated in, refused when they must be; and, as the
// README warns, a token still accepted here after its logout, which the
// gate refuses.
func TestAgainstAuthd(t *testing.T) {
	bin := authdtest.MustBuild(t, "authd/cmd/authd")
	settings := []string{
		"AUTHD_DB=" + filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE=false",
		"AUTHD_ACCESS_ALG=EdDSA",
		"AUTHD_KEY_PUBLISH_DELAY=0s",
		"AUTHD_AUDIENCE=example,other",
		"AUTHD_THROTTLE_REFRESH=1000/minute",
	}
	a := authdtest.MustStart(t, authdtest.AuthdCommand(bin, settings...))
	c := authdtest.NewClient(t, a.URL)
	id := c.MustRegister("grace", "grace's long password").ID
	tok := c.MustLogin("grace", "grace's long password").AccessToken

	fetches := &countingTransport{}
	v := &Verifier{
		Keys:     &KeySet{URL: a.URL + "/.well-known/jwks.json", Client: &http.Client{Transport: fetches}, MinRefresh: time.Second},
		Issuer:   "authd",
		Audience: "example",
	}
	ctx := context.Background()
	claims, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Subject != strconv.FormatInt(id, 10) || claims.Username != "grace" || claims.SessionID == "" {
		t.Errorf("claims %+v", claims)
	}
	if _, err := v.Verify(ctx, tok); err != nil || fetches.n.Load() != 1 {
		t.Errorf("Verify again: %v, %d fetches of the JWKS; want 1", err, fetches.n.Load())
	}

	// A key rotated in: the verifier learns it from the kid it does not know.
	cmd := exec.Command(bin, "keys", "rotate")
	cmd.Env = settings
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	_, oldKid := authdtest.TokenHeader(tok)
	var fresh string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		fresh = c.MustRefresh().AccessToken
		if _, kid := authdtest.TokenHeader(fresh); kid != oldKid {
			break
		}
	}
	if _, kid := authdtest.TokenHeader(fresh); kid == oldKid {
		t.Fatal("authd does not sign with the rotated key 10 s after the rotation")
	}
	time.Sleep(time.Second) // past MinRefresh
	if _, err := v.Verify(ctx, fresh); err != nil || fetches.n.Load() != 2 {
		t.Errorf("Verify of the new key's token: %v, %d fetches; want 2", err, fetches.n.Load())
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Errorf("Verify of the old key's token after the rotation: %v", err)
	}

	// Refusals.
	head, body, _ := strings.Cut(fresh, ".")
	body, _, _ = strings.Cut(body, ".")
	enc := base64.RawURLEncoding.EncodeToString
	dec := func(s string) string { b, _ := base64.RawURLEncoding.DecodeString(s); return string(b) }
	hs256 := func(header string, key []byte) string {
		in := enc([]byte(header)) + "." + body
		m := hmac.New(sha256.New, key)
		m.Write([]byte(in))
		return in + "." + enc(m.Sum(nil))
	}
	_, kid := authdtest.TokenHeader(fresh)
	pub, err := v.Keys.Key(ctx, kid)
	if err != nil {
		t.Fatal(err)
	}
	refusals := map[string]string{
		"HS256 keyed with the Ed25519 public key": hs256(`{"alg":"HS256","typ":"JWT","kid":"`+kid+`"}`, pub),
		"alg none":          enc([]byte(`{"alg":"none","kid":"`+kid+`"}`)) + "." + body + ".",
		"claims changed":    head + "." + enc([]byte(strings.Replace(dec(body), `"grace"`, `"admin"`, 1))) + "." + strings.Split(fresh, ".")[2],
		"unknown kid":       enc([]byte(`{"alg":"EdDSA","typ":"JWT","kid":"nope"}`)) + "." + body + "." + strings.Split(fresh, ".")[2],
		"the refresh token": c.Cookie("refresh_token"),
		"not a token":       "garbage",
	}
	for name, bad := range refusals {
		if _, err := v.Verify(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want refused", name, err)
		}
	}
	if n := fetches.n.Load(); n > 3 {
		t.Errorf("%d fetches of the JWKS after the refusals; an unknown kid fetches at most once per MinRefresh", n)
	}
	other := *v
	other.Audience = "billing"
	if _, err := other.Verify(ctx, fresh); !errors.Is(err, ErrInvalid) {
		t.Errorf("a token for another audience: err = %v, want refused", err)
	}
	late := *v
	late.Now = func() time.Time { return time.Now().Add(16 * time.Minute) }
	if _, err := late.Verify(ctx, fresh); !errors.Is(err, ErrInvalid) {
		t.Errorf("an expired token: err = %v, want refused", err)
	}

	// The service's handler.
	srv := httptest.NewServer(handler(v))
	defer srv.Close()
	get := func(bearer string) (int, map[string]string) {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]string
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, m := get(fresh); code != 200 || m["username"] != "grace" {
		t.Errorf("GET / with the token = %d %v", code, m)
	}
	if code, _ := get(""); code != 401 {
		t.Errorf("GET / without a token = %d, want 401", code)
	}

	// The logout caveat: the verifier accepts the token until it expires;
	// authd's gate refuses it at once.
	c.MustLogout(fresh)
	if _, err := v.Verify(ctx, fresh); err != nil {
		t.Errorf("after logout, the verifier (which cannot know) refused the token: %v", err)
	}
	if g := c.Verify(fresh); g.Status != 401 {
		t.Errorf("after logout, the gate = %s, want 401", g.Response)
	}
}
