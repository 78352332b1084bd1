package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// logWatcher collects what run logs and reports the address it listens on.
type logWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
	sent bool
}

func newLogWatcher() *logWatcher { return &logWatcher{addr: make(chan string, 1)} }

func (l *logWatcher) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.sent {
		for _, line := range strings.Split(l.buf.String(), "\n") {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				l.addr <- rec.Addr
				l.sent = true
				break
			}
		}
	}
	return len(p), nil
}

func (l *logWatcher) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// mustRun starts the whole program on 127.0.0.1:0 with env as its
// environment and returns its base URL, its logs and a function that stops
// it (also called when the test ends) and checks that it exited cleanly.
func mustRun(t *testing.T, env map[string]string) (string, *logWatcher, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := newLogWatcher()
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, strings.NewReader(""), io.Discard, logs)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run returned %v after cancel, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("run did not stop within 30s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case addr := <-logs.addr:
		return "http://" + addr, logs, stop
	case err := <-done:
		t.Fatalf("run exited before listening: %v\nlogs:\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not listen within 30s\nlogs:\n%s", logs)
	}
	return "", nil, nil
}

type apiResult struct {
	status int
	body   map[string]any
	header http.Header
}

func call(t *testing.T, c *http.Client, method, u, bearer string, body any) apiResult {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	res := apiResult{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&res.body); err != nil {
		t.Fatalf("%s %s: status %d, body not JSON: %v", method, u, resp.StatusCode, err)
	}
	return res
}

func TestRunWalksThroughASession(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AUTHD_DB":            filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE": "false", // plain-HTTP test server: a Secure cookie would not be sent back
	}
	base, logs, _ := mustRun(t, env)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}

	if r := call(t, c, "GET", base+"/healthz", "", nil); r.status != 200 || r.body["status"] != "ok" {
		t.Fatalf("healthz = %d %v", r.status, r.body)
	}
	if r := call(t, c, "GET", base+"/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz = %d %v", r.status, r.body)
	}
	creds := map[string]string{"username": "alice", "password": "correct horse battery"}
	r := call(t, c, "POST", base+"/auth/register/", "", creds)
	if r.status != 201 || r.body["username"] != "alice" {
		t.Fatalf("register = %d %v", r.status, r.body)
	}

	r = call(t, c, "POST", base+"/auth/login/", "", creds)
	if r.status != 200 || r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(900) {
		t.Fatalf("login = %d %v", r.status, r.body)
	}
	access, _ := r.body["access_token"].(string)
	u, _ := url.Parse(base)
	if len(jar.Cookies(u)) != 1 || jar.Cookies(u)[0].Name != "refresh_token" {
		t.Fatalf("after login the jar holds %v, want one refresh_token", jar.Cookies(u))
	}

	r = call(t, c, "GET", base+"/auth/me/", access, nil)
	if r.status != 200 || r.body["username"] != "alice" {
		t.Fatalf("me = %d %v", r.status, r.body)
	}

	r = call(t, c, "POST", base+"/auth/refresh/", "", nil)
	if r.status != 200 || r.body["access_token"] == "" {
		t.Fatalf("refresh = %d %v", r.status, r.body)
	}
	refreshed, _ := r.body["access_token"].(string)
	if r := call(t, c, "GET", base+"/auth/me/", refreshed, nil); r.status != 200 {
		t.Fatalf("me with the refreshed token = %d %v", r.status, r.body)
	}

	// Keep the refresh cookie past logout, as a thief who copied it would.
	stolen := jar.Cookies(u)
	r = call(t, c, "POST", base+"/auth/logout/", access, nil)
	if r.status != 200 {
		t.Fatalf("logout = %d %v", r.status, r.body)
	}
	if n := len(jar.Cookies(u)); n != 0 {
		t.Fatalf("after logout the jar holds %d cookies, want none", n)
	}
	jar.SetCookies(u, stolen)
	r = call(t, c, "POST", base+"/auth/refresh/", "", nil)
	if r.status != 400 || r.body["error"] != "invalid_refresh_token" {
		t.Fatalf("refresh after logout = %d %v, want 400 invalid_refresh_token", r.status, r.body)
	}
	r = call(t, c, "GET", base+"/auth/me/", refreshed, nil)
	if r.status != 401 || r.body["error"] != "invalid_token" {
		t.Fatalf("me after logout = %d %v, want 401 invalid_token", r.status, r.body)
	}

	// Nothing secret reaches the logs.
	out := logs.String()
	for _, secret := range []string{creds["password"], access, refreshed, stolen[0].Value} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain a secret %.12q...", secret)
		}
	}
}

func TestRunKeepsTheGeneratedKeyAcrossRestarts(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTHD_DB": filepath.Join(t.TempDir(), "authd.db"), "AUTHD_COOKIE_SECURE": "false"}
	c := &http.Client{Timeout: 20 * time.Second}
	creds := map[string]string{"username": "bob", "password": "a long enough password"}

	base, _, stop := mustRun(t, env)
	call(t, c, "POST", base+"/auth/register/", "", creds)
	r := call(t, c, "POST", base+"/auth/login/", "", creds)
	access, _ := r.body["access_token"].(string)
	if access == "" {
		t.Fatalf("login = %d %v", r.status, r.body)
	}
	stop()
	base, _, _ = mustRun(t, env)
	if r := call(t, c, "GET", base+"/auth/me/", access, nil); r.status != 200 {
		t.Fatalf("after restart, me with the old access token = %d %v, want 200", r.status, r.body)
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

func newTestClient() *http.Client { return &http.Client{Timeout: 20 * time.Second} }

func TestRunServesWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"AUTHD_DB":             filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE":  "false",
		"AUTHD_REDIS_URL":      "redis://127.0.0.1:1/0", // nothing listens on port 1
		"AUTHD_THROTTLE_LOGIN": "2/minute",
	}
	base, logs, _ := mustRun(t, env)
	c := newTestClient()
	bad := map[string]string{"username": "nobody", "password": "not a password"}
	var got []int
	for i := 0; i < 3; i++ {
		got = append(got, call(t, c, "POST", base+"/auth/login/", "", bad).status)
	}
	if got[0] != 400 || got[1] != 400 || got[2] != 429 {
		t.Errorf("logins with Redis down = %v, want [400 400 429]: counted in-process", got)
	}
	r := call(t, c, "GET", base+"/readyz", "", nil)
	if r.status != 200 || !strings.Contains(fmt.Sprint(r.body["throttle"]), "degraded") {
		t.Errorf("readyz = %d %v, want 200 with the throttle degraded", r.status, r.body)
	}
	if n := strings.Count(logs.String(), "shared throttle store unreachable"); n != 1 {
		t.Errorf("the degradation was logged %d times, want once", n)
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
	_, logs, stop := mustRun(t, env)
	stop()
	if !strings.Contains(logs.String(), `"signing_key":"configured"`) || !strings.Contains(logs.String(), jsonEscaped(db)) {
		t.Errorf("the server did not take the key and database from their files:\n%s", logs)
	}
	if strings.Contains(logs.String(), key) {
		t.Errorf("the logs show the key")
	}
}
