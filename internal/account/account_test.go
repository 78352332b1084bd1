package account

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"authd/internal/clock"
	"authd/internal/intra"
	"authd/internal/password"
	"authd/internal/store"
	"authd/internal/store/sqlite"
	"authd/internal/throttle"
	"authd/internal/token"
)

// cheap makes hashing fast in tests; production uses password.DefaultParams.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

type env struct {
	svc   *Service
	store store.Store
	clock *clock.Fake
}

// newEnv is a Service over a fresh SQLite database, a fake clock and a
// lockout of 3 failures in 10 minutes; edit changes the options last.
func newEnv(t *testing.T, edit func(*Options)) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "authd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.NewFake(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	issuer, err := token.NewIssuer("authd", [][]byte{[]byte("a-test-key-of-at-least-32-bytes-long")}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Store:              db,
		Tokens:             issuer,
		Passwords:          password.NewHasher(password.Options{Params: cheap, Concurrency: 2}),
		Limiter:            throttle.NewMemory(throttle.MemoryOptions{Now: clk.Now}),
		Lockout:            throttle.Rate{N: 3, Period: 10 * time.Minute},
		AccessTTL:          15 * time.Minute,
		RefreshTTL:         24 * time.Hour,
		IntraAutoProvision: true,
		Now:                clk.Now,
	}
	if edit != nil {
		edit(&o)
	}
	return &env{svc: New(o), store: o.Store, clock: clk}
}

func (e *env) mustRegister(t *testing.T, name, pw string) store.User {
	t.Helper()
	u, err := e.svc.Register(t.Context(), Registration{Username: name, Password: pw})
	if err != nil {
		t.Fatalf("Register(%q): %v", name, err)
	}
	return u
}

func (e *env) mustLogin(t *testing.T, name, pw string) Grant {
	t.Helper()
	g, err := e.svc.Login(t.Context(), name, pw)
	if err != nil {
		t.Fatalf("Login(%q): %v", name, err)
	}
	return g
}

func TestRegisterRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "Alice", "alice-password")
	for _, tc := range []struct {
		name string
		r    Registration
		want string // the InvalidInputError's message, or "" for ErrUsernameTaken
	}{
		{"short name", Registration{Username: "al", Password: "long-enough"}, msgUsername},
		{"bad byte", Registration{Username: "al ice", Password: "long-enough"}, msgUsername},
		{"short password", Registration{Username: "bob", Password: "short"}, msgPassword},
		{"bad utf-8 password", Registration{Username: "bob", Password: "long-enough-\xff"}, msgPassword},
		{"bad email", Registration{Username: "bob", Password: "long-enough", Email: "bob@"}, msgEmail},
		{"name before password", Registration{Username: "x", Password: "y"}, msgUsername},
		{"taken in another case", Registration{Username: "ALICE", Password: "long-enough"}, ""},
	} {
		_, err := e.svc.Register(t.Context(), tc.r)
		var invalid *InvalidInputError
		switch {
		case tc.want == "" && !errors.Is(err, ErrUsernameTaken):
			t.Errorf("%s: Register = %v, want ErrUsernameTaken", tc.name, err)
		case tc.want != "" && (!errors.As(err, &invalid) || invalid.Message != tc.want):
			t.Errorf("%s: Register = %v, want %q", tc.name, err, tc.want)
		}
	}
	u, err := e.svc.Register(t.Context(), Registration{Username: "carol", Password: "carol-password", Email: "  carol@example.com "})
	if err != nil || u.Email != "carol@example.com" || !u.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("Register = %+v, %v; want the email trimmed and the user dated by the clock", u, err)
	}
}

func TestLoginLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "alice", "alice-password")
	for _, name := range []string{"alice", "nobody"} {
		for i := range 3 {
			if _, err := e.svc.Login(t.Context(), name, "wrong-password"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("%s: failure %d = %v, want ErrInvalidCredentials", name, i+1, err)
			}
			e.clock.Advance(time.Minute)
		}
	}
	// alice's first failure was 6 minutes ago: it leaves the window in 4.
	var locked *LockedError
	_, err := e.svc.Login(t.Context(), "ALICE", "alice-password")
	if !errors.As(err, &locked) || locked.RetryAfter != 4*time.Minute {
		t.Fatalf("right password while locked = %v, want a LockedError of 4m", err)
	}
	if _, err := e.svc.Login(t.Context(), "nobody", "x"); !errors.As(err, &locked) {
		t.Errorf("an unknown locked name = %v, want a LockedError like a known one", err)
	}
	e.clock.Advance(4 * time.Minute)
	e.mustLogin(t, "alice", "alice-password")
}

func TestLoginWithoutLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.Lockout = throttle.Rate{}; o.Limiter = nil })
	e.mustRegister(t, "alice", "alice-password")
	for range 5 {
		if _, err := e.svc.Login(t.Context(), "alice", "wrong-password"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("Login = %v, want ErrInvalidCredentials", err)
		}
	}
	e.mustLogin(t, "alice", "alice-password")
}

func TestLoginInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, in := range [][2]string{{"", "pw"}, {"alice", ""}, {strings.Repeat("a", MaxUsername+1), "pw"}, {"alice", strings.Repeat("p", password.MaxLen+1)}} {
		var invalid *InvalidInputError
		if _, err := e.svc.Login(t.Context(), in[0], in[1]); !errors.As(err, &invalid) || invalid.Message != msgLogin {
			t.Errorf("Login(%.10q..., %.10q...) = %v, want %q", in[0], in[1], err, msgLogin)
		}
	}
}

func TestSessionLife(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.mustRegister(t, "alice", "alice-password")
	g := e.mustLogin(t, "alice", "alice-password")
	if g.RefreshToken == "" || g.AccessToken == "" || g.User.ID != alice.ID || g.AccessTTL != 15*time.Minute {
		t.Fatalf("Login grant = %+v", g)
	}
	p, err := e.svc.Authenticate(t.Context(), g.AccessToken)
	if err != nil || p.User.ID != alice.ID || p.Claims.SessionID != g.SessionID {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	r, err := e.svc.Refresh(t.Context(), g.RefreshToken)
	if err != nil || r.RefreshToken != "" || r.SessionID != g.SessionID {
		t.Fatalf("Refresh = %+v, %v; want a new access token of the same session and no refresh token", r, err)
	}
	if _, err := e.svc.Refresh(t.Context(), g.AccessToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("Refresh with an access token = %v, want ErrInvalidRefreshToken", err)
	}
	if _, err := e.svc.Authenticate(t.Context(), g.RefreshToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Authenticate with a refresh token = %v, want ErrInvalidToken", err)
	}

	other := e.mustLogin(t, "alice", "alice-password")
	if err := e.svc.Logout(t.Context(), p, other.RefreshToken, LogoutLocal); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"own": g.RefreshToken, "cookie's": other.RefreshToken} {
		if _, err := e.svc.Refresh(t.Context(), tok); !errors.Is(err, ErrInvalidRefreshToken) {
			t.Errorf("Refresh of the %s session after Logout = %v, want ErrInvalidRefreshToken", name, err)
		}
	}
	if _, err := e.svc.Authenticate(t.Context(), g.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Authenticate after Logout = %v, want ErrInvalidToken", err)
	}

	third := e.mustLogin(t, "alice", "alice-password")
	e.clock.Advance(24*time.Hour + time.Second)
	if _, err := e.svc.Refresh(t.Context(), third.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("Refresh after the session expired = %v, want ErrInvalidRefreshToken", err)
	}
}

func TestDisabledUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "alice", "alice-password")
	g := e.mustLogin(t, "alice", "alice-password")
	if _, err := e.svc.SetDisabled(t.Context(), "Alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(t.Context(), g.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Authenticate after disabling = %v, want ErrInvalidToken", err)
	}
	if _, err := e.svc.Login(t.Context(), "alice", "alice-password"); !errors.Is(err, ErrDisabled) {
		t.Errorf("Login of a disabled user = %v, want ErrDisabled", err)
	}
	if _, err := e.svc.Login(t.Context(), "alice", "wrong-password"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("a wrong password of a disabled user = %v, want ErrInvalidCredentials", err)
	}
	if _, err := e.svc.SetDisabled(t.Context(), "nobody", true); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("SetDisabled of nobody = %v, want ErrNoSuchUser", err)
	}
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "alice", "alice-password")
	var invalid *InvalidInputError
	if _, err := e.svc.SetPassword(t.Context(), "alice", "short"); !errors.As(err, &invalid) {
		t.Errorf("SetPassword of a short one = %v, want an InvalidInputError", err)
	}
	if _, err := e.svc.SetPassword(t.Context(), "alice", "a-new-password"); err != nil {
		t.Fatal(err)
	}
	e.mustLogin(t, "alice", "a-new-password")
	if _, err := e.svc.Login(t.Context(), "alice", "alice-password"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("the old password = %v, want ErrInvalidCredentials", err)
	}
}

func TestIntraLoginProvisionsAndLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "jdoe", "jdoe-password")
	tok, err := e.svc.IntraToken(intra.Identity{ID: 7, Login: "jdoe", Email: "jdoe@student.42.fr"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.svc.IntraLogin(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if g.User.Username != "jdoe-2" || g.User.PasswordHash != "" || g.User.Intra == nil || g.User.Intra.ID != 7 {
		t.Errorf("provisioned user = %+v, want jdoe-2 without a password, linked to 7", g.User)
	}
	// An api_token is accepted once; the next Log in with 42 brings another.
	if _, err := e.svc.IntraLogin(t.Context(), tok); !errors.Is(err, ErrInvalidAPIToken) {
		t.Errorf("second Intra login with the same api_token = %v, want ErrInvalidAPIToken", err)
	}
	tok2, err := e.svc.IntraToken(intra.Identity{ID: 7, Login: "jdoe", Email: "jdoe@student.42.fr"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.IntraLogin(t.Context(), tok2)
	if err != nil || again.User.ID != g.User.ID {
		t.Errorf("second Intra login = %+v, %v; want the same user", again.User, err)
	}
	if _, err := e.svc.IntraLogin(t.Context(), g.AccessToken); !errors.Is(err, ErrInvalidAPIToken) {
		t.Errorf("IntraLogin with an access token = %v, want ErrInvalidAPIToken", err)
	}

	// jdoe (the password user) cannot take the Intra account of jdoe-2.
	p, err := e.svc.Authenticate(t.Context(), e.mustLogin(t, "jdoe", "jdoe-password").AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.LinkIntra(t.Context(), p, tok); !errors.Is(err, ErrAlreadyLinked) {
		t.Errorf("LinkIntra of a linked Intra account = %v, want ErrAlreadyLinked", err)
	}
	other, _ := e.svc.IntraToken(intra.Identity{ID: 8, Login: "jdoe8"})
	if err := e.svc.LinkIntra(t.Context(), p, other); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.LinkIntra(t.Context(), p, other); !errors.Is(err, ErrInvalidAPIToken) {
		t.Errorf("linking again with the same api_token = %v, want ErrInvalidAPIToken", err)
	}
	otherAgain, _ := e.svc.IntraToken(intra.Identity{ID: 8, Login: "jdoe8"})
	if err := e.svc.LinkIntra(t.Context(), p, otherAgain); err != nil {
		t.Errorf("linking the same pair again = %v, want success", err)
	}
}

func TestIntraLoginWithoutProvisioning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.IntraAutoProvision = false })
	tok, _ := e.svc.IntraToken(intra.Identity{ID: 7, Login: "jdoe"})
	if _, err := e.svc.IntraLogin(t.Context(), tok); !errors.Is(err, ErrNotLinked) {
		t.Errorf("IntraLogin = %v, want ErrNotLinked", err)
	}
}

func TestUsernameCandidates(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 40)
	for _, tc := range []struct {
		login    string
		numbered []string // the candidates before intra-<id>
		stem     string   // of the random ones after it
	}{
		{"jdoe", []string{"jdoe", "jdoe-2", "jdoe-3"}, "jdoe-"},
		{"j", nil, "intra-7-"},
		{"zoë+bob", []string{"zobob", "zobob-2", "zobob-3"}, "zobob-"},
		{long, []string{long[:MaxUsername], long[:MaxUsername-2] + "-2", long[:MaxUsername-2] + "-3"}, long[:MaxUsername-9] + "-"},
	} {
		got := usernameCandidates(tc.login, 7)
		seen := make(map[string]bool)
		for _, name := range got {
			if !ValidUsername(name) || seen[name] {
				t.Errorf("%q: candidate %q breaks the username rules or comes twice", tc.login, name)
			}
			seen[name] = true
		}
		reserved := slices.Index(got, "intra-7")
		if reserved < 0 || len(got)-reserved-1 != randomCandidates {
			t.Fatalf("usernameCandidates(%q) = %q, want intra-7 followed by %d random ones", tc.login, got, randomCandidates)
		}
		numbered := got[:reserved]
		if len(tc.numbered) > 0 {
			if len(numbered) != numberedCandidates {
				t.Errorf("%q: %d numbered candidates, want %d", tc.login, len(numbered), numberedCandidates)
			}
			numbered = numbered[:len(tc.numbered)]
		}
		if diff := cmp.Diff(tc.numbered, numbered, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("usernameCandidates(%q) (-want +got):\n%s", tc.login, diff)
		}
		for _, name := range got[reserved+1:] {
			if !strings.HasPrefix(name, tc.stem) || len(name) != len(tc.stem)+8 {
				t.Errorf("%q: random candidate %q, want %q and 8 random characters", tc.login, name, tc.stem)
			}
		}
	}
}

func TestReservedPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, name := range []string{"intra-7", "INTRA-x", "Intra-"} {
		var invalid *InvalidInputError
		if _, err := e.svc.Register(t.Context(), Registration{Username: name, Password: "long-enough"}); !errors.As(err, &invalid) || invalid.Message != msgReserved {
			t.Errorf("Register(%q) = %v, want %q", name, err, msgReserved)
		}
	}
	e.mustRegister(t, "intra7", "long-enough")
	e.mustRegister(t, "intra", "long-enough")
}

