package httpapi

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"authd/internal/store"
)

// errDown is the failure of a database that does not answer.
var errDown = errors.New("sqlite: disk I/O error (database file unavailable)")

// outage is a store that fails every call while down is set, as a
// database that is unreachable, or whose file cannot be read, does. A
// file made unreadable is no test when the tests run as root, who reads
// it anyway, and SQLite keeps its file open; failing at the store's
// interface covers every backend alike.
type outage struct {
	store.Store
	down atomic.Bool
}

func (o *outage) fail() error {
	if o.down.Load() {
		return errDown
	}
	return nil
}

func (o *outage) CreateUser(ctx context.Context, u store.NewUser, now time.Time) (store.User, error) {
	if err := o.fail(); err != nil {
		return store.User{}, err
	}
	return o.Store.CreateUser(ctx, u, now)
}

func (o *outage) UserByID(ctx context.Context, id int64) (store.User, error) {
	if err := o.fail(); err != nil {
		return store.User{}, err
	}
	return o.Store.UserByID(ctx, id)
}

func (o *outage) UserByUsername(ctx context.Context, name string) (store.User, error) {
	if err := o.fail(); err != nil {
		return store.User{}, err
	}
	return o.Store.UserByUsername(ctx, name)
}

func (o *outage) UserByIntraID(ctx context.Context, id int64) (store.User, error) {
	if err := o.fail(); err != nil {
		return store.User{}, err
	}
	return o.Store.UserByIntraID(ctx, id)
}

func (o *outage) ListUsers(ctx context.Context) ([]store.User, error) {
	if err := o.fail(); err != nil {
		return nil, err
	}
	return o.Store.ListUsers(ctx)
}

func (o *outage) SetPassword(ctx context.Context, id int64, hash string) error {
	if err := o.fail(); err != nil {
		return err
	}
	return o.Store.SetPassword(ctx, id, hash)
}

func (o *outage) SetDisabled(ctx context.Context, id int64, disabled bool, now time.Time) error {
	if err := o.fail(); err != nil {
		return err
	}
	return o.Store.SetDisabled(ctx, id, disabled, now)
}

func (o *outage) LinkIntra(ctx context.Context, id int64, a store.IntraAccount, now time.Time) error {
	if err := o.fail(); err != nil {
		return err
	}
	return o.Store.LinkIntra(ctx, id, a, now)
}

func (o *outage) CreateSession(ctx context.Context, s store.Session) error {
	if err := o.fail(); err != nil {
		return err
	}
	return o.Store.CreateSession(ctx, s)
}

func (o *outage) Session(ctx context.Context, id string) (store.Session, error) {
	if err := o.fail(); err != nil {
		return store.Session{}, err
	}
	return o.Store.Session(ctx, id)
}

func (o *outage) SessionAndUser(ctx context.Context, id string) (store.Session, store.User, error) {
	if err := o.fail(); err != nil {
		return store.Session{}, store.User{}, err
	}
	return o.Store.SessionAndUser(ctx, id)
}

func (o *outage) RevokeSession(ctx context.Context, id string, now time.Time) error {
	if err := o.fail(); err != nil {
		return err
	}
	return o.Store.RevokeSession(ctx, id, now)
}

func (o *outage) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	if err := o.fail(); err != nil {
		return 0, err
	}
	return o.Store.DeleteExpiredSessions(ctx, now)
}

func (o *outage) SigningKey(ctx context.Context, generate func() ([]byte, error), now time.Time) ([]byte, error) {
	if err := o.fail(); err != nil {
		return nil, err
	}
	return o.Store.SigningKey(ctx, generate, now)
}

func (o *outage) Ping(ctx context.Context) error {
	if err := o.fail(); err != nil {
		return err
	}
	return o.Store.Ping(ctx)
}

// TestDatabaseUnavailable takes the database away: every request that
// needs it answers 503 unavailable with Retry-After, and none is taken
// for a client's mistake (no 400 or 401, no cookie cleared); /readyz says
// 503. When the database returns, the same requests succeed, with no
// restart.
func TestDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	db := new(outage)
	e := newIntraEnvDeps(t, nil, func(d *testDeps) {
		db.Store = d.Store
		d.Store = db
		d.Ready = map[string]func(context.Context) error{"database": db.Ping}
	})
	e.mustUser(t, "alice", "alice-password")
	access, refresh := e.mustLogin(t, "alice", "alice-password")
	linkToken, _ := e.mustLogin(t, "alice", "alice-password")

	type call struct {
		name string
		req  func() request
		ok   int // the status once the database is back
	}
	calls := []call{
		{"login", func() request {
			return request{method: "POST", path: "/auth/login/", body: `{"username":"alice","password":"alice-password"}`}
		}, 200},
		{"register", func() request {
			return request{method: "POST", path: "/auth/register/", body: `{"username":"bob","password":"bob-password"}`}
		}, 201},
		{"me", func() request { return request{method: "GET", path: "/auth/me/", bearer: access} }, 200},
		{"refresh", func() request {
			return request{method: "POST", path: "/auth/refresh/", cookies: []*http.Cookie{refresh}}
		}, 200},
		{"intra login", func() request {
			return request{method: "POST", path: "/oauth2/intra/login/", cookies: []*http.Cookie{e.mustIdentity(t, "tnguyen")}}
		}, 200},
		{"intra link", func() request {
			return request{method: "POST", path: "/oauth2/intra/link/", bearer: linkToken, cookies: []*http.Cookie{e.mustIdentity(t, "jdoe")}}
		}, 200},
		{"logout", func() request { return request{method: "POST", path: "/auth/logout/", bearer: access} }, 200},
	}

	db.down.Store(true)
	for _, c := range calls {
		r := e.do(t, c.req())
		if r.status != 503 || r.code() != codeUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("%s while the database is down = %d %s (Retry-After %q), want 503 unavailable", c.name, r.status, r.raw, r.header.Get("Retry-After"))
		}
		if len(r.setRaw) != 0 {
			t.Errorf("%s while the database is down set cookies %q", c.name, r.setRaw)
		}
	}
	if r := e.do(t, request{method: "GET", path: "/readyz"}); r.status != 503 || r.code() != codeNotReady {
		t.Errorf("readyz while the database is down = %d %s, want 503 not_ready", r.status, r.raw)
	}
	if r := e.do(t, request{method: "GET", path: "/healthz"}); r.status != 200 {
		t.Errorf("healthz while the database is down = %d %s, want 200: the process serves", r.status, r.raw)
	}

	db.down.Store(false)
	if r := e.do(t, request{method: "GET", path: "/readyz"}); r.status != 200 {
		t.Errorf("readyz once the database is back = %d %s", r.status, r.raw)
	}
	for _, c := range calls {
		if r := e.do(t, c.req()); r.status != c.ok {
			t.Errorf("%s once the database is back = %d %s, want %d", c.name, r.status, r.raw, c.ok)
		}
	}
}
