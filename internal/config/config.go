// Package config reads authd's settings. Every setting is an environment
// variable (AUTHD_ACCESS_TTL) and a flag of the same name (--access-ttl);
// the flag wins over the variable, the variable over the default. A
// setting that may hold a secret can also be read from a file named by
// its _FILE variable or flag (AUTHD_JWT_SECRET_FILE, --jwt-secret-file),
// the convention of container secrets, so that it never appears on a
// command line. A bad value is an error that names the variable, so
// start-up stops with one line an operator can act on.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"authd/internal/throttle"
)

// Throttle scopes, one per throttled endpoint.
const (
	ScopeLogin         = "login"
	ScopeLogout        = "logout"
	ScopeRefresh       = "refresh"
	ScopeRegister      = "register"
	ScopeIntraURL      = "intra_url"
	ScopeIntraCallback = "intra_callback"
	ScopeIntraLogin    = "intra_login"
	ScopeIntraLink     = "intra_link"
	ScopePassword      = "password"
	ScopeTOTP          = "totp"
	ScopeLoginMFA      = "login_mfa"
)

// Scopes lists every throttle scope in the order -h shows them.
var Scopes = []string{
	ScopeLogin, ScopeLogout, ScopeRefresh, ScopeRegister,
	ScopeIntraURL, ScopeIntraCallback, ScopeIntraLogin, ScopeIntraLink,
	ScopePassword, ScopeTOTP, ScopeLoginMFA,
}

// defaultRates are the contract's rates.
var defaultRates = map[string]string{
	ScopeLogin:         "6/minute",
	ScopeLogout:        "6/minute",
	ScopeRefresh:       "6/minute",
	ScopeRegister:      "6/minute",
	ScopeIntraURL:      "60/minute",
	ScopeIntraCallback: "20/minute",
	ScopeIntraLogin:    "6/minute",
	ScopeIntraLink:     "6/minute",
	ScopePassword:      "6/minute",
	ScopeTOTP:          "6/minute",
	ScopeLoginMFA:      "6/minute",
}

// MinSecretLen is the shortest HS256 key accepted, in bytes.
const MinSecretLen = 32

// MinDataKeyLen is the shortest data key accepted, in bytes.
const MinDataKeyLen = 32

// maxFileSize bounds a file a setting is read from: secrets and URLs are
// short, and a mistaken path (a device, a log) must not be read whole.
const maxFileSize = 64 << 10

// IsPostgres reports whether a database setting names PostgreSQL (a
// postgres:// or postgresql:// URL) rather than a SQLite file.
func IsPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// keywordValue matches a libpq keyword/value connection string
// ("host=db user=authd password=..."), which authd does not take.
var keywordValue = regexp.MustCompile(`(?i)(^|\s)(host|hostaddr|port|dbname|user|password|sslmode|sslpassword|passfile|service)\s*=`)

// Config is the complete, validated configuration.
type Config struct {
	Addr        string
	DB          string // SQLite file path, or a postgres:// URL
	RedisURL    string // empty: the in-process limiter
	RedisPrefix string // prefix of the limiter's Redis keys

	JWTSecrets [][]byte // empty: a key generated once and kept in the database
	Issuer     string
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// AccessAlg is AlgHS256 or AlgEdDSA. KeyPublishDelay is how long a new
	// Ed25519 key is published before it signs. Audience, when not empty,
	// is the aud of access tokens.
	AccessAlg       string
	KeyPublishDelay time.Duration
	Audience        []string

	Rates          map[string]throttle.Rate // by scope
	ThrottleMaxKey int                      // in-process limiter: clients tracked at most
	TrustedProxies throttle.Proxies

	// Lockout is how many failed logins of one username, from any
	// clients, lock it for how long: after N failures within Period,
	// further logins of it are throttled. N is 0 when it is turned off.
	Lockout throttle.Rate

	CookieSecure   bool
	CookieSameSite http.SameSite // of refresh_token; SameSiteNoneMode applies to all cookies
	CookieDomain   string
	CORSOrigins    []string

	IntraClientID      string
	IntraClientSecret  string
	IntraRedirectURI   string
	IntraBaseURL       string
	IntraAutoProvision bool

	// MetricsAddr is the listen address of /metrics, apart from Addr;
	// empty: no metrics listener.
	MetricsAddr string

	Registration bool

	// DataKey encrypts TOTP secrets at rest (see package datakey). Empty
	// when unset, else at least MinDataKeyLen bytes.
	DataKey []byte
	// TOTPIssuer names the service in authenticator apps.
	TOTPIssuer string

	HashConcurrency int
	// MemoryLimit is the Go runtime's soft memory limit in bytes, or
	// MemoryLimitAuto or MemoryLimitOff.
	MemoryLimit int64
	// CacheSessions is how many sessions (and users) the read path keeps
	// in memory; 0 turns the cache off.
	CacheSessions   int
	ShutdownTimeout time.Duration
	LogLevel        slog.Level

	// ReauthWindow is how long after its user authenticated a session is
	// fresh. SessionIdleTTL, when not 0, ends a session not refreshed for
	// that long. RefreshRotation replaces the refresh token on each
	// refresh; the one replaced still answers for RefreshReuseInterval.
	ReauthWindow         time.Duration
	SessionIdleTTL       time.Duration
	RefreshRotation      bool
	RefreshReuseInterval time.Duration
}

