package account

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"authd/internal/clientip"
	"authd/internal/intra"
	"authd/internal/requestid"
)

// logBuffer is a JSON log that tests read back, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// audits returns the audit records logged with request id reqID, without
// their time, level and message.
func (b *logBuffer) audits(t *testing.T, reqID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] != "audit" || rec["request_id"] != reqID {
			continue
		}
		delete(rec, "time")
		delete(rec, "level")
		delete(rec, "msg")
		out = append(out, rec)
	}
	return out
}

// newAuditEnv is newEnv with its log and events kept for the test.
func newAuditEnv(t *testing.T, edit func(*Options)) (*env, *logBuffer, *[]Event) {
	t.Helper()
	log := &logBuffer{}
	var (
		mu     sync.Mutex
		events []Event
	)
	e := newEnv(t, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(log, nil))
		o.OnEvent = func(ev Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, ev)
		}
		if edit != nil {
			edit(o)
		}
	})
	return e, log, &events
}

// request is the context of a request with id reqID from 203.0.113.9.
func request(t *testing.T, reqID string) context.Context {
	return clientip.NewContext(requestid.NewContext(t.Context(), reqID), "203.0.113.9")
}

// record is an audit record as JSON reads it back: numbers as float64.
func record(event string, attrs ...any) map[string]any {
	r := map[string]any{"event": event, "client_ip": "203.0.113.9", "request_id": "req-1"}
	for i := 0; i < len(attrs); i += 2 {
		v := attrs[i+1]
		if n, ok := v.(int64); ok {
			v = float64(n)
		}
		r[attrs[i].(string)] = v
	}
	return r
}

// TestAuditEvents checks the records of every event the service emits
// today: one record each, with the user, the session acted on, the
// client's address and the request's id.
func TestAuditEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*Options)
		// run prepares with t.Context() and acts with ctx, whose records
		// it returns the expectation of.
		run func(t *testing.T, e *env, ctx context.Context) []map[string]any
	}{
		{name: "login_succeeded", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			u := e.mustRegister(t, "alice", "alice-password")
			g, err := e.svc.Login(ctx, "alice", "alice-password")
			if err != nil {
				t.Fatal(err)
			}
			return []map[string]any{record(EventLoginSucceeded, "user_id", u.ID, "session_id", g.SessionID, "method", "password")}
		}},
		{name: "login_failed wrong password", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			u := e.mustRegister(t, "alice", "alice-password")
			e.svc.Login(ctx, "alice", "wrong-password")
			return []map[string]any{record(EventLoginFailed, "user_id", u.ID, "method", "password", "reason", "invalid_credentials")}
		}},
		{name: "login_failed unknown name", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			e.svc.Login(ctx, "nobody", "some-password")
			return []map[string]any{record(EventLoginFailed, "username", "nobody", "method", "password", "reason", "invalid_credentials")}
		}},
		{name: "login_failed disabled", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			u := e.mustRegister(t, "alice", "alice-password")
			if _, err := e.svc.SetDisabled(t.Context(), "alice", true); err != nil {
				t.Fatal(err)
			}
			e.svc.Login(ctx, "alice", "alice-password")
			return []map[string]any{record(EventLoginFailed, "user_id", u.ID, "method", "password", "reason", "disabled")}
		}},
		{name: "lockout", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			u := e.mustRegister(t, "alice", "alice-password")
			e.svc.Login(t.Context(), "alice", "wrong-password")
			e.svc.Login(t.Context(), "alice", "wrong-password")
			e.svc.Login(ctx, "alice", "wrong-password")
			return []map[string]any{
				record(EventLoginFailed, "user_id", u.ID, "method", "password", "reason", "invalid_credentials"),
				record(EventLockout, "user_id", u.ID),
			}
		}},
		{name: "login_failed locked", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			e.mustRegister(t, "alice", "alice-password")
			for range 3 {
				e.svc.Login(t.Context(), "alice", "wrong-password")
			}
			e.svc.Login(ctx, "Alice", "alice-password")
			return []map[string]any{record(EventLoginFailed, "username", "Alice", "method", "password", "reason", "locked")}
		}},
		{name: "logout", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			u := e.mustRegister(t, "alice", "alice-password")
			g := e.mustLogin(t, "alice", "alice-password")
			other := e.mustLogin(t, "alice", "alice-password")
			p, err := e.svc.Authenticate(t.Context(), g.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.svc.Logout(ctx, p, other.RefreshToken, LogoutLocal); err != nil {
				t.Fatal(err)
			}
			return []map[string]any{
				record(EventLogout, "user_id", u.ID, "session_id", g.SessionID, "reason", "logout"),
				record(EventLogout, "user_id", u.ID, "session_id", other.SessionID, "reason", "logout"),
			}
		}},
		{name: "user_provisioned", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			tok, err := e.svc.IntraToken(intra.Identity{ID: 7, Login: "jdoe"})
			if err != nil {
				t.Fatal(err)
			}
			g, err := e.svc.IntraLogin(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			return []map[string]any{
				record(EventUserProvisioned, "user_id", g.User.ID, "intra_id", int64(7)),
				record(EventLoginSucceeded, "user_id", g.User.ID, "session_id", g.SessionID, "method", "intra", "intra_id", int64(7)),
			}
		}},
		{name: "login_failed not linked", edit: func(o *Options) { o.IntraAutoProvision = false }, run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			tok, _ := e.svc.IntraToken(intra.Identity{ID: 7, Login: "jdoe"})
			e.svc.IntraLogin(ctx, tok)
			return []map[string]any{record(EventLoginFailed, "method", "intra", "reason", "not_linked", "intra_id", int64(7))}
		}},
		{name: "login_failed invalid api token", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			e.svc.IntraLogin(ctx, "not-a-token")
			return []map[string]any{record(EventLoginFailed, "method", "intra", "reason", "invalid_api_token")}
		}},
		{name: "intra_linked", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			u := e.mustRegister(t, "alice", "alice-password")
			g := e.mustLogin(t, "alice", "alice-password")
			p, err := e.svc.Authenticate(t.Context(), g.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			tok, _ := e.svc.IntraToken(intra.Identity{ID: 8, Login: "alice42"})
			if err := e.svc.LinkIntra(ctx, p, tok); err != nil {
				t.Fatal(err)
			}
			return []map[string]any{record(EventIntraLinked, "user_id", u.ID, "session_id", g.SessionID, "intra_id", int64(8))}
		}},
		{name: "session_revoked by disabling", run: func(t *testing.T, e *env, ctx context.Context) []map[string]any {
			u := e.mustRegister(t, "alice", "alice-password")
			e.mustLogin(t, "alice", "alice-password")
			if _, err := e.svc.SetDisabled(ctx, "alice", true); err != nil {
				t.Fatal(err)
			}
			return []map[string]any{record(EventSessionRevoked, "user_id", u.ID, "reason", "user_disabled")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, log, events := newAuditEnv(t, tc.edit)
			want := tc.run(t, e, request(t, "req-1"))
			got := log.audits(t, "req-1")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("audit records (-want +got):\n%s", diff)
			}
			// Every record's event reached OnEvent too, in order.
			var names []string
			for _, ev := range *events {
				names = append(names, ev.Name)
			}
			for _, r := range want {
				i := slices.Index(names, r["event"].(string))
				if i < 0 {
					t.Errorf("OnEvent never got %s; it got %q", r["event"], names)
					continue
				}
				names = names[i+1:]
			}
		})
	}
}

