package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"authd/internal/authdtest"
	"authd/internal/testservice"
)

func TestReadSweeps(t *testing.T) {
	t.Parallel()
	s := session{access: "acc", refresh: "ref"}
	bases := []string{"http://a", "http://b", "http://c"}
	specs := readSweeps(backendCluster, "cluster-", bases, s, time.Second, func(path string) int { return len(path) })
	type row struct {
		Name, Backend, File string
		Start               int
		URLs                []string
	}
	var got []row
	for _, sp := range specs {
		r := row{Name: sp.name, Backend: sp.backend, File: sp.file, Start: sp.start}
		for _, tg := range sp.targets {
			r.URLs = append(r.URLs, tg.Method+" "+tg.URL)
			if tg.Method == http.MethodGet && tg.Header.Get("Authorization") != "Bearer acc" {
				t.Errorf("%s: Authorization %q", sp.name, tg.Header.Get("Authorization"))
			}
		}
		got = append(got, r)
	}
	want := []row{
		{"GET /auth/me/", backendCluster, "perf-cluster-me.html", len("GET /auth/me/"), []string{"GET http://a/auth/me/", "GET http://b/auth/me/", "GET http://c/auth/me/"}},
		{"GET /auth/verify/", backendCluster, "perf-cluster-verify.html", len("GET /auth/verify/"), []string{"GET http://a/auth/verify/", "GET http://b/auth/verify/", "GET http://c/auth/verify/"}},
		{"POST /auth/refresh/", backendCluster, "perf-cluster-refresh.html", len("POST /auth/refresh/"), []string{"POST http://a/auth/refresh/", "POST http://b/auth/refresh/", "POST http://c/auth/refresh/"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sweeps (-want +got):\n%s", diff)
	}
	if c := specs[2].targets[0].Header.Get("Cookie"); c != cookieRefresh+"=ref" {
		t.Errorf("refresh sends Cookie %q", c)
	}
	if only := readSweeps(backendSQLite, "", bases[:1], s, time.Second, sqliteStart, "GET /auth/me/"); len(only) != 1 || only[0].file != "perf-me.html" {
		t.Errorf("GET /auth/me/ alone: %+v", only)
	}
	// Every sweep of the read path has its target on SQLite.
	for _, sp := range readSweeps(backendSQLite, "", bases[:1], s, time.Second, sqliteStart) {
		if _, ok := targetOf(backendSQLite, sp.name); !ok {
			t.Errorf("%s on SQLite has no target", sp.name)
		}
	}
}

func TestRoundRobin(t *testing.T) {
	t.Parallel()
	ts := readSweeps(backendCluster, "", []string{"http://a", "http://b", "http://c"}, session{}, time.Second, sqliteStart, "GET /auth/me/")[0].targets
	var got []string
	for _, tg := range roundRobin(ts, 7) {
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(tg.URL, "http://"), "/auth/me/"))
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "a", "b", "c", "a"}, got); diff != "" {
		t.Errorf("round robin (-want +got):\n%s", diff)
	}
}

func TestStartFrom(t *testing.T) {
	t.Parallel()
	h := &harness{}
	pr := &perfReport{Sweeps: []sweepResult{
		{Target: "GET /auth/me/", Backend: backendSQLite, Best: 6000},
		{Target: "GET /auth/verify/", Backend: backendSQLite, Best: 60},
	}}
	start := h.startFrom(pr, backendSQLite)
	for path, want := range map[string]int{"GET /auth/me/": 3000, "GET /auth/verify/": 50, "POST /auth/refresh/": 250} {
		if got := start(path); got != want {
			t.Errorf("%s starts at %d, want %d", path, got, want)
		}
	}
}

func TestBareFor(t *testing.T) {
	t.Parallel()
	pr := &perfReport{Sweeps: []sweepResult{
		{Target: bareName, Backend: backendSQLite, Best: 1},
		{Target: "GET /auth/me/", Backend: backendSQLite},
		{Target: bareName, Backend: backendPostgres, Best: 2},
		{Target: "GET /auth/me/", Backend: backendPostgres},
		{Target: "GET /auth/me/", Backend: backendCluster},
	}}
	// Each backend's own, else the first.
	for backend, want := range map[string]int{backendSQLite: 1, backendPostgres: 2, backendCluster: 1, "": 1} {
		if got, ok := pr.bareFor(backend); !ok || got.Best != want {
			t.Errorf("bare handler for %q: %+v, want the one of %d/s", backend, got, want)
		}
	}
	if _, ok := (&perfReport{Sweeps: pr.Sweeps[1:2]}).bareFor(backendSQLite); ok {
		t.Error("a bare handler found among sweeps without one")
	}
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 200; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p50, p99, maxi := percentiles(d)
	if p50 != 101*time.Millisecond || p99 != 199*time.Millisecond || maxi != 200*time.Millisecond {
		t.Errorf("percentiles of 1..200ms = %v, %v, %v; want 101ms, 199ms, 200ms", p50, p99, maxi)
	}
	if a, b, c := percentiles(nil); a != 0 || b != 0 || c != 0 {
		t.Errorf("percentiles of nothing = %v, %v, %v", a, b, c)
	}
}

