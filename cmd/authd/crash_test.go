package main

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"authd/internal/authdtest"
)

// integrity runs SQLite's integrity check on the database file.
func integrity(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	return res
}

// TestCrashKeepsEveryAcknowledgedUser registers users from several
// clients at once and kills authd with SIGKILL at a random moment, three
// times over, restarting it on the same database each time. Every user
// whose registration was answered 201 must be able to log in, and the
// database must pass SQLite's integrity check.
func TestCrashKeepsEveryAcknowledgedUser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds authd and registers users with the production hashing cost")
	}
	t.Parallel()
	bin := authdtest.MustBuild(t, "authd/cmd/authd")
	dbPath := filepath.Join(t.TempDir(), "authd.db")
	settings := []string{
		"AUTHD_DB=" + dbPath,
		"AUTHD_COOKIE_SECURE=false",
		"AUTHD_THROTTLE_REGISTER=1000000/second",
		"AUTHD_THROTTLE_LOGIN=1000000/second",
	}
	// start runs authd as a process of its own on the database.
	start := func() (*authdtest.Server, *authdtest.Client) {
		s := authdtest.MustStart(t, authdtest.AuthdCommand(bin, settings...))
		return s, authdtest.NewClient(t, s.URL)
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 42))
	t.Logf("seed %d", seed)

	password := func(name string) string { return "pw-of-" + name + "-0123" }
	// register may meet the process killed: no answer is an error.
	register := func(c *authdtest.Client, name string) (int, error) {
		r, err := c.Send(c.NewRequest("POST", "/auth/register/", "", authdtest.RegisterRequest{Username: name, Password: password(name)}))
		return r.Status, err
	}

	var acknowledged []string
	for round := range 3 {
		p, c := start()
		// Check the users of the rounds before, on the restarted process.
		for _, name := range acknowledged {
			if r := c.Login(name, password(name)); r.Status != 200 {
				t.Fatalf("round %d: %s, registered with a 201 before the crash, cannot log in: %s", round, name, r)
			}
		}

		var (
			mu    sync.Mutex
			wg    sync.WaitGroup
			stop  = make(chan struct{})
			first = make(chan struct{}) // closed at the round's first 201
			acked bool
			other []string
		)
		for w := range 6 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("r%dw%du%d", round, w, i)
					status, err := register(c, name)
					mu.Lock()
					switch {
					case err == nil && status == 201:
						acknowledged = append(acknowledged, name)
						if !acked {
							acked = true
							close(first)
						}
					case err == nil:
						other = append(other, fmt.Sprintf("%s: %d", name, status))
					}
					mu.Unlock()
					if err != nil {
						return // the process is gone
					}
				}
			})
		}
		// The kill comes at a random moment once registrations are being
		// acknowledged: on a loaded machine the first hash may take long.
		select {
		case <-first:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no registration acknowledged within 30 s", round)
		}
		wait := time.Duration(rng.IntN(1200)) * time.Millisecond
		time.Sleep(wait)
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		if len(other) > 0 {
			t.Errorf("round %d: registrations answered neither 201 nor not at all: %v", round, other)
		}
		t.Logf("round %d: killed %v after the first acknowledgement; %d users acknowledged so far", round, wait, len(acknowledged))
		if res := integrity(t, dbPath); res != "ok" {
			t.Fatalf("round %d: after the crash, integrity_check says %q", round, res)
		}
	}

	// The last round's users, on a restarted process; then it stops
	// cleanly on SIGTERM.
	p, c := start()
	for _, name := range acknowledged {
		if r := c.Login(name, password(name)); r.Status != 200 {
			t.Fatalf("%s, registered with a 201 before the crash, cannot log in: %s", name, r)
		}
	}
	if err := p.Stop(); err != nil {
		t.Errorf("authd on SIGTERM: %v", err)
	}
	if res := integrity(t, dbPath); res != "ok" {
		t.Fatalf("integrity_check says %q", res)
	}
	if len(acknowledged) == 0 {
		t.Fatal("no registration was acknowledged: the test proved nothing")
	}
}
