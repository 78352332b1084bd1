package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"authd/internal/config"
	"authd/internal/throttle"
)

// endpoint is one throttled endpoint of authd as the attacks see it:
// where it is, how it is throttled, what an attack on it needs prepared
// and how its requests are built. A throttled endpoint is verified by
// adding one endpoint to endpoints.
type endpoint struct {
	scope  string // its throttle scope, as in AUTHD_THROTTLE_<SCOPE>
	method string
	path   string
	byUser bool // counted by the Bearer user, else by client address
	// also are the other routes, "METHOD /path/prefix", that some of the
	// attack's requests go to, counted in the same scope.
	also []string
	// rate is authd's default for scope, filled in by withDefaultRates.
	rate throttle.Rate

	// prepare obtains what client c's attack of hits requests sends, from
	// fresh client addresses, once c's user is registered; nil when
	// nothing more is needed.
	prepare func(ctx context.Context, p *prep, c *client, hits int) (ammo, error)
	// aim completes request i of client c's attack: t comes with the
	// endpoint's method and URL and with c's X-Forwarded-For. Nil when
	// that is the whole request.
	aim func(t *vegeta.Target, c *client, a ammo, i int)
}

// ammo is what one client's attack on one endpoint sends, prepared
// beforehand.
type ammo struct {
	sessions []session
	grants   []grant
	apiToken string
}