// sequence serves the statuses of GET /auth/me/ in turn, the last one
// for ever, to the Bearer token "tok".
func sequence(t *testing.T, statuses ...int) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/auth/me/" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "wrong request", http.StatusBadRequest)
			return
		}
		i := min(int(n.Add(1))-1, len(statuses)-1)
		w.WriteHeader(statuses[i])
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestUntilRefused(t *testing.T) {
	t.Parallel()
	c := newClient(time.Second, 0)
	defer c.CloseIdleConnections()
	tests := []struct {
		name     string
		statuses []int
		want     error // nil: refused
	}{
		{"refused at once", []int{401}, nil},
		{"refused after a while", []int{200, 200, 200, 401}, nil},
		{"never refused", []int{200}, errStillAnswers},
		{"something else", []int{200, 500}, errors.New("GET /auth/me/ after the logout: 500")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := sequence(t, tt.statuses...)
			since := time.Now()
			d, err := untilRefused(t.Context(), c, srv.URL, "tok", since, 50*time.Millisecond)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("err %v, want the token refused", err)
			case tt.want == nil && (d <= 0 || d > time.Since(since)):
				t.Errorf("took %v, outside (0, %v]", d, time.Since(since))
			case tt.want != nil && (err == nil || err.Error() != tt.want.Error()):
				t.Errorf("err %v, want %v", err, tt.want)
			}
			t.Logf("%s: %v, %v", tt.name, d, err)
		})
	}
}

// readyz serves /readyz with the cache states in turn, the last for ever.
func readyz(t *testing.T, states ...string) *authdtest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := min(int(n.Add(1))-1, len(states)-1)
		fmt.Fprintf(w, `{"status":"ok","cache":%q}`, states[i])
	}))
	t.Cleanup(srv.Close)
	return &authdtest.Server{Name: "authd", Addr: srv.Listener.Addr().String(), URL: srv.URL}
}

func TestCachesOf(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	late := readyz(t, "database: not yet", "database: not yet", cacheFollowing)
	got, err := cachesOf(ctx, []*authdtest.Server{late}, true)
	if err != nil || got != `"following"` {
		t.Errorf("waiting for a cache that follows after a while: %q, %v", got, err)
	}
	broken := readyz(t, "database: listen: connection refused")
	got, err = cachesOf(ctx, []*authdtest.Server{readyz(t, cacheFollowing), broken}, false)
	if err != nil || got != `following / database: listen: connection refused` {
		t.Errorf("two replicas that disagree: %q, %v", got, err)
	}
	got, err = cachesOf(ctx, []*authdtest.Server{readyz(t, cacheFollowing), readyz(t, cacheFollowing)}, false)
	if err != nil || got != `"following" on all 2` {
		t.Errorf("two replicas that follow: %q, %v", got, err)
	}
}

func TestRevocationTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rv   revocationRun
		want string
	}{
		{"within the promise", revocationRun{Answers: 80, P50: 2 * time.Millisecond, P99: 30 * time.Millisecond}, "PASS"},
		{"slow", revocationRun{Answers: 80, P99: 300 * time.Millisecond}, "FAIL"},
		{"one lost", revocationRun{Answers: 79, Lost: 1, P99: 30 * time.Millisecond}, "FAIL"},
		{"nothing seen", revocationRun{}, "FAIL"},
	}
	for _, tt := range tests {
		p := &perfReport{readPath: readPath{Revocation: &tt.rv}}
		rows := p.readTargetRows()
		if len(rows) != 1 || rows[0].result() != tt.want {
			t.Errorf("%s: %+v, want one row, %s", tt.name, rows, tt.want)
		}
	}
}

// A backend not measured says why, in its line and in its targets' rows.
func TestReadPathNotMeasured(t *testing.T) {
	t.Parallel()
	why := "no database could be created on postgres://127.0.0.1:1/postgres (connection refused)"
	pr := &perfReport{Sweeps: []sweepResult{{Target: "bare net/http handler", Best: 100}},
		readPath: readPath{Backends: []backendRun{{Name: backendPostgres, Skipped: why}, {Name: backendCluster, Skipped: why}}}}
	var b bytes.Buffer
	pr.render(&b)
	for _, want := range []string{
		"- PostgreSQL: **not measured**: " + why + ".",
		"- PostgreSQL, 3 replicas: **not measured**: " + why + ".",
		"| GET /auth/verify/ on PostgreSQL ≥ 0.6× the bare handler | not measured: " + why + " | SKIP |",
		"| a logout on one of 3 replicas refused by the others under load, p99 ≤ 100ms | not measured: " + why + " | SKIP |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestCreateDatabase(t *testing.T) {
	t.Parallel()
	admin := testservice.PostgresURL(t)
	ctx := t.Context()
	db, err := createDatabase(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	dropped := false
	t.Cleanup(func() {
		if !dropped {
			db.drop()
		}
	})
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		t.Fatalf("connect to the new database: %v", err)
	}
	// A connection left open: the drop closes it.
	if err := db.drop(); err != nil {
		t.Fatal(err)
	}
	dropped = true
	conn.Close(context.Background())
	if _, err := createDatabase(ctx, "redis://127.0.0.1:6379/0"); err == nil {
		t.Error("a database created on a Redis URL")
	}
}

func TestSharedRedis(t *testing.T) {
	t.Parallel()
	raw := testservice.RedisURL(t)
	ctx := t.Context()
	rd, why := sharedRedis(ctx, raw)
	if rd == nil {
		t.Fatalf("no prefix on %s: %s", raw, why)
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	other := rd.prefix[:len(rd.prefix)-1] + "-other:key"
	for _, k := range []string{rd.prefix + "a", rd.prefix + "b", other} {
		if err := c.Set(ctx, k, "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	defer c.Del(context.Background(), other)
	if err := rd.clean(); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, rd.prefix+"a", rd.prefix+"b").Val(); n != 0 {
		t.Errorf("%d keys under the prefix left", n)
	}
	if n := c.Exists(ctx, other).Val(); n != 1 {
		t.Error("a key outside the prefix deleted")
	}
	if rd, why := sharedRedis(ctx, "redis://127.0.0.1:1/0"); rd != nil || !strings.Contains(why, "none answered") {
		t.Errorf("a Redis that does not answer: %v, %q", rd, why)
	}
}