// IntraConfigured reports whether the 42 application's credentials are set.
func (c Config) IntraConfigured() bool {
	return c.IntraClientID != "" && c.IntraClientSecret != "" && c.IntraRedirectURI != ""
}

// setting is one configurable value: its variable, default, help text and
// the function that stores a parsed value into a Config.
type setting struct {
	env   string
	def   string
	help  string
	set   func(c *Config, v string) error
	file  bool    // may be read from the file named by env+"_FILE"
	flagV *string // raw flag value when the flag was given

	fileFlagV *string // raw value of the _FILE flag when it was given
}

// secretAdvice ends the help of every setting that may hold a secret.
const secretAdvice = "prefer the _FILE variable, or this variable, to the flag, which every local user can read in the process list"

// Flag returns the flag name of an AUTHD_ variable: AUTHD_ACCESS_TTL is access-ttl.
func Flag(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "AUTHD_")), "_", "-")
}

func settings() []*setting {
	s := []*setting{
		{env: "AUTHD_ADDR", def: ":8000", help: "listen address (host:port)",
			set: func(c *Config, v string) error {
				if !strings.Contains(v, ":") {
					return errors.New("want host:port, for example :8000 or 127.0.0.1:8000")
				}
				c.Addr = v
				return nil
			}},
		{env: "AUTHD_DB", def: "authd.db", file: true, help: "a SQLite file path, or a postgres:// URL; when it holds a password, " + secretAdvice,
			set: func(c *Config, v string) error {
				if v == "" {
					return errors.New("must not be empty")
				}
				// Anything else is opened as a SQLite file, and its path
				// may appear in errors: refuse what looks like a
				// PostgreSQL address, which may carry a password, without
				// repeating it.
				if strings.Contains(v, "://") && !IsPostgres(v) {
					return errors.New("a URL of another scheme; want a postgres:// or postgresql:// URL, or a SQLite file path")
				}
				if keywordValue.MatchString(v) {
					return errors.New("a PostgreSQL keyword/value string; write it as a postgres:// URL")
				}
				c.DB = v
				return nil
			}},
		{env: "AUTHD_REDIS_URL", file: true, help: "redis:// URL of the shared throttle store (unset: counters kept in this process); when it holds a password, " + secretAdvice,
			set: func(c *Config, v string) error {
				if v != "" {
					u, err := url.Parse(v)
					if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
						return errors.New("want a redis:// or rediss:// URL")
					}
				}
				c.RedisURL = v
				return nil
			}},
		{env: "AUTHD_REDIS_PREFIX", def: "authd:throttle:", help: "prefix of the throttle's Redis keys, so several deployments can share one Redis",
			set: func(c *Config, v string) error {
				if v == "" {
					return errors.New("must not be empty")
				}
				c.RedisPrefix = v
				return nil
			}},
		{env: "AUTHD_JWT_SECRET", file: true, help: "comma-separated HS256 keys of 32+ bytes each; the first signs, all verify (unset: generated once, kept in the database); " + secretAdvice,
			set: func(c *Config, v string) error {
				c.JWTSecrets = nil
				if v == "" {
					return nil
				}
				for i, k := range strings.Split(v, ",") {
					if len(k) < MinSecretLen {
						// Never echo the key itself.
						return fmt.Errorf("key %d is %d bytes, want at least %d", i+1, len(k), MinSecretLen)
					}
					c.JWTSecrets = append(c.JWTSecrets, []byte(k))
				}
				return nil
			}},
		{env: "AUTHD_ISSUER", def: "authd", help: "the iss claim of issued tokens",
			set: func(c *Config, v string) error {
				if v == "" {
					return errors.New("must not be empty")
				}
				c.Issuer = v
				return nil
			}},
		{env: "AUTHD_ACCESS_TTL", def: "15m", help: "access token lifetime (Go duration)",
			set: func(c *Config, v string) error { return parseTTL(&c.AccessTTL, v) }},
		{env: "AUTHD_REFRESH_TTL", def: "24h", help: "refresh token and session lifetime (Go duration)",
			set: func(c *Config, v string) error { return parseTTL(&c.RefreshTTL, v) }},
	}
	s = append(s, keySettings()...)
	for _, scope := range Scopes {
		scope := scope
		s = append(s, &setting{
			env: "AUTHD_THROTTLE_" + strings.ToUpper(scope), def: defaultRates[scope],
			help: "rate of the " + scope + " scope, N/second|minute|hour|day",
			set: func(c *Config, v string) error {
				r, err := throttle.ParseRate(v)
				if err != nil {
					return err
				}
				c.Rates[scope] = r
				return nil
			}})
	}
	s = append(s, sessionSettings()...)
	s = append(s, twoFactorSettings()...)
	s = append(s,
		&setting{env: "AUTHD_THROTTLE_MAX_CLIENTS", def: "100000", help: "in-process limiter: most clients tracked at once, idle ones evicted first; also the size of the separate table of usernames with failed logins, where a live lockout is never evicted (when it is full, new usernames share one overflow count)",
			set: func(c *Config, v string) error { return parsePositive(&c.ThrottleMaxKey, v) }},
		&setting{env: "AUTHD_LOCKOUT_FAILURES", def: "10", help: "failed logins of one username, from any clients, after which its logins are throttled until the oldest failure is AUTHD_LOCKOUT_WINDOW old; 0 turns this off",
			set: func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return fmt.Errorf("invalid value %q, want a whole number, 0 to turn the lockout off", v)
				}
				c.Lockout.N = n
				return nil
			}},
		&setting{env: "AUTHD_LOCKOUT_WINDOW", def: "15m", help: "the window in which AUTHD_LOCKOUT_FAILURES failed logins lock a username (Go duration)",
			set: func(c *Config, v string) error { return parseTTL(&c.Lockout.Period, v) }},
		&setting{env: "AUTHD_TRUSTED_PROXIES", help: "comma-separated CIDRs whose X-Forwarded-For is believed",
			set: func(c *Config, v string) error {
				p, err := throttle.ParseProxies(v)
				if err != nil {
					return err
				}
				c.TrustedProxies = p
				return nil
			}},
		&setting{env: "AUTHD_COOKIE_SECURE", def: "true", help: "mark cookies Secure; false only for plain-HTTP development",
			set: func(c *Config, v string) error { return parseBool(&c.CookieSecure, v) }},
		&setting{env: "AUTHD_COOKIE_SAMESITE", def: "strict", help: "SameSite of refresh_token: strict, lax or none (none also applies to state_token and api_token)",
			set: func(c *Config, v string) error {
				switch strings.ToLower(v) {
				case "strict":
					c.CookieSameSite = http.SameSiteStrictMode
				case "lax":
					c.CookieSameSite = http.SameSiteLaxMode
				case "none":
					c.CookieSameSite = http.SameSiteNoneMode
				default:
					return fmt.Errorf("unknown value %q, want strict, lax or none", v)
				}
				return nil
			}},
		&setting{env: "AUTHD_COOKIE_DOMAIN", help: "Domain attribute of the cookies (unset: host-only cookies)",
			set: func(c *Config, v string) error { c.CookieDomain = v; return nil }},
		&setting{env: "AUTHD_CORS_ORIGINS", help: "comma-separated origins (scheme://host[:port]) allowed cross-origin with credentials",
			set: func(c *Config, v string) error {
				c.CORSOrigins = nil
				for _, o := range splitList(v) {
					u, err := url.Parse(o)
					if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
						(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
						return fmt.Errorf("origin %q is not scheme://host[:port]", o)
					}
					c.CORSOrigins = append(c.CORSOrigins, u.Scheme+"://"+u.Host)
				}
				return nil
			}},
		&setting{env: "AUTHD_INTRA_CLIENT_ID", help: "the 42 application's client id (unset: the OAuth endpoints answer intra_not_configured)",
			set: func(c *Config, v string) error { c.IntraClientID = v; return nil }},
		&setting{env: "AUTHD_INTRA_CLIENT_SECRET", file: true, help: "the 42 application's client secret; " + secretAdvice,
			set: func(c *Config, v string) error { c.IntraClientSecret = v; return nil }},
		&setting{env: "AUTHD_INTRA_REDIRECT_URI", help: "the callback URL registered with the 42 application",
			set: func(c *Config, v string) error {
				if v != "" {
					if err := checkURL(v); err != nil {
						return err
					}
				}
				c.IntraRedirectURI = v
				return nil
			}},
		&setting{env: "AUTHD_INTRA_BASE_URL", def: "https://api.intra.42.fr", help: "the 42 provider's base URL",
			set: func(c *Config, v string) error {
				if err := checkURL(v); err != nil {
					return err
				}
				c.IntraBaseURL = strings.TrimRight(v, "/")
				return nil
			}},
		&setting{env: "AUTHD_INTRA_AUTO_PROVISION", def: "true", help: "create a user on a first Intra login",
			set: func(c *Config, v string) error { return parseBool(&c.IntraAutoProvision, v) }},
		&setting{env: "AUTHD_REGISTRATION", def: "true", help: "serve POST /auth/register/",
			set: func(c *Config, v string) error { return parseBool(&c.Registration, v) }},
		&setting{env: "AUTHD_DATA_KEY", file: true, help: "a key of 32+ bytes, kept outside the database, that encrypts TOTP secrets in it (AES-256-GCM; unset: kept unencrypted, and a copy of the database is enough to make a user's codes); " + secretAdvice,
			set: func(c *Config, v string) error {
				c.DataKey = nil
				if v == "" {
					return nil
				}
				if len(v) < MinDataKeyLen {
					// Never echo the key itself.
					return fmt.Errorf("key is %d bytes, want at least %d", len(v), MinDataKeyLen)
				}
				c.DataKey = []byte(v)
				return nil
			}},
		&setting{env: "AUTHD_CACHE_SESSIONS", def: "10000", help: "sessions, and as many users, kept in memory for the authenticated read path (GET /auth/me/, /auth/verify/, refresh), each about 1 KiB; the database's triggers tell every replica of changes, and while they cannot every read goes to the database; 0 turns the cache off",
			set: func(c *Config, v string) error {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					return fmt.Errorf("invalid value %q, want a whole number, 0 to turn the cache off", v)
				}
				c.CacheSessions = n
				return nil
			}},
		&setting{env: "AUTHD_HASH_CONCURRENCY", def: strconv.Itoa(runtime.GOMAXPROCS(0)), help: "password hashes computed at once (each takes 19 MiB); others wait",
			set: func(c *Config, v string) error { return parsePositive(&c.HashConcurrency, v) }},
	)
	s = append(s, memorySettings()...)
	s = append(s,
		&setting{env: "AUTHD_SHUTDOWN_TIMEOUT", def: "30s", help: "on SIGTERM, how long in-flight requests may take to finish",
			set: func(c *Config, v string) error { return parseTTL(&c.ShutdownTimeout, v) }},
		&setting{env: "AUTHD_METRICS_ADDR", help: "listen address (host:port) of GET /metrics in the Prometheus format, apart from AUTHD_ADDR (unset: no metrics listener)",
			set: func(c *Config, v string) error { return parseMetricsAddr(&c.MetricsAddr, v) }},
		&setting{env: "AUTHD_LOG_LEVEL", def: "info", help: "debug, info, warn or error",
			set: func(c *Config, v string) error {
				switch strings.ToLower(v) {
				case "debug":
					c.LogLevel = slog.LevelDebug
				case "info":
					c.LogLevel = slog.LevelInfo
				case "warn":
					c.LogLevel = slog.LevelWarn
				case "error":
					c.LogLevel = slog.LevelError
				default:
					return fmt.Errorf("unknown level %q, want debug, info, warn or error", v)
				}
				return nil
			}},
	)
	return s
}

