package config

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"authd/internal/throttle"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"addr": c.Addr, "db": c.DB, "redis": c.RedisURL, "secrets": len(c.JWTSecrets),
		"access": c.AccessTTL, "refresh": c.RefreshTTL, "secure": c.CookieSecure, "samesite": c.CookieSameSite,
		"base": c.IntraBaseURL, "provision": c.IntraAutoProvision, "registration": c.Registration,
		"level": c.LogLevel, "intra": c.IntraConfigured(), "issuer": c.Issuer,
		"login": c.Rates[ScopeLogin], "intra_url": c.Rates[ScopeIntraURL], "intra_callback": c.Rates[ScopeIntraCallback],
		"intra_login": c.Rates[ScopeIntraLogin], "intra_link": c.Rates[ScopeIntraLink], "register": c.Rates[ScopeRegister],
		"logout": c.Rates[ScopeLogout], "refresh_rate": c.Rates[ScopeRefresh],
		"lockout": c.Lockout,
	}
	perMinute := func(n int) throttle.Rate { return throttle.Rate{N: n, Period: time.Minute} }
	want := map[string]any{
		"addr": ":8000", "db": "authd.db", "redis": "", "secrets": 0,
		"access": 15 * time.Minute, "refresh": 24 * time.Hour, "secure": true, "samesite": http.SameSiteStrictMode,
		"base": "https://api.intra.42.fr", "provision": true, "registration": true,
		"level": slog.LevelInfo, "intra": false, "issuer": "authd",
		"login": perMinute(6), "intra_url": perMinute(60), "intra_callback": perMinute(20),
		"intra_login": perMinute(6), "intra_link": perMinute(6), "register": perMinute(6),
		"logout": perMinute(6), "refresh_rate": perMinute(6),
		"lockout": throttle.Rate{N: 10, Period: 15 * time.Minute},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestFlagWinsOverEnvironment(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{"AUTHD_ACCESS_TTL": "1h", "AUTHD_THROTTLE_LOGIN": "10/hour", "AUTHD_COOKIE_SAMESITE": "lax"})
	c, err := Load([]string{"--access-ttl", "2h", "--cookie-samesite=none"}, env)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.AccessTTL, c.Rates[ScopeLogin], c.CookieSameSite}
	want := []any{2 * time.Hour, throttle.Rate{N: 10, Period: time.Hour}, http.SameSiteNoneMode}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSecretsAndLists(t *testing.T) {
	t.Parallel()
	k1, k2 := strings.Repeat("a", 32), strings.Repeat("b", 40)
	c, err := Load(nil, envOf(map[string]string{
		"AUTHD_JWT_SECRET":      k1 + "," + k2,
		"AUTHD_CORS_ORIGINS":    "https://app.example.com, http://localhost:5173/",
		"AUTHD_INTRA_CLIENT_ID": "id", "AUTHD_INTRA_CLIENT_SECRET": "s", "AUTHD_INTRA_REDIRECT_URI": "https://app.example.com/cb",
		"AUTHD_INTRA_BASE_URL": "http://127.0.0.1:9042/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := []any{c.JWTSecrets, c.CORSOrigins, c.IntraConfigured(), c.IntraBaseURL}
	want := []any{[][]byte{[]byte(k1), []byte(k2)}, []string{"https://app.example.com", "http://localhost:5173"}, true, "http://127.0.0.1:9042"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDatabaseSetting(t *testing.T) {
	t.Parallel()
	for _, db := range []string{
		"authd.db",
		"/var/lib/authd/authd.db",
		"data/a=b.db",
		"postgres://authd:secret@db:5432/authd?sslmode=require",
		"postgresql://db/authd?password=secret",
		"postgres:///authd?host=/run/postgresql",
	} {
		c, err := Load(nil, envOf(map[string]string{"AUTHD_DB": db}))
		if err != nil {
			t.Errorf("AUTHD_DB=%q: %v", db, err)
			continue
		}
		if c.DB != db {
			t.Errorf("AUTHD_DB=%q: DB = %q", db, c.DB)
		}
		if got, want := IsPostgres(c.DB), strings.HasPrefix(db, "postgres"); got != want {
			t.Errorf("IsPostgres(%q) = %v, want %v", db, got, want)
		}
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want throttle.Rate
	}{
		{env: map[string]string{"AUTHD_LOCKOUT_FAILURES": "5", "AUTHD_LOCKOUT_WINDOW": "1h"}, want: throttle.Rate{N: 5, Period: time.Hour}},
		{args: []string{"--lockout-failures=3", "--lockout-window", "90s"}, want: throttle.Rate{N: 3, Period: 90 * time.Second}},
		{env: map[string]string{"AUTHD_LOCKOUT_FAILURES": "20"}, args: []string{"--lockout-failures", "4"}, want: throttle.Rate{N: 4, Period: 15 * time.Minute}},
		// Turned off: no failures are counted.
		{env: map[string]string{"AUTHD_LOCKOUT_FAILURES": "0"}, want: throttle.Rate{N: 0, Period: 15 * time.Minute}},
	} {
		c, err := Load(tc.args, envOf(tc.env))
		if err != nil {
			t.Errorf("%v %v: %v", tc.env, tc.args, err)
			continue
		}
		if diff := cmp.Diff(tc.want, c.Lockout); diff != "" {
			t.Errorf("%v %v: Lockout (-want +got):\n%s", tc.env, tc.args, diff)
		}
	}
}

func TestBadSettingsNameTheVariable(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s", 31)
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{env: map[string]string{"AUTHD_ACCESS_TTL": "15"}, want: "AUTHD_ACCESS_TTL"},
		{env: map[string]string{"AUTHD_REFRESH_TTL": "-1h"}, want: "AUTHD_REFRESH_TTL"},
		{env: map[string]string{"AUTHD_THROTTLE_INTRA_CALLBACK": "20/fortnight"}, want: "AUTHD_THROTTLE_INTRA_CALLBACK"},
		{env: map[string]string{"AUTHD_THROTTLE_LOGIN": "0/minute"}, want: "AUTHD_THROTTLE_LOGIN"},
		{env: map[string]string{"AUTHD_JWT_SECRET": secret}, want: "AUTHD_JWT_SECRET"},
		{env: map[string]string{"AUTHD_COOKIE_SAMESITE": "always"}, want: "AUTHD_COOKIE_SAMESITE"},
		{env: map[string]string{"AUTHD_COOKIE_SECURE": "maybe"}, want: "AUTHD_COOKIE_SECURE"},
		{env: map[string]string{"AUTHD_COOKIE_SAMESITE": "none", "AUTHD_COOKIE_SECURE": "false"}, want: "AUTHD_COOKIE_SAMESITE"},
		{env: map[string]string{"AUTHD_TRUSTED_PROXIES": "10.0.0.0/33"}, want: "AUTHD_TRUSTED_PROXIES"},
		{env: map[string]string{"AUTHD_CORS_ORIGINS": "*"}, want: "AUTHD_CORS_ORIGINS"},
		{env: map[string]string{"AUTHD_LOG_LEVEL": "loud"}, want: "AUTHD_LOG_LEVEL"},
		{env: map[string]string{"AUTHD_REDIS_URL": "http://x"}, want: "AUTHD_REDIS_URL"},
		{env: map[string]string{"AUTHD_INTRA_CLIENT_ID": "only-the-id"}, want: "AUTHD_INTRA_CLIENT_SECRET"},
		{env: map[string]string{"AUTHD_INTRA_BASE_URL": "api.intra.42.fr"}, want: "AUTHD_INTRA_BASE_URL"},
		{env: map[string]string{"AUTHD_ADDR": "8000"}, want: "AUTHD_ADDR"},
		{args: []string{"--access-ttl", "never"}, want: "AUTHD_ACCESS_TTL"},
		{env: map[string]string{"AUTHD_LOCKOUT_FAILURES": "-1"}, want: "AUTHD_LOCKOUT_FAILURES"},
		{env: map[string]string{"AUTHD_LOCKOUT_FAILURES": "ten"}, want: "AUTHD_LOCKOUT_FAILURES"},
		{env: map[string]string{"AUTHD_LOCKOUT_WINDOW": "15"}, want: "AUTHD_LOCKOUT_WINDOW"},
		{args: []string{"--lockout-window", "0s"}, want: "AUTHD_LOCKOUT_WINDOW"},
		// A database address authd would take for a SQLite file path.
		{env: map[string]string{"AUTHD_DB": "postgress://authd:" + secret + "@db/authd"}, want: "AUTHD_DB"},
		{env: map[string]string{"AUTHD_DB": "POSTGRES://authd:" + secret + "@db/authd"}, want: "AUTHD_DB"},
		{args: []string{"--db", "redis://:" + secret + "@redis:6379/0"}, want: "AUTHD_DB"},
		{env: map[string]string{"AUTHD_DB": "host=db user=authd password=" + secret + " dbname=authd"}, want: "AUTHD_DB"},
		{env: map[string]string{"AUTHD_DB": "dbname=authd"}, want: "AUTHD_DB"},
	} {
		_, err := Load(tc.args, envOf(tc.env))
		if err == nil {
			t.Errorf("%v %v: no error, want one naming %s", tc.env, tc.args, tc.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%v %v: error %q, want one line naming %s", tc.env, tc.args, msg, tc.want)
		}
		if strings.Contains(msg, secret) {
			t.Errorf("error %q shows the secret", msg)
		}
	}
}

func TestEverySettingIsAFlagAndDocumented(t *testing.T) {
	t.Parallel()
	var help bytes.Buffer
	PrintSettings(&help)
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	Register(fs, envOf(nil))
	for _, env := range []string{
		"AUTHD_ADDR", "AUTHD_DB", "AUTHD_REDIS_URL", "AUTHD_JWT_SECRET", "AUTHD_ACCESS_TTL", "AUTHD_REFRESH_TTL",
		"AUTHD_THROTTLE_LOGIN", "AUTHD_THROTTLE_LOGOUT", "AUTHD_THROTTLE_REFRESH", "AUTHD_THROTTLE_INTRA_URL",
		"AUTHD_THROTTLE_INTRA_CALLBACK", "AUTHD_THROTTLE_INTRA_LOGIN", "AUTHD_THROTTLE_INTRA_LINK", "AUTHD_THROTTLE_REGISTER",
		"AUTHD_TRUSTED_PROXIES", "AUTHD_COOKIE_SECURE", "AUTHD_COOKIE_SAMESITE", "AUTHD_CORS_ORIGINS",
		"AUTHD_INTRA_CLIENT_ID", "AUTHD_INTRA_CLIENT_SECRET", "AUTHD_INTRA_REDIRECT_URI", "AUTHD_INTRA_BASE_URL",
		"AUTHD_INTRA_AUTO_PROVISION", "AUTHD_REGISTRATION", "AUTHD_LOG_LEVEL",
		"AUTHD_LOCKOUT_FAILURES", "AUTHD_LOCKOUT_WINDOW",
	} {
		if !strings.Contains(help.String(), env+", --"+Flag(env)) {
			t.Errorf("-h does not list %s", env)
		}
		if fs.Lookup(Flag(env)) == nil {
			t.Errorf("no flag --%s for %s", Flag(env), env)
		}
	}
	if got := Flag("AUTHD_THROTTLE_INTRA_CALLBACK"); got != "throttle-intra-callback" {
		t.Errorf("Flag = %q", got)
	}
}
