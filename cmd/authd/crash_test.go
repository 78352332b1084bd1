package main

import (
	"bufio"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// mustBuild builds authd into a folder of the test's own and returns the
// binary's path.
func mustBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "authd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is authd running as a program of its own.
type process struct {
	cmd    *exec.Cmd
	base   string
	logs   *logWatcher
	exited chan struct{} // closed once the process has exited
	err    error         // how it exited, once exited is closed
}

// mustStart starts the binary with env (and nothing else of the test's
// environment) on a free port, and returns once it listens.
func mustStart(t *testing.T, bin string, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: newLogWatcher(), exited: make(chan struct{})}
	go func() {
		io.Copy(p.logs, bufio.NewReader(stderr))
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case addr := <-p.logs.addr:
		p.base = "http://" + addr
		return p
	case <-p.exited:
		t.Fatalf("authd exited before listening: %v\n%s", p.err, p.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("authd did not listen within 30s\n%s", p.logs)
	}
	return nil
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and waits for it.
func (p *process) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
	}
}

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
	bin := mustBuild(t)
	dbPath := filepath.Join(t.TempDir(), "authd.db")
	env := map[string]string{
		"AUTHD_DB":                dbPath,
		"AUTHD_COOKIE_SECURE":     "false",
		"AUTHD_THROTTLE_REGISTER": "1000000/second",
		"AUTHD_THROTTLE_LOGIN":    "1000000/second",
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 42))
	t.Logf("seed %d", seed)

	client := &http.Client{Timeout: 10 * time.Second}
	post := func(base, path, body string) (int, error) {
		resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	password := func(name string) string { return "pw-of-" + name + "-0123" }

	var acknowledged []string
	for round := range 3 {
		p := mustStart(t, bin, env)
		// Check the users of the rounds before, on the restarted process.
		for _, name := range acknowledged {
			status, err := post(p.base, "/auth/login/", fmt.Sprintf(`{"username":%q,"password":%q}`, name, password(name)))
			if err != nil || status != 200 {
				t.Fatalf("round %d: %s, registered with a 201 before the crash, cannot log in: %d %v", round, name, status, err)
			}
		}

		var (
			mu    sync.Mutex
			wg    sync.WaitGroup
			stop  = make(chan struct{})
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
					status, err := post(p.base, "/auth/register/", fmt.Sprintf(`{"username":%q,"password":%q}`, name, password(name)))
					mu.Lock()
					switch {
					case err == nil && status == 201:
						acknowledged = append(acknowledged, name)
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
		wait := time.Duration(300+rng.IntN(1200)) * time.Millisecond
		time.Sleep(wait)
		p.kill()
		close(stop)
		wg.Wait()
		if len(other) > 0 {
			t.Errorf("round %d: registrations answered neither 201 nor not at all: %v", round, other)
		}
		t.Logf("round %d: killed after %v; %d users acknowledged so far", round, wait, len(acknowledged))
		if res := integrity(t, dbPath); res != "ok" {
			t.Fatalf("round %d: after the crash, integrity_check says %q", round, res)
		}
	}

	// The last round's users, on a restarted process; then it stops
	// cleanly on SIGTERM.
	p := mustStart(t, bin, env)
	for _, name := range acknowledged {
		if status, err := post(p.base, "/auth/login/", fmt.Sprintf(`{"username":%q,"password":%q}`, name, password(name))); err != nil || status != 200 {
			t.Fatalf("%s, registered with a 201 before the crash, cannot log in: %d %v", name, status, err)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("authd exited with %v on SIGTERM, want 0", p.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("authd did not stop within 30s of SIGTERM")
	}
	if res := integrity(t, dbPath); res != "ok" {
		t.Fatalf("integrity_check says %q", res)
	}
	if len(acknowledged) == 0 {
		t.Fatal("no registration was acknowledged: the test proved nothing")
	}
}
