package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"authd/fakeintra"
	"authd/internal/authdtest"
	"authd/internal/config"
)

// plan is how a scope is attacked in a mode.
type plan struct {
	rate vegeta.ConstantPacer
	du   time.Duration
	hits int
	spec windowSpec
}

func (m mode) plan(ep endpoint) plan {
	freq := max(int(math.Ceil(attackFactor*float64(ep.rate.N))), m.minPerPeriod)
	du := m.period + m.overrun
	return plan{
		rate: vegeta.ConstantPacer{Freq: freq, Per: m.period},
		du:   du,
		hits: int(math.Ceil(float64(freq)*float64(du)/float64(m.period))) + 1,
		spec: windowSpec{n: ep.rate.N, period: m.period, slack: m.slack},
	}
}

// rate writes an endpoint's rate in this mode as AUTHD_THROTTLE_* takes
// it: its default's N, per the mode's period.
func (m mode) rate(ep endpoint) string { return strconv.Itoa(ep.rate.N) + "/" + m.unit }

// client is one attacked client: an address for the scopes counted by
// address, a user for those counted by user, and the Intra accounts its
// attacks log in with and link.
type client struct {
	label      string
	addr       string
	user       string
	intraLogin string // Intra account it logs in with
	intraLink  string // Intra account it links to its user
}

// The attacked clients: scenario 1 attacks A on every scope at once;
// scenario 2 attacks B alongside, on the same scopes.
func attackedClients() []*client {
	return []*client{
		{label: "A", addr: "198.18.0.1", user: "load-a", intraLogin: "tnguyen", intraLink: "jdoe"},
		{label: "B", addr: "198.18.0.2", user: "load-b", intraLogin: "cmuller", intraLink: "gfavre"},
	}
}

// grantLogin is the Intra account of the callback attacks' grants.
const grantLogin = "alice"

// concurrencyUser is the user of the concurrent login bursts.
const concurrencyUser = "load-burst"

// intraRedirectURI is registered with the fake provider and configured in
// authd. The preparations play the browser: they reach authd by the name
// authdHost, and the callback attacks read the code from the provider's
// redirect and call authd's callback themselves.
const intraRedirectURI = "http://" + authdHost + "/oauth2/intra/callback/"

// throttledAuthd is authd at the mode's rates, with the fake provider it
// logs in with and a client to prepare with: what scenarios 1 to 3
// attack.
type throttledAuthd struct {
	authd, fake *authdtest.Server
	prep        *prep
}

func (t *throttledAuthd) url() string { return t.authd.URL }

// throttled returns authd at the mode's rates, starting it and the fake
// provider the first time, with their logs and authd's database in
// throttles/ of the temporary folder.
func (h *harness) throttled() (*throttledAuthd, error) {
	if h.sut != nil {
		return h.sut, nil
	}
	done := h.phase("start authd and fakeintra")
	dir := filepath.Join(h.tmp, "throttles")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	fc := authdtest.FakeintraCommand(h.fakeBin,
		"-client-id", fakeintra.DevClientID, "-client-secret", fakeintra.DevClientSecret,
		"-redirect-uri", intraRedirectURI, "-users", h.opts.intraUsers,
		// The fake counts per application; authd's callbacks under attack
		// would exceed the real provider's 2 a second.
		"-rate-limit=false",
	)
	fc.LogDir = dir
	fake, err := authdtest.Start(fc)
	if err != nil {
		return nil, err
	}
	settings := []string{
		"AUTHD_DB=" + filepath.Join(dir, "authd.db"),
		"AUTHD_COOKIE_SECURE=false",
		"AUTHD_TRUSTED_PROXIES=" + trustedProxy,
		"AUTHD_INTRA_BASE_URL=" + fake.URL,
		"AUTHD_INTRA_CLIENT_ID=" + fakeintra.DevClientID,
		"AUTHD_INTRA_CLIENT_SECRET=" + fakeintra.DevClientSecret,
		"AUTHD_INTRA_REDIRECT_URI=" + intraRedirectURI,
		"AUTHD_HASH_CONCURRENCY=" + strconv.Itoa(runtime.GOMAXPROCS(0)),
	}
	if h.opts.metricsAddr != "" {
		settings = append(settings, "AUTHD_METRICS_ADDR="+h.opts.metricsAddr)
	}
	for _, ep := range endpoints {
		rate := h.mode.rate(ep)
		h.rep.Rates = append(h.rep.Rates, rateRow{Scope: ep.scope, Rate: rate, Default: h.mode.defaultRates})
		if !h.mode.defaultRates {
			settings = append(settings, "AUTHD_THROTTLE_"+strings.ToUpper(ep.scope)+"="+rate)
		}
	}
	ac := authdtest.AuthdCommand(h.authdBin, settings...)
	ac.LogDir = dir
	authd, err := authdtest.Start(ac)
	if err != nil {
		return nil, errors.Join(err, fake.Stop())
	}
	done()
	h.progress("authd %s and fakeintra %s ready; rates: %s", authd.Addr, fake.Addr, ratesLine(h.rep.Rates))
	h.sut = &throttledAuthd{authd: authd, fake: fake, prep: newPrep(authd, h.audit)}
	return h.sut, nil
}