// jwtLike matches anything shaped like a JWT, whoever signed it.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// TestAuditRecordsCarryNoSecret runs an account's whole life and reads
// every record logged: none carries a password, a token or a JWT-shaped
// string, and every audit record names a known event.
func TestAuditRecordsCarryNoSecret(t *testing.T) {
	t.Parallel()
	e, log, _ := newAuditEnv(t, nil)
	ctx := request(t, "req-1")
	const pw, wrong, imported = "alice-password", "guess-password", "jdoe-password-1"
	secrets := []string{pw, wrong, imported}
	if _, err := e.svc.Register(ctx, Registration{Username: "alice", Password: pw}); err != nil {
		t.Fatal(err)
	}
	e.svc.Login(ctx, "alice", wrong)
	e.svc.Login(ctx, "nobody", wrong)
	g, err := e.svc.Login(ctx, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.Refresh(ctx, g.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Authenticate(ctx, r.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	api, _ := e.svc.IntraToken(intra.Identity{ID: 9, Login: "alice42", Email: "alice@student.42.fr"})
	if err := e.svc.LinkIntra(ctx, p, api); err != nil {
		t.Fatal(err)
	}
	// An api_token is good once: the Intra login takes another.
	api2, _ := e.svc.IntraToken(intra.Identity{ID: 9, Login: "alice42", Email: "alice@student.42.fr"})
	ig, err := e.svc.IntraLogin(ctx, api2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetPassword(ctx, "alice", imported); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.svc.Login(ctx, "alice", wrong)
	}
	if err := e.svc.Logout(ctx, p, ig.RefreshToken, LogoutLocal); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, g.AccessToken, g.RefreshToken, r.AccessToken, api, api2, ig.AccessToken, ig.RefreshToken)

	out := log.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log carries the secret %.20q...", s)
		}
	}
	if m := jwtLike.FindString(out); m != "" {
		t.Errorf("the log carries a token: %.40q...", m)
	}
	seen := map[string]bool{}
	for _, rec := range log.audits(t, "req-1") {
		name, _ := rec["event"].(string)
		if !slices.Contains(Events, name) {
			t.Errorf("audit record %v names no known event", rec)
		}
		seen[name] = true
	}
	for _, name := range []string{EventLoginSucceeded, EventLoginFailed, EventLockout, EventLogout, EventIntraLinked, EventSessionRevoked} {
		if !seen[name] {
			t.Errorf("the account's life logged no %s record", name)
		}
	}
}
