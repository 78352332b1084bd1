package config

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
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

// mustWriteFile writes content to a new file in a directory of the test
// and returns its path.
func mustWriteFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSecretsFromFiles(t *testing.T) {
	t.Parallel()
	k1, k2 := strings.Repeat("a", 32), strings.Repeat("b", 40)
	// A key of any bytes, spaces and a carriage return at its ends included.
	rawKey := " \x00\xff" + strings.Repeat("k", 30) + "\r\t "
	intra := map[string]string{"AUTHD_INTRA_CLIENT_ID": "id", "AUTHD_INTRA_REDIRECT_URI": "https://app.example.com/cb"}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	type fields struct {
		JWTSecrets        [][]byte
		IntraClientSecret string
		DataKey           []byte
		DB, RedisURL      string
	}
	for _, tc := range []struct {
		name    string
		content string
		env     map[string]string // PATH in a value is the file's path
		args    []string
		want    fields
	}{
		{name: "jwt secret", content: k1 + "," + k2 + "\n", env: map[string]string{"AUTHD_JWT_SECRET_FILE": "PATH"},
			want: fields{JWTSecrets: [][]byte{[]byte(k1), []byte(k2)}, DB: "authd.db"}},
		{name: "jwt secret by flag", content: k1, args: []string{"--jwt-secret-file", "PATH"},
			want: fields{JWTSecrets: [][]byte{[]byte(k1)}, DB: "authd.db"}},
		{name: "client secret", content: "s-s4t2ud-secret\r\n", env: with(intra, "AUTHD_INTRA_CLIENT_SECRET_FILE", "PATH"),
			want: fields{IntraClientSecret: "s-s4t2ud-secret", DB: "authd.db"}},
		{name: "data key", content: rawKey + "\n", env: map[string]string{"AUTHD_DATA_KEY_FILE": "PATH"},
			want: fields{DataKey: []byte(rawKey), DB: "authd.db"}},
		// One trailing newline is taken off, no more.
		{name: "data key, two newlines", content: k1 + "\n\n", args: []string{"--data-key-file=PATH"},
			want: fields{DataKey: []byte(k1 + "\n"), DB: "authd.db"}},
		{name: "database", content: "postgres://authd:pw@db:5432/authd?sslmode=disable\n", env: map[string]string{"AUTHD_DB_FILE": "PATH"},
			want: fields{DB: "postgres://authd:pw@db:5432/authd?sslmode=disable"}},
		{name: "redis", content: "redis://:pw@redis:6379/0\n", env: map[string]string{"AUTHD_REDIS_URL_FILE": "PATH"},
			want: fields{RedisURL: "redis://:pw@redis:6379/0", DB: "authd.db"}},
		// The _FILE flag wins over the _FILE variable.
		{name: "flag over variable", content: k2, env: map[string]string{"AUTHD_JWT_SECRET_FILE": "/nonexistent"}, args: []string{"--jwt-secret-file", "PATH"},
			want: fields{JWTSecrets: [][]byte{[]byte(k2)}, DB: "authd.db"}},
	} {
		path := mustWriteFile(t, "secret", tc.content)
		env := map[string]string{}
		for k, v := range tc.env {
			env[k] = strings.ReplaceAll(v, "PATH", path)
		}
		var args []string
		for _, a := range tc.args {
			args = append(args, strings.ReplaceAll(a, "PATH", path))
		}
		c, err := Load(args, envOf(env))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := fields{JWTSecrets: c.JWTSecrets, IntraClientSecret: c.IntraClientSecret, DataKey: c.DataKey, DB: c.DB, RedisURL: c.RedisURL}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestSecretFileErrors(t *testing.T) {
	t.Parallel()
	const content = "a-secret-that-must-not-be-shown"
	path := mustWriteFile(t, "secret", content+"\n")
	short := mustWriteFile(t, "short", content[:20]+"\n")
	empty := mustWriteFile(t, "empty", "\n")
	large := mustWriteFile(t, "large", strings.Repeat(content, 3000))
	missing := filepath.Join(t.TempDir(), "missing")
	dir := t.TempDir()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want []string // all in the one-line message
	}{
		// A value and a file: an error naming both, however given.
		{env: map[string]string{"AUTHD_JWT_SECRET": content, "AUTHD_JWT_SECRET_FILE": path}, want: []string{"AUTHD_JWT_SECRET and AUTHD_JWT_SECRET_FILE"}},
		{env: map[string]string{"AUTHD_DATA_KEY": content}, args: []string{"--data-key-file", path}, want: []string{"AUTHD_DATA_KEY and AUTHD_DATA_KEY_FILE"}},
		{env: map[string]string{"AUTHD_INTRA_CLIENT_SECRET_FILE": path}, args: []string{"--intra-client-secret", content}, want: []string{"AUTHD_INTRA_CLIENT_SECRET and AUTHD_INTRA_CLIENT_SECRET_FILE"}},
		{env: map[string]string{"AUTHD_DB": "authd.db", "AUTHD_DB_FILE": path}, want: []string{"AUTHD_DB and AUTHD_DB_FILE"}},
		{env: map[string]string{"AUTHD_REDIS_URL": "redis://r:6379/0", "AUTHD_REDIS_URL_FILE": path}, want: []string{"AUTHD_REDIS_URL and AUTHD_REDIS_URL_FILE"}},
		// Files that cannot be read, or hold nothing.
		{env: map[string]string{"AUTHD_JWT_SECRET_FILE": missing}, want: []string{"AUTHD_JWT_SECRET_FILE", missing, "no such file"}},
		{env: map[string]string{"AUTHD_DATA_KEY_FILE": dir}, want: []string{"AUTHD_DATA_KEY_FILE", dir}},
		{args: []string{"--intra-client-secret-file", empty}, want: []string{"AUTHD_INTRA_CLIENT_SECRET_FILE", empty, "empty"}},
		{env: map[string]string{"AUTHD_DB_FILE": large}, want: []string{"AUTHD_DB_FILE", large, "larger"}},
		// A bad value read from a file names the variable and the file.
		{env: map[string]string{"AUTHD_JWT_SECRET_FILE": short}, want: []string{"AUTHD_JWT_SECRET", "AUTHD_JWT_SECRET_FILE", short, "20 bytes"}},
		{env: map[string]string{"AUTHD_DATA_KEY_FILE": short}, want: []string{"AUTHD_DATA_KEY", "AUTHD_DATA_KEY_FILE", short, "20 bytes"}},
		{env: map[string]string{"AUTHD_REDIS_URL_FILE": path}, want: []string{"AUTHD_REDIS_URL", "AUTHD_REDIS_URL_FILE", path}},
	} {
		_, err := Load(tc.args, envOf(tc.env))
		if err == nil {
			t.Errorf("%v %v: no error, want one naming %q", tc.env, tc.args, tc.want)
			continue
		}
		msg := err.Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v %v: error %q does not hold %q", tc.env, tc.args, msg, w)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("error %q is more than one line", msg)
		}
		if strings.Contains(msg, content[:20]) {
			t.Errorf("error %q shows the secret", msg)
		}
	}
}

func TestDataKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env     map[string]string
		args    []string
		want    []byte
		wantErr bool
	}{
		{want: nil},
		{env: map[string]string{"AUTHD_DATA_KEY": strings.Repeat("d", 32)}, want: []byte(strings.Repeat("d", 32))},
		{args: []string{"--data-key", strings.Repeat("d", 64)}, want: []byte(strings.Repeat("d", 64))},
		{env: map[string]string{"AUTHD_DATA_KEY": strings.Repeat("d", 31)}, wantErr: true},
		{env: map[string]string{"AUTHD_DATA_KEY": "  " + strings.Repeat("d", 31) + " "}, wantErr: true},
	} {
		c, err := Load(tc.args, envOf(tc.env))
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "AUTHD_DATA_KEY") || strings.Contains(err.Error(), "ddd") {
				t.Errorf("%v %v: error %v, want one naming AUTHD_DATA_KEY without the key", tc.env, tc.args, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v %v: %v", tc.env, tc.args, err)
			continue
		}
		if diff := cmp.Diff(tc.want, c.DataKey); diff != "" {
			t.Errorf("%v %v: DataKey (-want +got):\n%s", tc.env, tc.args, diff)
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
		"AUTHD_LOCKOUT_FAILURES", "AUTHD_LOCKOUT_WINDOW", "AUTHD_DATA_KEY",
		"AUTHD_DB_FILE", "AUTHD_REDIS_URL_FILE", "AUTHD_JWT_SECRET_FILE", "AUTHD_INTRA_CLIENT_SECRET_FILE", "AUTHD_DATA_KEY_FILE",
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
