package authdtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// childVar makes the test binary act as a program under test.
const childVar = "AUTHDTEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childVar); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child is a small server like authd's programs: its address on the first
// line of stdout, GET /ready and GET /env (its environment), drained on
// SIGTERM. The mode changes one thing.
func child(mode string) int {
	switch mode {
	case "exit-early":
		fmt.Fprintln(os.Stderr, "child: failing before listening")
		return 3
	case "no-address":
		fmt.Println("hello")
		time.Sleep(time.Minute)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strings.Join(os.Environ(), "\n"))
	})
	srv := &http.Server{Handler: mux}
	fmt.Println(ln.Addr())
	fmt.Fprintln(os.Stderr, "child: serving")
	go srv.Serve(ln)
	<-ctx.Done()
	srv.Shutdown(context.Background())
	if mode == "unclean" {
		return 4
	}
	return 0
}

func childCommand(mode string, env ...string) Command {
	return Command{Name: "child", Path: os.Args[0], Env: append([]string{childVar + "=" + mode}, env...), Ready: "/ready"}
}

// TestProcess starts a process, reads its address, hands it only the
// environment given plus the essentials, keeps its stderr in the log and
// stops it cleanly with SIGTERM.
func TestProcess(t *testing.T) {
	t.Setenv("AUTHD_DB", "a developer's database, which must not leak")
	s := MustStart(t, childCommand("serve", "AUTHD_GIVEN=yes"))
	if host, port, err := net.SplitHostPort(s.Addr); err != nil || host != "127.0.0.1" || port == "0" || s.URL != "http://"+s.Addr {
		t.Fatalf("Addr %q, URL %q: want the bound 127.0.0.1:port", s.Addr, s.URL)
	}
	if pid := s.Pid(); pid <= 0 || syscall.Kill(pid, 0) != nil {
		t.Errorf("Pid = %d, want the running child's", pid)
	}

	resp, err := http.Get(s.URL + "/env")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got []string
	for _, kv := range strings.Split(string(body), "\n") {
		name, _, _ := strings.Cut(kv, "=")
		got = append(got, name)
	}
	want := []string{"AUTHD_GIVEN", childVar}
	for _, k := range essentials {
		if _, ok := os.LookupEnv(k); ok {
			want = append(want, k)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the child's environment (-want +got):\n%s", diff)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("stopping again: %v", err)
	}
	if !strings.Contains(s.Log(), "child: serving") || !strings.Contains(s.Log(), "# AUTHD_GIVEN=yes") {
		t.Errorf("the log lacks the child's settings or stderr:\n%s", s.Log())
	}
	if c, err := net.Dial("tcp", s.Addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections", s.Addr)
	}
}

func TestStartFails(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode string
		want []string
	}{
		{"exit-early", []string{"exited (exit status 3) before printing its address", "child: failing before listening"}},
		{"no-address", []string{`printed "hello\n" as the first line of stdout, want host:port`}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			c := childCommand(tc.mode)
			c.LogDir = t.TempDir()
			s, err := Start(c)
			if err == nil {
				s.Stop()
				t.Fatalf("Start succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start: %v\nwant it to say %q", err, w)
				}
			}
		})
	}
}

func TestStopReportsAnUncleanExit(t *testing.T) {
	t.Parallel()
	c := childCommand("unclean")
	c.LogDir = t.TempDir()
	s, err := Start(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err == nil || !strings.Contains(err.Error(), "exited with exit status 4, want status 0 on SIGTERM") {
		t.Errorf("Stop = %v, want the exit status reported", err)
	}
}

func TestKill(t *testing.T) {
	t.Parallel()
	s := MustStart(t, childCommand("serve"))
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := s.ExitErr(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("exit %v, want killed by SIGKILL", err)
	}
}

// TestInProcess runs a program's run function, with the same address line,
// log and stop as a process.
func TestInProcess(t *testing.T) {
	t.Parallel()
	serve := func(result error) RunFunc {
		return func(ctx context.Context, stdout, stderr io.Writer) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: http.NotFoundHandler()}
			fmt.Fprintln(stdout, ln.Addr())
			fmt.Fprintln(stderr, "in-process: serving")
			go srv.Serve(ln)
			<-ctx.Done()
			srv.Shutdown(context.Background())
			return result
		}
	}
	dir := t.TempDir()
	a := MustStart(t, Command{Name: "run", Run: serve(nil), LogDir: dir})
	b, err := Start(Command{Name: "run", Run: serve(errors.New("a failure")), LogDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if a.Pid() != 0 {
		t.Errorf("Pid = %d in-process, want 0", a.Pid())
	}
	if a.LogPath == b.LogPath {
		t.Errorf("both programs log to %s", a.LogPath)
	}
	if err := a.Stop(); err != nil {
		t.Error(err)
	}
	if !strings.Contains(a.Log(), "in-process: serving\n") || !strings.Contains(a.Log(), a.Addr+"\n") {
		t.Errorf("log %q, want stdout and stderr", a.Log())
	}
	if err := b.Stop(); err == nil || !strings.Contains(err.Error(), "returned a failure after its context ended, want nil") {
		t.Errorf("Stop = %v, want run's error", err)
	}
}

func TestMustStartAll(t *testing.T) {
	t.Parallel()
	one, two := childCommand("serve"), childCommand("serve")
	two.Name = "other"
	s := MustStartAll(t, one, two)
	if len(s) != 2 || s[0].Name != "child" || s[1].Name != "other" || s[0].Addr == s[1].Addr || s[0].LogPath == s[1].LogPath {
		t.Fatalf("started %+v, %+v: want child then other, each its own", s[0], s[1])
	}
	for _, s := range s {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	}
}