// stopThrottled stops authd at the mode's rates and its provider, if
// they run, and says whether both exited cleanly and left nothing behind.
func (h *harness) stopThrottled() error {
	if h.sut == nil {
		return nil
	}
	err := errors.Join(h.sut.authd.Stop(), h.sut.fake.Stop())
	h.sut = nil
	return err
}

// scopeScenario is scenarios 1 and 2: clients A and B attack every
// endpoint above its rate, all at once; each must be held to the rate,
// and each to its own.
type scopeScenario struct{}

func (scopeScenario) name() string { return "scenarios 1 and 2, every scope from two clients at once" }

func (scopeScenario) run(ctx context.Context, h *harness) (section, error) {
	sut, err := h.throttled()
	if err != nil {
		return nil, err
	}
	done := h.phase("prepare users, sessions and grants")
	clients := attackedClients()
	attacks, err := h.prepare(ctx, sut.prep, clients)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	done()
	var sessions, apiTokens, grants int
	for _, a := range attacks {
		sessions, grants = sessions+len(a.ammo.sessions), grants+len(a.ammo.grants)
		if a.ammo.apiToken != "" {
			apiTokens++
		}
	}
	h.progress("prepared %d sessions, %d api_tokens and %d grants", sessions, apiTokens, grants)

	done = h.phase("scenarios 1 and 2: every scope, two clients at once")
	sec, err := h.attackScopes(ctx, sut.url(), clients, attacks)
	if err != nil {
		return nil, err
	}
	done()
	return sec, nil
}

// burstScenario is scenario 3: bursts of concurrent logins of one client
// pass no more than the rate.
type burstScenario struct{}

func (burstScenario) name() string { return "scenario 3, concurrent logins of one client" }

func (burstScenario) run(ctx context.Context, h *harness) (section, error) {
	sut, err := h.throttled()
	if err != nil {
		return nil, err
	}
	done := h.phase("scenario 3: concurrent logins")
	if err := sut.prep.register(ctx, concurrencyUser); err != nil {
		return nil, err
	}
	sec, err := h.bursts(ctx, sut.url())
	if err != nil {
		return nil, err
	}
	done()
	return sec, nil
}

// cookieProgress prints scenario 4's tally so far.
func (h *harness) cookieProgress(when string) {
	bad := 0
	for _, r := range h.audit.rows() {
		bad += r.Exceptions
	}
	h.progress("scenario 4 cookie transitions%s: %s (%d responses checked, %d exceptions)", when, verdict(bad == 0), h.audit.total(), bad)
}

func ratesLine(rows []rateRow) string {
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.Scope + " " + r.Rate)
	}
	return b.String()
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// prepare creates the users and, for every endpoint and client, what the
// attack sends: sessions, api_tokens and grants, each from a fresh client
// address. It returns the attacks, ready to fire.
func (h *harness) prepare(ctx context.Context, p *prep, clients []*client) ([]*scopeAttack, error) {
	var users []string
	for _, c := range clients {
		users = append(users, c.user)
	}
	if _, err := prepareEach(ctx, len(users), func(ctx context.Context, i int) (struct{}, error) {
		return struct{}{}, p.register(ctx, users[i])
	}); err != nil {
		return nil, err
	}
	var attacks []*scopeAttack
	for _, ep := range endpoints {
		for _, c := range clients {
			a := &scopeAttack{endpoint: ep, client: c, plan: h.mode.plan(ep)}
			if ep.prepare != nil {
				var err error
				if a.ammo, err = ep.prepare(ctx, p, c, a.plan.hits); err != nil {
					return nil, fmt.Errorf("%s, client %s: %w", ep.scope, c.label, err)
				}
			}
			attacks = append(attacks, a)
		}
	}
	return attacks, nil
}

// scopeAttack is one client's attack on one endpoint, what it sends and
// what it showed.
type scopeAttack struct {
	endpoint endpoint
	client   *client
	plan     plan
	ammo     ammo
	results  []vegeta.Result
	check    windowCheck
	series   throttleSeries // as its chart draws it
}

