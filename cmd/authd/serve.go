package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"authd/internal/accesskeys"
	"authd/internal/account"
	"authd/internal/config"
	"authd/internal/datakey"
	"authd/internal/httpapi"
	"authd/internal/intra"
	"authd/internal/metrics"
	"authd/internal/password"
	"authd/internal/program"
	"authd/internal/requestid"
	"authd/internal/store"
	"authd/internal/store/cache"
	"authd/internal/store/postgres"
	"authd/internal/store/sqlite"
	"authd/internal/throttle"
	"authd/internal/throttle/redislimit"
	"authd/internal/token"
)

// Server phase limits. Every request body is at most 64 KiB and the
// slowest handler (a login queued behind the hashing pool, or a callback
// waiting 10 s on the provider) finishes well inside writeTimeout.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 32 << 10
	sessionSweepEvery = time.Hour
)

func printUsage(w io.Writer) {
	fmt.Fprint(w, `authd: authentication service (password login, JWT access tokens, refresh cookie, Log in with 42)

Usage:
  authd [serve] [settings]                 serve the HTTP API (the default)
  authd migrate [settings]                 apply pending schema migrations and exit
  authd healthcheck [--timeout 3s] [settings]
                                           exit 0 when the server on AUTHD_ADDR's port of this
                                           machine answers GET /readyz with 200, else 1
  authd user add [--email E] [--password-stdin] [settings] USERNAME
  authd user passwd [--password-stdin] [settings] USERNAME
  authd user disable|enable|unlink [settings] USERNAME
  authd user 2fa-reset [settings] USERNAME   remove a lost second factor; ends the user's sessions
  authd user list [settings]
  authd keys rotate [settings]             add an Ed25519 key of access tokens (published now,
                                           signing after AUTHD_KEY_PUBLISH_DELAY)
  authd keys list [settings]               the keys of access tokens and where each stands
  authd keys access-secret [settings]      the HS256 keys that verify access tokens, as a JWK Set,
                                           for services verifying them with a shared key
  authd version

Without --password-stdin the user commands prompt for the password on the
terminal; with it they read one line from standard input.

Settings: each is an environment variable and a flag of the same name; the
flag wins over the variable.

Secrets (AUTHD_JWT_SECRET, AUTHD_INTRA_CLIENT_SECRET, AUTHD_DATA_KEY, and
AUTHD_DB or AUTHD_REDIS_URL when they hold a password) are best kept in
files: AUTHD_JWT_SECRET_FILE=/run/secrets/jwt_secret reads the value from
that file, less one trailing newline. The variable itself is the next best
way. Never give a secret as a flag: every local user can read a process's
command line. Setting both a variable and its _FILE is an error.
`)
	config.PrintSettings(w)
}

// loadConfig parses a command's flags (config's and extra ones registered
// by the caller on fs) and resolves the settings.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer) (config.Config, error) {
	fs.SetOutput(io.Discard)
	resolve := config.Register(fs, getenv)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stderr)
			return config.Config{}, err
		}
		return config.Config{}, usageError{Msg: err.Error() + " (authd -h lists every setting)"}
	}
	return resolve()
}

// newLogger logs JSON lines at level and up; a record logged with a
// request's context carries its id.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(requestid.Handler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// openStore opens the configured database and applies pending migrations.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	if config.IsPostgres(dsn) {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redactDSN(dsn), err)
	}
	return db, nil
}

// signingKeys returns the configured keys, or the key kept in the
// database, generating it on the very first start.
func signingKeys(ctx context.Context, cfg config.Config, st store.Store) ([][]byte, error) {
	if len(cfg.JWTSecrets) > 0 {
		return cfg.JWTSecrets, nil
	}
	k, err := st.SigningKey(ctx, func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	}, time.Now())
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return [][]byte{k}, nil
}