// TestSquattedNamesCannotBlockAnIntraLogin: with every numbered name of a
// login registered, and even intra-<id> taken (as an import could), the
// first Intra login still gets a user, under a random name.
func TestSquattedNamesCannotBlockAnIntraLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, name := range usernameCandidates("jdoe", 7)[:numberedCandidates] {
		e.mustRegister(t, name, "squatter-password")
	}
	tok, _ := e.svc.IntraToken(intra.Identity{ID: 7, Login: "jdoe"})
	g, err := e.svc.IntraLogin(t.Context(), tok)
	if err != nil || g.User.Username != "intra-7" {
		t.Fatalf("Intra login with the numbered names taken = %+v, %v; want intra-7", g.User, err)
	}
	if _, err := e.store.CreateUser(t.Context(), store.NewUser{Username: "intra-8"}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	tok, _ = e.svc.IntraToken(intra.Identity{ID: 8, Login: "jdoe"})
	g, err = e.svc.IntraLogin(t.Context(), tok)
	if err != nil || !strings.HasPrefix(g.User.Username, "jdoe-") || len(g.User.Username) != len("jdoe-")+8 {
		t.Fatalf("Intra login with intra-8 taken too = %+v, %v; want jdoe- and a random suffix", g.User, err)
	}
}

// failing is a store whose every call fails, as an unreachable database's.
type failing struct{ store.Store }

func (failing) UserByUsername(context.Context, string) (store.User, error) {
	return store.User{}, errors.New("connection refused")
}

func (failing) Session(context.Context, string) (store.Session, error) {
	return store.Session{}, errors.New("connection refused")
}

func (failing) SessionAndUser(context.Context, string) (store.Session, store.User, error) {
	return store.Session{}, store.User{}, errors.New("connection refused")
}

func TestDependencyFailuresAreMarked(t *testing.T) {
	t.Parallel()
	healthy := newEnv(t, nil)
	healthy.mustRegister(t, "alice", "alice-password")
	g := healthy.mustLogin(t, "alice", "alice-password")
	e := newEnv(t, func(o *Options) { o.Store = failing{o.Store}; o.Tokens = healthy.svc.tokens })
	if _, err := e.svc.Login(t.Context(), "alice", "alice-password"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Login on a failing store = %v, want ErrUnavailable", err)
	}
	if _, err := e.svc.Refresh(t.Context(), g.RefreshToken); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Refresh on a failing store = %v, want ErrUnavailable", err)
	}
	if _, err := e.svc.Register(t.Context(), Registration{Username: "bob", Password: "bob-password"}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Register on a failing store = %v, want ErrUnavailable", err)
	}
}
