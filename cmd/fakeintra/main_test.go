package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"authd/fakeintra"
	"authd/internal/authdtest"
)

const usersPath = "../../testdata/intra/users.json"

// syncBuffer is a bytes.Buffer that the program and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

// mustStart runs the program in-process on a free port; the test stops it
// when it ends and fails unless run returned nil.
func mustStart(t *testing.T, args []string, getenv func(string) string) authdtest.Fakeintra {
	t.Helper()
	return authdtest.Fakeintra{Server: authdtest.MustStart(t, authdtest.Command{
		Name: "fakeintra",
		Run: func(ctx context.Context, stdout, stderr io.Writer) error {
			return run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), getenv, stdout, stderr)
		},
	})}
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

func TestRunServesTheFlow(t *testing.T) {
	t.Parallel()
	f := mustStart(t, []string{"-users", usersPath}, noEnv)
	base := f.URL

	q := url.Values{
		"client_id": {fakeintra.DevClientID}, "redirect_uri": {fakeintra.DevRedirectURI},
		"response_type": {"code"}, "scope": {"public"}, "state": {"xyz"},
		"login": {"cmuller"}, "consent": {"authorize"},
	}
	resp, err := noRedirect.Get(base + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize: status %d: %v", resp.StatusCode, err)
	}
	if loc.Query().Get("state") != "xyz" {
		t.Errorf("state not echoed: %s", loc)
	}

	resp, err = noRedirect.PostForm(base+"/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {fakeintra.DevClientID}, "client_secret": {fakeintra.DevClientSecret},
		"code": {loc.Query().Get("code")}, "redirect_uri": {fakeintra.DevRedirectURI},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token: status %d", resp.StatusCode)
	}
	// The rate limits are on by default.
	if got := resp.Header.Get("X-Secondly-RateLimit-Limit"); got != "2" {
		t.Errorf("X-Secondly-RateLimit-Limit %q, want 2", got)
	}

	req, _ := http.NewRequest("GET", base+"/v2/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me struct{ Login, Email string }
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if me.Login != "cmuller" || me.Email != "chloé.müller@student.42lausanne.ch" {
		t.Errorf("me = %+v", me)
	}

	// The control endpoint drives the running program.
	f.MustFault(t, `{"endpoint":"me","kind":"status","status":503}`)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("me with a fault: status %d, want 503", resp.StatusCode)
	}

	if err := f.Stop(); err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestRunDrainsHangingCalls(t *testing.T) {
	t.Parallel()
	f := mustStart(t, []string{"-users", usersPath, "-rate-limit=false"}, noEnv)
	f.MustFault(t, `{"endpoint":"token","kind":"hang","delay":"5m"}`)
	answered := make(chan int, 1)
	go func() {
		resp, err := noRedirect.PostForm(f.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {fakeintra.DevClientID}, "client_secret": {fakeintra.DevClientSecret}})
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // let the call start hanging
	begin := time.Now()
	if err := f.Stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("drain took %v", d)
	}
	if code := <-answered; code != http.StatusOK {
		t.Errorf("hanging call: status %d, want 200 on drain", code)
	}
}

// TestRunPKCE: a code issued with a challenge needs its verifier, unless
// the program runs with -pkce=false.
func TestRunPKCE(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, http.StatusUnauthorized},
		{[]string{"-pkce=false"}, http.StatusOK},
	} {
		base := mustStart(t, append([]string{"-users", usersPath, "-rate-limit=false"}, tc.args...), noEnv).URL
		q := url.Values{
			"client_id": {fakeintra.DevClientID}, "redirect_uri": {fakeintra.DevRedirectURI}, "response_type": {"code"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"},
			"login": {"jdoe"}, "consent": {"authorize"},
		}
		resp, err := noRedirect.Get(base + "/oauth/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("%v: authorize: status %d: %v", tc.args, resp.StatusCode, err)
		}
		resp, err = noRedirect.PostForm(base+"/oauth/token", url.Values{
			"grant_type": {"authorization_code"}, "client_id": {fakeintra.DevClientID}, "client_secret": {fakeintra.DevClientSecret},
			"code": {loc.Query().Get("code")}, "redirect_uri": {fakeintra.DevRedirectURI},
		})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%v: exchange without code_verifier: status %d, want %d", tc.args, resp.StatusCode, tc.want)
		}
	}
}

func TestRunEnvironment(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"FAKEINTRA_CLIENT_ID":     "u-s4t2ud-env",
		"FAKEINTRA_CLIENT_SECRET": "s-s4t2ud-env",
		"FAKEINTRA_REDIRECT_URI":  "http://a.example/cb, http://b.example/cb",
		"FAKEINTRA_USERS":         usersPath,
		"FAKEINTRA_LOGIN":         "alice",
	}
	base := mustStart(t, []string{"-redirect-uri", "http://c.example/cb", "-redirect-uri", "http://d.example/cb"}, func(k string) string { return env[k] }).URL
	for _, tc := range []struct {
		redirect string
		want     int
	}{
		{"http://c.example/cb", http.StatusFound},
		{"http://d.example/cb", http.StatusFound},
		{"http://a.example/cb", http.StatusBadRequest}, // the flags win over the environment
	} {
		q := url.Values{"client_id": {"u-s4t2ud-env"}, "redirect_uri": {tc.redirect}, "response_type": {"code"}, "consent": {"authorize"}}
		resp, err := noRedirect.Get(base + "/oauth/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.redirect, resp.StatusCode, tc.want)
		}
	}
}

func TestRunRefusesBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"-port", "1"}, nil, "port"},
		{"argument", []string{"serve"}, nil, "serve"},
		{"missing users file", []string{"-users", "nope.json"}, nil, "nope.json"},
		{"bad users file", []string{"-users", "main.go"}, nil, "main.go"},
		{"bad environment", nil, map[string]string{"FAKEINTRA_RATE_LIMIT": "sometimes"}, "FAKEINTRA_RATE_LIMIT"},
		{"bad status", []string{"-token-error-status", "500"}, nil, "token-error-status"},
		{"no redirect uri", []string{"-redirect-uri", ","}, nil, "redirect-uri"},
		{"bad address", []string{"-addr", "127.0.0.1:99999", "-users", usersPath}, nil, "addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("err %v, stderr %s; want a mention of %q", err, stderr.String(), tt.want)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr syncBuffer
	err := run(context.Background(), []string{"-h"}, noEnv, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-addr", "-client-id", "-redirect-uri", "-users", "-login", "-rate-limit", "-pkce", "/_fake/faults", "me_missing_login", "FAKEINTRA_"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestRunBuiltinUsersWhenDefaultMissing(t *testing.T) {
	t.Parallel()
	// The test runs in cmd/fakeintra, where the default path does not exist.
	f := mustStart(t, nil, noEnv)
	q := url.Values{"client_id": {fakeintra.DevClientID}, "redirect_uri": {fakeintra.DevRedirectURI}, "response_type": {"code"}, "login": {"gfavre"}, "consent": {"authorize"}}
	resp, err := noRedirect.Get(f.URL + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("built-in user: status %d", resp.StatusCode)
	}
	if err := f.Stop(); err != nil {
		t.Errorf("run: %v", err)
	}
}