// accessKeys generates the first Ed25519 key of access tokens on the very
// first start, gives the keys to issuer, and keeps them in step with the
// database until ctx is done; it returns the JWKS of the moment.
func accessKeys(ctx context.Context, cfg config.Config, st store.Store, issuer *token.Keyring, log *slog.Logger) (func() []byte, error) {
	if _, err := accesskeys.Ensure(ctx, st, time.Now()); err != nil {
		return nil, fmt.Errorf("access token keys: %w", err)
	}
	m := accesskeys.NewManager(accesskeys.Options{Store: st, Keyring: issuer, AccessTTL: cfg.AccessTTL, Logger: log})
	if err := m.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("access token keys: %w", err)
	}
	go m.Run(ctx)
	return m.JWKS, nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("authd serve", flag.ContinueOnError)
	cfg, err := loadConfig(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{Msg: fmt.Sprintf("serve takes no arguments, got %q", fs.Arg(0))}
	}
	log := newLogger(stderr, cfg.LogLevel)

	st, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	feed, _ := st.(store.ChangeFeed)
	// The readings are taken from pieces made below, once they exist.
	var (
		hasher   *password.Hasher
		degraded = func() bool { return false }
		m        *metrics.Metrics
	)
	if cfg.MetricsAddr != "" {
		m = metrics.New(metrics.Options{
			HashesInFlight:  func() int { return hasher.InFlight() },
			LimiterDegraded: func() bool { return degraded() },
		})
		st = m.Store(st)
	}
	var cached *cache.Store
	if feed != nil && cfg.CacheSessions > 0 {
		cached = cache.New(st, cache.Options{MaxEntries: cfg.CacheSessions})
		st = cached
		feedCtx, stopFeed := context.WithCancel(ctx)
		defer stopFeed()
		go feed.WatchChanges(feedCtx, loggedFeed{cached, log})
	}
	keys, err := signingKeys(ctx, cfg, st)
	if err != nil {
		return err
	}
	issuer, err := token.NewKeyring(token.Options{Issuer: cfg.Issuer, Secrets: keys, Audience: cfg.Audience, EdDSA: cfg.AccessAlg == config.AlgEdDSA})
	if err != nil {
		return fmt.Errorf("token issuer: %w", err)
	}
	var jwks func() []byte
	if cfg.AccessAlg == config.AlgEdDSA {
		keysCtx, stopKeys := context.WithCancel(ctx)
		defer stopKeys()
		if jwks, err = accessKeys(keysCtx, cfg, st, issuer, log); err != nil {
			return err
		}
	}
	// The failed logins of each username have a table of their own, where a
	// live lockout is never evicted: a flood of new clients in the other
	// scopes cannot push it out.
	var limiter throttle.Limiter = throttle.NewMemory(throttle.MemoryOptions{MaxKeys: cfg.ThrottleMaxKey})
	var lockouts throttle.Limiter = throttle.NewMemory(throttle.MemoryOptions{MaxKeys: cfg.ThrottleMaxKey, KeepLive: true})
	status := func() map[string]string { return map[string]string{} }
	if cached != nil {
		status = func() map[string]string { return map[string]string{"cache": cached.Status()} }
	}
	if cfg.RedisURL != "" {
		rdb, err := redislimit.NewClient(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("AUTHD_REDIS_URL: %w", err)
		}
		defer rdb.Close()
		pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if err := rdb.Ping(pingCtx).Err(); err != nil {
			// A replica restarting during a Redis outage still serves:
			// Failover counts in-process until Redis answers.
			log.Warn("Redis does not answer at start; throttles count in this process until it does", "cause", err.Error())
		}
		cancel()
		shared := redislimit.New(rdb, redislimit.Options{Prefix: cfg.RedisPrefix})
		f := throttle.NewFailover(shared, limiter, throttle.FailoverOptions{Logger: log})
		limiter = f
		// Every password login is throttled too, so the throttles' failover
		// sees Redis go and come back first, and reports it; this one is
		// silent.
		lockouts = throttle.NewFailover(shared, lockouts, throttle.FailoverOptions{})
		degraded = f.Degraded
		cacheStatus := status
		status = func() map[string]string {
			s := cacheStatus()
			s["throttle"] = "redis"
			if f.Degraded() {
				s["throttle"] = "degraded: redis unreachable, counting in this process"
			}
			return s
		}
	}
	secrets, err := datakey.New(cfg.DataKey)
	if err != nil {
		return fmt.Errorf("AUTHD_DATA_KEY: %w", err)
	}
	hashOpts := password.Options{Concurrency: cfg.HashConcurrency}
	var onEvent func(account.Event)
	if m != nil {
		hashOpts.OnHash = m.ObserveHash
		onEvent = m.ObserveEvent
		limiter, lockouts = m.Limiter(limiter), m.Limiter(lockouts)
	}
	memoryAttr := tuneMemory(ctx, cfg, getenv, &hashOpts)
	hasher = password.NewHasher(hashOpts)
	opts := account.Configured(cfg)
	opts.Store, opts.Tokens, opts.Passwords, opts.Secrets = st, issuer, hasher, secrets
	opts.Limiter, opts.OnEvent, opts.Logger = lockouts, onEvent, log
	accounts := account.New(opts)
	deps := httpapi.Deps{
		Config:   cfg,
		Accounts: accounts,
		Limiter:  limiter,
		Logger:   log,
		Ready:    map[string]func(context.Context) error{"database": st.Ping},
		Status:   status,
		JWKS:     jwks,
	}
	if m != nil {
		deps.ObserveRequest = m.ObserveRequest
	}
	if cfg.IntraConfigured() {
		deps.Intra = intra.New(intra.Config{
			BaseURL:      cfg.IntraBaseURL,
			ClientID:     cfg.IntraClientID,
			ClientSecret: cfg.IntraClientSecret,
			RedirectURI:  cfg.IntraRedirectURI,
			UserAgent:    "authd/" + version(),
		})
	}

	handler, err := httpapi.NewServer(deps)
	if err != nil {
		return err
	}
	// Before the first login is answered, not an hour later.
	imported, err := accounts.WeighImportedHashes(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("weigh imported password hashes: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("AUTHD_ADDR: %w", err)
	}
	var metricsSrv *http.Server
	if m != nil {
		if metricsSrv, err = serveMetrics(cfg.MetricsAddr, m, log); err != nil {
			ln.Close()
			return err
		}
		defer metricsSrv.Close()
	}
	// The address as bound, alone on the first line of stdout, so that
	// whoever starts authd on port 0 learns its port (as with fakeintra).
	fmt.Fprintln(stdout, ln.Addr().String())
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	keySource := "configured"
	if len(cfg.JWTSecrets) == 0 {
		keySource = "database"
	}
	log.Info("listening", "addr", ln.Addr().String(), "version", version(), "db", redactDSN(cfg.DB),
		"signing_key", keySource, "access_alg", cfg.AccessAlg, "intra", cfg.IntraConfigured(), "cookie_secure", cfg.CookieSecure, memoryAttr)

	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go housekeeping(sweepCtx, st, accounts, imported, log)

	err = program.Serve(ctx, srv, ln, cfg.ShutdownTimeout, func() {
		log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	})
	if err != nil {
		return err
	}
	// Metrics stay served while the requests drain, and stop after them.
	if metricsSrv != nil {
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := metricsSrv.Shutdown(shutdown); err != nil {
			return fmt.Errorf("shutdown metrics listener: %w", err)
		}
	}
	log.Info("stopped")
	return nil
}

