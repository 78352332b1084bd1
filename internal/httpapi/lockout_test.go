package httpapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/config"
	"authd/internal/store"
	"authd/internal/throttle"
)

// loginFrom is a login of name with pw from the i-th of many clients, so
// that no client's own login rate is used up.
func loginFrom(t testing.TB, name, pw string, i int) request {
	return request{
		method: "POST", path: "/auth/login/",
		body:   jsonBody(t, map[string]any{"username": name, "password": pw}),
		remote: fmt.Sprintf("198.18.%d.%d:4000", i/250, i%250+1),
	}
}

// answer is what a client can see of a login's answer, tokens left out.
type answer struct {
	Status       int
	Code         string
	Detail       string
	RetryAfter   string
	CacheControl string
}

func answerOf(r response) answer {
	a := answer{Status: r.status, Code: r.code(), RetryAfter: r.header.Get("Retry-After"), CacheControl: r.header.Get("Cache-Control")}
	a.Detail, _ = r.body["detail"].(string)
	return a
}

func wrongPassword() answer {
	return answer{Status: 400, Code: codeInvalidCredentials, Detail: errInvalidCredentials.Detail, CacheControl: "no-store"}
}

func lockedFor(secs int) answer {
	return answer{
		Status: 429, Code: codeThrottled, RetryAfter: fmt.Sprint(secs), CacheControl: "no-store",
		Detail: fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs),
	}
}

// TestLoginLockout has ten clients each guess one password of a username:
// the username is then locked for the rest of the 15 minutes, the right
// password included, and an unknown username answers exactly the same.
func TestLoginLockout(t *testing.T) {
	t.Parallel()
	// scenario returns the answers, and the status of the login with
	// alice's password once the first failure has left the window.
	scenario := func(t *testing.T, name string) ([]answer, int) {
		e := newTestEnv(t, nil) // the defaults: 10 failures in 15 minutes
		e.mustUser(t, "alice", "alice-password")
		e.mustUser(t, "bob", "bob-password")
		var got []answer
		for i := range 10 {
			got = append(got, answerOf(e.do(t, loginFrom(t, name, fmt.Sprintf("guess-%02d", i), i))))
			e.clock.Advance(10 * time.Second)
		}
		// At t0+100s: locked until the first failure, at t0, is 15
		// minutes old, for the right password too.
		for i, try := range []struct{ name, pw string }{
			{name, "alice-password"},
			{strings.ToUpper(name), "alice-password"},
			{name, "another-guess"},
		} {
			got = append(got, answerOf(e.do(t, loginFrom(t, try.name, try.pw, 100+i))))
		}
		// Other users are not affected.
		if r := e.do(t, loginFrom(t, "bob", "bob-password", 200)); r.status != 200 {
			t.Errorf("bob's login while %s is locked = %d %s", name, r.status, r.raw)
		}
		e.clock.Advance(800*time.Second - time.Millisecond)
		got = append(got, answerOf(e.do(t, loginFrom(t, name, "alice-password", 300))))
		e.clock.Advance(time.Millisecond)
		return got, e.do(t, loginFrom(t, name, "alice-password", 301)).status
	}

	want := []answer{
		wrongPassword(), wrongPassword(), wrongPassword(), wrongPassword(), wrongPassword(),
		wrongPassword(), wrongPassword(), wrongPassword(), wrongPassword(), wrongPassword(),
		lockedFor(800), lockedFor(800), lockedFor(800),
		lockedFor(1),
	}
	known, status := scenario(t, "alice")
	if diff := cmp.Diff(want, known); diff != "" {
		t.Errorf("known username (-want +got):\n%s", diff)
	}
	if status != 200 {
		t.Errorf("alice's login once the first failure left the window = %d, want 200", status)
	}
	unknown, status := scenario(t, "ghost")
	if diff := cmp.Diff(known, unknown); diff != "" {
		t.Errorf("an unknown username answers differently from a known one (-known +unknown):\n%s", diff)
	}
	if status != 400 {
		t.Errorf("the unknown username's login once the first failure left the window = %d, want 400", status)
	}
}

func TestLoginLockoutCountsFailuresOnly(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) { c.Lockout = throttle.Rate{N: 3, Period: time.Hour} })
	e.mustUser(t, "alice", "alice-password")
	i := 0
	next := func() int { i++; return i }
	// Successful logins and requests refused as invalid are not failures.
	for range 5 {
		if r := e.do(t, loginFrom(t, "alice", "alice-password", next())); r.status != 200 {
			t.Fatalf("login = %d %s", r.status, r.raw)
		}
		bad := loginFrom(t, "alice", "", next())
		bad.body = `{"username":"alice"}`
		if r := e.do(t, bad); r.code() != codeInvalidRequest {
			t.Fatalf("login without a password = %d %s", r.status, r.raw)
		}
	}
	// Failures under any case of the username count together.
	for _, name := range []string{"Alice", "ALICE", "alice"} {
		if r := e.do(t, loginFrom(t, name, "wrong-password", next())); r.code() != codeInvalidCredentials {
			t.Fatalf("failed login as %s = %d %s", name, r.status, r.raw)
		}
	}
	if r := e.do(t, loginFrom(t, "aLiCe", "alice-password", next())); r.status != 429 || r.header.Get("Retry-After") != "3600" {
		t.Errorf("after 3 failures = %d (Retry-After %q) %s, want 429 for an hour", r.status, r.header.Get("Retry-After"), r.raw)
	}
}

