// Package metrics counts what authd does, for Prometheus: requests by
// route and status, throttle decisions, logins, password hashing, revoked
// sessions, the shared limiter's state and store failures, with the Go
// runtime and process collectors beside them. Handler serves them in the
// Prometheus text format, on a listener of its own (see cmd/authd).
//
// The other packages know nothing of Prometheus: they tell what happens
// through plain hooks (httpapi.Deps.ObserveRequest,
// account.Options.OnEvent, password.Options.OnHash), and the limiters and
// the store are wrapped here.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"authd/internal/account"
)

// Options are the readings the metrics take from elsewhere; nil ones read
// zero.
type Options struct {
	// HashesInFlight is how many password hashes are being computed.
	HashesInFlight func() int
	// LimiterDegraded reports whether the throttles count in this
	// process because the shared store (Redis) is unreachable.
	LimiterDegraded func() bool
}

// Metrics holds authd's metrics in a registry of their own. Its methods
// are safe for concurrent use.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	throttle     *prometheus.CounterVec
	logins       *prometheus.CounterVec
	hashDuration prometheus.Histogram
	revoked      *prometheus.CounterVec
	storeErrors  prometheus.Counter
}

// New returns the metrics, registered with the Go runtime and process
// collectors.
func New(o Options) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authd_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		throttle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_throttle_decisions_total",
			Help: "Throttle decisions, by scope (login_account is the per-username lockout) and decision: allowed, throttled or error.",
		}, []string{"scope", "decision"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_logins_total",
			Help: "Logins, by method (password, intra, mfa) and result (success, or why it failed).",
		}, []string{"method", "result"}),
		hashDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "authd_password_hash_duration_seconds",
			Help:    "Time to compute one password hash (argon2id or pbkdf2), once it has a slot of the pool.",
			Buckets: []float64{.005, .01, .025, .05, .075, .1, .15, .25, .5, 1},
		}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_sessions_revoked_total",
			Help: "Session revocations, by reason; user_disabled counts one for all the sessions of a disabled user.",
		}, []string{"reason"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authd_store_errors_total",
			Help: "Calls of the database that failed (not those that found nothing or a conflict).",
		}),
	}
	inFlight := o.HashesInFlight
	if inFlight == nil {
		inFlight = func() int { return 0 }
	}
	degraded := o.LimiterDegraded
	if degraded == nil {
		degraded = func() bool { return false }
	}
	m.reg.MustRegister(
		m.requests, m.duration, m.throttle, m.logins, m.hashDuration, m.revoked, m.storeErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "authd_password_hashes_in_flight",
			Help: "Slots of the password hashing pool in use: hashes being computed now, and the collection of garbage after each.",
		}, func() float64 { return float64(inFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "authd_limiter_degraded",
			Help: "1 while the shared throttle store is unreachable and throttles count in this process, else 0.",
		}, func() float64 {
			if degraded() {
				return 1
			}
			return 0
		}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Gatherer is the registry, for tests that read the metrics back.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// ObserveRequest counts an answered request; route is a route pattern
// (see httpapi.Deps.ObserveRequest).
func (m *Metrics) ObserveRequest(route string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(elapsed.Seconds())
}

// ObserveHash records the time of one password hash computation.
func (m *Metrics) ObserveHash(elapsed time.Duration) {
	m.hashDuration.Observe(elapsed.Seconds())
}

// ObserveEvent counts the logins and revocations among the account's
// audit events.
func (m *Metrics) ObserveEvent(e account.Event) {
	switch e.Name {
	case account.EventLoginSucceeded:
		m.logins.WithLabelValues(e.Method, "success").Inc()
	case account.EventLoginFailed, account.EventMFAFailed:
		m.logins.WithLabelValues(e.Method, e.Reason).Inc()
	case account.EventLogout, account.EventSessionRevoked, account.EventRefreshReuseDetected:
		reason := e.Reason
		if reason == "" {
			reason = e.Name
		}
		m.revoked.WithLabelValues(reason).Inc()
	}
}
