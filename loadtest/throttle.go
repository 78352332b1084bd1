package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"authd/fakeintra"
)

// scope is a throttle scope of the contract, with its default rate of n
// requests a minute.
type scope struct {
	name   string // as in AUTHD_THROTTLE_<NAME>, lower case
	n      int
	method string
	path   string
	byUser bool // counted by the Bearer user, else by client address
}

var scopes = []scope{
	{epLogin, 6, http.MethodPost, "/auth/login/", false},
	{epLogout, 6, http.MethodPost, "/auth/logout/", true},
	{epRefresh, 6, http.MethodPost, "/auth/refresh/", false},
	{epIntraURL, 60, http.MethodGet, "/oauth2/intra/url/", false},
	{epIntraCallback, 20, http.MethodGet, "/oauth2/intra/callback/", false},
	{epIntraLogin, 6, http.MethodPost, "/oauth2/intra/login/", false},
	{epIntraLink, 6, http.MethodPost, "/oauth2/intra/link/", true},
	{epRegister, 6, http.MethodPost, "/auth/register/", false},
}

// plan is how a scope is attacked in a mode.
type plan struct {
	rate vegeta.ConstantPacer
	du   time.Duration
	hits int
	spec windowSpec
}

func (m mode) plan(sc scope) plan {
	freq := max(int(math.Ceil(attackFactor*float64(sc.n))), m.minPerPeriod)
	du := m.period + m.overrun
	return plan{
		rate: vegeta.ConstantPacer{Freq: freq, Per: m.period},
		du:   du,
		hits: int(math.Ceil(float64(freq)*float64(du)/float64(m.period))) + 1,
		spec: windowSpec{n: sc.n, period: m.period, slack: m.slack},
	}
}

// rate writes a scope's rate in this mode as AUTHD_THROTTLE_* takes it.
func (m mode) rate(sc scope) string { return strconv.Itoa(sc.n) + "/" + m.unit }

