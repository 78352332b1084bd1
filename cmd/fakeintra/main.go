// Command fakeintra serves a fake of the 42 school's Intra OAuth2 provider
// (package authd/fakeintra) for end-to-end tests and local development.
// It prints the address it listens on as the first line of its standard
// output, so that a test can start it with -addr 127.0.0.1:0. Run
// "fakeintra -h" for the flags and the control endpoint.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"authd/fakeintra"
	"authd/internal/program"
)

func main() {
	program.Main("fakeintra", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	})
}

// usageError is a mistake in the command line or the environment.
type usageError = program.UsageError

const (
	defaultAddr  = "127.0.0.1:9042"
	defaultUsers = "testdata/intra/users.json"
	envPrefix    = "FAKEINTRA_"

	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	// writeTimeout leaves room for a call held by a hang fault.
	writeTimeout   = 5 * time.Minute
	idleTimeout    = time.Minute
	maxHeaderBytes = 64 << 10
	drainTimeout   = 10 * time.Second
)

// config is the command line, read.
type config struct {
	addr             string
	client           fakeintra.Client
	usersPath        string
	usersSet         bool
	login            string
	rateLimit        bool
	secondly, hourly int
	tokenErrorStatus int
	pkce             bool
}

// run is the whole program: main gives it the process's pieces, tests
// give it their own. It serves until ctx is done, then drains.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	users, err := fakeintra.LoadUsers(cfg.usersPath)
	if errors.Is(err, fs.ErrNotExist) && !cfg.usersSet {
		fmt.Fprintf(stderr, "fakeintra: no %s here; serving the built-in users\n", cfg.usersPath)
		users, err = nil, nil
	}
	if err != nil {
		return err
	}
	fake := fakeintra.New(fakeintra.Options{
		Clients:          []fakeintra.Client{cfg.client},
		Users:            users,
		Login:            cfg.login,
		RateLimit:        cfg.rateLimit,
		SecondlyLimit:    cfg.secondly,
		HourlyLimit:      cfg.hourly,
		TokenErrorStatus: cfg.tokenErrorStatus,
		WithoutPKCE:      !cfg.pkce,
	})

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	srv := &http.Server{
		Handler:           fake,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(stderr, "fakeintra: ", 0),
	}
	fmt.Fprintln(stdout, ln.Addr().String())
	var logins []string
	for _, u := range fake.Users() {
		logins = append(logins, u.Login)
	}
	fmt.Fprintf(stderr, "fakeintra: serving http://%s\n  client id      %s\n  redirect URIs  %s\n  users          %s\n  rate limit     %v\n",
		ln.Addr(), cfg.client.ID, strings.Join(cfg.client.RedirectURIs, ", "), strings.Join(logins, ", "), cfg.rateLimit)

	// Calls held by a hang fault answer when the drain starts rather than
	// hold it up.
	return program.Serve(ctx, srv, ln, drainTimeout, fake.ClearFaults)
}

// stringList is a flag that may be repeated and holds comma-separated
// values; the first use replaces the default.
type stringList struct {
	values []string
	set    bool
}

func (l *stringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(l.values, ",")
}

