package httpapi

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"authd/internal/config"
	"authd/internal/password"
	"authd/internal/store"
)

// TestLoginTimingHidesWhetherTheUserExists measures, interleaved, logins
// of an unknown username and of a known one with a wrong password, with
// the production hashing parameters. The medians should differ by a few
// percent at most; the test reports their ratio and fails only on a gross
// difference, since the machine it runs on is shared and noisy.
func TestLoginTimingHidesWhetherTheUserExists(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes a few hundred passwords with the production parameters")
	}
	rounds, warmup := 100, 5
	if raceDetector {
		rounds = 30 // argon2id is about eight times slower under the race detector
	}
	hasher := password.NewHasher(password.Options{Params: password.DefaultParams, Concurrency: 1})
	e := newTestEnvDeps(t, func(c *config.Config) {
		generous(c)
		c.Lockout.N = 0 // every attempt must reach the password check
	}, func(d *testDeps) { d.Passwords = hasher })
	h, err := hasher.Hash(context.Background(), "the right password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateUser(context.Background(), store.NewUser{Username: "alice", PasswordHash: h}, time.Now()); err != nil {
		t.Fatal(err)
	}

	login := func(name string) time.Duration {
		body := `{"username":"` + name + `","password":"a wrong password"}`
		req := httptest.NewRequest("POST", "/auth/login/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		start := time.Now()
		e.handler.ServeHTTP(rec, req)
		d := time.Since(start)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), codeInvalidCredentials) {
			t.Fatalf("login of %s = %d %s", name, rec.Code, rec.Body.String())
		}
		return d
	}
	var known, unknown []time.Duration
	for i := range rounds + warmup {
		// Alternate which goes first, so that drift hits both alike.
		var k, u time.Duration
		if i%2 == 0 {
			k, u = login("alice"), login("mallory")
		} else {
			u, k = login("mallory"), login("alice")
		}
		if i >= warmup {
			known, unknown = append(known, k), append(unknown, u)
		}
	}
	mk, mu := median(known), median(unknown)
	ratio := float64(max(mk, mu)) / float64(min(mk, mu))
	t.Logf("median of %d logins: known user, wrong password %v; unknown user %v; ratio %.3f", rounds, mk, mu, ratio)
	if ratio > 1.5 {
		t.Errorf("the medians differ by a factor of %.2f: a login's time tells whether its user exists", ratio)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
