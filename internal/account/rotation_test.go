package account

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"authd/internal/token"
)

func newRotationEnv(t *testing.T) *env {
	return newEnv(t, func(o *Options) {
		o.RefreshRotation = true
		o.ReuseInterval = 10 * time.Second
	})
}

func (e *env) mustRefresh(t *testing.T, refresh string) Grant {
	t.Helper()
	g, err := e.svc.Refresh(t.Context(), refresh)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return g
}

func jtiOf(t *testing.T, e *env, refresh string) string {
	t.Helper()
	c, err := e.svc.tokens.Verify(refresh, token.Refresh)
	if err != nil {
		t.Fatalf("Verify refresh token: %v", err)
	}
	return c.ID
}

func TestRefreshWithoutRotationSetsNoToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "alice", "alice-password")
	g := e.mustLogin(t, "alice", "alice-password")
	e.clock.Advance(time.Minute)
	for range 3 {
		if r := e.mustRefresh(t, g.RefreshToken); r.RefreshToken != "" {
			t.Errorf("a refresh without rotation returned a refresh token")
		}
	}
	sess, err := e.store.Session(t.Context(), g.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if !sess.LastUsedAt.Equal(e.clock.Now()) {
		t.Errorf("LastUsedAt = %v, want the refresh's %v", sess.LastUsedAt, e.clock.Now())
	}
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	e := newRotationEnv(t)
	e.mustRegister(t, "alice", "alice-password")
	login := e.mustLogin(t, "alice", "alice-password")

	e.clock.Advance(time.Minute)
	r1 := e.mustRefresh(t, login.RefreshToken)
	if r1.RefreshToken == "" || jtiOf(t, e, r1.RefreshToken) == jtiOf(t, e, login.RefreshToken) {
		t.Fatal("a refresh with rotation did not replace the refresh token")
	}
	if want := 24*time.Hour - time.Minute; r1.RefreshTTL != want {
		t.Errorf("rotated token's lifetime %v, want the session's remaining %v", r1.RefreshTTL, want)
	}

	// Within the interval, the token just replaced answers with the newest.
	e.clock.Advance(5 * time.Second)
	again := e.mustRefresh(t, login.RefreshToken)
	if jtiOf(t, e, again.RefreshToken) != jtiOf(t, e, r1.RefreshToken) || again.AccessToken == "" {
		t.Errorf("the predecessor within the interval did not answer with the newest token")
	}
	// The newest rotates on.
	r2 := e.mustRefresh(t, r1.RefreshToken)
	if jtiOf(t, e, r2.RefreshToken) == jtiOf(t, e, r1.RefreshToken) {
		t.Fatal("the newest token did not rotate")
	}

	// An older token (two rotations back): reuse, the whole session goes.
	if _, err := e.svc.Refresh(t.Context(), login.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Fatalf("an older token = %v, want ErrInvalidRefreshToken", err)
	}
	if _, err := e.svc.Refresh(t.Context(), r2.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("the newest token after a reuse = %v, want ErrInvalidRefreshToken", err)
	}
	if _, err := e.svc.Authenticate(t.Context(), r2.AccessToken); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("an access token after a reuse = %v, want ErrInvalidToken", err)
	}
}

func TestRefreshRotationPredecessorAfterInterval(t *testing.T) {
	t.Parallel()
	e := newRotationEnv(t)
	e.mustRegister(t, "alice", "alice-password")
	login := e.mustLogin(t, "alice", "alice-password")
	r1 := e.mustRefresh(t, login.RefreshToken)
	e.clock.Advance(11 * time.Second)
	if _, err := e.svc.Refresh(t.Context(), login.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Fatalf("the predecessor after the interval = %v, want ErrInvalidRefreshToken", err)
	}
	if _, err := e.svc.Refresh(t.Context(), r1.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("the newest token after the reuse = %v, want ErrInvalidRefreshToken (session revoked)", err)
	}
}

// TestConcurrentRefreshesWithRotation: two tabs (here eight) refreshing
// with one cookie at once all stay logged in, with the same newest token.
func TestConcurrentRefreshesWithRotation(t *testing.T) {
	t.Parallel()
	e := newRotationEnv(t)
	e.mustRegister(t, "alice", "alice-password")
	login := e.mustLogin(t, "alice", "alice-password")
	const tabs = 8
	var (
		wg   sync.WaitGroup
		jtis [tabs]string
		errs [tabs]error
	)
	start := make(chan struct{})
	for i := range tabs {
		wg.Go(func() {
			<-start
			g, err := e.svc.Refresh(context.Background(), login.RefreshToken)
			errs[i] = err
			if err == nil {
				c, _ := e.svc.tokens.Verify(g.RefreshToken, token.Refresh)
				jtis[i] = c.ID
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range tabs {
		if errs[i] != nil {
			t.Errorf("tab %d: %v", i, errs[i])
		} else if jtis[i] != jtis[0] {
			t.Errorf("tab %d got refresh token %s, tab 0 %s; want the same newest one", i, jtis[i], jtis[0])
		}
	}
	sess, err := e.store.Session(t.Context(), login.SessionID)
	if err != nil || !sess.Live(e.clock.Now()) || sess.RefreshID != jtis[0] {
		t.Errorf("session after the race: %+v, %v; want live with newest %s", sess, err, jtis[0])
	}
}

// TestRefreshTouchesOncePerSecond: last_used_at moves on a refresh in a
// new second, and is left as it is by one in the same second, which saves
// the write without changing what a user sees.
func TestRefreshTouchesOncePerSecond(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mustRegister(t, "alice", "alice-password")
	g := e.mustLogin(t, "alice", "alice-password")
	lastUsed := func() time.Time {
		t.Helper()
		sess, err := e.store.Session(t.Context(), g.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		return sess.LastUsedAt
	}
	e.clock.Advance(1200 * time.Millisecond)
	e.mustRefresh(t, g.RefreshToken)
	first := e.clock.Now()
	e.clock.Advance(500 * time.Millisecond)
	e.mustRefresh(t, g.RefreshToken)
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("after a refresh in the same second LastUsedAt = %v, want %v", got, first)
	}
	e.clock.Advance(400 * time.Millisecond)
	e.mustRefresh(t, g.RefreshToken)
	if got := lastUsed(); !got.Equal(e.clock.Now()) {
		t.Errorf("after a refresh in the next second LastUsedAt = %v, want %v", got, e.clock.Now())
	}
}

// TestReusedTokenGetsTheSameNewest: the token just replaced, used again a
// second later within the reuse interval, answers with the newest refresh
// token itself, byte for byte, as the refresh that rotated gave it: two
// replicas answering the two tabs of one user hand out one token.
func TestReusedTokenGetsTheSameNewest(t *testing.T) {
	t.Parallel()
	e := newRotationEnv(t)
	e.mustRegister(t, "alice", "alice-password")
	g := e.mustLogin(t, "alice", "alice-password")
	e.clock.Advance(400 * time.Millisecond)
	newest := e.mustRefresh(t, g.RefreshToken).RefreshToken
	e.clock.Advance(1500 * time.Millisecond)
	if again := e.mustRefresh(t, g.RefreshToken).RefreshToken; again != newest {
		t.Errorf("the replaced token a second later got %.20q..., want the newest %.20q...", again, newest)
	}
}