// endpoints are the throttled endpoints of the contract, in the order of
// the report, each with authd's default rate.
var endpoints = withDefaultRates([]endpoint{
	{
		scope: config.ScopeLogin, method: http.MethodPost, path: "/auth/login/",
		aim: func(t *vegeta.Target, c *client, _ ammo, _ int) {
			t.Header.Set("Content-Type", "application/json")
			t.Body = mustJSON(credentials{c.user, userPassword})
		},
	},
	{
		scope: config.ScopeLogout, method: http.MethodPost, path: "/auth/logout/", byUser: true,
		also: []string{"DELETE /auth/sessions/"},
		// A logout ends its session: a session for each request. Every
		// other request ends its session by DELETE /auth/sessions/{id}/,
		// which counts in the same scope.
		prepare: func(ctx context.Context, p *prep, c *client, hits int) (ammo, error) {
			ss, err := p.sessions(ctx, c.user, hits)
			return ammo{sessions: ss}, err
		},
		aim: func(t *vegeta.Target, _ *client, a ammo, i int) {
			s := a.sessions[i]
			t.Header.Set("Authorization", "Bearer "+s.access)
			if i%2 == 1 {
				t.Method = http.MethodDelete
				t.URL = strings.TrimSuffix(t.URL, "/auth/logout/") + "/auth/sessions/" + sessionID(s.access) + "/"
			}
		},
	},
	{
		scope: config.ScopePassword, method: http.MethodPost, path: "/auth/password/", byUser: true,
		// A body without new_password: refused after the throttle, without
		// hashing, changing nothing.
		prepare: func(ctx context.Context, p *prep, c *client, _ int) (ammo, error) {
			ss, err := p.sessions(ctx, c.user, 1)
			return ammo{sessions: ss}, err
		},
		aim: func(t *vegeta.Target, _ *client, a ammo, _ int) {
			t.Header.Set("Authorization", "Bearer "+a.sessions[0].access)
			t.Header.Set("Content-Type", "application/json")
			t.Body = []byte(`{"current_password":"` + userPassword + `"}`)
		},
	},
	{
		scope: config.ScopeTOTP, method: http.MethodPost, path: "/auth/2fa/totp/confirm/", byUser: true,
		also: []string{"POST /auth/2fa/recovery-codes/", "POST /auth/2fa/totp/setup/", "POST /auth/2fa/totp/disable/"},
		// The four endpoints of the scope take turns, for a user without a
		// second factor. Disable and the recovery codes are refused after
		// the throttle (409 totp_not_enabled) and change nothing. Setup
		// answers 200: the user gets a pending secret, replacing the one
		// before, which changes nothing else (it is not active until
		// confirmed). Once a secret is pending, confirm checks its code,
		// and a wrong one of a code's shape counts toward the username's
		// lockout, whose 429s would pass for the throttle's and shut the
		// user out of the other scopes' attacks; so the code is notACode,
		// refused (400 invalid_code, or 409 before any setup) uncounted.
		// Should a session stop being fresh, setup, disable and the
		// recovery codes answer 403 reauth_required: counted all the same.
		prepare: func(ctx context.Context, p *prep, c *client, _ int) (ammo, error) {
			ss, err := p.sessions(ctx, c.user, 1)
			return ammo{sessions: ss}, err
		},
		aim: func(t *vegeta.Target, _ *client, a ammo, i int) {
			t.Header.Set("Authorization", "Bearer "+a.sessions[0].access)
			base := strings.TrimSuffix(t.URL, "/auth/2fa/totp/confirm/")
			switch i % 4 {
			case 1:
				t.URL = base + "/auth/2fa/recovery-codes/"
			case 2:
				// Setup reads no body.
				t.URL = base + "/auth/2fa/totp/setup/"
				return
			case 3:
				t.URL = base + "/auth/2fa/totp/disable/"
			}
			t.Header.Set("Content-Type", "application/json")
			t.Body = []byte(`{"code":"` + notACode + `"}`)
		},
	},
	{
		scope: config.ScopeLoginMFA, method: http.MethodPost, path: "/auth/login/mfa/",
		// An mfa_token that is none: refused after the throttle (400
		// invalid_mfa_token), before any code is looked at.
		aim: func(t *vegeta.Target, _ *client, _ ammo, _ int) {
			t.Header.Set("Content-Type", "application/json")
			t.Body = []byte(`{"mfa_token":"not-a-token","code":"123456"}`)
		},
	},
	{
		scope: config.ScopeRefresh, method: http.MethodPost, path: "/auth/refresh/",
		prepare: func(ctx context.Context, p *prep, c *client, _ int) (ammo, error) {
			ss, err := p.sessions(ctx, c.user, 1)
			return ammo{sessions: ss}, err
		},
		aim: func(t *vegeta.Target, _ *client, a ammo, _ int) {
			t.Header.Set("Cookie", cookieRefresh+"="+a.sessions[0].refresh)
		},
	},
	{
		scope: config.ScopeIntraURL, method: http.MethodGet, path: "/oauth2/intra/url/",
	},
	{
		scope: config.ScopeIntraCallback, method: http.MethodGet, path: "/oauth2/intra/callback/",
		// A grant's code is good once: a grant for each request.
		prepare: func(ctx context.Context, p *prep, _ *client, hits int) (ammo, error) {
			gs, err := p.grants(ctx, grantLogin, hits)
			return ammo{grants: gs}, err
		},
		aim: func(t *vegeta.Target, _ *client, a ammo, i int) {
			g := a.grants[i]
			t.URL += "?" + g.query()
			t.Header.Set("Cookie", cookieState+"="+g.state)
		},
	},
	{
		scope: config.ScopeIntraLogin, method: http.MethodPost, path: "/oauth2/intra/login/",
		prepare: func(ctx context.Context, p *prep, c *client, _ int) (ammo, error) {
			tok, err := p.apiToken(ctx, c.intraLogin)
			return ammo{apiToken: tok}, err
		},
		aim: func(t *vegeta.Target, _ *client, a ammo, _ int) {
			t.Header.Set("Cookie", cookieAPI+"="+a.apiToken)
		},
	},
	{
		scope: config.ScopeIntraLink, method: http.MethodPost, path: "/oauth2/intra/link/", byUser: true,
		prepare: func(ctx context.Context, p *prep, c *client, _ int) (ammo, error) {
			ss, err := p.sessions(ctx, c.user, 1)
			if err != nil {
				return ammo{}, err
			}
			tok, err := p.apiToken(ctx, c.intraLink)
			return ammo{sessions: ss, apiToken: tok}, err
		},
		aim: func(t *vegeta.Target, _ *client, a ammo, _ int) {
			t.Header.Set("Authorization", "Bearer "+a.sessions[0].access)
			t.Header.Set("Cookie", cookieAPI+"="+a.apiToken)
		},
	},
	{
		scope: config.ScopeRegister, method: http.MethodPost, path: "/auth/register/",
		// A username is registered once: a new one for each request.
		aim: func(t *vegeta.Target, c *client, _ ammo, i int) {
			t.Header.Set("Content-Type", "application/json")
			t.Body = mustJSON(credentials{fmt.Sprintf("%s-new-%d", c.user, i), userPassword})
		},
	},
})

