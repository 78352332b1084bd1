//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"authd/internal/authdtest"
)

// endpoint is one row of the seed's table (testdata/seed/endpoints.json).
type endpoint struct {
	Name         string   `json:"name"`
	Section      string   `json:"section"`
	Path         string   `json:"path"`
	Method       string   `json:"method"`
	Permission   string   `json:"permission"` // "None" or "User"
	Throttle     string   `json:"throttle"`
	QueryParams  []string `json:"query_params"`
	JSONParams   []string `json:"json_params"`
	ReturnValues []string `json:"return_values"`
	// Body is what a success answers with, which the seed never needs to
	// say: "" (every seed row) a JSON object holding the return values,
	// "empty" no body, the return values being headers, and "yaml" a
	// YAML document whose top-level keys are the return values. Only
	// contract rows (testdata/contract/endpoints.json) have the others.
	Body         string   `json:"body,omitempty"`
	ReturnCodes  []int    `json:"return_codes"`
	CookiesSet   []string `json:"cookies_set"`
	CookiesUnset []string `json:"cookies_unset"`
}

// cookieRule is the contract's attributes of a cookie
// (testdata/seed/cookies.json).
type cookieRule struct {
	HTTPOnly bool   `json:"http_only"`
	SameSite string `json:"same_site"`
	Path     string `json:"path"`
	MaxAge   int    `json:"max_age"`
	MaxAgeIs string `json:"max_age_is"`
}

// seed is the seed's table and the contract's cookie attributes.
type seed struct {
	endpoints []endpoint
	cookies   map[string]cookieRule
}

// mustSeed reads testdata/seed, refusing unknown fields so that a typo in
// the data cannot turn a check off. The rows are the data's, as many as
// it has; each must be one the tests know how to reach, and every one
// they know must be there, so that a row lost from the data fails rather
// than goes unchecked.
func mustSeed(t *testing.T) seed {
	t.Helper()
	var s seed
	mustReadJSON(t, "endpoints.json", &s.endpoints)
	mustReadJSON(t, "cookies.json", &s.cookies)
	rows := map[string]bool{}
	for _, e := range s.endpoints {
		if rows[e.Path] {
			t.Fatalf("endpoints.json has %s twice", e.Path)
		}
		rows[e.Path] = true
		if _, ok := reach[e.Path]; !ok {
			t.Fatalf("endpoints.json: no way to reach the success of %s %s: add one to reach", e.Method, e.Path)
		}
	}
	for path := range reach {
		if !rows[path] {
			t.Fatalf("endpoints.json has %d rows and none for %s, which the tests reach", len(s.endpoints), path)
		}
	}
	for path := range failure {
		if !rows[path] {
			t.Fatalf("endpoints.json has %d rows and none for %s, whose failure the tests make", len(s.endpoints), path)
		}
	}
	for _, e := range s.endpoints {
		for _, c := range slices.Concat(e.CookiesSet, e.CookiesUnset) {
			if _, ok := s.cookies[c]; !ok {
				t.Fatalf("%s: cookie %s has no attributes in cookies.json", e.Name, c)
			}
		}
		if _, _, err := parseRate(e.Throttle); err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
	}
	return s
}

func mustReadJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "seed", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("testdata/seed/%s: %v", name, err)
	}
}

// endpoint returns the row of a path.
func (s seed) endpoint(t *testing.T, path string) endpoint {
	t.Helper()
	for _, e := range s.endpoints {
		if e.Path == path {
			return e
		}
	}
	t.Fatalf("the seed has no endpoint %s", path)
	return endpoint{}
}

