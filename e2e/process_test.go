//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
	startTimeout = 30 * time.Second // from exec to ready
	stopTimeout  = 15 * time.Second // from SIGTERM to exit, before SIGKILL
)

// proc is a program the suite started, in a process group of its own,
// its standard output and error going line by line to a log file.
type proc struct {
	name    string
	logPath string
	addr    string // host:port it listens on
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // cmd.Wait's result, once done is closed
	output  chan struct{} // closed when its output is all in the log

	stopOnce sync.Once
	stopErr  error
}

// running holds every process started and not yet stopped. Once closed,
// at the end of the suite or when it is interrupted, nothing more starts.
var running = struct {
	sync.Mutex
	procs  map[*proc]bool
	closed bool
}{procs: map[*proc]bool{}}

// procSpec says how to start a program and find its address.
type procSpec struct {
	name string // also the log file's name
	path string
	args []string
	env  []string // added to a copy of this process's environment without AUTHD_* and FAKEINTRA_*
	// addrIn finds the listening address in a line of the output.
	addrIn func(line string) (string, bool)
	// ready is a URL path answering 200 once the program serves.
	ready string
}

// start runs a program and waits until it listens and is ready.
func start(s procSpec) (*proc, error) {
	logPath := filepath.Join(outDir, s.name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logFile, "# %s %s\n", s.path, strings.Join(s.args, " "))
	for _, e := range s.env {
		fmt.Fprintf(logFile, "# %s\n", e)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	cmd := exec.Command(s.path, s.args...)
	cmd.Env = append(cleanEnv(), s.env...)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own group: a terminal's Ctrl-C reaches the test binary only,
		// which then stops the group in order.
		Setpgid: true,
		// If the test binary dies (a panic, go test's -timeout), the
		// kernel kills the process.
		Pdeathsig: syscall.SIGKILL,
	}
	p := &proc{name: s.name, logPath: logPath, cmd: cmd, done: make(chan struct{}), output: make(chan struct{})}

	// Pdeathsig fires when the thread that started the process ends, not
	// the test binary, and a goroutine may move between threads, one of
	// which can end (as one does when a goroutine locked to it returns):
	// start it from a goroutine locked to its thread until it is reaped.
	started := make(chan error, 1)
	running.Lock()
	if running.closed {
		running.Unlock()
		pr.Close()
		pw.Close()
		logFile.Close()
		return nil, fmt.Errorf("start %s: the suite is stopping", s.name)
	}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	err = <-started
	if err == nil {
		running.procs[p] = true
	}
	running.Unlock()
	pw.Close() // the child has its own copy
	if err != nil {
		pr.Close()
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}

	addrc := make(chan string, 1)
	go func() {
		defer close(p.output)
		defer logFile.Close()
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if !found {
				if a, ok := s.addrIn(line); ok {
					found = true
					addrc <- a
				}
			}
		}
	}()

	deadline := time.After(startTimeout)
	select {
	case p.addr = <-addrc:
	case <-p.done:
		p.stop()
		return nil, fmt.Errorf("%s exited (%v) before listening:\n%s", s.name, p.waitErr, tail(logPath, 30))
	case <-deadline:
		p.stop()
		return nil, fmt.Errorf("%s did not print its address within %s:\n%s", s.name, startTimeout, tail(logPath, 30))
	}
	probe := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := probe.Get("http://" + p.addr + s.ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			p.stop()
			return nil, fmt.Errorf("%s exited (%v) before it was ready:\n%s", s.name, p.waitErr, tail(logPath, 30))
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("GET %s of %s never answered 200 within %s:\n%s", s.ready, s.name, startTimeout, tail(logPath, 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cleanEnv is this process's environment without settings of authd or
// fakeintra, which would otherwise leak from a developer's shell into the
// programs under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AUTHD_") || strings.HasPrefix(kv, "FAKEINTRA_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// signal sends sig to the process's group, unless it has exited.
func (p *proc) signal(sig syscall.Signal) {
	select {
	case <-p.done:
	default:
		syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// stop ends the process with SIGTERM, or SIGKILL when it does not exit in
// time, and checks that nothing of it is left: no process in its group,
// nothing listening on its port. It returns the exit error (nil for a
// clean exit with status 0). Stopping a stopped process only reports
// again: its port may belong to another process by then.
func (p *proc) stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.terminate() })
	return p.stopErr
}

func (p *proc) terminate() error {
	p.signal(syscall.SIGTERM)
	var killed bool
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		killed = true
		p.signal(syscall.SIGKILL)
		<-p.done
	}
	// Anything the process started in its group goes with it.
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.output:
	case <-time.After(5 * time.Second):
	}
	running.Lock()
	delete(running.procs, p)
	running.Unlock()

	var errs []error
	if killed {
		errs = append(errs, fmt.Errorf("%s ignored SIGTERM for %s and was killed", p.name, stopTimeout))
	} else if p.waitErr != nil {
		errs = append(errs, fmt.Errorf("%s exited after SIGTERM with %v, want status 0", p.name, p.waitErr))
	}
	if left := p.leftovers(); left != "" {
		errs = append(errs, errors.New(left))
	}
	return errors.Join(errs...)
}

// leftovers describes what of a stopped process still runs or listens.
func (p *proc) leftovers() string {
	var left []string
	if err := syscall.Kill(-p.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		left = append(left, fmt.Sprintf("process group %d of %s still has processes", p.cmd.Process.Pid, p.name))
	}
	if p.addr != "" {
		if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
			c.Close()
			left = append(left, fmt.Sprintf("%s still accepts connections after %s stopped", p.addr, p.name))
		}
	}
	return strings.Join(left, "; ")
}

// stopAll stops what is still running at the end of the suite, or when
// it is interrupted, and returns what was left.
func stopAll() []string {
	running.Lock()
	running.closed = true
	var procs []*proc
	for p := range running.procs {
		procs = append(procs, p)
	}
	running.Unlock()
	var left []string
	for _, p := range procs {
		if err := p.stop(); err != nil {
			left = append(left, err.Error())
		} else {
			left = append(left, p.name+" was still running")
		}
	}
	sort.Strings(left)
	return left
}

// mustStart starts a program for one test, which stops it when it ends
// and fails if the program did not exit cleanly on SIGTERM. When the test
// fails, the program's last log lines go to the test's output.
func mustStart(t *testing.T, s procSpec) *proc {
	t.Helper()
	s.name = logName(t, s.name)
	p, err := start(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("the last lines of %s:\n%s", p.logPath, tail(p.logPath, 60))
		}
	})
	return p
}

// logName is a file name for a process of test t.
func logName(t *testing.T, name string) string {
	r := strings.NewReplacer("/", "-", " ", "_", ":", "", ",", "", "(", "", ")", "", "=", "-")
	return r.Replace(t.Name()) + "." + name
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
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

// addrLine reads a program that prints its address as the first line.
func addrLine(line string) (string, bool) {
	line = strings.TrimSpace(line)
	if _, _, err := net.SplitHostPort(line); err != nil {
		return "", false
	}
	return line, true
}

// listeningLog reads authd's JSON log line {"msg":"listening","addr":...}.
func listeningLog(line string) (string, bool) {
	var rec struct{ Msg, Addr string }
	if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg != "listening" || rec.Addr == "" {
		return "", false
	}
	return rec.Addr, true
}