// housekeeping runs now and then every hour: it deletes expired
// sessions, so the table holds only sessions that can still be used or
// revoked ones not yet expired, and weighs the Django hashes left (serve
// did it once, finding imported), so that logins cost what an imported
// one costs while any is left.
func housekeeping(ctx context.Context, st store.Store, accounts *account.Service, imported int, log *slog.Logger) {
	t := time.NewTicker(sessionSweepEvery)
	defer t.Stop()
	if imported > 0 {
		logImported(log, imported)
	}
	for {
		n, err := st.DeleteExpiredSessions(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("deleting expired sessions failed", "cause", err.Error())
		} else if n > 0 {
			log.Info("deleted expired sessions", "count", n)
		}
		n, err = st.DeleteExpiredTokens(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("deleting expired used tokens failed", "cause", err.Error())
		} else if n > 0 {
			log.Info("deleted expired used tokens", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		iterations, err := accounts.WeighImportedHashes(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("weighing imported password hashes failed", "cause", err.Error())
		case err == nil && iterations != imported:
			imported = iterations
			logImported(log, imported)
		}
	}
}

// logImported says how much every login costs while imported hashes are
// left: a pbkdf2 of n iterations, or nothing more when n is 0.
func logImported(log *slog.Logger, n int) {
	log.Info("imported Django password hashes weighed", "typical_iterations", n,
		"note", "while it is not 0, every login also costs a pbkdf2 of this many iterations")
}

// dsnHidden stands in for a database setting that cannot be shown safely.
const dsnHidden = "(hidden: the database URL does not parse)"

// namesPassword finds a password written as keyword=value, where pgx
// would not take it for one but an operator meant it.
var namesPassword = regexp.MustCompile(`(?i)password\s*=`)

// redactDSN returns the database setting as it may be logged or shown in
// an error: a URL with xxxxx in place of the password of user:password@
// and of every query parameter that names a password (password,
// sslpassword), the rest as given; a file path as it is. A URL that does
// not parse, or that PostgreSQL's own parser could split differently (a
// stray '@' or '#'), is replaced whole, as is anything else that writes
// password=.
func redactDSN(dsn string) string {
	scheme, rest, isURL := strings.Cut(dsn, "://")
	if !isURL {
		if namesPassword.MatchString(dsn) {
			return dsnHidden
		}
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil || !strings.EqualFold(u.Scheme, scheme) || strings.ContainsRune(dsn, '#') ||
		namesPassword.MatchString(u.User.Username()+" "+u.Host+" "+u.Path) {
		return dsnHidden
	}
	// The authority ends at the path or the query. net/url and pgx agree
	// on where the user information ends only when no '@' follows.
	authority := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority = rest[:i]
	}
	if strings.ContainsRune(rest[len(authority):], '@') {
		return dsnHidden
	}
	var b strings.Builder
	b.WriteString(scheme + "://")
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		user, _, hasPassword := strings.Cut(authority[:at], ":")
		b.WriteString(user)
		if hasPassword {
			b.WriteString(":xxxxx")
		}
		b.WriteByte('@')
		rest = rest[at+1:]
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	b.WriteString(path)
	if !hasQuery {
		return b.String()
	}
	b.WriteByte('?')
	for i, pair := range strings.Split(query, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		decoded, err := url.PathUnescape(pair)
		switch {
		case err == nil && !strings.Contains(strings.ToLower(decoded), "password"):
			b.WriteString(pair)
		case isPasswordKey(pair):
			key, _, _ := strings.Cut(pair, "=")
			b.WriteString(key + "=xxxxx")
		default:
			// A pair that does not decode, or mentions a password
			// elsewhere than as its key: nothing of it is shown.
			b.WriteString("xxxxx")
		}
	}
	return b.String()
}

// isPasswordKey reports whether a query pair's key is one of the
// parameters pgx reads a password from, decoded as pgx decodes it.
func isPasswordKey(pair string) bool {
	key, _, _ := strings.Cut(pair, "=")
	k, err := url.PathUnescape(key)
	if err != nil {
		return false
	}
	k = strings.ToLower(strings.TrimSpace(k))
	return k == "password" || k == "sslpassword"
}

// version is the module version stamped by the build, or the VCS revision.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return "devel-" + rev + dirty
}

// loggedFeed is the cache's ChangeWatcher, logging when the feed of
// changes is lost and when it follows again.
type loggedFeed struct {
	*cache.Store
	log *slog.Logger
}

func (f loggedFeed) Lost(err error) {
	if err == nil {
		err = errors.New("no cause given")
	}
	f.log.Warn("the feed of database changes is lost: every read goes to the database until it is back", "cause", err.Error())
	f.Store.Lost(err)
}

func (f loggedFeed) Following() {
	if f.Store.Status() != "following" {
		f.log.Info("following the database's changes: sessions and users are cached")
	}
	f.Store.Following()
}
