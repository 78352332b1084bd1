package httpapi

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"authd/internal/account"
	"authd/internal/config"
	"authd/internal/password"

	"github.com/jackc/pgx/v5"

	"authd/internal/store"
	"authd/internal/store/cache"
	"authd/internal/store/postgres"
	"authd/internal/store/sqlite"
	"authd/internal/testservice"
	"authd/internal/throttle"
	"authd/internal/token"
)

// benchServer is the server with production hashing parameters and
// throttles out of the way, over a SQLite file holding one user.
func benchServer(b *testing.B) (http.Handler, *password.Hasher, string) {
	b.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return benchServerOn(b, db)
}

// benchServerOn is benchServer over the given store.
func benchServerOn(b *testing.B, db store.Store) (http.Handler, *password.Hasher, string) {
	b.Helper()
	return benchServerWith(b, db, nil)
}

// benchServerWith is benchServerOn with settings of env, and a hashing
// pool of one slot.
func benchServerWith(b *testing.B, db store.Store, env map[string]string) (http.Handler, *password.Hasher, string) {
	b.Helper()
	return benchServerHashing(b, db, env, password.Options{Concurrency: 1})
}

// benchServerHashing is benchServerWith with a Hasher of hashing.
func benchServerHashing(b *testing.B, db store.Store, env map[string]string, hashing password.Options) (http.Handler, *password.Hasher, string) {
	b.Helper()
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range config.Scopes {
		cfg.Rates[s] = throttle.Rate{N: 1 << 30, Period: time.Second}
	}
	issuer, err := token.NewKeyring(token.Options{Issuer: "authd", Secrets: [][]byte{[]byte(testSecret)}})
	if err != nil {
		b.Fatal(err)
	}
	hasher := password.NewHasher(hashing)
	hash, err := hasher.Hash(context.Background(), "bench-password")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateUser(context.Background(), store.NewUser{Username: "bench", PasswordHash: hash}, time.Now()); err != nil {
		b.Fatal(err)
	}
	limiter := throttle.NewMemory(throttle.MemoryOptions{})
	opts := account.Configured(cfg)
	opts.Store, opts.Tokens, opts.Passwords, opts.Limiter = db, issuer, hasher, limiter
	accounts := account.New(opts)
	h, err := NewServer(Deps{Config: cfg, Accounts: accounts, Limiter: limiter})
	if err != nil {
		b.Fatal(err)
	}
	return h, hasher, hash
}

