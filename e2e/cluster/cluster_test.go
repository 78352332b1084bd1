//go:build e2e

// Package cluster runs three authd processes that share one PostgreSQL
// database and one Redis, as replicas behind a load balancer would, and
// checks that together they behave exactly like one.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"authd/fakeintra"
	"authd/internal/apidoc/apidoctest"
	"authd/internal/authdtest"
	"authd/internal/testservice"
)

// lbHost is the one name every replica is reached under, as behind a load
// balancer: cookies set by one replica go to the others.
const lbHost = "cluster.test"

const (
	clientID    = "u-s4t2ud-cluster"
	secret      = "s-s4t2ud-cluster-secret"
	redirectURI = "http://" + lbHost + "/oauth2/intra/callback/"
)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// mustDatabase creates a fresh PostgreSQL database and drops it when the
// test ends; it returns its URL.
func mustDatabase(t *testing.T) string {
	t.Helper()
	admin := testservice.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", testservice.PostgresVar, err)
	}
	name := "authd_cluster_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// mustRedis returns the Redis URL and a key prefix of this test's own,
// whose keys are deleted when the test ends.
func mustRedis(t *testing.T) (string, string) {
	t.Helper()
	raw := testservice.RedisURL(t)
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	prefix := "authd-test:cluster:" + randomHex(6) + ":"
	t.Cleanup(func() {
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return raw, prefix
}

// newClient returns one browser: a cookie jar for the load balancer's
// host, so shared across replicas, and an address of its own for the
// throttle. Its calls go to a replica through Via. Every exchange must be
// one the OpenAPI document describes.
func newClient(t *testing.T) *authdtest.Client {
	return authdtest.NewClient(t, "http://"+lbHost, authdtest.Header("X-Forwarded-For", clientAddress()),
		apidoctest.CheckClient(t, lbHost))
}

// clientAddress returns a client address no other client of the tests has.
func clientAddress() string {
	n := ipSeq.Add(1)
	return fmt.Sprintf("198.18.%d.%d", n/250, n%250+1)
}

var ipSeq atomic.Int64

// authdBin returns the authd binary of $AUTHD_E2E_BIN (make e2e passes
// bin/), or builds one for the test.
func authdBin(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("AUTHD_E2E_BIN"); dir != "" {
		bin := filepath.Join(dir, "authd")
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("AUTHD_E2E_BIN: %v", err)
		}
		return bin
	}
	return authdtest.MustBuild(t, "authd/cmd/authd")
}

func TestReplicasBehaveAsOne(t *testing.T) {
	dbURL := mustDatabase(t)
	redisURL, prefix := mustRedis(t)
	fake := httptest.NewServer(fakeintra.New(fakeintra.Options{
		Clients: []fakeintra.Client{{ID: clientID, Secret: secret, RedirectURIs: []string{redirectURI}}},
	}))
	t.Cleanup(fake.Close)
	bin := authdBin(t)
	settings := []string{
		"AUTHD_DB=" + dbURL,
		"AUTHD_REDIS_URL=" + redisURL,
		"AUTHD_REDIS_PREFIX=" + prefix,
		"AUTHD_COOKIE_SECURE=false", // plain HTTP on loopback
		"AUTHD_TRUSTED_PROXIES=127.0.0.1/32",
		"AUTHD_THROTTLE_REGISTER=10000/minute",
		"AUTHD_THROTTLE_LOGIN_MFA=10000/minute",
		"AUTHD_INTRA_CLIENT_ID=" + clientID,
		"AUTHD_INTRA_CLIENT_SECRET=" + secret,
		"AUTHD_INTRA_REDIRECT_URI=" + redirectURI,
		"AUTHD_INTRA_BASE_URL=" + fake.URL,
		"AUTHD_HASH_CONCURRENCY=1",
	}
	// All three start at once on the fresh database: migrations and the
	// generated signing key must come out the same for all.
	var commands []authdtest.Command
	for _, name := range []string{"A", "B", "C"} {
		c := authdtest.AuthdCommand(bin, settings...)
		c.Name = "replica-" + name
		commands = append(commands, c)
	}
	replicas := authdtest.MustStartAll(t, commands...)
	a, b, c := replicas[0], replicas[1], replicas[2]

	t.Run("session across replicas", func(t *testing.T) {
		u := newClient(t)
		const username, password = "carol", "carol's long password"
		if r := u.Via(a.Addr).Register(authdtest.RegisterRequest{Username: username, Password: password}); r.Status != 201 {
			t.Fatalf("register on A = %s", r)
		}
		r := u.Via(a.Addr).Login(username, password)
		access := r.AccessToken
		if r.Status != 200 {
			t.Fatalf("login on A = %s", r)
		}
		if r := u.Via(b.Addr).Refresh(); r.Status != 200 {
			t.Fatalf("refresh on B = %s", r)
		}
		if r := u.Via(c.Addr).Logout(access); r.Status != 200 {
			t.Fatalf("logout on C = %s", r)
		}
		// The cookie was cleared by the logout; a thief's copy is refused too.
		if r := u.Via(a.Addr).Refresh(); r.Status != 400 {
			t.Errorf("refresh on A after logout on C = %d, want 400", r.Status)
		}
		// B cached the session when it answered the refresh; the
		// logout reaches it through the database's notification.
		start := time.Now()
		for u.Via(b.Addr).Me(access).Status != 401 {
			if time.Since(start) > revocationDeadline {
				t.Fatalf("me on B still 200 %v after logout on C", revocationDeadline)
			}
			time.Sleep(time.Millisecond)
		}
	})

	t.Run("one throttle across replicas", func(t *testing.T) {
		u := newClient(t)
		var accepted, refused atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := u.Via(replicas[i%3].Addr).Login("nobody", "whatever-it-is")
				switch r.Status {
				case 429:
					refused.Add(1)
				case 400:
					accepted.Add(1)
				default:
					t.Errorf("login = %s", r)
				}
			}()
		}
		wg.Wait()
		if accepted.Load() != 6 || refused.Load() != 6 {
			t.Errorf("12 logins at once across 3 replicas: %d passed the throttle, %d refused; want exactly 6 and 6", accepted.Load(), refused.Load())
		}
	})

	t.Run("intra login across replicas", func(t *testing.T) {
		u := newClient(t)
		r := u.Via(a.Addr).IntraURL()
		if r.Status != 200 {
			t.Fatalf("url on A = %s", r)
		}
		location := u.MustAuthorize(r.URL, "jdoe")
		back, err := url.Parse(location)
		if err != nil || back.Query().Get("code") == "" {
			t.Fatalf("provider redirect %q", location)
		}
		if r := u.Via(b.Addr).Callback(location); r.Status != 200 {
			t.Fatalf("callback on B = %s", r)
		}
		tok := u.Via(c.Addr).IntraLogin()
		if tok.Status != 200 {
			t.Fatalf("intra login on C = %s", tok)
		}
		if me := u.Via(a.Addr).Me(tok.AccessToken); me.Intra() != "jdoe" {
			t.Errorf("me on A = %s", me)
		}
	})

	t.Run("two-factor across replicas", func(t *testing.T) { twoFactorAcrossReplicas(t, replicas) })

	t.Run("a replica killed under load loses nothing acknowledged", func(t *testing.T) {
		var mu sync.Mutex
		var acknowledged []string
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var seq atomic.Int64
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("load%04d", seq.Add(1))
					u := newClient(t)
					target := replicas[int(seq.Load())%3]
					r, err := u.Via(target.Addr).Send(u.NewRequest("POST", "/auth/register/", "",
						authdtest.RegisterRequest{Username: name, Password: "load test password"}))
					u.CloseIdleConnections()
					if err != nil {
						continue // the killed replica: not acknowledged
					}
					if r.Status == 201 {
						mu.Lock()
						acknowledged = append(acknowledged, name)
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(2 * time.Second)
		if err := c.Kill(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		close(stop)
		wg.Wait()
		if len(acknowledged) < 10 {
			t.Fatalf("only %d registrations acknowledged; the load did not run", len(acknowledged))
		}
		// Every acknowledged user can log in, on the two survivors.
		var failed atomic.Int64
		sem := make(chan struct{}, 4)
		for i, name := range acknowledged {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				u := newClient(t)
				r := u.Via(replicas[i%2].Addr).Login(name, "load test password")
				u.CloseIdleConnections()
				if r.Status != 200 {
					failed.Add(1)
					t.Errorf("acknowledged user %s cannot log in: %s", name, r)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d registrations acknowledged across 3 replicas, one killed mid-load; %d could not log in", len(acknowledged), failed.Load())
	})
}