// attackScopes runs scenarios 1 and 2: every client attacks every scope,
// all at once, and each attack is checked against the rate.
func (h *harness) attackScopes(ctx context.Context, base string, clients []*client, attacks []*scopeAttack) (*scopeSection, error) {
	longest := time.Duration(0)
	for _, a := range attacks {
		longest = max(longest, a.plan.du)
	}
	h.progress("scenarios 1 and 2: attacking %d scopes from %d clients at once for %s", len(endpoints), len(clients), longest)
	var wg sync.WaitGroup
	for _, a := range attacks {
		ts := a.endpoint.targets(base, a.client, a.ammo, a.plan.hits)
		wg.Go(func() {
			c := newClient(h.mode.timeout, 0)
			defer c.CloseIdleConnections()
			fire(ctx, c, a.endpoint.scope+" "+a.client.label, ts, a.plan.rate, a.plan.du, func(r *vegeta.Result) {
				a.results = append(a.results, *r)
			})
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	rows := map[string][]throttleRow{}
	for _, a := range attacks {
		samples := make([]sample, len(a.results))
		for i, r := range a.results {
			h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
			samples[i] = sample{sent: r.Timestamp, done: r.End(), status: int(r.Code), retryAfter: r.Headers.Get("Retry-After")}
			if r.Code == 0 {
				samples[i].err = r.Error
			}
		}
		a.check = checkWindow(samples, a.plan.spec)
		a.series = seriesOf(a.client.label, samples)
		rows[a.client.label] = append(rows[a.client.label], throttleRow{
			Scope: a.endpoint.scope, Client: a.client.label, Rate: h.mode.rate(a.endpoint), N: a.endpoint.rate.N,
			Attack: fmt.Sprintf("%s for %s", perSecond(a.plan.rate), a.plan.du), Check: a.check,
		})
	}
	sec := &scopeSection{Scopes: rows[clients[0].label]}
	for i, r := range rows[clients[1].label] {
		sec.Keying = append(sec.Keying, keyingRow{Scope: r.Scope, Rate: r.Rate, N: r.N, A: sec.Scopes[i].Check, B: r.Check})
	}
	for _, ep := range endpoints {
		var rs [][]vegeta.Result
		ch := throttleChart{Title: fmt.Sprintf("throttle %s at %s: clients A and B", ep.scope, h.mode.rate(ep)), N: ep.rate.N, Period: h.mode.period}
		for _, a := range attacks {
			if a.endpoint.scope == ep.scope {
				rs = append(rs, a.results)
				ch.Series = append(ch.Series, a.series)
			}
		}
		if err := writeThrottlePlot(filepath.Join(h.out, "throttle-"+ep.scope+".html"), "throttle "+ep.scope+" at "+h.mode.rate(ep), rs...); err != nil {
			return nil, err
		}
		c := throttleChartFile(ep.scope)
		if err := writeChart(filepath.Join(h.out, c.File), ch.writeSVG); err != nil {
			return nil, err
		}
		sec.Charts = append(sec.Charts, c)
	}

	ok1, ok2 := true, true
	var summary []string
	for i, r := range sec.Scopes {
		ok1 = ok1 && r.Check.OK()
		ok2 = ok2 && sec.Keying[i].B.OK()
		summary = append(summary, fmt.Sprintf("%s %d/%d", r.Scope, r.Check.FirstAnswered, r.N))
	}
	h.progress("scenario 1 per-scope throttles (client A, all scopes at once): %s (first period: %s)", verdict(ok1), strings.Join(summary, ", "))
	summary = summary[:0]
	for _, k := range sec.Keying {
		summary = append(summary, fmt.Sprintf("%s %d+%d", k.Scope, k.A.FirstAnswered, k.B.FirstAnswered))
	}
	h.progress("scenario 2 keying (clients A and B at once): %s (answered A+B: %s)", verdict(ok1 && ok2), strings.Join(summary, ", "))
	return sec, nil
}

// perSecond writes an attack rate in requests a second.
func perSecond(r vegeta.ConstantPacer) string {
	return strconv.FormatFloat(float64(r.Freq)/r.Per.Seconds(), 'f', -1, 64) + "/s"
}

// Scenario 3: bursts of concurrent logins from one client.
const (
	burstRounds   = 3
	burstRequests = 500
	burstSpread   = 5 * time.Millisecond // the pace sends them all within this
)

// bursts runs scenario 3: burstRequests logins of one client fired at
// once, burstRounds times from fresh clients; exactly the rate's N may
// pass the throttle each time.
func (h *harness) bursts(ctx context.Context, base string) (*burstSection, error) {
	ep := endpointNamed(config.ScopeLogin)
	target := vegeta.Target{
		Method: ep.method, URL: base + ep.path,
		Body: mustJSON(credentials{concurrencyUser, userPassword}),
	}
	sec := &burstSection{}
	ok := true
	var counts []string
	for round := range burstRounds {
		target.Header = http.Header{"Content-Type": {"application/json"}, "X-Forwarded-For": {fmt.Sprintf("198.18.1.%d", round+1)}}
		results := burst(ctx, fmt.Sprintf("burst %d", round+1), target, burstRequests, base+"/healthz", h.mode.timeout)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row := checkBurst(results, ep.rate.N, h.mode.period-h.mode.slack)
		row.Round = round + 1
		for _, r := range results {
			h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
		}
		sec.Rounds = append(sec.Rounds, row)
		ok = ok && row.OK()
		counts = append(counts, fmt.Sprintf("%d (sent within %s)", row.Passed, row.SendSpread.Round(time.Microsecond*100)))
		if round == 0 {
			if err := writeThrottlePlot(filepath.Join(h.out, "concurrency.html"), fmt.Sprintf("%d concurrent logins of one client", burstRequests), results); err != nil {
				return nil, err
			}
		}
	}
	h.progress("scenario 3 concurrency (%d logins at once, %d rounds): %s (passed the throttle: %s; want exactly %d)",
		burstRequests, burstRounds, verdict(ok), strings.Join(counts, ", "), ep.rate.N)
	return sec, nil
}

// burst sends n copies of target at once, from a new Attacker with n
// workers, over connections opened just before with as many concurrent
// GET warmURL, so that few requests of the burst wait on a handshake.
func burst(ctx context.Context, name string, target vegeta.Target, n int, warmURL string, timeout time.Duration) []vegeta.Result {
	c := newClient(timeout, 0)
	defer c.CloseIdleConnections()
	pace := vegeta.ConstantPacer{Freq: n, Per: burstSpread}
	workers := []func(*vegeta.Attacker){vegeta.Workers(uint64(n)), vegeta.MaxWorkers(uint64(n))}
	warm := vegeta.Target{Method: http.MethodGet, URL: warmURL}
	fire(ctx, c, name+" warm-up", repeat(warm, n), pace, timeout, func(*vegeta.Result) {}, workers...)
	var out []vegeta.Result
	fire(ctx, c, name, repeat(target, n), pace, timeout, func(r *vegeta.Result) { out = append(out, *r) }, workers...)
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// burstRow is one round of scenario 3.
type burstRow struct {
	Round        int
	Requests     int
	Passed       int // answered by the endpoint, not refused with 429
	Want         int
	SendSpread   time.Duration // from the first request sent to the last
	AnswerSpread time.Duration // from the first sent to the last answered
	Statuses     map[int]int
	Problems     []string
}

func (b burstRow) OK() bool { return len(b.Problems) == 0 }

// checkBurst counts how many of a burst passed the throttle; exactly n
// must have, provided the burst was sent within one window.
func checkBurst(results []vegeta.Result, n int, window time.Duration) burstRow {
	b := burstRow{Requests: len(results), Want: n, Statuses: map[int]int{}}
	if len(results) == 0 {
		b.Problems = append(b.Problems, "no request was sent")
		return b
	}
	first, lastSent, lastEnd := results[0].Timestamp, results[0].Timestamp, results[0].End()
	for _, r := range results {
		b.Statuses[int(r.Code)]++
		s := sample{status: int(r.Code)}
		if s.answered() {
			b.Passed++
		}
		if r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if r.Timestamp.After(lastSent) {
			lastSent = r.Timestamp
		}
		if r.End().After(lastEnd) {
			lastEnd = r.End()
		}
	}
	b.SendSpread, b.AnswerSpread = lastSent.Sub(first), lastEnd.Sub(first)
	if e := b.Statuses[0]; e > 0 {
		b.Problems = append(b.Problems, fmt.Sprintf("%d requests got no answer", e))
	}
	if b.Passed != n {
		b.Problems = append(b.Problems, fmt.Sprintf("%d requests passed the throttle, want exactly %d", b.Passed, n))
	}
	if b.SendSpread >= window {
		b.Problems = append(b.Problems, fmt.Sprintf("the burst took %s to send, longer than a window: inconclusive", b.SendSpread))
	}
	return b
}
