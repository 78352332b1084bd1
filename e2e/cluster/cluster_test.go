//go:build e2e

// Package cluster runs three authd processes that share one PostgreSQL
// database and one Redis, as replicas behind a load balancer would, and
// checks that together they behave exactly like one.
package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"authd/fakeintra"
	"authd/internal/testservice"
)

const (
	clientID    = "u-s4t2ud-cluster"
	secret      = "s-s4t2ud-cluster-secret"
	redirectURI = "http://cluster.test/oauth2/intra/callback/"
)

// replica is one running authd process.
type replica struct {
	name string
	base string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

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

// mustBuild compiles authd once into the test's temporary folder.
func mustBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "authd")
	cmd := exec.Command("go", "build", "-o", bin, "authd/cmd/authd")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build authd: %v", err)
	}
	return bin
}

// start runs one replica and waits for it to be ready.
func start(t *testing.T, bin, name string, environ []string) *replica {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), environ...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, cmd: cmd, logs: &bytes.Buffer{}}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("logs of replica %s:\n%s", name, r.logs)
		}
	})
	addr := make(chan string, 1)
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Bytes()
			mu.Lock()
			r.logs.Write(line)
			r.logs.WriteByte('\n')
			mu.Unlock()
			var rec struct{ Msg, Addr string }
			if !sent && json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
				sent = true
			}
		}
	}()
	select {
	case a := <-addr:
		r.base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("replica %s did not listen within 60s:\n%s", name, r.logs)
	}
	return r
}

// client is one browser: a cookie jar shared across replicas (the load
// balancer's host), identified to the throttle by its own address.
type client struct {
	t    *testing.T
	http *http.Client
	ip   string
}

var ipSeq atomic.Int64

func newClient(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	n := ipSeq.Add(1)
	return &client{t: t, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		ip: fmt.Sprintf("198.18.%d.%d", n/250, n%250+1)}
}

// lb is the one host every replica is reached under, so cookies set by
// one are sent to the others, as behind a load balancer.
var lb, _ = url.Parse("http://authd.cluster/")

type result struct {
	status int
	body   map[string]any
	header http.Header
}

func (c *client) call(r *replica, method, path, bearer string, body any) result {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("X-Forwarded-For", c.ip)
	for _, ck := range c.http.Jar.Cookies(lb) {
		req.AddCookie(ck)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s%s: %v", method, r.name, path, err)
	}
	defer resp.Body.Close()
	c.http.Jar.SetCookies(lb, resp.Cookies())
	out := result{status: resp.StatusCode, header: resp.Header}
	json.NewDecoder(resp.Body).Decode(&out.body)
	return out
}

