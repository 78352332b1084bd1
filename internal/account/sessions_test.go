package account

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"authd/internal/intra"
	"authd/internal/store"
	"authd/internal/store/cache"
	"authd/internal/token"
)

func (e *env) mustPrincipal(t *testing.T, access string) Principal {
	t.Helper()
	p, err := e.svc.Authenticate(t.Context(), access)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return p
}

func (e *env) mustSessionIDs(t *testing.T, p Principal) []string {
	t.Helper()
	list, err := e.svc.Sessions(t.Context(), p)
	if err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	ids := []string{}
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestAuthTimeAndFreshness(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.ReauthWindow = 5 * time.Minute })
	e.mustRegister(t, "alice", "alice-password")
	loggedIn := e.clock.Now()
	g := e.mustLogin(t, "alice", "alice-password")
	p := e.mustPrincipal(t, g.AccessToken)
	if !p.Claims.AuthTime.Equal(loggedIn) {
		t.Errorf("auth_time = %v, want the login's %v", p.Claims.AuthTime, loggedIn)
	}
	if err := e.svc.Fresh(p); err != nil {
		t.Errorf("Fresh right after login = %v", err)
	}

	// A refresh keeps auth_time; the session stops being fresh after the
	// window, whatever the refreshes.
	e.clock.Advance(5*time.Minute + time.Second)
	r, err := e.svc.Refresh(t.Context(), g.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	rp := e.mustPrincipal(t, r.AccessToken)
	if !rp.Claims.AuthTime.Equal(loggedIn) {
		t.Errorf("auth_time after refresh = %v, want %v", rp.Claims.AuthTime, loggedIn)
	}
	if err := e.svc.Fresh(rp); !errors.Is(err, ErrReauthRequired) {
		t.Errorf("Fresh after the window = %v, want ErrReauthRequired", err)
	}
	for name, act := range map[string]func() error{
		"ChangePassword": func() error { return e.svc.ChangePassword(t.Context(), rp, "alice-password", "a new password") },
		"UnlinkIntra":    func() error { return e.svc.UnlinkIntra(t.Context(), rp) },
		"LinkIntra": func() error {
			tok, _ := e.svc.IntraToken(intra.Identity{ID: 9, Login: "alice9"})
			return e.svc.LinkIntra(t.Context(), rp, tok)
		},
	} {
		if err := act(); !errors.Is(err, ErrReauthRequired) {
			t.Errorf("%s of a stale session = %v, want ErrReauthRequired", name, err)
		}
	}
	if _, err := e.svc.Login(t.Context(), "alice", "a new password"); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("the refused change changed the password: login = %v", err)
	}
	// A token without auth_time (from before it existed) is not fresh.
	if err := e.svc.Fresh(Principal{Claims: token.Claims{}}); !errors.Is(err, ErrReauthRequired) {
		t.Errorf("Fresh without auth_time = %v, want ErrReauthRequired", err)
	}
}

func TestSessionsListAndEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "alice", "alice-password")
	e.mustRegister(t, "bob", "bob-password")
	ctx := WithClient(t.Context(), Client{IP: "203.0.113.7", UserAgent: "agent\x00 é " + strings.Repeat("u", 300) + "\xff"})
	first, err := e.svc.Login(ctx, "alice", "alice-password")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	second := e.mustLogin(t, "alice", "alice-password")
	bobs := e.mustLogin(t, "bob", "bob-password")
	p := e.mustPrincipal(t, second.AccessToken)

	list, err := e.svc.Sessions(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{second.SessionID, first.SessionID}, e.mustSessionIDs(t, p)); diff != "" {
		t.Errorf("Sessions, newest first (-want +got):\n%s", diff)
	}
	got := list[1]
	if got.Method != MethodPassword || got.IP != "203.0.113.7" || len(got.UserAgent) > MaxUserAgent ||
		!strings.HasPrefix(got.UserAgent, "agent é u") || strings.Contains(got.UserAgent, "\x00") || !utf8.ValidString(got.UserAgent) {
		t.Errorf("first session: method %q, ip %q, user agent %q (%d bytes)", got.Method, got.IP, got.UserAgent, len(got.UserAgent))
	}

	for _, id := range []string{bobs.SessionID, "", "unknown", "12345", strings.Repeat("9", 10<<10)} {
		if err := e.svc.EndSession(t.Context(), p, id); !errors.Is(err, ErrNoSuchSession) {
			t.Errorf("EndSession(%.20q) = %v, want ErrNoSuchSession", id, err)
		}
	}
	if _, err := e.svc.Refresh(t.Context(), bobs.RefreshToken); err != nil {
		t.Errorf("bob's session after alice tried to end it: %v", err)
	}
	if err := e.svc.EndSession(t.Context(), p, first.SessionID); err != nil {
		t.Fatalf("EndSession(own other): %v", err)
	}
	if _, err := e.svc.Refresh(t.Context(), first.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("refresh of the ended session = %v, want ErrInvalidRefreshToken", err)
	}
	if err := e.svc.EndSession(t.Context(), p, first.SessionID); !errors.Is(err, ErrNoSuchSession) {
		t.Errorf("EndSession of an ended session = %v, want ErrNoSuchSession", err)
	}
	if diff := cmp.Diff([]string{second.SessionID}, e.mustSessionIDs(t, p)); diff != "" {
		t.Errorf("Sessions after ending one (-want +got):\n%s", diff)
	}
}

func TestLogoutScopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		scope                     LogoutScope
		ownLive, otherLive, bobOK bool
	}{
		{LogoutLocal, false, true, true},
		{LogoutOthers, true, false, true},
		{LogoutGlobal, false, false, true},
	} {
		t.Run(string(tc.scope), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.mustRegister(t, "alice", "alice-password")
			e.mustRegister(t, "bob", "bob-password")
			own := e.mustLogin(t, "alice", "alice-password")
			other := e.mustLogin(t, "alice", "alice-password")
			bob := e.mustLogin(t, "bob", "bob-password")
			if err := e.svc.Logout(t.Context(), e.mustPrincipal(t, own.AccessToken), "", tc.scope); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]struct {
				g    Grant
				live bool
			}{"own": {own, tc.ownLive}, "other": {other, tc.otherLive}, "bob's": {bob, tc.bobOK}} {
				_, err := e.svc.Refresh(t.Context(), want.g.RefreshToken)
				if live := err == nil; live != want.live {
					t.Errorf("%s session live = %v (%v), want %v", name, live, err, want.live)
				}
			}
		})
	}
	for _, v := range []string{"LOCAL", "all", " local", "x"} {
		if _, err := ParseLogoutScope(v); err == nil {
			t.Errorf("ParseLogoutScope(%q) accepted", v)
		}
	}
	if sc, err := ParseLogoutScope(""); err != nil || sc != LogoutLocal {
		t.Errorf("ParseLogoutScope(\"\") = %q, %v; want local", sc, err)
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "alice", "alice-password")
	current := e.mustLogin(t, "alice", "alice-password")
	other := e.mustLogin(t, "alice", "alice-password")
	p := e.mustPrincipal(t, current.AccessToken)

	var invalid *InvalidInputError
	for _, tc := range []struct{ current, new string }{
		{"alice-password", "short"},
		{"alice-password", strings.Repeat("p", 1025)},
		{"", "a new password"},
		{strings.Repeat("p", 1025), "a new password"},
	} {
		if err := e.svc.ChangePassword(t.Context(), p, tc.current, tc.new); !errors.As(err, &invalid) {
			t.Errorf("ChangePassword(%.10q, %.10q) = %v, want an *InvalidInputError", tc.current, tc.new, err)
		}
	}
	// Wrong current passwords count toward the lockout (3 in the env).
	for i := range 3 {
		if err := e.svc.ChangePassword(t.Context(), p, "wrong password", "a new password"); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("wrong current password #%d = %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	var locked *LockedError
	if err := e.svc.ChangePassword(t.Context(), p, "alice-password", "a new password"); !errors.As(err, &locked) {
		t.Errorf("ChangePassword while locked = %v, want a *LockedError", err)
	}
	if _, err := e.svc.Refresh(t.Context(), other.RefreshToken); err != nil {
		t.Errorf("a refused change revoked a session: %v", err)
	}
	e.clock.Advance(10 * time.Minute)
	changing := e.mustLogin(t, "alice", "alice-password")
	p = e.mustPrincipal(t, changing.AccessToken)
	if err := e.svc.ChangePassword(t.Context(), p, "alice-password", "a new password"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if _, err := e.svc.Authenticate(t.Context(), current.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("another session's access token after the change = %v, want ErrInvalidToken", err)
	}
	if _, err := e.svc.Refresh(t.Context(), other.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("another session's refresh after the change = %v, want ErrInvalidRefreshToken", err)
	}
	if _, err := e.svc.Refresh(t.Context(), changing.RefreshToken); err != nil {
		t.Errorf("the changing session after the change: %v", err)
	}
	e.mustLogin(t, "alice", "a new password")

	// A user without a password sets one without a current one.
	tok, _ := e.svc.IntraToken(intra.Identity{ID: 5, Login: "nopw"})
	g, err := e.svc.IntraLogin(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ChangePassword(t.Context(), e.mustPrincipal(t, g.AccessToken), "", "first password"); err != nil {
		t.Errorf("ChangePassword of a user without one: %v", err)
	}
	e.mustLogin(t, g.User.Username, "first password")
}

func TestUnlink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "alice", "alice-password")
	p := e.mustPrincipal(t, e.mustLogin(t, "alice", "alice-password").AccessToken)
	if err := e.svc.UnlinkIntra(t.Context(), p); !errors.Is(err, ErrNotLinked) {
		t.Errorf("UnlinkIntra, nothing linked = %v, want ErrNotLinked", err)
	}
	tok, _ := e.svc.IntraToken(intra.Identity{ID: 7, Login: "alice7"})
	if err := e.svc.LinkIntra(t.Context(), p, tok); err != nil {
		t.Fatal(err)
	}
	p = e.mustPrincipal(t, e.mustLogin(t, "alice", "alice-password").AccessToken)
	if err := e.svc.UnlinkIntra(t.Context(), p); err != nil {
		t.Fatalf("UnlinkIntra: %v", err)
	}
	p = e.mustPrincipal(t, e.mustLogin(t, "alice", "alice-password").AccessToken)
	if err := e.svc.UnlinkIntra(t.Context(), p); !errors.Is(err, ErrNotLinked) {
		t.Errorf("UnlinkIntra twice = %v, want ErrNotLinked", err)
	}

	// Intra-only user: refused, the link kept; by the operator too.
	tok, _ = e.svc.IntraToken(intra.Identity{ID: 8, Login: "intraonly"})
	g, err := e.svc.IntraLogin(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.UnlinkIntra(t.Context(), e.mustPrincipal(t, g.AccessToken)); !errors.Is(err, ErrNoOtherLogin) {
		t.Errorf("UnlinkIntra without a password = %v, want ErrNoOtherLogin", err)
	}
	if _, err := e.svc.Unlink(t.Context(), g.User.Username); !errors.Is(err, ErrNoOtherLogin) {
		t.Errorf("Unlink without a password = %v, want ErrNoOtherLogin", err)
	}
	if u, _ := e.svc.User(t.Context(), g.User.Username); u.Intra == nil {
		t.Error("a refused unlink removed the link")
	}
	if _, err := e.svc.Unlink(t.Context(), "nobody"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("Unlink(nobody) = %v, want ErrNoSuchUser", err)
	}
}

func TestSetPasswordRevokesSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "alice", "alice-password")
	g := e.mustLogin(t, "alice", "alice-password")
	if _, err := e.svc.SetPassword(t.Context(), "alice", "an operator's password"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Refresh(t.Context(), g.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("refresh after authd user passwd = %v, want ErrInvalidRefreshToken", err)
	}
	if _, err := e.svc.Authenticate(t.Context(), g.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("access token after authd user passwd = %v, want ErrInvalidToken", err)
	}
}

func TestAPITokenSingleUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.IntraAutoProvision = false })
	e.mustRegister(t, "alice", "alice-password")
	tok, _ := e.svc.IntraToken(intra.Identity{ID: 7, Login: "alice7"})
	// A refusal does not spend it: not linked, then linked with it.
	if _, err := e.svc.IntraLogin(t.Context(), tok); !errors.Is(err, ErrNotLinked) {
		t.Fatalf("IntraLogin, not linked = %v", err)
	}
	p := e.mustPrincipal(t, e.mustLogin(t, "alice", "alice-password").AccessToken)
	if err := e.svc.LinkIntra(t.Context(), p, tok); err != nil {
		t.Fatalf("LinkIntra: %v", err)
	}
	if _, err := e.svc.IntraLogin(t.Context(), tok); !errors.Is(err, ErrInvalidAPIToken) {
		t.Errorf("IntraLogin with the token a link spent = %v, want ErrInvalidAPIToken", err)
	}

	// Of concurrent logins with one token, one alone gets a session.
	tok, _ = e.svc.IntraToken(intra.Identity{ID: 7, Login: "alice7"})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, used int
	)
	for range 6 {
		wg.Go(func() {
			_, err := e.svc.IntraLogin(context.Background(), tok)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrInvalidAPIToken):
				used++
			default:
				t.Errorf("IntraLogin: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || used != 5 {
		t.Errorf("6 concurrent logins with one api_token: %d succeeded, %d refused; want 1 and 5", ok, used)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.IdleTTL = 30 * time.Minute })
	e.mustRegister(t, "alice", "alice-password")
	g := e.mustLogin(t, "alice", "alice-password")
	idle := e.mustLogin(t, "alice", "alice-password")
	for range 3 {
		e.clock.Advance(20 * time.Minute)
		if _, err := e.svc.Refresh(t.Context(), g.RefreshToken); err != nil {
			t.Fatalf("refresh within the idle timeout: %v", err)
		}
	}
	if _, err := e.svc.Refresh(t.Context(), idle.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("refresh after an hour idle = %v, want ErrInvalidRefreshToken", err)
	}
	p := e.mustPrincipal(t, e.mustLogin(t, "alice", "alice-password").AccessToken)
	ids := e.mustSessionIDs(t, p)
	if len(ids) != 2 || ids[1] != g.SessionID {
		t.Errorf("Sessions = %v, want the new one and %s, not the idle one", ids, g.SessionID)
	}
}

