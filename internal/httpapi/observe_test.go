package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/config"
)

// observed keeps what ObserveRequest was told.
type observed struct {
	mu     sync.Mutex
	routes map[string]int // requests by route label
	calls  []string       // "route status", in order
}

func (o *observed) observe(route string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.routes[route]++
	o.calls = append(o.calls, fmt.Sprintf("%s %d", route, status))
}

func newObservedEnv(t *testing.T, edit func(*testDeps)) (*testEnv, *observed) {
	t.Helper()
	o := &observed{routes: map[string]int{}}
	e := newTestEnvDeps(t, func(c *config.Config) {
		c.CORSOrigins = []string{"https://app.example"}
	}, func(d *testDeps) {
		d.ObserveRequest = o.observe
		if edit != nil {
			edit(d)
		}
	})
	return e, o
}

// TestObservedRoutesArePatterns checks that requests are told by the
// pattern that answered them, never by their path.
func TestObservedRoutesArePatterns(t *testing.T) {
	t.Parallel()
	e, o := newObservedEnv(t, nil)
	e.mustUser(t, "alice", "alice-password")
	tok, _ := e.mustLogin(t, "alice", "alice-password")
	for _, rq := range []request{
		{method: "GET", path: "/auth/me/", bearer: tok},
		{method: "GET", path: "/auth/me/", bearer: "bad"},
		{method: "DELETE", path: "/auth/login/"},
		{method: "HEAD", path: "/oauth2/intra/url/"},
		{method: "GET", path: "/healthz"},
		{method: "GET", path: "/auth/login/extra"},
		{method: "GET", path: "/metrics"},
		{method: "OPTIONS", path: "/auth/login/", header: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}},
	} {
		e.do(t, rq)
	}
	want := []string{
		"POST /auth/login/ 200",
		"GET /auth/me/ 200",
		"GET /auth/me/ 401",
		"/auth/login/ 405",
		"HEAD /oauth2/intra/url/ 405",
		"GET /healthz 200",
		"/ 404",
		"/ 404",
		"preflight 204",
	}
	if diff := cmp.Diff(want, o.calls); diff != "" {
		t.Errorf("observed requests (-want +got):\n%s", diff)
	}
}

// TestObservedRoutesStayFew sends 10,000 distinct unknown paths: they all
// share one route label, so a metric labelled by route cannot grow with
// what clients send.
func TestObservedRoutesStayFew(t *testing.T) {
	t.Parallel()
	e, o := newObservedEnv(t, nil)
	for i := range 10_000 {
		e.do(t, request{method: "GET", path: fmt.Sprintf("/no/such/%d/path", i)})
	}
	want := map[string]int{"/": 10_000}
	if diff := cmp.Diff(want, o.routes); diff != "" {
		t.Errorf("requests by route (-want +got):\n%s", diff)
	}
}

// TestAuditRecordsNameTheRequest checks that the account service's audit
// records of an HTTP request carry its client address and request id.
func TestAuditRecordsNameTheRequest(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		logs bytes.Buffer
	)
	e, _ := newObservedEnv(t, func(d *testDeps) {
		d.Logger = slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))
	})
	e.mustUser(t, "alice", "alice-password")
	r := e.do(t, request{
		method: "POST", path: "/auth/login/", body: `{"username":"alice","password":"alice-password"}`,
		remote: "127.0.0.1:4000",
		header: map[string]string{"X-Request-Id": "login-1", "X-Forwarded-For": "203.0.113.50"},
	})
	if r.status != 200 {
		t.Fatalf("login = %d %s", r.status, r.raw)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	var audits []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] == "audit" {
			audits = append(audits, map[string]any{"event": rec["event"], "client_ip": rec["client_ip"], "request_id": rec["request_id"]})
		}
	}
	// No trusted proxy is configured: the peer is the client.
	want := []map[string]any{{"event": "login_succeeded", "client_ip": "127.0.0.1", "request_id": "login-1"}}
	if diff := cmp.Diff(want, audits); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