// apply returns the cookies a user agent holds after a successful call of
// e, starting from held: the seed's "Cookie set" added, "Cookie unset"
// removed.
func (e endpoint) apply(held []string) []string {
	out := slices.DeleteFunc(slices.Clone(held), func(c string) bool { return slices.Contains(e.CookiesUnset, c) })
	for _, c := range e.CookiesSet {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// parseRate reads a throttle rate such as 6/minute.
func parseRate(s string) (int, time.Duration, error) {
	n, unit, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count < 1 {
		return 0, 0, fmt.Errorf("throttle %q: want N/period", s)
	}
	periods := map[string]time.Duration{"second": time.Second, "minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	p, ok := periods[unit]
	if !ok {
		return 0, 0, fmt.Errorf("throttle %q: unknown period %q", s, unit)
	}
	return count, p, nil
}

const seedPassword = "seed table password"

// reach brings a user agent to where each seed endpoint succeeds and
// returns the values of the endpoint's parameters by name, with the
// Bearer token under "bearer". It is the only knowledge of the endpoints
// the seed table test has beyond the data.
var reach = map[string]func(t *testing.T, b *authdtest.Client) map[string]string{
	"/auth/login/": func(t *testing.T, b *authdtest.Client) map[string]string {
		b.MustRegister("seed_login", seedPassword)
		return map[string]string{"username": "seed_login", "password": seedPassword}
	},
	"/auth/logout/": func(t *testing.T, b *authdtest.Client) map[string]string {
		b.MustRegister("seed_logout", seedPassword)
		return map[string]string{"bearer": b.MustLogin("seed_logout", seedPassword).AccessToken}
	},
	"/auth/refresh/": func(t *testing.T, b *authdtest.Client) map[string]string {
		b.MustRegister("seed_refresh", seedPassword)
		b.MustLogin("seed_refresh", seedPassword)
		return nil
	},
	"/oauth2/intra/url/": func(t *testing.T, b *authdtest.Client) map[string]string {
		return nil
	},
	"/oauth2/intra/callback/": func(t *testing.T, b *authdtest.Client) map[string]string {
		back, err := url.Parse(b.MustAuthorize(b.MustIntraURL(), "gfavre"))
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"code": back.Query().Get("code"), "state": back.Query().Get("state")}
	},
	"/oauth2/intra/login/": func(t *testing.T, b *authdtest.Client) map[string]string {
		b.MustIntraIdentity("jdoe")
		return nil
	},
	"/oauth2/intra/link/": func(t *testing.T, b *authdtest.Client) map[string]string {
		b.MustRegister("seed_link", seedPassword)
		access := b.MustLogin("seed_link", seedPassword).AccessToken
		b.MustIntraIdentity("tnguyen")
		return map[string]string{"bearer": access}
	},
}

// failure makes, after its success, a request of the endpoint that fails
// with one of the seed's codes. Logout has none here: the contract
// answers a bad Bearer token with 401, which the seed does not list; the
// url endpoint fails only when Intra is not configured.
var failure = map[string]failureOf{
	"/auth/login/": {"a wrong password", func(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request {
		p := maps.Clone(params)
		p["password"] = "not the password"
		return seedRequest(t, e, p)
	}},
	"/auth/refresh/": {"no refresh_token", func(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request {
		b.DropCookie("refresh_token")
		return seedRequest(t, e, params)
	}},
	"/oauth2/intra/callback/": {"the same callback again, its state spent", sameAgain},
	"/oauth2/intra/login/":    {"again, api_token spent", sameAgain},
	"/oauth2/intra/link/":     {"again, api_token spent", sameAgain},
}

// sameAgain repeats the request of the success.
func sameAgain(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request {
	return seedRequest(t, e, params)
}

// seedRequest builds the request of a row: its method and path, its query
// and JSON parameters with the values given, and for a User endpoint the
// Bearer token.
func seedRequest(t *testing.T, e endpoint, params map[string]string) *http.Request {
	t.Helper()
	value := func(name string) string {
		v, ok := params[name]
		if !ok {
			t.Fatalf("%s: no value for the parameter %q", e.Name, name)
		}
		return v
	}
	target := "http://" + authdHost + e.Path
	if strings.Contains(e.Path, "{id}") {
		target = strings.Replace(target, "{id}", url.PathEscape(value("id")), 1)
	}
	if len(e.QueryParams) > 0 {
		q := url.Values{}
		for _, name := range e.QueryParams {
			q.Set(name, value(name))
		}
		target += "?" + q.Encode()
	}
	var body io.Reader
	if len(e.JSONParams) > 0 {
		fields := map[string]string{}
		for _, name := range e.JSONParams {
			fields[name] = value(name)
		}
		data, _ := json.Marshal(fields)
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(e.Method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.Permission == "User" {
		req.Header.Set("Authorization", "Bearer "+value("bearer"))
	}
	return req
}

// TestSeedTable checks every row of the seed's table against the running
// binaries: the success answers with a code of the row, carries every
// return value, sets exactly the row's cookies with the contract's
// attributes and clears exactly the row's cookies; a User endpoint
// refuses a request without a Bearer token; a failure answers with a code
// of the row. It runs once with Secure cookies off, as the rest of the
// suite over plain HTTP, and once with the default, Secure on.
func TestSeedTable(t *testing.T) {
	t.Parallel()
	s := mustSeed(t)
	for _, mode := range []struct {
		name   string
		secure bool
	}{
		{"Secure off", false},
		{"Secure on", true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			settings := append(intraSettings(provider, redirectURI), generousThrottles()...)
			if !mode.secure {
				settings = append(settings, plainHTTP)
			}
			a := mustAuthd(t, "authd", "", settings...)
			for _, e := range s.endpoints {
				t.Run(e.Name, func(t *testing.T) {
					checkRow(t, s, e, clientOf(t, a, authdtest.RawCookies()), mode.secure)
				})
			}
		})
	}
}

func checkRow(t *testing.T, s seed, e endpoint, b *authdtest.Client, secure bool) {
	params := reach[e.Path](t, b)
	var f *failureOf
	if ff, ok := failure[e.Path]; ok {
		f = &ff
	}
	checkRowWith(t, s, e, b, secure, params, f)
}

// failureOf is a failure of an endpoint: why, and the request making it.
type failureOf = struct {
	why  string
	make func(t *testing.T, b *authdtest.Client, e endpoint, params map[string]string) *http.Request
}

// checkRowWith checks row e as checkRow does, from the parameters of its
// success and, when f is not nil, with its failure.
func checkRowWith(t *testing.T, s seed, e endpoint, b *authdtest.Client, secure bool, params map[string]string, f *failureOf) {

	if e.Permission == "User" {
		req := seedRequest(t, e, params)
		req.Header.Del("Authorization")
		r := b.Do(req)
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("without a Bearer token: %d, WWW-Authenticate %q; want 401 Bearer", r.Status, r.Header.Get("WWW-Authenticate"))
		}
	}

	r := b.Do(seedRequest(t, e, params))
	if r.Status < 200 || r.Status > 299 || !slices.Contains(e.ReturnCodes, r.Status) {
		t.Fatalf("%s %s = %d %s; want a success among %v", e.Method, e.Path, r.Status, r.Body, e.ReturnCodes)
	}
	// The return values are named by the data, so the body is read as
	// the JSON object it must be, by name, unless the row says otherwise.
	var body map[string]any
	switch e.Body {
	case "empty":
		if len(r.Body) > 0 {
			t.Errorf("the answer has a body, want none: %q %s", r.Header.Get("Content-Type"), r.Body)
		}
		for _, name := range e.ReturnValues {
			if r.Header.Get(name) == "" {
				t.Errorf("return value %s missing from the headers %v", name, r.Header)
			}
		}
	case "yaml":
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
			t.Errorf("Content-Type %q, want application/yaml", ct)
		}
		keys := yamlTopLevelKeys(r.Body)
		for _, key := range e.ReturnValues {
			if !keys[key] {
				t.Errorf("return value %q is not a top-level key of the YAML answer (it has %v)", key, slices.Sorted(maps.Keys(keys)))
			}
		}
	case "":
		if !r.IsJSON() || json.Unmarshal(r.Body, &body) != nil || body == nil {
			t.Errorf("the answer is not a JSON object: %q %s", r.Header.Get("Content-Type"), r.Body)
		}
		for _, key := range e.ReturnValues {
			if list, ok := body[key].([]any); ok && len(list) > 0 {
				continue
			}
			if n, ok := body[key].(float64); ok && n != 0 {
				continue
			}
			if v, ok := body[key].(string); !ok || v == "" {
				t.Errorf("return value %q missing from %s", key, r.Body)
			}
		}
	default:
		t.Fatalf("%s: body %q, want \"\", \"empty\" or \"yaml\"", e.Name, e.Body)
	}
	if slices.Contains(e.ReturnValues, "access_token") {
		if body["token_type"] != "Bearer" || body["expires_in"] != float64(900) {
			t.Errorf("token_type %v, expires_in %v; want Bearer, 900", body["token_type"], body["expires_in"])
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q on a token answer, want no-store", cc)
		}
	}
	checkSetCookies(t, s, e, r, secure)

	if f != nil {
		r := b.Do(f.make(t, b, e, params))
		if r.Status < 400 || r.Status == http.StatusInternalServerError || !slices.Contains(e.ReturnCodes, r.Status) {
			t.Errorf("with %s: %d %s; want a client error among %v", f.why, r.Status, r.Body, e.ReturnCodes)
		}
	}
}

// yamlTopLevelKeys returns the keys of a YAML document's top-level block
// mapping: the lines starting in the first column with a plain key and a
// colon. That is all the form a row's check needs; the document itself is
// validated by internal/apidoc's tests.
func yamlTopLevelKeys(doc []byte) map[string]bool {
	keys := map[string]bool{}
	for line := range strings.Lines(string(doc)) {
		if line == "" || strings.ContainsRune(" \t#-\n", rune(line[0])) {
			continue
		}
		key, rest, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if ok && (rest == "" || rest[0] == ' ') && !strings.ContainsAny(key, " \t\"'{[") {
			keys[key] = true
		}
	}
	return keys
}

// checkSetCookies checks the Set-Cookie lines of a success: exactly the
// row's cookies set, with the contract's attributes, and exactly the
// row's cookies cleared, each with an empty value, Path=/ and Max-Age=0.
func checkSetCookies(t *testing.T, s seed, e endpoint, r authdtest.Response, secure bool) {
	t.Helper()
	var set, unset []string
	for _, line := range r.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Errorf("Set-Cookie %q: %v", line, err)
			continue
		}
		switch {
		case c.Value != "" && c.MaxAge > 0:
			set = append(set, c.Name)
			rule := s.cookies[c.Name]
			got := fmt.Sprintf("HttpOnly=%v SameSite=%v Path=%s Max-Age=%d Secure=%v Domain=%q",
				c.HttpOnly, sameSiteName(c.SameSite), c.Path, c.MaxAge, c.Secure, c.Domain)
			want := fmt.Sprintf("HttpOnly=%v SameSite=%v Path=%s Max-Age=%d Secure=%v Domain=%q",
				rule.HTTPOnly, rule.SameSite, rule.Path, rule.MaxAge, secure, "")
			if got != want {
				t.Errorf("cookie %s set with\n\t%s\nwant\t%s\n(%s)", c.Name, got, want, line)
			}
		case c.Value == "" && c.MaxAge < 0 && strings.Contains(line, "Max-Age=0") && c.Path == "/":
			unset = append(unset, c.Name)
		default:
			t.Errorf("Set-Cookie %q neither sets a cookie nor clears one as the contract says", line)
		}
	}
	slices.Sort(set)
	slices.Sort(unset)
	if !slices.Equal(set, sorted(e.CookiesSet)) {
		t.Errorf("cookies set: %q, the seed says %q", set, e.CookiesSet)
	}
	if !slices.Equal(unset, sorted(e.CookiesUnset)) {
		t.Errorf("cookies cleared: %q, the seed says %q", unset, e.CookiesUnset)
	}
}

func sameSiteName(m http.SameSite) string {
	switch m {
	case http.SameSiteStrictMode:
		return "Strict"
	case http.SameSiteLaxMode:
		return "Lax"
	case http.SameSiteNoneMode:
		return "None"
	}
	return "(unset)"
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestThrottleRates checks every row's throttle rate against an authd
// with the default rates: from one client, the rate's N requests pass
// the throttle (whatever else they answer, always a code of the row) and
// the next is refused with the contract's 429. The rows run one after
// the other from the same client, so each also shows that the scopes
// before it left its counter alone. The Bearer endpoints count the user:
// each of its requests carries a token of its own session.
//
// The seed's rows come first, then the contract's rows that have a
// throttle (testdata/contract/endpoints.json). A contract row whose
// endpoint shares the counter of a seed row's (sharedCounter) runs for a
// user of its own, its N requests alternating with the seed row's, after
// which the next request of each is refused: separate counters would let
// both go on. Its other rows (the password scope) run for the same user
// as the seed's, whose logout and link counters are then full.
func TestThrottleRates(t *testing.T) {
	t.Parallel()
	s := mustSeed(t)
	a := mustAuthd(t, "authd", "", append([]string{plainHTTP, "AUTHD_TRUSTED_PROXIES=127.0.0.1/32"},
		intraSettings(provider, redirectURI)...)...)
	b := clientOf(t, a)

	// Users with many sessions, each registered and logged in from an
	// address of its own, so that the registrations and logins themselves
	// stay under their rates.
	addresses := 0
	from := func(req *http.Request) *http.Request {
		addresses++
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", addresses))
		return req
	}
	register := func(t *testing.T, user string) {
		t.Helper()
		b.Do(from(b.NewRequest("POST", "/auth/register/", "", authdtest.RegisterRequest{Username: user, Password: seedPassword}))).
			Want(t, "register "+user, http.StatusCreated, "")
	}
	session := func(t *testing.T, user string) string {
		t.Helper()
		r := b.Do(from(seedRequest(t, s.endpoint(t, "/auth/login/"), map[string]string{"username": user, "password": seedPassword})))
		r.Want(t, "login", http.StatusOK, "")
		var tok authdtest.TokenResponse
		r.MustDecode(t, &tok)
		return tok.AccessToken
	}
	// request is a request of row e, for user when e needs a Bearer
	// token. It has no body but throttleBody's: the throttle counts it
	// before the body is read.
	request := func(t *testing.T, e endpoint, user string) *http.Request {
		var body io.Reader
		if data := throttleBody(e); data != "" {
			body = strings.NewReader(data)
		}
		req, err := http.NewRequest(e.Method, "http://"+authdHost+strings.Replace(e.Path, "{id}", "unknown", 1), body)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if e.Permission == "User" {
			req.Header.Set("Authorization", "Bearer "+session(t, user))
		}
		return req
	}
	// pass sends a request of row e that must pass the throttle.
	pass := func(t *testing.T, e endpoint, user string, i, n int) {
		t.Helper()
		r := b.Do(request(t, e, user))
		if r.Status == http.StatusTooManyRequests {
			t.Fatalf("request %d of %d refused (%s %s): %s", i, n, e.Method, e.Path, r.Body)
		}
		if !slices.Contains(e.ReturnCodes, r.Status) {
			t.Errorf("request %d (%s %s) = %d %s, not a code of the row's %v", i, e.Method, e.Path, r.Status, r.Body, e.ReturnCodes)
		}
	}

	const user = "throttled"
	register(t, user)
	for _, e := range s.endpoints {
		t.Run(e.Name+" "+e.Throttle, func(t *testing.T) {
			n, period, _ := parseRate(e.Throttle)
			for i := 1; i <= n; i++ {
				pass(t, e, user, i, n)
			}
			r := b.Do(request(t, e, user))
			checkThrottled(t, r, period)
			if e.Path == "/oauth2/intra/callback/" && !r.Clears("state_token") {
				t.Errorf("a throttled callback keeps state_token; every callback answer must clear it")
			}
		})
	}

	contract := mustContractRows(t)
	// partnerOf is the row, of the seed's or the contract's, whose
	// endpoint's counter row e's shares (sharedCounter).
	partnerOf := func(t *testing.T, path string) endpoint {
		for _, o := range contract {
			if o.Path == path && !slices.ContainsFunc(s.endpoints, func(se endpoint) bool { return se.Method == o.Method && se.Path == o.Path }) {
				return o
			}
		}
		return s.endpoint(t, path)
	}
	throttled := 0
	for k, e := range contract {
		if e.Throttle == "" {
			continue
		}
		// A row of an endpoint the seed's table has (a login of a user
		// with two-factor authentication) counts in the seed row's
		// counter, per address, which the seed row's run has filled: that
		// run is its throttle test.
		if slices.ContainsFunc(s.endpoints, func(se endpoint) bool { return se.Method == e.Method && se.Path == e.Path }) {
			continue
		}
		throttled++
		t.Run("contract "+e.Name+" "+e.Throttle, func(t *testing.T) {
			n, period, _ := parseRate(e.Throttle)
			partner, shared := sharedCounter[e.Name]
			if !shared {
				for i := 1; i <= n; i++ {
					pass(t, e, user, i, n)
				}
				checkThrottled(t, b.Do(request(t, e, user)), period)
				return
			}
			other := partnerOf(t, partner)
			if e.Throttle != other.Throttle {
				t.Fatalf("%s shares the counter of %s %s, but their rates are %s and %s", e.Name, other.Method, other.Path, e.Throttle, other.Throttle)
			}
			own := fmt.Sprintf("throttled_%d", k)
			register(t, own)
			for i := 1; i <= n; i++ {
				if i%2 == 1 {
					pass(t, e, own, i, n)
				} else {
					pass(t, other, own, i, n)
				}
			}
			checkThrottled(t, b.Do(request(t, e, own)), period)
			checkThrottled(t, b.Do(request(t, other, own)), period)
		})
	}
	if throttled == 0 {
		t.Error("testdata/contract/endpoints.json has no throttled row")
	}
	for name := range sharedCounter {
		if !slices.ContainsFunc(contract, func(e endpoint) bool { return e.Name == name }) {
			t.Errorf("testdata/contract/endpoints.json has no row %q, whose counter the test checks is shared", name)
		}
	}
}

// sharedCounter names, for each contract row whose endpoint counts in the
// scope of another row's (§5, §10, §11), that row's path (a seed row's, or
// a contract row's of an endpoint the seed lacks): ending a session and the
// logout scopes count as logout, unlinking as linking, and the two-factor
// endpoints in one totp counter, setup's.
var sharedCounter = map[string]string{
	"End a session":                "/auth/logout/",
	"Logout of the other sessions": "/auth/logout/",
	"Intra unlink":                 "/oauth2/intra/link/",
	"TOTP confirm":                 "/auth/2fa/totp/setup/",
	"TOTP disable":                 "/auth/2fa/totp/setup/",
	"New recovery codes":           "/auth/2fa/totp/setup/",
}

// throttleBody is the JSON body of a row's requests in TestThrottleRates:
// the logout scope others, so that the row is the one it names; none for
// other rows. A password change without a body is refused after the
// throttle has counted it, and changes no password.
func throttleBody(e endpoint) string {
	if slices.Equal(e.JSONParams, []string{"scope"}) {
		return `{"scope":"others"}`
	}
	return ""
}

// checkThrottled checks the contract's 429: Retry-After in whole seconds,
// at least 1 and at most the period, no-store, and the JSON error whose
// detail names the same number of seconds.
func checkThrottled(t *testing.T, r authdtest.Response, period time.Duration) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests || r.Error.Code != "throttled" {
		t.Fatalf("over the rate: %d %s, want 429 throttled", r.Status, r.Body)
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > period {
		t.Errorf("Retry-After %q, want whole seconds from 1 to %s", r.Header.Get("Retry-After"), period)
	}
	if d := fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs); r.Error.Detail != d {
		t.Errorf("detail %q, want %q", r.Error.Detail, d)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}
