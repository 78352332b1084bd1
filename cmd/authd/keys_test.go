package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/accesskeys"
	"authd/internal/authdtest"
)

// TestKeysRotate runs authd with EdDSA access tokens, rotates its key
// with `authd keys rotate` from another process's point of view (the
// command line on the same database), and follows the new key: published
// within a poll, signing after the publish delay, the old key's tokens
// still good.
func TestKeysRotate(t *testing.T) {
	t.Parallel()
	const delay = 3 * time.Second
	env := map[string]string{
		"AUTHD_DB":                filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE":     "false",
		"AUTHD_ACCESS_ALG":        "EdDSA",
		"AUTHD_KEY_PUBLISH_DELAY": delay.String(),
		"AUTHD_AUDIENCE":          "api",
	}
	s := mustRun(t, env)
	c := authdtest.NewClient(t, s.URL)
	c.MustRegister("erin", "erin's long password")
	old := c.MustLogin("erin", "erin's long password").AccessToken
	alg, first := authdtest.TokenHeader(old)
	jwks := c.JWKS()
	jwks.Want(t, "jwks", 200, "")
	if alg != "EdDSA" || !cmp.Equal([]string{first}, jwks.Kids()) {
		t.Fatalf("token alg %s kid %s; JWKS kids %v", alg, first, jwks.Kids())
	}
	if got := jwks.Header.Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("JWKS Cache-Control = %q", got)
	}

	out, err := cli(t, env, "", "keys", "rotate")
	if err != nil || !strings.Contains(out, "added Ed25519 key 2") {
		t.Fatalf("keys rotate = %v\n%s", err, out)
	}
	rotated := time.Now()
	list, err := cli(t, env, "", "keys", "list")
	if err != nil || !strings.Contains(list, first) || !strings.Contains(list, "signing") || !strings.Contains(list, "pending") {
		t.Errorf("keys list = %v\n%s", err, list)
	}
	var second string
	deadline := time.Now().Add(accesskeys.PollEvery + 2*time.Second)
	for second == "" && time.Now().Before(deadline) {
		if kids := c.JWKS().Kids(); len(kids) == 2 && kids[0] == first {
			second = kids[1]
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if second == "" {
		t.Fatalf("JWKS %v a poll after the rotation, want two keys", c.JWKS().Kids())
	}
	if time.Since(rotated) < delay {
		if _, kid := authdtest.TokenHeader(c.MustRefresh().AccessToken); kid != first {
			t.Errorf("a token signed by %s within the publish delay, want %s", kid, first)
		}
	}
	time.Sleep(time.Until(rotated.Add(delay + accesskeys.PollEvery + 500*time.Millisecond)))
	fresh := c.MustRefresh().AccessToken
	if _, kid := authdtest.TokenHeader(fresh); kid != second {
		t.Errorf("a token signed by %s after the delay, want %s", kid, second)
	}
	for name, tok := range map[string]string{"old": old, "new": fresh} {
		if g := c.Verify(tok); g.Status != 200 || g.Username != "erin" {
			t.Errorf("the gate with the %s key's token = %s", name, g.Response)
		}
	}
}

// TestKeysAccessSecret: the HS256 keys `authd keys access-secret` prints
// verify the access tokens of authd and sign nothing else it accepts.
func TestKeysAccessSecret(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AUTHD_DB":            filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE": "false",
	}
	out, err := cli(t, env, "", "keys", "access-secret")
	if err != nil {
		t.Fatalf("keys access-secret: %v\n%s", err, out)
	}
	var set struct {
		Keys []struct{ Kty, Kid, Alg, Use, K string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("keys access-secret printed %s: %v", out, err)
	}
	k := set.Keys[0]
	key, err := base64.RawURLEncoding.DecodeString(k.K)
	if err != nil || len(key) != 32 || k.Kty != "oct" || k.Alg != "HS256" || k.Use != "sig" {
		t.Fatalf("JWK %+v", k)
	}
	s := mustRun(t, env)
	c := authdtest.NewClient(t, s.URL)
	c.MustRegister("frank", "frank's long password")
	access := c.MustLogin("frank", "frank's long password").AccessToken
	if _, kid := authdtest.TokenHeader(access); kid != k.Kid {
		t.Errorf("access token kid %s, the printed key's %s", kid, k.Kid)
	}
	mac := func(signed string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(signed))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	i := strings.LastIndexByte(access, '.')
	if access[i+1:] != mac(access[:i]) {
		t.Error("the printed key does not verify the access token")
	}
	// The refresh cookie is not signed with it, and a refresh token
	// forged with it is refused.
	refresh := c.Cookie("refresh_token")
	j := strings.LastIndexByte(refresh, '.')
	if refresh[j+1:] == mac(refresh[:j]) {
		t.Error("the access key signs refresh tokens")
	}
	c.PutCookie("refresh_token", refresh[:j]+"."+mac(refresh[:j]))
	c.Refresh().Want(t, "refresh with a refresh token signed by the access key", 400, "invalid_refresh_token")
}

func TestKeysCommandLine(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTHD_DB": filepath.Join(t.TempDir(), "authd.db")}
	for _, tc := range []struct {
		args    []string
		wantErr string
		wantOut string
	}{
		{args: []string{"keys"}, wantErr: "want rotate, list or access-secret"},
		{args: []string{"keys", "burn"}, wantErr: "unknown subcommand"},
		{args: []string{"keys", "rotate", "extra"}, wantErr: "takes no arguments"},
		{args: []string{"keys", "list"}, wantOut: "no Ed25519 key yet"},
		{args: []string{"keys", "rotate"}, wantOut: "AUTHD_ACCESS_ALG is HS256"},
		{args: []string{"keys", "list", "--access-alg", "EdDSA"}, wantOut: "signing"},
	} {
		out, err := cli(t, env, "", tc.args...)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("authd %v: %v\n%s", tc.args, err, out)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("authd %v = %v, want an error containing %q", tc.args, err, tc.wantErr)
		case !strings.Contains(out, tc.wantOut):
			t.Errorf("authd %v printed %q, want %q in it", tc.args, out, tc.wantOut)
		}
	}
}