// client is one attacked client: an address for the scopes counted by
// address, a user for those counted by user, and what its attacks need.
type client struct {
	label      string
	addr       string
	user       string
	intraLogin string // Intra account it logs in with
	intraLink  string // Intra account it links to its user

	logout   []session // one per logout request: each ends its session
	refresh  session
	link     session
	apiLogin string
	apiLink  string
	grants   []grant // one per callback request
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
// authd. The harness plays the browser: it reads the code from the
// provider's redirect and calls authd's callback itself, so nothing needs
// to listen there.
const intraRedirectURI = "http://127.0.0.1/oauth2/intra/callback/"

// throttles runs scenarios 1 to 4 against authd with the mode's rates.
func (h *harness) throttles(ctx context.Context, authdBin, fakeBin string) error {
	done := h.phase("start authd and fakeintra")
	fake, err := startProc(ctx, "fakeintra", fakeBin, []string{
		"-addr", "127.0.0.1:0",
		"-client-id", fakeintra.DevClientID, "-client-secret", fakeintra.DevClientSecret,
		"-redirect-uri", intraRedirectURI, "-users", h.opts.intraUsers,
		// The fake counts per application; authd's callbacks under attack
		// would exceed the real provider's 2 a second.
		"-rate-limit=false",
	}, childEnv(nil), filepath.Join(h.tmp, "fakeintra.log"), true, firstLine)
	if err != nil {
		return err
	}
	defer fake.stop()
	settings := map[string]string{
		"AUTHD_ADDR":                "127.0.0.1:0",
		"AUTHD_DB":                  filepath.Join(h.tmp, "throttles.db"),
		"AUTHD_COOKIE_SECURE":       "false",
		"AUTHD_TRUSTED_PROXIES":     trustedProxy,
		"AUTHD_INTRA_BASE_URL":      fake.url(),
		"AUTHD_INTRA_CLIENT_ID":     fakeintra.DevClientID,
		"AUTHD_INTRA_CLIENT_SECRET": fakeintra.DevClientSecret,
		"AUTHD_INTRA_REDIRECT_URI":  intraRedirectURI,
		"AUTHD_HASH_CONCURRENCY":    strconv.Itoa(runtime.GOMAXPROCS(0)),
		"AUTHD_LOG_LEVEL":           "info", // the level of the "listening" line
	}
	for _, sc := range scopes {
		rate := h.mode.rate(sc)
		h.rep.Rates = append(h.rep.Rates, rateRow{Scope: sc.name, Rate: rate, Default: h.mode.defaultRates})
		if !h.mode.defaultRates {
			settings["AUTHD_THROTTLE_"+strings.ToUpper(sc.name)] = rate
		}
	}
	authd, err := startProc(ctx, "authd", authdBin, []string{"serve"}, childEnv(settings), filepath.Join(h.tmp, "authd-throttles.log"), false, listeningAddr)
	if err != nil {
		return err
	}
	defer authd.stop()
	if err := authd.waitReady(ctx); err != nil {
		return err
	}
	done()
	h.progress("authd %s and fakeintra %s ready; rates: %s", authd.addr, fake.addr, ratesLine(h.rep.Rates))

	done = h.phase("prepare users, sessions and grants")
	p := newPrep(authd.url(), h.audit, h.mode.timeout)
	defer p.close()
	clients := attackedClients()
	if err := h.prepare(ctx, p, clients); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	done()
	h.progress("prepared %d sessions and %d grants", 2*(len(clients[0].logout)+2), 2*len(clients[0].grants))

	done = h.phase("scenarios 1 and 2: every scope, two clients at once")
	if err := h.attackScopes(ctx, authd.url(), clients); err != nil {
		return err
	}
	done()

	done = h.phase("scenario 3: concurrent logins")
	if err := h.bursts(ctx, authd.url()); err != nil {
		return err
	}
	done()

	h.cookieProgress("")
	return nil
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

// prepare creates the users and everything the attacks send: sessions,
// api_tokens and grants, each from a fresh client address.
func (h *harness) prepare(ctx context.Context, p *prep, clients []*client) error {
	users := []string{concurrencyUser}
	for _, c := range clients {
		users = append(users, c.user)
	}
	if _, err := prepareEach(ctx, len(users), func(ctx context.Context, i int) (struct{}, error) {
		return struct{}{}, p.register(ctx, users[i])
	}); err != nil {
		return err
	}
	logoutHits := h.mode.plan(scopeNamed(epLogout)).hits
	callbackHits := h.mode.plan(scopeNamed(epIntraCallback)).hits
	for _, c := range clients {
		ss, err := p.sessions(ctx, c.user, logoutHits+2)
		if err != nil {
			return err
		}
		c.logout, c.refresh, c.link = ss[:logoutHits], ss[logoutHits], ss[logoutHits+1]
		if c.apiLogin, err = p.apiToken(ctx, c.intraLogin); err != nil {
			return err
		}
		if c.apiLink, err = p.apiToken(ctx, c.intraLink); err != nil {
			return err
		}
		if c.grants, err = p.grants(ctx, grantLogin, callbackHits); err != nil {
			return err
		}
	}
	return nil
}

func scopeNamed(name string) scope {
	for _, sc := range scopes {
		if sc.name == name {
			return sc
		}
	}
	panic("no scope " + name)
}

// targets are the requests of client c's attack on sc: hits of them, each
// from c's address; those of a scope counted by user carry c's tokens.
func targets(p *prep, sc scope, c *client, hits int) []vegeta.Target {
	hdr := func(kv ...string) http.Header {
		h := http.Header{"X-Forwarded-For": {c.addr}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	base := vegeta.Target{Method: sc.method, URL: p.authd + sc.path}
	switch sc.name {
	case epLogin:
		base.Header = hdr("Content-Type", "application/json")
		base.Body = mustJSON(credentials{c.user, userPassword})
	case epLogout:
		ts := make([]vegeta.Target, hits)
		for i := range ts {
			ts[i] = base
			ts[i].Header = hdr("Authorization", "Bearer "+c.logout[i].access)
		}
		return ts
	case epRefresh:
		base.Header = hdr("Cookie", cookieRefresh+"="+c.refresh.refresh)
	case epIntraURL:
		base.Header = hdr()
	case epIntraCallback:
		ts := make([]vegeta.Target, hits)
		for i := range ts {
			g := c.grants[i]
			ts[i] = vegeta.Target{Method: sc.method, URL: p.callbackURL(g), Header: hdr("Cookie", cookieState+"="+g.state)}
		}
		return ts
	case epIntraLogin:
		base.Header = hdr("Cookie", cookieAPI+"="+c.apiLogin)
	case epIntraLink:
		base.Header = hdr("Authorization", "Bearer "+c.link.access, "Cookie", cookieAPI+"="+c.apiLink)
	case epRegister:
		ts := make([]vegeta.Target, hits)
		for i := range ts {
			ts[i] = base
			ts[i].Header = hdr("Content-Type", "application/json")
			ts[i].Body = mustJSON(credentials{fmt.Sprintf("%s-new-%d", c.user, i), userPassword})
		}
		return ts
	}
	return repeat(base, hits)
}

// scopeAttack is one client's attack on one scope, and what it showed.
type scopeAttack struct {
	scope   scope
	client  *client
	plan    plan
	results []vegeta.Result
	check   windowCheck
}

// attackScopes runs scenarios 1 and 2: every client attacks every scope,
// all at once, and each attack is checked against the rate.
func (h *harness) attackScopes(ctx context.Context, base string, clients []*client) error {
	p := &prep{authd: base}
	var attacks []*scopeAttack
	for _, sc := range scopes {
		for _, c := range clients {
			attacks = append(attacks, &scopeAttack{scope: sc, client: c, plan: h.mode.plan(sc)})
		}
	}
	longest := time.Duration(0)
	for _, a := range attacks {
		longest = max(longest, a.plan.du)
	}
	h.progress("scenarios 1 and 2: attacking %d scopes from %d clients at once for %s", len(scopes), len(clients), longest)
	var wg sync.WaitGroup
	for _, a := range attacks {
		ts := targets(p, a.scope, a.client, a.plan.hits)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(h.mode.timeout, 0)
			defer c.CloseIdleConnections()
			fire(ctx, c, a.scope.name+" "+a.client.label, ts, a.plan.rate, a.plan.du, func(r *vegeta.Result) {
				a.results = append(a.results, *r)
			})
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
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
		rows[a.client.label] = append(rows[a.client.label], throttleRow{
			Scope: a.scope.name, Client: a.client.label, Rate: h.mode.rate(a.scope),
			Attack: fmt.Sprintf("%s for %s", perSecond(a.plan.rate), a.plan.du), Check: a.check,
		})
	}
	h.rep.Scopes = rows[clients[0].label]
	for i, r := range rows[clients[1].label] {
		h.rep.Keying = append(h.rep.Keying, keyingRow{Scope: r.Scope, Rate: r.Rate, A: h.rep.Scopes[i].Check, B: r.Check})
	}
	for _, sc := range scopes {
		var rs [][]vegeta.Result
		for _, a := range attacks {
			if a.scope == sc {
				rs = append(rs, a.results)
			}
		}
		if err := writeThrottlePlot(filepath.Join(h.out, "throttle-"+sc.name+".html"), "throttle "+sc.name+" at "+h.mode.rate(sc), rs...); err != nil {
			return err
		}
	}

	ok1, ok2 := true, true
	var summary []string
	for i, r := range h.rep.Scopes {
		ok1 = ok1 && r.Check.OK()
		ok2 = ok2 && h.rep.Keying[i].B.OK()
		summary = append(summary, fmt.Sprintf("%s %d/%d", r.Scope, r.Check.FirstAnswered, scopeNamed(r.Scope).n))
	}
	h.progress("scenario 1 per-scope throttles (client A, all scopes at once): %s (first period: %s)", verdict(ok1), strings.Join(summary, ", "))
	summary = summary[:0]
	for _, k := range h.rep.Keying {
		summary = append(summary, fmt.Sprintf("%s %d+%d", k.Scope, k.A.FirstAnswered, k.B.FirstAnswered))
	}
	h.progress("scenario 2 keying (clients A and B at once): %s (answered A+B: %s)", verdict(ok1 && ok2), strings.Join(summary, ", "))
	return nil
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
func (h *harness) bursts(ctx context.Context, base string) error {
	sc := scopeNamed(epLogin)
	target := vegeta.Target{
		Method: http.MethodPost, URL: base + sc.path,
		Body: mustJSON(credentials{concurrencyUser, userPassword}),
	}
	ok := true
	var counts []string
	for round := range burstRounds {
		target.Header = http.Header{"Content-Type": {"application/json"}, "X-Forwarded-For": {fmt.Sprintf("198.18.1.%d", round+1)}}
		results := burst(ctx, fmt.Sprintf("burst %d", round+1), target, burstRequests, base+"/healthz", h.mode.timeout)
		if err := ctx.Err(); err != nil {
			return err
		}
		row := checkBurst(results, sc.n, h.mode.period-h.mode.slack)
		row.Round = round + 1
		for _, r := range results {
			h.audit.observe(r.Method, r.URL, int(r.Code), r.Headers)
		}
		h.rep.Bursts = append(h.rep.Bursts, row)
		ok = ok && row.OK()
		counts = append(counts, fmt.Sprintf("%d (sent within %s)", row.Passed, row.SendSpread.Round(time.Microsecond*100)))
		if round == 0 {
			if err := writeThrottlePlot(filepath.Join(h.out, "concurrency.html"), fmt.Sprintf("%d concurrent logins of one client", burstRequests), results); err != nil {
				return err
			}
		}
	}
	h.progress("scenario 3 concurrency (%d logins at once, %d rounds): %s (passed the throttle: %s; want exactly %d)",
		burstRequests, burstRounds, verdict(ok), strings.Join(counts, ", "), sc.n)
	return nil
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
