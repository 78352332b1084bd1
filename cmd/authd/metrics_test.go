package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd/internal/authdtest"
)

// mustMetricsURL returns the URL of the metrics listener of s, from the
// record serve logs before it prints its address.
func mustMetricsURL(t *testing.T, s *authdtest.Server) string {
	t.Helper()
	for _, line := range strings.Split(s.Log(), "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics listening" {
			return "http://" + rec.Addr
		}
	}
	t.Fatalf("no \"metrics listening\" record in the log:\n%s", s.Tail(20))
	return ""
}

func mustGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestMetricsListener checks that /metrics is served on the metrics
// listener alone, with the series of what the public one answered.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	s := mustRun(t, map[string]string{
		"AUTHD_DB":             filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE":  "false",
		"AUTHD_METRICS_ADDR":   "127.0.0.1:0",
		"AUTHD_THROTTLE_LOGIN": "3/minute",
	})
	metricsURL := mustMetricsURL(t, s)
	c := authdtest.NewClient(t, s.URL)
	c.MustRegister("alice", "alice-password")
	tok := c.MustLogin("alice", "alice-password")
	for range 3 { // the third is over the rate
		c.Login("alice", "wrong-password")
	}
	c.MustLogout(tok.AccessToken)
	for _, p := range []string{"/no/such/1", "/no/such/2", "/no/such/3"} {
		c.Call("GET", p, "", nil)
	}

	if r := c.Call("GET", "/metrics", "", nil); r.Status != 404 || r.Error.Code != "not_found" {
		t.Errorf("GET /metrics on the public listener = %s, want 404 not_found", r)
	}
	if status, _ := mustGet(t, metricsURL+"/auth/me/"); status != 404 {
		t.Errorf("GET /auth/me/ on the metrics listener = %d, want 404", status)
	}
	status, body := mustGet(t, metricsURL+"/metrics")
	if status != 200 {
		t.Fatalf("GET /metrics = %d", status)
	}
	for _, line := range []string{
		`authd_http_requests_total{code="201",route="POST /auth/register/"} 1`,
		`authd_http_requests_total{code="200",route="POST /auth/login/"} 1`,
		`authd_http_requests_total{code="400",route="POST /auth/login/"} 2`,
		`authd_http_requests_total{code="429",route="POST /auth/login/"} 1`,
		`authd_http_requests_total{code="404",route="/"} 4`,
		`authd_http_request_duration_seconds_count{route="POST /auth/login/"} 4`,
		`authd_throttle_decisions_total{decision="allowed",scope="login"} 3`,
		`authd_throttle_decisions_total{decision="throttled",scope="login"} 1`,
		`authd_throttle_decisions_total{decision="allowed",scope="login_account"} 2`,
		`authd_logins_total{method="password",result="success"} 1`,
		`authd_logins_total{method="password",result="invalid_credentials"} 2`,
		`authd_sessions_revoked_total{reason="logout"} 1`,
		`authd_password_hashes_in_flight 0`,
		`authd_limiter_degraded 0`,
		`authd_store_errors_total 0`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	for _, family := range []string{"authd_password_hash_duration_seconds", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, "# TYPE "+family+" ") {
			t.Errorf("/metrics lacks the family %s", family)
		}
	}
	if strings.Contains(body, "/no/such") {
		t.Errorf("/metrics shows a raw path")
	}
}

// TestMetricsAddrRefused checks that start-up stops, with one line naming
// AUTHD_METRICS_ADDR, when the metrics listener cannot be had.
func TestMetricsAddrRefused(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"not host:port", map[string]string{"AUTHD_METRICS_ADDR": "9090"}},
		{"no port", map[string]string{"AUTHD_METRICS_ADDR": "127.0.0.1:"}},
		{"the public address", map[string]string{"AUTHD_ADDR": "127.0.0.1:8000", "AUTHD_METRICS_ADDR": "127.0.0.1:8000"}},
		{"the public port on every interface", map[string]string{"AUTHD_ADDR": ":8000", "AUTHD_METRICS_ADDR": "127.0.0.1:8000"}},
		{"a port in use", map[string]string{"AUTHD_ADDR": "127.0.0.1:0", "AUTHD_METRICS_ADDR": busy.Addr().String()}},
	} {
		tc.env["AUTHD_DB"] = filepath.Join(t.TempDir(), "authd.db")
		var stdout strings.Builder
		err := run(context.Background(), nil, func(k string) string { return tc.env[k] }, strings.NewReader(""), &stdout, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "AUTHD_METRICS_ADDR") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: run = %v, want a one-line error naming AUTHD_METRICS_ADDR", tc.name, err)
		}
		if stdout.Len() != 0 {
			t.Errorf("%s: printed %q, want no address: nothing serves", tc.name, stdout.String())
		}
	}
}
