// Package authdtest runs authd's programs for whole-program tests and talks
// to authd as a user agent does.
//
// Every program of the repository (authd serve, fakeintra, authd-demo)
// prints the address it listens on, as bound, alone on the first line of
// its standard output; Start reads it there. A program runs either as a
// process of its own (Command.Path) or in the test's process through its
// run function (Command.Run); both are stopped, logged and checked the
// same way.
//
// A process gets a clean environment (only what the test gives, plus
// PATH, HOME and TMPDIR, so that a developer's AUTHD_* variables never
// reach it), a process group of its own, and on Linux is killed by the
// kernel should the test binary die first. Its standard error and the rest
// of its standard output go to a log file, whose last lines a failing
// test shows. Every wait is bounded.
//
// Client is one user agent: a cookie jar, redirects shown rather than
// followed, and typed calls of every endpoint, the Log in with 42 grant
// through the fake provider's consent page included.
//
// Start and Try serve programs too, outside any test: the load test
// starts its programs and prepares its users with this package.
package authdtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 60 * time.Second // from start to ready
	stopTimeout  = 15 * time.Second // from SIGTERM to exit, before SIGKILL
	drainTimeout = 5 * time.Second  // for the output to reach the log after exit
)

// RunFunc is a program's run function: it serves until ctx is done,
// printing the address it listens on as the first line of stdout.
type RunFunc func(ctx context.Context, stdout, stderr io.Writer) error

// Command says how to start a program.
type Command struct {
	// Name names the program in messages and its log file.
	Name string
	// Path, Args and Env start it as a process. Env (KEY=VALUE) is its
	// whole environment but for PATH, HOME and TMPDIR.
	Path string
	Args []string
	Env  []string
	// Run, when set, runs the program in the test's process instead.
	Run RunFunc
	// Ready is a URL path that answers 200 once the program serves;
	// empty, listening is enough.
	Ready string
	// Addr, when set, is the address the program listens on, chosen by
	// the test, for programs that do not print theirs (nginx, Caddy):
	// the whole of their output goes to the log, and Ready is required.
	Addr string
	// LogDir is the folder of the log file; MustStart defaults it to a
	// temporary folder of the test.
	LogDir string
}

// Server is a running program.
type Server struct {
	Name    string
	Addr    string // host:port, as bound
	URL     string // http://Addr
	LogPath string

	cmd     *exec.Cmd          // nil when it runs in-process
	cancel  context.CancelFunc // ends an in-process run
	done    chan struct{}      // closed once it has exited
	exitErr error              // how it exited, once done is closed
	output  chan struct{}      // closed once its output is all in the log

	stopOnce sync.Once
	stopErr  error
}

// running holds every server started and not yet stopped. Once closed by
// StopAll, nothing more starts.
var running = struct {
	sync.Mutex
	servers map[*Server]bool
	closed  bool
}{servers: map[*Server]bool{}}

// MustStart starts a program for test t, which stops it when it ends and
// fails if it did not exit cleanly. The log file is named after the test
// and the program; when the test fails, its last lines are shown.
func MustStart(t testing.TB, c Command) *Server {
	t.Helper()
	if c.LogDir == "" {
		c.LogDir = t.TempDir()
	}
	s, err := start(c, LogName(t, c.Name))
	if err != nil {
		t.Fatal(err)
	}
	stopWith(t, s)
	return s
}

// stopWith has the server stopped when test t ends, and its log shown if
// the test failed.
func stopWith(t testing.TB, s *Server) {
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("the last lines of %s:\n%s", s.LogPath, s.Tail(60))
		}
	})
}

