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

// TestLoginTimingHidesImportedUsers measures, interleaved, wrong-password
// logins of an unknown user, a user with an argon2id hash and a user
// imported with a Django pbkdf2 hash of Django 3.2's 260,000 iterations,
// once the account service has weighed the imported hashes. Without that,
// the imported user's logins cost a pbkdf2 and the others an argon2id; with
// it, all cost both. It reports the medians and their largest ratio, and
// fails only on a gross difference.
func TestLoginTimingHidesImportedUsers(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes a few hundred passwords with the production parameters")
	}
	rounds, warmup := 40, 3
	if raceDetector {
		rounds = 8
	}
	hasher := password.NewHasher(password.Options{Params: password.DefaultParams, Concurrency: 1})
	e := newTestEnvDeps(t, func(c *config.Config) {
		generous(c)
		c.Lockout.N = 0
	}, func(d *testDeps) { d.Passwords = hasher })
	native, err := hasher.Hash(context.Background(), "the right password")
	if err != nil {
		t.Fatal(err)
	}
	for name, hash := range map[string]string{
		"alice": native,
		"dj":    "pbkdf2_sha256$260000$seasalt$" + strings.Repeat("A", 43) + "=",
	} {
		if _, err := e.store.CreateUser(context.Background(), store.NewUser{Username: name, PasswordHash: hash}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.handler.(*Server).Accounts.WeighImportedHashes(context.Background())
	if err != nil || n != 260000 {
		t.Fatalf("WeighImportedHashes = %d, %v; want 260000", n, err)
	}
	login := func(name string) time.Duration {
		req := httptest.NewRequest("POST", "/auth/login/", strings.NewReader(`{"username":"`+name+`","password":"a wrong password"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		start := time.Now()
		e.handler.ServeHTTP(rec, req)
		d := time.Since(start)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), codeInvalidCredentials) {
			t.Fatalf("login of %s = %d %s", name, rec.Code, rec.Body.String())
		}
		return d
	}
	names := []string{"mallory", "alice", "dj"}
	took := make(map[string][]time.Duration)
	for i := range rounds + warmup {
		for j := range names {
			name := names[(i+j)%len(names)] // rotate who goes first
			if d := login(name); i >= warmup {
				took[name] = append(took[name], d)
			}
		}
	}
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for _, name := range names {
		m := median(took[name])
		lo, hi = min(lo, m), max(hi, m)
	}
	ratio := float64(hi) / float64(lo)
	t.Logf("median of %d logins: unknown %v, argon2id %v, imported %v; largest ratio %.3f",
		rounds, median(took["mallory"]), median(took["alice"]), median(took["dj"]), ratio)
	if ratio > 1.5 {
		t.Errorf("the medians differ by a factor of %.2f: a login's time tells imported users apart", ratio)
	}
}
