package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"

	"authd/internal/account"
	"authd/internal/store"
	"authd/internal/throttle"
)

// values returns every series of the registry: "name{label=value,...}"
// to its value (a histogram's sample count).
func values(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = value(s)
		}
	}
	return out
}

func value(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	}
	return 0
}

// authd returns the series of authd's own metrics.
func authd(all map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range all {
		if strings.HasPrefix(k, "authd_") {
			out[k] = v
		}
	}
	return out
}

func TestReadings(t *testing.T) {
	t.Parallel()
	inFlight, degraded := 3, true
	m := New(Options{HashesInFlight: func() int { return inFlight }, LimiterDegraded: func() bool { return degraded }})
	want := map[string]float64{
		"authd_password_hashes_in_flight{}": 3,
		"authd_limiter_degraded{}":          1,
		"authd_store_errors_total{}":        0,
		// A histogram without labels has its series from the start.
		"authd_password_hash_duration_seconds{}": 0,
	}
	if diff := cmp.Diff(want, authd(values(t, m))); diff != "" {
		t.Errorf("series of fresh metrics (-want +got):\n%s", diff)
	}
	inFlight, degraded = 0, false
	want["authd_password_hashes_in_flight{}"], want["authd_limiter_degraded{}"] = 0, 0
	if diff := cmp.Diff(want, authd(values(t, m))); diff != "" {
		t.Errorf("series once idle (-want +got):\n%s", diff)
	}
	// Without readings, both gauges read 0.
	if diff := cmp.Diff(want, authd(values(t, New(Options{})))); diff != "" {
		t.Errorf("series without readings (-want +got):\n%s", diff)
	}
}

func TestObservations(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	m.ObserveRequest("POST /auth/login/", 200, 30*time.Millisecond)
	m.ObserveRequest("POST /auth/login/", 429, time.Millisecond)
	m.ObserveRequest("/", 404, time.Millisecond)
	m.ObserveHash(50 * time.Millisecond)
	for _, e := range []account.Event{
		{Name: account.EventLoginSucceeded, Method: account.MethodPassword},
		{Name: account.EventLoginFailed, Method: account.MethodPassword, Reason: account.ReasonInvalidCredentials},
		{Name: account.EventLoginFailed, Method: account.MethodPassword, Reason: account.ReasonLocked},
		{Name: account.EventLoginSucceeded, Method: account.MethodIntra},
		{Name: account.EventLockout},
		{Name: account.EventLogout, Reason: account.ReasonLogout},
		{Name: account.EventLogout, Reason: account.ReasonLogout},
		{Name: account.EventSessionRevoked, Reason: account.ReasonUserDisabled},
		{Name: account.EventRefreshReuseDetected},
		{Name: account.EventIntraLinked},
	} {
		m.ObserveEvent(e)
	}
	want := map[string]float64{
		"authd_http_requests_total{code=200,route=POST /auth/login/}":    1,
		"authd_http_requests_total{code=429,route=POST /auth/login/}":    1,
		"authd_http_requests_total{code=404,route=/}":                    1,
		"authd_http_request_duration_seconds{route=POST /auth/login/}":   2,
		"authd_http_request_duration_seconds{route=/}":                   1,
		"authd_password_hash_duration_seconds{}":                         1,
		"authd_logins_total{method=password,result=success}":             1,
		"authd_logins_total{method=password,result=invalid_credentials}": 1,
		"authd_logins_total{method=password,result=locked}":              1,
		"authd_logins_total{method=intra,result=success}":                1,
		"authd_sessions_revoked_total{reason=logout}":                    2,
		"authd_sessions_revoked_total{reason=user_disabled}":             1,
		"authd_sessions_revoked_total{reason=refresh_reuse_detected}":    1,
		"authd_password_hashes_in_flight{}":                              0,
		"authd_limiter_degraded{}":                                       0,
		"authd_store_errors_total{}":                                     0,
	}
	if diff := cmp.Diff(want, authd(values(t, m))); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
}