// Register adds a flag for every setting to fs and returns a function that,
// once fs has parsed its arguments, resolves every setting (flag, then
// variable, then default) and validates the whole.
func Register(fs *flag.FlagSet, getenv func(string) string) func() (Config, error) {
	all := settings()
	for _, s := range all {
		s := s
		fs.Func(Flag(s.env), s.help, func(v string) error {
			s.flagV = &v
			return nil
		})
		if s.file {
			fs.Func(Flag(s.env+"_FILE"), fileHelp(s.env), func(v string) error {
				s.fileFlagV = &v
				return nil
			})
		}
	}
	return func() (Config, error) {
		c := Config{Rates: make(map[string]throttle.Rate)}
		for _, s := range all {
			v, name, err := s.value(getenv)
			if err != nil {
				return Config{}, err
			}
			if err := s.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("%s: %w", name, err)
			}
		}
		if c.IntraClientID != "" || c.IntraClientSecret != "" || c.IntraRedirectURI != "" {
			if !c.IntraConfigured() {
				return Config{}, errors.New("AUTHD_INTRA_CLIENT_ID, AUTHD_INTRA_CLIENT_SECRET and AUTHD_INTRA_REDIRECT_URI must be set together")
			}
		}
		if err := checkMetricsAddr(c.Addr, c.MetricsAddr); err != nil {
			return Config{}, err
		}
		if err := checkMemoryLimit(c, getenv); err != nil {
			return Config{}, err
		}
		if c.CookieSameSite == http.SameSiteNoneMode && !c.CookieSecure {
			return Config{}, errors.New("AUTHD_COOKIE_SAMESITE: none needs AUTHD_COOKIE_SECURE=true (browsers drop SameSite=None cookies that are not Secure)")
		}
		return c, nil
	}
}