// TestIdleTimeoutBehindACache: a replica whose cache holds a session as
// last used long ago, while another replica's refreshes (which tell no
// one) kept it in use, asks the database before calling it idle; a
// session idle in the database too is refused.
func TestIdleTimeoutBehindACache(t *testing.T) {
	t.Parallel()
	var db store.Store
	e := newEnv(t, func(o *Options) {
		o.IdleTTL = 30 * time.Minute
		db = o.Store
		c := cache.New(o.Store, cache.Options{MaxAge: 24 * time.Hour, Now: o.Now})
		c.Following()
		o.Store = c
	})
	e.mustRegister(t, "alice", "alice-password")
	used := e.mustLogin(t, "alice", "alice-password")
	idle := e.mustLogin(t, "alice", "alice-password")
	for _, g := range []Grant{used, idle} {
		if _, err := e.svc.Authenticate(t.Context(), g.AccessToken); err != nil { // cached now
			t.Fatal(err)
		}
	}
	for range 3 {
		e.clock.Advance(20 * time.Minute)
		// Another replica's refresh: the database moves, the cache not.
		if err := db.TouchSession(t.Context(), used.SessionID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Refresh(t.Context(), used.RefreshToken); err != nil {
		t.Errorf("refresh of a session another replica kept in use: %v", err)
	}
	if _, err := e.svc.Refresh(t.Context(), idle.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("refresh after an hour idle = %v, want ErrInvalidRefreshToken", err)
	}
}