// BenchmarkLogin is a whole login request; compare it with
// BenchmarkLoginHashOnly, the argon2id verification alone, to get the
// handler's own overhead.
func BenchmarkLogin(b *testing.B) {
	h, _, _ := benchServer(b)
	body := `{"username":"bench","password":"bench-password"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/auth/login/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("login = %d %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkLoginHashOnly(b *testing.B) {
	_, hasher, hash := benchServer(b)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := hasher.Verify(context.Background(), "bench-password", hash); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkLoginSaturated is logins keeping a hashing pool of two busy,
// four at a time: with the Go runtime left alone (memory=off), and as
// authd runs by default (memory=auto: its memory limit, and a collection
// as each hash ends); argon2id-alone is the hashes of two goroutines with
// nothing else. Logins a second over hashes a second is the share of the
// machine a login spends hashing.
func BenchmarkLoginSaturated(b *testing.B) {
	const pool = 2
	b.Run("argon2id-alone", func(b *testing.B) {
		p := password.DefaultParams
		b.SetParallelism(max(1, pool/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			salt := make([]byte, p.SaltLen)
			for pb.Next() {
				argon2.IDKey([]byte("bench-password"), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
			}
		})
	})
	for _, tc := range memoryCases(b, pool) {
		b.Run(tc.name, func(b *testing.B) {
			h, _, _ := benchServerHashing(b, benchSQLite(b), nil, password.Options{Concurrency: pool, Reclaim: tc.reclaim})
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(tc.limit))
			runtime.GC()
			b.SetParallelism(max(1, 2*pool/runtime.GOMAXPROCS(0)))
			defer reportGC(b)()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/auth/login/", strings.NewReader(`{"username":"bench","password":"bench-password"}`))
					req.Header.Set("Content-Type", "application/json")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Errorf("login = %d %s", rec.Code, rec.Body)
						return
					}
				}
			})
		})
	}
}

// BenchmarkMeBesideLogins is BenchmarkMe's database case while two
// logins at a time keep a hashing pool of two busy, with the Go runtime
// left alone (memory=off) and as authd runs by default (memory=auto, as
// in BenchmarkLoginSaturated): the memory limit and the collection after
// each hash must not slow the requests that do not hash.
func BenchmarkMeBesideLogins(b *testing.B) {
	const pool = 2
	for _, tc := range memoryCases(b, pool) {
		b.Run(tc.name, func(b *testing.B) {
			h, _, _ := benchServerHashing(b, benchSQLite(b), nil, password.Options{Concurrency: pool, Reclaim: tc.reclaim})
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(tc.limit))
			tok := benchLogin(b, h)
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range pool {
				wg.Go(func() {
					for ctx.Err() == nil {
						req := httptest.NewRequest("POST", "/auth/login/", strings.NewReader(`{"username":"bench","password":"bench-password"}`))
						req.Header.Set("Content-Type", "application/json")
						h.ServeHTTP(httptest.NewRecorder(), req)
					}
				})
			}
			defer wg.Wait()
			defer stop()
			defer reportGC(b)()
			benchAuthenticated(b, h, "/auth/me/", tok)
		})
	}
}

// memoryCase is how the Go runtime runs in a benchmark: its memory limit,
// and what the hashing pool does after each hash.
type memoryCase struct {
	name    string
	limit   int64
	reclaim func()
}

// memoryCases are the Go runtime left alone, and as authd runs it by
// default for a pool of pool slots.
func memoryCases(b *testing.B, pool int) []memoryCase {
	cfg, err := config.Load(nil, func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	return []memoryCase{
		{"memory=off", math.MaxInt64, nil},
		{"memory=auto", cfg.AutoMemoryLimit(password.Options{Concurrency: pool}.PoolMemory()), runtime.GC},
	}
}

// reportGC starts counting the CPU time the collector takes and the
// cycles it runs; the function it returns reports both, an operation.
func reportGC(b *testing.B) func() {
	samples := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(samples)
	cpu, cycles := samples[0].Value.Float64(), samples[1].Value.Uint64()
	return func() {
		metrics.Read(samples)
		b.ReportMetric((samples[0].Value.Float64()-cpu)*1000/float64(b.N), "gc-cpu-ms/op")
		b.ReportMetric(float64(samples[1].Value.Uint64()-cycles)/float64(b.N), "gc-cycles/op")
	}
}

// BenchmarkMe is an authenticated request: token verification, a session
// and a user lookup, and the answer. "bare" is a handler that answers the
// same JSON and does nothing else (as ../shared/perf's bare server does),
// the ceiling; "database" reads SQLite on every request, "cache" answers
// from the cache of sessions and users.
func BenchmarkMe(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchAuthenticated(b, bareHandler(), "/auth/me/", "x") })
	b.Run("database", func(b *testing.B) {
		h, _, _ := benchServer(b)
		benchAuthenticated(b, h, "/auth/me/", benchLogin(b, h))
	})
	b.Run("cache", func(b *testing.B) {
		h, _, _ := benchServerOn(b, following(benchSQLite(b)))
		benchAuthenticated(b, h, "/auth/me/", benchLogin(b, h))
	})
}

// BenchmarkVerify is the gate's request, as BenchmarkMe.
func BenchmarkVerify(b *testing.B) {
	b.Run("bare", func(b *testing.B) { benchAuthenticated(b, bareHandler(), "/auth/verify/", "x") })
	b.Run("database", func(b *testing.B) {
		h, _, _ := benchServer(b)
		benchAuthenticated(b, h, "/auth/verify/", benchLogin(b, h))
	})
	b.Run("cache", func(b *testing.B) {
		h, _, _ := benchServerOn(b, following(benchSQLite(b)))
		benchAuthenticated(b, h, "/auth/verify/", benchLogin(b, h))
	})
}

// bareHandler answers GET /auth/me/ and /auth/verify/ as authd does, for
// any Authorization: the ceiling of the read path.
func bareHandler() http.Handler {
	body := []byte(`{"id":1,"username":"bench","email":"","intra_login":null,"created_at":"2026-11-30T01:00:00Z","two_factor":false}` + "\n")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/me/{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	})
	mux.HandleFunc("GET /auth/verify/{$}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Auth-User-Id", "1")
		w.Header().Set("X-Auth-Username", "bench")
		w.Header().Set("X-Auth-Session-Id", "s1")
		w.Header().Set("Cache-Control", "no-store")
	})
	return mux
}

// benchSQLite opens a SQLite store on a new file, closed when b ends.
func benchSQLite(b *testing.B) *sqlite.DB {
	b.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// following puts the cache in front of db, answering from memory (no
// other process writes: no feed is needed).
func following(db store.Store) store.Store {
	c := cache.New(db, cache.Options{})
	c.Following()
	return c
}

// benchLogin logs the benchmark's user in and returns the access token.
func benchLogin(b *testing.B, h http.Handler) string {
	b.Helper()
	req := httptest.NewRequest("POST", "/auth/login/", strings.NewReader(`{"username":"bench","password":"bench-password"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	tok := rec.Body.String()
	tok = tok[strings.Index(tok, `"access_token":"`)+16:]
	return tok[:strings.IndexByte(tok, '"')]
}

// benchAuthenticated sends GET path with the access token tok, again and
// again.
func benchAuthenticated(b *testing.B, h http.Handler, path, tok string) {
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%s = %d %s", path, rec.Code, rec.Body)
		}
	}
}