// MustStartAll starts programs at once, as MustStart does each, and
// returns them in the order given.
func MustStartAll(t testing.TB, cs ...Command) []*Server {
	t.Helper()
	servers := make([]*Server, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		if c.LogDir == "" {
			c.LogDir = t.TempDir()
		}
		wg.Go(func() { servers[i], errs[i] = start(c, LogName(t, c.Name)) })
	}
	wg.Wait()
	for _, s := range servers {
		if s != nil {
			stopWith(t, s)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return servers
}

// Start starts a program outside any test (in TestMain, say), its log in
// c.LogDir; the caller stops it.
func Start(c Command) (*Server, error) {
	if c.LogDir == "" {
		return nil, fmt.Errorf("start %s: no LogDir", c.Name)
	}
	return start(c, c.Name)
}

func start(c Command, logName string) (*Server, error) {
	if c.Name == "" {
		c.Name = filepath.Base(c.Path)
	}
	if c.Addr != "" && c.Ready == "" {
		return nil, fmt.Errorf("start %s: a program of a given Addr needs a Ready path", c.Name)
	}
	logFile, err := createLog(c.LogDir, logName)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	s := &Server{Name: c.Name, LogPath: logFile.Name(), done: make(chan struct{}), output: make(chan struct{})}

	running.Lock()
	if running.closed {
		running.Unlock()
		logFile.Close()
		return nil, fmt.Errorf("start %s: the tests are stopping", c.Name)
	}
	var stdout io.ReadCloser
	if c.Run != nil {
		stdout = s.runInProcess(c.Run, logFile)
	} else {
		stdout, err = s.startProcess(c, logFile)
	}
	if err == nil {
		running.servers[s] = true
	}
	running.Unlock()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}

	// The first line of stdout is the address; the rest of the output
	// goes to the log, which is closed once the program has exited.
	first := make(chan string, 1)
	go func() {
		defer close(s.output)
		defer stdout.Close()
		rd := bufio.NewReader(stdout)
		if c.Addr != "" {
			first <- c.Addr + "\n"
		} else {
			line, _ := rd.ReadString('\n')
			logFile.WriteString(line)
			first <- line
		}
		io.Copy(logFile, rd)
		<-s.done
		logFile.Close()
	}()

	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	select {
	case line := <-first:
		addr := strings.TrimSpace(line)
		if !strings.HasSuffix(line, "\n") {
			// Its stdout ended without a line: it has exited, or is
			// about to.
			select {
			case <-s.done:
			case <-time.After(drainTimeout):
			}
			s.Stop()
			return nil, fmt.Errorf("%s exited (%v) before printing its address; its log:\n%s", s.Name, s.exitErr, s.Tail(30))
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			s.Stop()
			return nil, fmt.Errorf("%s printed %q as the first line of stdout, want host:port; its log:\n%s", s.Name, line, s.Tail(30))
		}
		s.Addr, s.URL = addr, "http://"+addr
	case <-deadline.C:
		s.Stop()
		return nil, fmt.Errorf("%s did not print its address within %s; its log:\n%s", s.Name, startTimeout, s.Tail(30))
	}
	if c.Ready == "" {
		return s, nil
	}
	if err := s.waitReady(c.Ready, deadline.C); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// createLog creates name.log in dir, or name-2.log and so on when a
// program of the same name has run there before.
func createLog(dir, name string) (*os.File, error) {
	for i := 1; ; i++ {
		path := filepath.Join(dir, name+".log")
		if i > 1 {
			path = filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, i))
		}
		// O_APPEND: the program writes its stderr and this process the
		// rest of its stdout through the same open file.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if !errors.Is(err, os.ErrExist) {
			return f, err
		}
	}
}

// startProcess starts c as a process, its stderr in the log, and returns
// its stdout.
func (s *Server) startProcess(c Command, logFile *os.File) (io.ReadCloser, error) {
	fmt.Fprintf(logFile, "# %s %s\n", c.Path, strings.Join(c.Args, " "))
	for _, e := range c.Env {
		fmt.Fprintf(logFile, "# %s\n", e)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = environ(c.Env)
	cmd.Stdout, cmd.Stderr = pw, logFile
	cmd.SysProcAttr = sysProcAttr()
	s.cmd = cmd

	// Pdeathsig fires when the thread that started the process ends,
	// not the test binary, and a goroutine may move between threads, one
	// of which can end: start the process from a goroutine locked to its
	// thread until the process is reaped.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.exitErr = cmd.Wait()
		close(s.done)
	}()
	err = <-started
	pw.Close() // the child has its own copy
	if err != nil {
		pr.Close()
		return nil, err
	}
	return pr, nil
}

// runInProcess calls run in a goroutine, its stderr in the log, and
// returns its stdout.
func (s *Server) runInProcess(run RunFunc, logFile *os.File) io.ReadCloser {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	pr, pw := io.Pipe()
	go func() {
		err := run(ctx, pw, logFile)
		pw.Close()
		s.exitErr = err
		close(s.done)
	}()
	return pr
}

// essentials are the variables a process gets from the test's own
// environment; everything else comes from its Command.
var essentials = []string{"PATH", "HOME", "TMPDIR"}

