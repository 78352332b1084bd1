package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"authd/internal/authdtest"
)

// mustRun starts the whole program in-process on 127.0.0.1:0 with env as
// its environment; the test stops it when it ends and fails if run did not
// return nil. Its address comes from the first line of its stdout, its
// logs are the server's Log.
func mustRun(t *testing.T, env map[string]string) *authdtest.Server {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	return authdtest.MustStart(t, authdtest.Command{
		Name: "authd",
		Run: func(ctx context.Context, stdout, stderr io.Writer) error {
			return run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, strings.NewReader(""), stdout, stderr)
		},
	})
}

func TestRunWalksThroughASession(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AUTHD_DB":            filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE": "false", // plain-HTTP test server: a Secure cookie would not be sent back
	}
	s := mustRun(t, env)
	c := authdtest.NewClient(t, s.URL)

	var health struct{ Status string }
	r := c.Call("GET", "/healthz", "", nil)
	r.MustDecode(t, &health)
	if r.Status != 200 || health.Status != "ok" {
		t.Fatalf("healthz = %s", r)
	}
	var ready map[string]any
	r = c.Call("GET", "/readyz", "", nil)
	r.MustDecode(t, &ready)
	if r.Status != 200 {
		t.Fatalf("readyz = %s", r)
	}
	const username, password = "alice", "correct horse battery"
	reg := c.Register(authdtest.RegisterRequest{Username: username, Password: password})
	if reg.Status != 201 || reg.Username != "alice" {
		t.Fatalf("register = %s", reg)
	}

	tok := c.Login(username, password)
	if tok.Status != 200 || tok.TokenType != "Bearer" || tok.ExpiresIn != 900 {
		t.Fatalf("login = %s", tok)
	}
	access := tok.AccessToken
	if got := c.CookieNames(); len(got) != 1 || got[0] != "refresh_token" {
		t.Fatalf("after login the jar holds %q, want one refresh_token", got)
	}

	if me := c.Me(access); me.Status != 200 || me.Username != "alice" {
		t.Fatalf("me = %s", me)
	}

	tok = c.Refresh()
	if tok.Status != 200 || tok.AccessToken == "" {
		t.Fatalf("refresh = %s", tok)
	}
	refreshed := tok.AccessToken
	if me := c.Me(refreshed); me.Status != 200 {
		t.Fatalf("me with the refreshed token = %s", me)
	}

	// Keep the refresh cookie past logout, as a thief who copied it would.
	stolen := c.Cookie("refresh_token")
	if r := c.Logout(access); r.Status != 200 {
		t.Fatalf("logout = %s", r)
	}
	if got := c.CookieNames(); len(got) != 0 {
		t.Fatalf("after logout the jar holds %q, want none", got)
	}
	c.PutCookie("refresh_token", stolen)
	if r := c.Refresh(); r.Status != 400 || r.Error.Code != "invalid_refresh_token" {
		t.Fatalf("refresh after logout = %s, want 400 invalid_refresh_token", r)
	}
	if r := c.Me(refreshed); r.Status != 401 || r.Error.Code != "invalid_token" {
		t.Fatalf("me after logout = %s, want 401 invalid_token", r)
	}

	// Nothing secret reaches the logs.
	out := s.Log()
	for _, secret := range []string{password, access, refreshed, stolen} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain a secret %.12q...", secret)
		}
	}
}