// value returns the setting's value, from its flag, its variable, its
// file or its default, and the name an error about that value gives.
// A value and a file both given is an error: which one wins would be a
// guess.
func (s *setting) value(getenv func(string) string) (v, name string, err error) {
	given := getenv(s.env)
	if s.flagV != nil {
		given = *s.flagV
	}
	if s.file {
		fileEnv := s.env + "_FILE"
		path := getenv(fileEnv)
		if s.fileFlagV != nil {
			path = *s.fileFlagV
		}
		if path = strings.TrimSpace(path); path != "" {
			if strings.TrimSpace(given) != "" {
				return "", "", fmt.Errorf("%s and %s are both set (as variables or flags); set only one", s.env, fileEnv)
			}
			v, err := readFile(path)
			if err != nil {
				return "", "", fmt.Errorf("%s: %w", fileEnv, err)
			}
			return v, fmt.Sprintf("%s (read from %s %q)", s.env, fileEnv, path), nil
		}
	}
	v = s.def
	if e := getenv(s.env); e != "" {
		v = e
	}
	if s.flagV != nil {
		v = *s.flagV
	}
	return strings.TrimSpace(v), s.env, nil
}

// readFile returns a setting's value kept in a file: its content less
// one trailing newline ("\n" or "\r\n"), byte for byte otherwise, since
// a key may end in any byte. Errors name the path, never the content.
func readFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %q: %w", path, pathErrorCause(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %q: %w", path, pathErrorCause(err))
	}
	if len(b) > maxFileSize {
		return "", fmt.Errorf("%q is larger than %d KiB", path, maxFileSize>>10)
	}
	v := string(b)
	if t, ok := strings.CutSuffix(v, "\n"); ok {
		v = strings.TrimSuffix(t, "\r")
	}
	if v == "" {
		return "", fmt.Errorf("%q is empty", path)
	}
	return v, nil
}