func environ(env []string) []string {
	var out []string
	for _, k := range essentials {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return append(out, env...)
}

// waitReady polls GET path until it answers 200.
func (s *Server) waitReady(path string, deadline <-chan time.Time) error {
	probe := &http.Client{Timeout: 2 * time.Second}
	defer probe.CloseIdleConnections()
	for {
		resp, err := probe.Get(s.URL + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited (%v) before it was ready; its log:\n%s", s.Name, s.exitErr, s.Tail(30))
		case <-deadline:
			return fmt.Errorf("GET %s of %s never answered 200 within %s; its log:\n%s", path, s.Name, startTimeout, s.Tail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Pid is the program's process id, or 0 when it runs in the test's
// process.
func (s *Server) Pid() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Exited is closed once the program has exited.
func (s *Server) Exited() <-chan struct{} { return s.done }

// ExitErr is how the program exited (nil for status 0, or a run function
// that returned nil), once Exited is closed.
func (s *Server) ExitErr() error {
	<-s.done
	return s.exitErr
}

// Stop ends the program with SIGTERM (an in-process one by ending its
// context), or SIGKILL when it has not exited within 15 s, and checks
// that nothing of it is left: no process in its group, nothing listening
// on its address. It returns an error unless the program exited cleanly.
// Stopping a stopped program only reports again.
func (s *Server) Stop() error { return s.end(syscall.SIGTERM) }

// Kill ends the process with SIGKILL, as a crash or the OOM killer would,
// and checks that nothing of it is left. An in-process program is stopped
// as by Stop.
func (s *Server) Kill() error { return s.end(syscall.SIGKILL) }

func (s *Server) end(sig syscall.Signal) error {
	s.stopOnce.Do(func() { s.stopErr = s.terminate(sig) })
	return s.stopErr
}

func (s *Server) terminate(sig syscall.Signal) error {
	var errs []error
	if s.cmd != nil {
		s.signal(sig)
		select {
		case <-s.done:
			if sig == syscall.SIGTERM && s.exitErr != nil {
				errs = append(errs, fmt.Errorf("%s exited with %v, want status 0 on SIGTERM", s.Name, s.exitErr))
			}
		case <-time.After(stopTimeout):
			if sig == syscall.SIGKILL {
				errs = append(errs, fmt.Errorf("%s outlived SIGKILL by %s", s.Name, stopTimeout))
				break
			}
			s.signal(syscall.SIGKILL)
			select {
			case <-s.done:
				errs = append(errs, fmt.Errorf("%s ignored SIGTERM for %s and was killed", s.Name, stopTimeout))
			case <-time.After(stopTimeout):
				errs = append(errs, fmt.Errorf("%s ignored SIGTERM and outlived SIGKILL by %s", s.Name, stopTimeout))
			}
		}
		// Anything it started in its group goes with it.
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	} else {
		s.cancel()
		select {
		case <-s.done:
			if s.exitErr != nil {
				errs = append(errs, fmt.Errorf("%s returned %v after its context ended, want nil", s.Name, s.exitErr))
			}
		case <-time.After(stopTimeout):
			errs = append(errs, fmt.Errorf("%s did not return within %s of its context's end", s.Name, stopTimeout))
		}
	}
	select {
	case <-s.output:
	case <-time.After(drainTimeout):
	}
	running.Lock()
	delete(running.servers, s)
	running.Unlock()
	if left := s.leftovers(); left != "" {
		errs = append(errs, errors.New(left))
	}
	return errors.Join(errs...)
}

// signal sends sig to the process's group, unless it has exited.
func (s *Server) signal(sig syscall.Signal) {
	select {
	case <-s.done:
	default:
		syscall.Kill(-s.cmd.Process.Pid, sig)
	}
}

// leftovers describes what of a stopped program still runs or listens.
func (s *Server) leftovers() string {
	var left []string
	if s.cmd != nil {
		if err := syscall.Kill(-s.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			left = append(left, fmt.Sprintf("process group %d of %s still has processes", s.cmd.Process.Pid, s.Name))
		}
	}
	if s.Addr != "" {
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			c.Close()
			left = append(left, fmt.Sprintf("%s still accepts connections after %s stopped", s.Addr, s.Name))
		}
	}
	return strings.Join(left, "; ")
}

// StopAll stops every program still running, refuses to start any more,
// and returns what it found: for the end of a TestMain, or when the tests
// are interrupted.
func StopAll() []string {
	running.Lock()
	running.closed = true
	var servers []*Server
	for s := range running.servers {
		servers = append(servers, s)
	}
	running.Unlock()
	var left []string
	for _, s := range servers {
		if err := s.Stop(); err != nil {
			left = append(left, err.Error())
		} else {
			left = append(left, s.Name+" was still running")
		}
	}
	sort.Strings(left)
	return left
}

// Log returns what the program has written so far.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// Tail returns the last n lines of the program's log.
func (s *Server) Tail(n int) string { return Tail(s.LogPath, n) }

// Tail returns the last n lines of a file.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error() + "\n"
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, nil))
}

// LogName is a file name for the output called name of test t:
// TestX-sub.name.
func LogName(t testing.TB, name string) string {
	r := strings.NewReplacer("/", "-", " ", "_", ":", "", ",", "", "(", "", ")", "", "=", "-")
	return r.Replace(t.Name()) + "." + name
}