func TestReplicasBehaveAsOne(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process groups are handled for Linux only")
	}
	dbURL := mustDatabase(t)
	redisURL, prefix := mustRedis(t)
	fake := httptest.NewServer(fakeintra.New(fakeintra.Options{
		Clients: []fakeintra.Client{{ID: clientID, Secret: secret, RedirectURIs: []string{redirectURI}}},
	}))
	t.Cleanup(fake.Close)
	bin := mustBuild(t)
	environ := []string{
		"AUTHD_DB=" + dbURL,
		"AUTHD_REDIS_URL=" + redisURL,
		"AUTHD_REDIS_PREFIX=" + prefix,
		"AUTHD_COOKIE_SECURE=false", // plain HTTP on loopback
		"AUTHD_TRUSTED_PROXIES=127.0.0.1/32",
		"AUTHD_THROTTLE_REGISTER=10000/minute",
		"AUTHD_INTRA_CLIENT_ID=" + clientID,
		"AUTHD_INTRA_CLIENT_SECRET=" + secret,
		"AUTHD_INTRA_REDIRECT_URI=" + redirectURI,
		"AUTHD_INTRA_BASE_URL=" + fake.URL,
		"AUTHD_HASH_CONCURRENCY=1",
	}
	// All three start at once on the fresh database: migrations and the
	// generated signing key must come out the same for all.
	replicas := make([]*replica, 3)
	var wg sync.WaitGroup
	for i, name := range []string{"A", "B", "C"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replicas[i] = start(t, bin, name, environ)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	a, b, c := replicas[0], replicas[1], replicas[2]

	t.Run("session across replicas", func(t *testing.T) {
		u := newClient(t)
		creds := map[string]string{"username": "carol", "password": "carol's long password"}
		if r := u.call(a, "POST", "/auth/register/", "", creds); r.status != 201 {
			t.Fatalf("register on A = %d %v", r.status, r.body)
		}
		r := u.call(a, "POST", "/auth/login/", "", creds)
		access, _ := r.body["access_token"].(string)
		if r.status != 200 {
			t.Fatalf("login on A = %d %v", r.status, r.body)
		}
		if r := u.call(b, "POST", "/auth/refresh/", "", nil); r.status != 200 {
			t.Fatalf("refresh on B = %d %v", r.status, r.body)
		}
		if r := u.call(c, "POST", "/auth/logout/", access, nil); r.status != 200 {
			t.Fatalf("logout on C = %d %v", r.status, r.body)
		}
		// The cookie was cleared by the logout; a thief's copy is refused too.
		if r := u.call(a, "POST", "/auth/refresh/", "", nil); r.status != 400 {
			t.Errorf("refresh on A after logout on C = %d, want 400", r.status)
		}
		if r := u.call(b, "GET", "/auth/me/", access, nil); r.status != 401 {
			t.Errorf("me on B after logout on C = %d, want 401", r.status)
		}
	})

	t.Run("one throttle across replicas", func(t *testing.T) {
		u := newClient(t)
		body := map[string]string{"username": "nobody", "password": "whatever-it-is"}
		var accepted, refused atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := u.call(replicas[i%3], "POST", "/auth/login/", "", body)
				switch r.status {
				case 429:
					refused.Add(1)
				case 400:
					accepted.Add(1)
				default:
					t.Errorf("login = %d %v", r.status, r.body)
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
		r := u.call(a, "GET", "/oauth2/intra/url/", "", nil)
		authorize, _ := r.body["url"].(string)
		if r.status != 200 {
			t.Fatalf("url on A = %d %v", r.status, r.body)
		}
		resp, err := u.http.Get(authorize + "&login=jdoe&consent=authorize")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || back.Query().Get("code") == "" {
			t.Fatalf("provider redirect %q", resp.Header.Get("Location"))
		}
		if r := u.call(b, "GET", "/oauth2/intra/callback/?"+back.RawQuery, "", nil); r.status != 200 {
			t.Fatalf("callback on B = %d %v", r.status, r.body)
		}
		r = u.call(c, "POST", "/oauth2/intra/login/", "", nil)
		if r.status != 200 {
			t.Fatalf("intra login on C = %d %v", r.status, r.body)
		}
		me := u.call(a, "GET", "/auth/me/", r.body["access_token"].(string), nil)
		if me.body["intra_login"] != "jdoe" {
			t.Errorf("me on A = %v", me.body)
		}
	})

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
					req, _ := http.NewRequest("POST", target.base+"/auth/register/",
						strings.NewReader(`{"username":"`+name+`","password":"load test password"}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Forwarded-For", u.ip)
					resp, err := u.http.Do(req)
					if err != nil {
						continue // the killed replica: not acknowledged
					}
					resp.Body.Close()
					if resp.StatusCode == 201 {
						mu.Lock()
						acknowledged = append(acknowledged, name)
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(2 * time.Second)
		if err := syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		c.cmd.Wait()
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
				r := u.call(replicas[i%2], "POST", "/auth/login/", "", map[string]string{"username": name, "password": "load test password"})
				if r.status != 200 {
					failed.Add(1)
					t.Errorf("acknowledged user %s cannot log in: %d %v", name, r.status, r.body)
				}
			}()
		}
		wg.Wait()
		t.Logf("%d registrations acknowledged across 3 replicas, one killed mid-load; %d could not log in", len(acknowledged), failed.Load())
	})
}
