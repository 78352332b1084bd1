//go:build e2e

package cluster

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"authd/internal/authdtest"
)

// TestRotationRace: two replicas sharing one PostgreSQL, with refresh-token
// rotation on, get the same refresh token at the same instant, round after
// round, each round a session of its own. Exactly one of the two may
// rotate it: both answer 200 and set the same new refresh token (the one
// that lost, inside the reuse interval, answers with the newest without
// rotating again, as the contract says), and no reuse is detected. Once
// the interval has passed, each token raced with is a replaced one being
// reused: it is refused and cleared, it revokes its session, whose newest
// token is then refused too, and each replica logs the reuse once per
// session in all.
func TestRotationRace(t *testing.T) {
	const (
		rounds        = 20
		reuseInterval = 5 * time.Second
		username      = "rotor"
		password      = "rotor's long password"
	)
	bin := authdBin(t)
	settings := []string{
		"AUTHD_DB=" + mustDatabase(t),
		"AUTHD_COOKIE_SECURE=false", // plain HTTP on loopback
		"AUTHD_TRUSTED_PROXIES=127.0.0.1/32",
		"AUTHD_REFRESH_ROTATION=true",
		"AUTHD_REFRESH_REUSE_INTERVAL=" + reuseInterval.String(),
		"AUTHD_HASH_CONCURRENCY=1",
	}
	var commands []authdtest.Command
	for _, name := range []string{"A", "B"} {
		c := authdtest.AuthdCommand(bin, settings...)
		c.Name = "replica-" + name
		commands = append(commands, c)
	}
	replicas := authdtest.MustStartAll(t, commands...)
	newClient(t).Via(replicas[0].Addr).MustRegister(username, password)

	// raced is a session whose refresh token both replicas were sent.
	type raced struct {
		address     string // the client's, for the throttle
		old, newest string // the token raced with, and the one both set
	}
	var sessions []raced
	overlapped := 0
	for round := range rounds {
		address := clientAddress()
		// One browser, two tabs: the same address, the same cookie, each
		// tab with a connection of its own already open to its replica,
		// so that nothing but the request itself is left to send.
		agent := func() *authdtest.Client {
			return authdtest.NewClient(t, "http://"+lbHost, authdtest.Header("X-Forwarded-For", address))
		}
		u := agent()
		u.Via(replicas[round%2].Addr).MustLogin(username, password)
		old := u.Cookie("refresh_token")
		var tabs [2]*authdtest.Client
		for i := range tabs {
			tabs[i] = agent().Via(replicas[i].Addr)
			tabs[i].PutCookie("refresh_token", old)
			if r := tabs[i].Call("GET", "/healthz", "", nil); r.Status != http.StatusOK {
				t.Fatalf("round %d: /healthz on %s = %s", round, replicas[i].Name, r)
			}
		}
		var answers [2]authdtest.TokenResponse
		var sent, received [2]time.Time
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, tab := range tabs {
			wg.Go(func() {
				<-start
				sent[i] = time.Now()
				answers[i] = tab.Refresh()
				received[i] = time.Now()
			})
		}
		close(start)
		wg.Wait()
		if sent[0].Before(received[1]) && sent[1].Before(received[0]) {
			overlapped++
		}

		var set [2]string
		for i, r := range answers {
			r.Want(t, fmt.Sprintf("round %d: refresh on %s", round, replicas[i].Name), http.StatusOK, "")
			if r.AccessToken == "" || !r.Sets("refresh_token") {
				t.Fatalf("round %d: refresh on %s = %s, want an access token and a new refresh cookie", round, replicas[i].Name, r)
			}
			set[i] = tabs[i].Cookie("refresh_token")
		}
		if set[0] != set[1] {
			t.Fatalf("round %d: the replicas set two refresh tokens for one session, so it rotated twice", round)
		}
		if set[0] == old {
			t.Fatalf("round %d: the refresh token did not rotate", round)
		}
		sessions = append(sessions, raced{address: address, old: old, newest: set[0]})
	}
	t.Logf("%d rounds; in %d the two refreshes were in flight at once", rounds, overlapped)
	if overlapped == 0 {
		t.Fatal("in no round were the two refreshes in flight at once: the race was not run")
	}

	// After the interval, the token raced with is a stolen one.
	time.Sleep(reuseInterval + time.Second)
	for i, s := range sessions {
		thief := authdtest.NewClient(t, "http://"+lbHost, authdtest.Header("X-Forwarded-For", s.address)).Via(replicas[i%2].Addr)
		thief.PutCookie("refresh_token", s.old)
		r := thief.Refresh()
		r.Want(t, "the token raced with, after the reuse interval", http.StatusBadRequest, "invalid_refresh_token")
		if !r.Clears("refresh_token") {
			t.Errorf("session %d: the refused reuse keeps the cookie", i)
		}
		owner := authdtest.NewClient(t, "http://"+lbHost, authdtest.Header("X-Forwarded-For", s.address)).Via(replicas[(i+1)%2].Addr)
		owner.PutCookie("refresh_token", s.newest)
		owner.Refresh().Want(t, "the newest token of a session whose replaced one was reused", http.StatusBadRequest, "invalid_refresh_token")
	}

	// Each reuse is detected once, and none was in the races.
	const event = `"event":"refresh_reuse_detected"`
	detected := func() int {
		n := 0
		for _, r := range replicas {
			n += strings.Count(r.Log(), event)
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	for detected() < rounds && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := detected(); n != rounds {
		t.Errorf("the replicas logged %d refresh_reuse_detected events, want %d, one per session reused", n, rounds)
	}
}