// pathErrorCause strips the operation and path from a file error, which
// readFile's message gives once, quoted.
func pathErrorCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fileHelp is the help of the _FILE flag of a setting.
func fileHelp(env string) string {
	return "a file holding " + env + " (its content less one trailing newline); an error with " + env + " set too"
}

// Load parses args with a flag set of its own and resolves the settings.
func Load(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("authd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	resolve := Register(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return resolve()
}

// PrintSettings writes one entry per setting, and one per _FILE variant:
// variable, flag, default and meaning.
func PrintSettings(w io.Writer) {
	for _, s := range settings() {
		def := s.def
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(w, "  %s, --%s (default %s)\n      %s\n", s.env, Flag(s.env), def, s.help)
		if s.file {
			fmt.Fprintf(w, "  %s_FILE, --%s (default unset)\n      %s\n", s.env, Flag(s.env+"_FILE"), fileHelp(s.env))
		}
	}
}

func parseTTL(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("invalid duration %q, want a Go duration such as 15m or 24h", v)
	}
	if d < time.Second {
		return fmt.Errorf("duration %s is under one second", d)
	}
	*dst = d
	return nil
}

func parseBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("invalid boolean %q, want true or false", v)
	}
	*dst = b
	return nil
}

func parsePositive(dst *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return fmt.Errorf("invalid value %q, want a positive integer", v)
	}
	*dst = n
	return nil
}

func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", v)
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