func TestLoginLockoutOff(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, func(c *config.Config) { c.Lockout.N = 0 })
	e.mustUser(t, "alice", "alice-password")
	for i := range 15 {
		if r := e.do(t, loginFrom(t, "alice", "wrong-password", i)); r.code() != codeInvalidCredentials {
			t.Fatalf("failure %d = %d %s", i+1, r.status, r.raw)
		}
	}
	if r := e.do(t, loginFrom(t, "alice", "alice-password", 99)); r.status != 200 {
		t.Errorf("with the lockout off, login after 15 failures = %d %s", r.status, r.raw)
	}
}

// lockingStore locks a username, as a crowd of other clients' failures
// would, while a login of it has its password checked.
type lockingStore struct {
	store.Store
	lock func(username string)
}

func (s lockingStore) UserByUsername(ctx context.Context, name string) (store.User, error) {
	s.lock(name)
	return s.Store.UserByUsername(ctx, name)
}

// TestLoginLockedWhileChecking: guesses that were already past the first
// check when the username got locked are not answered either, right or
// wrong, so that no more than N guesses a window learn their outcome.
func TestLoginLockedWhileChecking(t *testing.T) {
	t.Parallel()
	rate := throttle.Rate{N: 3, Period: time.Hour}
	var lim *throttle.Memory
	e := newTestEnvDeps(t, func(c *config.Config) { c.Lockout = rate }, func(d *testDeps) {
		lim = d.Lockouts.(*throttle.Memory)
		d.Store = lockingStore{Store: d.Store, lock: func(name string) {
			for range rate.N {
				lim.Allow(context.Background(), lockoutKey(name), rate)
			}
		}}
	})
	e.mustUser(t, "alice", "alice-password")
	e.mustUser(t, "bob", "bob-password")
	if r := e.do(t, loginFrom(t, "alice", "alice-password", 1)); r.status != 429 {
		t.Errorf("right password, locked meanwhile = %d %s, want 429", r.status, r.raw)
	}
	if r := e.do(t, loginFrom(t, "bob", "wrong-password", 2)); r.status != 429 {
		t.Errorf("wrong password, locked meanwhile = %d %s, want 429", r.status, r.raw)
	}
}

// failingPeeker is a limiter whose check fails, as an unreachable shared
// store's would.
type failingPeeker struct{ throttle.Limiter }

func (failingPeeker) Peek(context.Context, string, throttle.Rate) (throttle.Decision, error) {
	return throttle.Decision{}, errors.New("connection refused")
}

func TestLoginLockoutLimiterFails(t *testing.T) {
	t.Parallel()
	e := newTestEnvDeps(t, nil, func(d *testDeps) { d.Lockouts = failingPeeker{d.Lockouts} })
	e.mustUser(t, "alice", "alice-password")
	r := e.do(t, loginFrom(t, "alice", "alice-password", 1))
	if r.status != 503 || r.code() != codeUnavailable {
		t.Errorf("login with a failing lockout check = %d %s, want 503 unavailable", r.status, r.raw)
	}
}

// lockoutKey is the limiter key under which the account service counts
// the failed logins of a username.
func lockoutKey(username string) string {
	return "login_account|" + strings.ToLower(username)
}

// TestLockoutSurvivesAFloodOfNewClients: twice as many new clients as the
// in-process limiter tracks, each from its own IPv6 /64, do not push a
// username's live lockout out; the lockout has a table of its own.
func TestLockoutSurvivesAFloodOfNewClients(t *testing.T) {
	t.Parallel()
	const maxClients = 128
	e := newTestEnv(t, func(c *config.Config) {
		c.ThrottleMaxKey = maxClients
		c.Lockout = throttle.Rate{N: 3, Period: time.Hour}
		c.IntraClientID, c.IntraClientSecret, c.IntraRedirectURI = "id", "secret", "https://app.example/cb"
	})
	e.mustUser(t, "alice", "alice-password")
	for i := range 3 {
		e.do(t, loginFrom(t, "alice", "wrong-password", i))
	}
	if r := e.do(t, loginFrom(t, "alice", "alice-password", 10)); r.status != 429 {
		t.Fatalf("right password after 3 failures = %d %s, want 429", r.status, r.raw)
	}
	for i := range 2 * maxClients {
		r := e.do(t, request{method: "GET", path: "/oauth2/intra/url/", remote: fmt.Sprintf("[2001:db8:%x::1]:4000", i)})
		if r.status != 200 {
			t.Fatalf("url request %d = %d %s", i, r.status, r.raw)
		}
	}
	if r := e.do(t, loginFrom(t, "alice", "alice-password", 11)); r.status != 429 {
		t.Errorf("right password after the flood = %d %s, want 429: the lockout was evicted", r.status, r.raw)
	}
}