// notACode is the code of the totp scope's attacks: neither six digits
// nor a recovery code's length, so that no secret can match it and it
// counts toward no lockout.
const notACode = "none"

// sessionID reads the sid claim of an access token of authd's, which
// names its session; "" when it has none.
func sessionID(access string) string {
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		SID string `json:"sid"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.SID
}

// credentials is the body of a login or a registration as the attacks
// send it.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// withDefaultRates gives each endpoint the rate authd throttles its scope
// at when nothing is set, read from internal/config as authd reads it.
func withDefaultRates(eps []endpoint) []endpoint {
	defaults, err := config.Load(nil, func(string) string { return "" })
	if err != nil {
		panic("authd's default configuration: " + err.Error())
	}
	for i := range eps {
		eps[i].rate = defaults.Rates[eps[i].scope]
	}
	return eps
}

// checkEndpoints verifies that eps cover every throttle scope of authd
// once, each with a rate, and, when m verifies authd's defaults, that
// every default is counted over m's period.
func checkEndpoints(eps []endpoint, m mode) error {
	seen := map[string]bool{}
	for _, ep := range eps {
		switch {
		case !slices.Contains(config.Scopes, ep.scope):
			return fmt.Errorf("endpoint %s %s: %q is not a throttle scope of authd", ep.method, ep.path, ep.scope)
		case seen[ep.scope]:
			return fmt.Errorf("endpoint %s %s: scope %s is attacked twice", ep.method, ep.path, ep.scope)
		case ep.rate.N < 1:
			return fmt.Errorf("endpoint %s %s: no rate for scope %s", ep.method, ep.path, ep.scope)
		case m.defaultRates && ep.rate.Period != m.period:
			return fmt.Errorf("scope %s: authd's default counts over %s, but %s mode attacks over %s", ep.scope, ep.rate.Period, m.name, m.period)
		}
		seen[ep.scope] = true
	}
	for _, sc := range config.Scopes {
		if !seen[sc] {
			return fmt.Errorf("throttle scope %s has no endpoint to attack", sc)
		}
	}
	return nil
}

// endpointNamed returns the endpoint of a throttle scope.
func endpointNamed(scope string) endpoint {
	for _, ep := range endpoints {
		if ep.scope == scope {
			return ep
		}
	}
	panic("no endpoint of scope " + scope)
}

// targets are the hits requests of client c's attack on ep, sent to the
// authd at base, each from c's address.
func (ep endpoint) targets(base string, c *client, a ammo, hits int) []vegeta.Target {
	ts := make([]vegeta.Target, hits)
	for i := range ts {
		ts[i] = vegeta.Target{Method: ep.method, URL: base + ep.path, Header: http.Header{"X-Forwarded-For": {c.addr}}}
		if ep.aim != nil {
			ep.aim(&ts[i], c, a, i)
		}
	}
	return ts
}

// epMe names GET /auth/me/, the one endpoint the cookie audit sees that
// has no throttle scope.
const epMe = "me"

// routes names authd's endpoints by method and path: the throttled ones
// by their scope, GET /auth/me/ as epMe.
type routes map[string]string

func routesOf(eps []endpoint) routes {
	r := routes{"GET /auth/me/": epMe}
	for _, ep := range eps {
		r[ep.method+" "+ep.path] = ep.scope
	}
	return r
}

// endpointOf names the authd endpoint a request went to, or "".
func (r routes) endpointOf(method, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return r[method+" "+u.Path]
}