// refusing allows the first request of each key and refuses the rest;
// the key "down|x" fails.
type refusing struct{ seen map[string]bool }

func (r *refusing) Allow(_ context.Context, key string, _ throttle.Rate) (throttle.Decision, error) {
	if strings.HasPrefix(key, "down|") {
		return throttle.Decision{}, errors.New("redis: connection refused")
	}
	ok := !r.seen[key]
	r.seen[key] = true
	return throttle.Decision{Allowed: ok}, nil
}

func (r *refusing) Peek(context.Context, string, throttle.Rate) (throttle.Decision, error) {
	return throttle.Decision{}, nil
}

func TestLimiterCountsDecisionsByScope(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	l := m.Limiter(&refusing{seen: map[string]bool{}})
	rate := throttle.Rate{N: 1, Period: time.Minute}
	for _, key := range []string{"login|ip:192.0.2.1", "login|ip:192.0.2.1", "login|ip:192.0.2.2", "login_account|alice", "down|x", "nobar"} {
		l.Allow(t.Context(), key, rate)
	}
	l.Peek(t.Context(), "login|ip:192.0.2.1", rate)
	got := map[string]float64{}
	for k, v := range values(t, m) {
		if strings.HasPrefix(k, "authd_throttle_decisions_total") {
			got[k] = v
		}
	}
	want := map[string]float64{
		"authd_throttle_decisions_total{decision=allowed,scope=login}":         2,
		"authd_throttle_decisions_total{decision=throttled,scope=login}":       1,
		"authd_throttle_decisions_total{decision=allowed,scope=login_account}": 1,
		"authd_throttle_decisions_total{decision=error,scope=down}":            1,
		"authd_throttle_decisions_total{decision=allowed,scope=unknown}":       1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
}

// flaky is a store whose lookups fail as an unreachable database's,
// but for the names it knows or has never heard of.
type flaky struct{ store.Store }

func (flaky) UserByUsername(_ context.Context, name string) (store.User, error) {
	switch name {
	case "nobody":
		return store.User{}, fmt.Errorf("find: %w", store.ErrNotFound)
	case "alice":
		return store.User{ID: 1}, nil
	}
	return store.User{}, errors.New("connection refused")
}

func (flaky) Ping(context.Context) error { return errors.New("connection refused") }

func TestStoreCountsFailuresOnly(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	s := m.Store(flaky{})
	for _, name := range []string{"alice", "nobody", "bob", "carol"} {
		s.UserByUsername(t.Context(), name)
	}
	s.Ping(t.Context())
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	s.UserByUsername(ended, "dave")
	if got := values(t, m)["authd_store_errors_total{}"]; got != 3 {
		t.Errorf("authd_store_errors_total = %v, want 3 (bob, carol and the ping)", got)
	}
}

// TestHandlerServesEveryFamily reads the text format: every family of
// the contract, once it has a series, and the Go and process collectors.
func TestHandlerServesEveryFamily(t *testing.T) {
	t.Parallel()
	m := New(Options{})
	m.ObserveRequest("GET /healthz", 200, time.Millisecond)
	m.ObserveHash(time.Millisecond)
	m.ObserveEvent(account.Event{Name: account.EventLoginSucceeded, Method: account.MethodPassword})
	m.ObserveEvent(account.Event{Name: account.EventLogout, Reason: account.ReasonLogout})
	m.Limiter(&refusing{seen: map[string]bool{}}).Allow(t.Context(), "login|x", throttle.Rate{N: 1, Period: time.Second})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	for _, family := range []string{
		"authd_http_requests_total", "authd_http_request_duration_seconds", "authd_throttle_decisions_total",
		"authd_logins_total", "authd_password_hashes_in_flight", "authd_password_hash_duration_seconds",
		"authd_sessions_revoked_total", "authd_limiter_degraded", "authd_store_errors_total",
		"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes",
	} {
		if !strings.Contains(string(body), "\n# TYPE "+family+" ") {
			t.Errorf("/metrics has no %s", family)
		}
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the text format", ct)
	}
}
