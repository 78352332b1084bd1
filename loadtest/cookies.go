package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"authd/internal/config"
)

// The cookies of the contract.
const (
	cookieRefresh = "refresh_token"
	cookieState   = "state_token"
	cookieAPI     = "api_token"
)

// cookieRule is one cookie transition of the contract that every response
// it applies to must show.
type cookieRule struct {
	name    string
	applies func(ep string, status int) bool
	holds   func(cs []*http.Cookie) bool
}

func status200(ep string) func(string, int) bool {
	return func(e string, status int) bool { return e == ep && status == http.StatusOK }
}

func sets(name string) func([]*http.Cookie) bool {
	return func(cs []*http.Cookie) bool { return setsCookie(cs, name) }
}

func clears(name string) func([]*http.Cookie) bool {
	return func(cs []*http.Cookie) bool { return clearsCookie(cs, name) }
}

// cookieRules are the transitions checked on every response of the run.
var cookieRules = []cookieRule{
	{"login 200 sets refresh_token", status200(config.ScopeLogin), sets(cookieRefresh)},
	{"intra login 200 sets refresh_token", status200(config.ScopeIntraLogin), sets(cookieRefresh)},
	{"intra login 200 clears api_token", status200(config.ScopeIntraLogin), clears(cookieAPI)},
	{"logout 200 clears refresh_token", status200(config.ScopeLogout), clears(cookieRefresh)},
	{"every intra callback clears state_token", func(ep string, _ int) bool { return ep == config.ScopeIntraCallback }, clears(cookieState)},
	{"intra callback 200 sets api_token", status200(config.ScopeIntraCallback), sets(cookieAPI)},
	{"intra url 200 sets state_token", status200(config.ScopeIntraURL), sets(cookieState)},
	{"intra link 200 clears api_token", status200(config.ScopeIntraLink), clears(cookieAPI)},
	{"a 429 sets no cookie (a callback's only clears state_token)",
		func(ep string, status int) bool { return ep != "" && status == http.StatusTooManyRequests },
		func(cs []*http.Cookie) bool {
			return len(cs) == 0 || len(cs) == 1 && clearsCookie(cs, cookieState)
		}},
}

// setsCookie reports whether cs set name to a value for a while.
func setsCookie(cs []*http.Cookie, name string) bool {
	for _, c := range cs {
		if c.Name == name && c.Value != "" && c.MaxAge > 0 && c.Path == "/" {
			return true
		}
	}
	return false
}

// clearsCookie reports whether cs clear name as the contract says: the
// same name and Path, an empty value and Max-Age=0.
func clearsCookie(cs []*http.Cookie, name string) bool {
	for _, c := range cs {
		if c.Name == name && c.Value == "" && c.MaxAge < 0 && c.Path == "/" {
			return true
		}
	}
	return false
}

// cookieAudit applies cookieRules to every response of the run; it is
// safe for concurrent use.
type cookieAudit struct {
	routes    routes
	mu        sync.Mutex
	responses int
	seen      []int
	bad       []int
	first     []string
}

func newCookieAudit() *cookieAudit {
	n := len(cookieRules)
	return &cookieAudit{routes: routesOf(endpoints), seen: make([]int, n), bad: make([]int, n), first: make([]string, n)}
}

// observe checks one response of authd.
func (a *cookieAudit) observe(method, rawURL string, status int, h http.Header) {
	ep := a.routes.endpointOf(method, rawURL)
	if ep == "" || status == 0 {
		return
	}
	cs := (&http.Response{Header: h}).Cookies()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.responses++
	for i, r := range cookieRules {
		if !r.applies(ep, status) {
			continue
		}
		a.seen[i]++
		if !r.holds(cs) {
			a.bad[i]++
			if a.first[i] == "" {
				a.first[i] = fmt.Sprintf("%s %s answered %d with Set-Cookie %q", method, ep, status, h.Values("Set-Cookie"))
			}
		}
	}
}

// cookieRow is one rule's tally.
type cookieRow struct {
	Rule       string
	Responses  int
	Exceptions int
	Example    string // the first exception
}

func (a *cookieAudit) rows() []cookieRow {
	a.mu.Lock()
	defer a.mu.Unlock()
	rows := make([]cookieRow, len(cookieRules))
	for i, r := range cookieRules {
		rows[i] = cookieRow{Rule: r.name, Responses: a.seen[i], Exceptions: a.bad[i], Example: a.first[i]}
	}
	return rows
}

// total is the number of responses of authd checked.
func (a *cookieAudit) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.responses
}

// cookieScenario is scenario 4: every response of authd the run receives
// shows the cookie transitions of the contract. The audit goes on through
// the whole run; its section reads it when the report is written.
type cookieScenario struct{}

func (cookieScenario) name() string { return "scenario 4, cookie transitions" }

func (cookieScenario) run(_ context.Context, h *harness) (section, error) {
	h.cookieProgress("")
	return &cookieSection{rows: h.audit.rows}, nil
}