func TestRunKeepsTheGeneratedKeyAcrossRestarts(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTHD_DB": filepath.Join(t.TempDir(), "authd.db"), "AUTHD_COOKIE_SECURE": "false"}
	const username, password = "bob", "a long enough password"

	s := mustRun(t, env)
	c := authdtest.NewClient(t, s.URL)
	c.Register(authdtest.RegisterRequest{Username: username, Password: password})
	tok := c.Login(username, password)
	if tok.AccessToken == "" {
		t.Fatalf("login = %s", tok)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s = mustRun(t, env)
	if r := authdtest.NewClient(t, s.URL).Me(tok.AccessToken); r.Status != 200 {
		t.Fatalf("after restart, me with the old access token = %s, want 200", r)
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AUTHD_ACCESS_TTL": "soon"}, "AUTHD_ACCESS_TTL"},
		{map[string]string{"AUTHD_JWT_SECRET": "short"}, "AUTHD_JWT_SECRET"},
		{map[string]string{"AUTHD_THROTTLE_LOGIN": "6/fortnight"}, "AUTHD_THROTTLE_LOGIN"},
		{map[string]string{"AUTHD_COOKIE_SAMESITE": "sometimes"}, "AUTHD_COOKIE_SAMESITE"},
		{map[string]string{"AUTHD_JWT_SECRET_FILE": "/nonexistent/jwt_secret"}, `AUTHD_JWT_SECRET_FILE: cannot read "/nonexistent/jwt_secret"`},
		{map[string]string{"AUTHD_DATA_KEY": strings.Repeat("k", 32), "AUTHD_DATA_KEY_FILE": "/run/secrets/data_key"}, "AUTHD_DATA_KEY and AUTHD_DATA_KEY_FILE"},
	} {
		err := run(context.Background(), nil, func(k string) string { return tc.env[k] }, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("run with %v = %v, want a one-line error naming %s", tc.env, err, tc.want)
		}
	}
	var help strings.Builder
	if err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, nil, io.Discard, &help); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run -h = %v, want flag.ErrHelp", err)
	}
	// -h says how to give secrets: by file or variable, never by flag.
	for _, want := range []string{"AUTHD_JWT_SECRET_FILE, --jwt-secret-file", "AUTHD_DATA_KEY_FILE, --data-key-file", "Never give a secret as a flag"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("run -h does not say %q", want)
		}
	}
}

func TestRunServesWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AUTHD_DB":             filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE":  "false",
		"AUTHD_REDIS_URL":      "redis://127.0.0.1:1/0", // nothing listens on port 1
		"AUTHD_THROTTLE_LOGIN": "2/minute",
	}
	s := mustRun(t, env)
	c := authdtest.NewClient(t, s.URL)
	var got []int
	for i := 0; i < 3; i++ {
		got = append(got, c.Login("nobody", "not a password").Status)
	}
	if got[0] != 400 || got[1] != 400 || got[2] != 429 {
		t.Errorf("logins with Redis down = %v, want [400 400 429]: counted in-process", got)
	}
	var ready map[string]any
	r := c.Call("GET", "/readyz", "", nil)
	r.MustDecode(t, &ready)
	if r.Status != 200 || !strings.Contains(fmt.Sprint(ready["throttle"]), "degraded") {
		t.Errorf("readyz = %s, want 200 with the throttle degraded", r)
	}
	if n := strings.Count(s.Log(), "shared throttle store unreachable"); n != 1 {
		t.Errorf("the degradation was logged %d times, want once", n)
	}
}

// TestServePrintsItsAddress: serve prints the address it listens on, as
// bound, alone on the first line of stdout, and nothing else there.
func TestServePrintsItsAddress(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTHD_DB": filepath.Join(t.TempDir(), "authd.db")}
	var printed bytes.Buffer // read once run has returned
	s := authdtest.MustStart(t, authdtest.Command{
		Name: "authd",
		Run: func(ctx context.Context, stdout, stderr io.Writer) error {
			return run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, nil, io.MultiWriter(stdout, &printed), stderr)
		},
	})
	if host, port, err := net.SplitHostPort(s.Addr); err != nil || host != "127.0.0.1" || port == "0" {
		t.Errorf("address %q, want 127.0.0.1 and the port bound", s.Addr)
	}
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz at the printed address: %v", err)
	}
	resp.Body.Close()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := printed.String(); got != s.Addr+"\n" {
		t.Errorf("serve printed %q on stdout, want %q alone", got, s.Addr+"\n")
	}
}

// TestRunReadsSecretsFromFiles starts the server with its signing key
// and database path in files, as container secrets give them.
func TestRunReadsSecretsFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := strings.Repeat("k", 40)
	db := filepath.Join(dir, "authd.db")
	for name, content := range map[string]string{"jwt_secret": key + "\n", "db": db + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"AUTHD_JWT_SECRET_FILE": filepath.Join(dir, "jwt_secret"),
		"AUTHD_DB_FILE":         filepath.Join(dir, "db"),
		"AUTHD_COOKIE_SECURE":   "false",
	}
	s := mustRun(t, env)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	logs := s.Log()
	if !strings.Contains(logs, `"signing_key":"configured"`) || !strings.Contains(logs, jsonEscaped(db)) {
		t.Errorf("the server did not take the key and database from their files:\n%s", logs)
	}
	if strings.Contains(logs, key) {
		t.Errorf("the logs show the key")
	}
}
