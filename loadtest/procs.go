package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// goBuild builds a static binary of pkg into out, as make build does.
func goBuild(ctx context.Context, pkg, out string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// proc is a program started by the harness.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string        // the address it listens on
	log  string        // where its output goes
	done chan struct{} // closed once it has exited
	err  error         // its exit status, once done
	once sync.Once
}

const (
	startTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
)

// startProc runs path with args and env, its output in logPath, and waits
// until addrOf has found its listening address in a line of the stream it
// watches (stdout when onStdout, else stderr).
func startProc(ctx context.Context, name, path string, args, env []string, logPath string, onStdout bool, addrOf func(line string) (string, bool)) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	found := make(chan string, 1)
	watch := &lineWatcher{w: logf, match: addrOf, found: found}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, watch
	if onStdout {
		cmd.Stdout, cmd.Stderr = watch, logf
	}
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	select {
	case p.addr = <-found:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening (%v); its log:\n%s", name, p.err, tail(logPath, 20))
	case <-time.After(startTimeout):
		p.stop()
		return nil, fmt.Errorf("%s did not say where it listens within %s; its log:\n%s", name, startTimeout, tail(logPath, 20))
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop asks the process to drain and exit, and kills it if it has not
// within stopTimeout.
func (p *proc) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// url is the base URL of the process.
func (p *proc) url() string { return "http://" + p.addr }

// waitReady polls GET /readyz until it answers 200.
func (p *proc) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := newClient(2*time.Second, 0)
	defer client.CloseIdleConnections()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url()+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v); its log:\n%s", p.name, p.err, tail(p.log, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w", p.name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lineWatcher copies a process's output to w and hands the first line
// that match accepts to found.
type lineWatcher struct {
	w     io.Writer
	match func(string) (string, bool)
	found chan<- string
	buf   []byte
	done  bool
}

func (l *lineWatcher) Write(p []byte) (int, error) {
	if !l.done {
		l.buf = append(l.buf, p...)
		for !l.done {
			i := bytes.IndexByte(l.buf, '\n')
			if i < 0 {
				break
			}
			if v, ok := l.match(string(l.buf[:i])); ok {
				l.found <- v
				l.done = true
			}
			l.buf = l.buf[i+1:]
		}
		if l.done {
			l.buf = nil
		}
	}
	return l.w.Write(p)
}

// listeningAddr reads authd's start-up log line {"msg":"listening","addr":...}.
func listeningAddr(line string) (string, bool) {
	var l struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "listening" || l.Addr == "" {
		return "", false
	}
	return l.Addr, true
}

// firstLine takes the first line as it is: fakeintra prints its address so.
func firstLine(line string) (string, bool) {
	line = strings.TrimSpace(line)
	return line, line != ""
}

// childEnv is the harness's environment without any AUTHD_ setting of
// the operator's, plus the given settings.
func childEnv(settings map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHD_") && !strings.HasPrefix(kv, "FAKEINTRA_") {
			env = append(env, kv)
		}
	}
	for k, v := range settings {
		env = append(env, k+"="+v)
	}
	return env
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// peakRSS is the VmHWM of a process (its resident set's high-water mark)
// in bytes, from /proc.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return statusField(b, "VmHWM")
}

// statusField reads a "Name:   1234 kB" line of /proc/<pid>/status, in bytes.
func statusField(status []byte, name string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected value %q", name, v)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New(name + " not found")
}

// cpuModel names the processor, for the report.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