// BenchmarkRefresh is a refresh on SQLite and on PostgreSQL, each read
// from the database and from the cache: a token verification, a session
// and a user lookup, and a signature.
func BenchmarkRefresh(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		h, _, _ := benchServer(b)
		benchRefresh(b, h)
	})
	b.Run("sqlite-cache", func(b *testing.B) {
		h, _, _ := benchServerOn(b, following(benchSQLite(b)))
		benchRefresh(b, h)
	})
	b.Run("postgres", func(b *testing.B) {
		h, _, _ := benchServerOn(b, mustPostgres(b))
		benchRefresh(b, h)
	})
	b.Run("postgres-cache", func(b *testing.B) {
		h, _, _ := benchServerOn(b, following(mustPostgres(b)))
		benchRefresh(b, h)
	})
}

// BenchmarkRefreshRotation is BenchmarkRefresh with refresh-token
// rotation on: each refresh also rotates the session's refresh token (a
// compare-and-set write) and signs a new one, which the next refresh
// sends.
func BenchmarkRefreshRotation(b *testing.B) {
	rotation := map[string]string{"AUTHD_REFRESH_ROTATION": "true"}
	b.Run("sqlite", func(b *testing.B) {
		db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		h, _, _ := benchServerWith(b, db, rotation)
		benchRefresh(b, h)
	})
	b.Run("postgres", func(b *testing.B) {
		h, _, _ := benchServerWith(b, mustPostgres(b), rotation)
		benchRefresh(b, h)
	})
}

func benchRefresh(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("POST", "/auth/login/", strings.NewReader(`{"username":"bench","password":"bench-password"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	cookie := rec.Result().Cookies()[0]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/auth/refresh/", nil)
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("refresh = %d %s", rec.Code, rec.Body)
		}
		// With rotation, the next refresh sends the newest token.
		for _, c := range rec.Result().Cookies() {
			if c.Name == cookieRefresh {
				cookie = c
			}
		}
	}
}

// mustPostgres opens a store on a fresh PostgreSQL database, dropped at the end.
func mustPostgres(b *testing.B) store.Store {
	b.Helper()
	admin := testservice.PostgresURL(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	name := "authd_bench_" + strings.ToLower(randomID(6))
	name = strings.NewReplacer("-", "_").Replace(name)
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		db.Close()
		conn.Exec(ctx, `DROP DATABASE "`+name+`" WITH (FORCE)`)
		conn.Close(ctx)
	})
	return db
}