func (l *stringList) Set(v string) error {
	if !l.set {
		l.values, l.set = nil, true
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			l.values = append(l.values, s)
		}
	}
	return nil
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	cfg := config{}
	fset := flag.NewFlagSet("fakeintra", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.StringVar(&cfg.addr, "addr", defaultAddr, "`address` to listen on; port 0 picks a free one")
	fset.StringVar(&cfg.client.ID, "client-id", fakeintra.DevClientID, "the registered client's `id`")
	fset.StringVar(&cfg.client.Secret, "client-secret", fakeintra.DevClientSecret, "the registered client's `secret`")
	redirects := &stringList{values: []string{fakeintra.DevRedirectURI}}
	fset.Var(redirects, "redirect-uri", "the client's registered redirect `URI`s; repeat the flag or separate them with commas")
	fset.StringVar(&cfg.usersPath, "users", defaultUsers, "`file` of users: a JSON array of /v2/me documents (built-in users if the default is missing)")
	fset.StringVar(&cfg.login, "login", "", "`login` of the user signed in at the provider; empty: the consent page offers a picker")
	fset.BoolVar(&cfg.rateLimit, "rate-limit", true, "enforce the per-application rate limits")
	fset.IntVar(&cfg.secondly, "secondly-limit", fakeintra.DefaultSecondly, "requests a second per application")
	fset.IntVar(&cfg.hourly, "hourly-limit", fakeintra.DefaultHourly, "requests an hour per application")
	fset.IntVar(&cfg.tokenErrorStatus, "token-error-status", 401, "`status` of token errors: 401 (Doorkeeper before 5.1) or 400 (later; invalid_client stays 401)")
	fset.BoolVar(&cfg.pkce, "pkce", true, "hold codes to their PKCE code_challenge as Doorkeeper 5.0; false ignores the PKCE parameters as Doorkeeper before 5.0")
	fset.Usage = func() { usage(fset) }
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, usageError{Msg: err.Error()}
	}
	if fset.NArg() > 0 {
		return cfg, usageError{Msg: fmt.Sprintf("unexpected argument %q", fset.Arg(0))}
	}
	given := map[string]bool{}
	fset.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fset.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || envErr != nil {
			return
		}
		name := envName(f.Name)
		if v := getenv(name); v != "" {
			if err := fset.Set(f.Name, v); err != nil {
				envErr = usageError{Msg: fmt.Sprintf("%s: %v", name, err)}
			}
			given[f.Name] = true
		}
	})
	if envErr != nil {
		return cfg, envErr
	}
	cfg.usersSet = given["users"]
	cfg.client.RedirectURIs = redirects.values
	switch {
	case cfg.client.ID == "" || cfg.client.Secret == "":
		return cfg, usageError{Msg: "-client-id and -client-secret must not be empty"}
	case len(cfg.client.RedirectURIs) == 0:
		return cfg, usageError{Msg: "-redirect-uri: at least one is needed"}
	case cfg.secondly < 1 || cfg.hourly < 1:
		return cfg, usageError{Msg: "-secondly-limit and -hourly-limit must be at least 1"}
	case cfg.tokenErrorStatus != 400 && cfg.tokenErrorStatus != 401:
		return cfg, usageError{Msg: "-token-error-status: want 401 or 400"}
	}
	return cfg, nil
}

// envName is the environment variable of a flag: FAKEINTRA_CLIENT_ID for
// -client-id.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func usage(fset *flag.FlagSet) {
	w := fset.Output()
	fmt.Fprint(w, `Usage: fakeintra [flags]

fakeintra serves a fake of the 42 Intra OAuth2 provider: /oauth/authorize
with its consent page, /oauth/token, /oauth/token/info and /v2/me, with the
real provider's bodies, headers, code and token lifetimes and rate limits.
It prints the address it listens on as the first line of standard output,
and drains on SIGINT or SIGTERM. It answers as Doorkeeper 5.0.0 (42 runs
one older than 5.1): PKCE with plain and S256 challenges, and a
refresh_token grant that checks the refresh token before the client and
needs no client authentication. "go doc authd/fakeintra" tells more.

Flags (each also read from FAKEINTRA_<NAME>, e.g. FAKEINTRA_CLIENT_SECRET;
a flag on the command line wins):
`)
	fset.PrintDefaults()
	fmt.Fprint(w, `
Signing in: the consent page of GET /oauth/authorize acts for the user
named by its login query parameter, else by -login; with neither, it offers
a picker, preselecting the user last authorized in this browser. With
consent=authorize or consent=cancel in the query, the answer comes at once,
without the page (authorize needs a user: login, -login or the browser's).

Control endpoint (faults on the token and me endpoints):
  POST   /_fake/faults  {"endpoint":"token","kind":"status","status":503}
  POST   /_fake/faults  {"endpoint":"me","kind":"hang","delay":"30s","count":-1}
  GET    /_fake/faults  the faults in force
  DELETE /_fake/faults  clear them all, releasing hanging calls
  endpoint: token | me
  kind:     none | status | rate_limited | hang | malformed_json |
            truncated_json | me_missing_id | me_missing_login (the last two on me)
  status:   for status, 400 to 599 (default 500)
  delay:    for hang, a Go duration (default 1m)
  count:    calls to fail (default 1); -1 for every call until cleared
`)
}
