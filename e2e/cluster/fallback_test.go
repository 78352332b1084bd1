//go:build e2e

package cluster

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"authd/internal/authdtest"
)

// tcpProxy forwards connections to a server; while blocked, it refuses
// new ones, leaving those open as they are.
type tcpProxy struct {
	ln      net.Listener
	target  string
	blocked atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
}

func mustProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *tcpProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.blocked.Load() {
			in.Close()
			continue
		}
		out, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { io.Copy(out, in); out.Close() }()
		go func() { io.Copy(in, out); in.Close() }()
	}
}

// readyCache returns /readyz's status and what its body says of the cache.
func readyCache(t *testing.T, s *authdtest.Server) (int, string) {
	t.Helper()
	resp, err := http.Get(s.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("/readyz: %v", err)
	}
	return resp.StatusCode, body["cache"]
}

// untilCache waits up to 10 s for /readyz to say of the cache what ok
// accepts, and returns it.
func untilCache(t *testing.T, s *authdtest.Server, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, cache := readyCache(t, s)
		if status != 200 {
			t.Fatalf("/readyz = %d (cache %q), want 200: a replica reading the database is still ready", status, cache)
		}
		if ok(cache) {
			return cache
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s /readyz says of the cache %q; want %s", cache, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCacheFallsBackToTheDatabase: when its feed of changes breaks (here,
// its listening connection is ended and new connections are refused),
// authd says so in /readyz and reads every session from the database, so
// a revocation no one told it of is honoured at once; once the feed is
// back it caches again, and changes reach it again.
func TestCacheFallsBackToTheDatabase(t *testing.T) {
	dbURL := mustDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := mustProxy(t, u.Host)
	proxied := *u
	proxied.Host = proxy.ln.Addr().String()
	s := authdtest.MustStart(t, authdtest.AuthdCommand(authdBin(t),
		"AUTHD_DB="+proxied.String(), "AUTHD_COOKIE_SECURE=false", "AUTHD_HASH_CONCURRENCY=1"))
	untilCache(t, s, `"following"`, func(c string) bool { return c == "following" })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	direct, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	revokeAll := func() {
		t.Helper()
		if _, err := direct.Exec(ctx, "UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL"); err != nil {
			t.Fatal(err)
		}
	}

	c := authdtest.NewClient(t, s.URL)
	c.MustRegister("fallback", "a long enough password")
	access := c.MustLogin("fallback", "a long enough password").AccessToken
	c.Me(access).Want(t, "me while following", 200, "") // cached

	proxy.blocked.Store(true)
	var ended int
	err = direct.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'authd-changes' AND datname = current_database()").Scan(&ended)
	if err != nil || ended != 1 {
		t.Fatalf("ended %d listening connections, %v; want 1", ended, err)
	}
	lost := untilCache(t, s, "the database named", func(c string) bool { return strings.HasPrefix(c, "database: ") })
	t.Logf("/readyz while the feed is lost: cache %q", lost)

	// No one tells authd of this revocation; it reads the database.
	revokeAll()
	c.Me(access).Want(t, "me at once after a revocation no one told of", 401, "invalid_token")
	access = c.MustLogin("fallback", "a long enough password").AccessToken
	c.Me(access).Want(t, "me while reading the database", 200, "")

	proxy.blocked.Store(false)
	untilCache(t, s, `"following" again`, func(c string) bool { return c == "following" })
	c.Me(access).Want(t, "me once following again", 200, "") // cached again
	revokeAll()
	start := time.Now()
	for c.Me(access).Status != 401 {
		if time.Since(start) > revocationDeadline {
			t.Fatalf("a revocation made in the database is not seen %v later, once the feed is back", revocationDeadline)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("once the feed was back, a revocation made in the database was seen after %v", time.Since(start).Round(time.Microsecond))
}
