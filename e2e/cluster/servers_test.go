//go:build e2e && linux

package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"authd/internal/authdtest"
)

// The PostgreSQL and Redis of the machine are shared by every test; a test
// that stops its database or its Redis runs one of its own, from the
// binaries installed on the machine. They are not authd's programs (they
// print no address), so they are started here rather than by authdtest,
// but with the same care: a clean environment, a process group of their
// own, killed by the kernel should the test binary die, every wait
// bounded, and everything removed when the test ends, failed or not.

const (
	serverStartTimeout = 30 * time.Second
	serverStopTimeout  = 10 * time.Second
)

// skipOrFail skips the test, or fails it under CI, where every server the
// tests need is promised.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("under CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// daemon is a server process started by a test.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited and been reaped
	err  error         // how it exited, once done is closed
}

// startDaemon starts path as a child process, as the user of cred (nil:
// the test's own), its output appended to logFile.
func startDaemon(name string, cred *syscall.Credential, logFile *os.File, path string, args ...string) (*daemon, error) {
	fmt.Fprintf(logFile, "# %s %s\n", path, strings.Join(args, " "))
	cmd := exec.Command(path, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{})}
	// Pdeathsig fires when the thread that started the process ends: keep
	// the starting goroutine on its thread until the process is reaped.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		d.err = cmd.Wait()
		close(d.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return d, nil
}

// exited reports whether the process has exited.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// kill sends sig to the process group and waits until the process has
// exited; whatever else of its group is left then gets SIGKILL.
func (d *daemon) kill(sig syscall.Signal) error {
	if !d.exited() {
		syscall.Kill(-d.cmd.Process.Pid, sig)
	}
	return d.wait()
}

// wait waits until the process has exited, SIGKILLs what is left of its
// group, and reports an error if the process outlived serverStopTimeout.
func (d *daemon) wait() error {
	var err error
	select {
	case <-d.done:
	case <-time.After(serverStopTimeout):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		err = fmt.Errorf("%s did not exit within %s, killed", d.name, serverStopTimeout)
		select {
		case <-d.done:
		case <-time.After(serverStopTimeout):
			return fmt.Errorf("%s outlived SIGKILL by %s", d.name, serverStopTimeout)
		}
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	return err
}

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// mustLog creates the log file of a server in a temporary folder of the
// test, shows its last lines when the test fails, and closes it.
func mustLog(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), authdtest.LogName(t, name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if t.Failed() {
			t.Logf("the last lines of %s:\n%s", f.Name(), authdtest.Tail(f.Name(), 40))
		}
	})
	return f
}

// waitFor calls ready until it returns nil, for at most
// serverStartTimeout, or until d exits.
func waitFor(d *daemon, ready func(context.Context) error) error {
	deadline := time.Now().Add(serverStartTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if d.exited() {
			return fmt.Errorf("%s exited (%v) before it answered: %w", d.name, d.err, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s: %w", d.name, serverStartTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// privatePostgres is a PostgreSQL server of one test, on a loopback port of
// its own, with fsync off: what it commits survives the server's crash,
// not the machine's.
type privatePostgres struct {
	bin  string              // folder of postgres, initdb and pg_ctl
	dir  string              // the data folder's parent and the socket's folder
	cred *syscall.Credential // the user it runs as; nil: the test's own
	port int
	log  *os.File
	proc *daemon // nil while stopped
}

// postgresBin returns the folder of the PostgreSQL server's programs: the
// one of initdb on PATH, else the newest of /usr/lib/postgresql/*/bin
// (Debian and Ubuntu keep them there, off PATH); "" when there is none.
func postgresBin() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

// mustPrivatePostgres creates a database cluster in a temporary folder and
// starts a server on it, which the test may stop and start again; both go
// when the test ends. It skips the test (fails it under CI) when the
// server's programs are not installed. Run as root, the server runs as
// the postgres user, as initdb refuses to run as root.
func mustPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		skipOrFail(t, "no PostgreSQL server programs (initdb, pg_ctl, postgres) on PATH nor in /usr/lib/postgresql/*/bin: install the postgresql package")
	}
	p := &privatePostgres{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			skipOrFail(t, "running as root, initdb needs another user, and there is no postgres user: %v", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	// Not t.TempDir: its parent is the test user's own, which the postgres
	// user may not enter.
	dir, err := os.MkdirTemp("", "authd-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove the private PostgreSQL's folder: %v", err)
		}
	})
	if p.cred != nil {
		if err := os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	p.log = mustLog(t, "postgres")
	if err := p.run("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "--no-locale", "--encoding=UTF8", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	p.port = freePort(t)
	t.Cleanup(func() {
		if p.proc != nil {
			// An immediate shutdown: the data goes with the folder.
			if err := p.proc.kill(syscall.SIGQUIT); err != nil {
				t.Error(err)
			}
		}
	})
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *privatePostgres) data() string { return filepath.Join(p.dir, "data") }

// URL is the server's postgres database, as its superuser.
func (p *privatePostgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// start starts the server and waits until it accepts connections.
func (p *privatePostgres) start() error {
	if p.proc != nil {
		return errors.New("the private PostgreSQL runs already")
	}
	d, err := startDaemon("postgres", p.cred, p.log, filepath.Join(p.bin, "postgres"),
		"-D", p.data(),
		"-p", strconv.Itoa(p.port),
		"-k", p.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=40",
	)
	if err != nil {
		return err
	}
	p.proc = d
	return waitFor(d, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, p.URL())
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
}

// crash stops the server as `pg_ctl stop -m immediate` does: at once,
// without a checkpoint, its clients cut off; the next start recovers from
// the log of what was committed.
func (p *privatePostgres) crash() error {
	if p.proc == nil {
		return errors.New("the private PostgreSQL is not running")
	}
	if err := p.run("pg_ctl", "stop", "-D", p.data(), "-m", "immediate", "-w", "-t", "10"); err != nil {
		return err
	}
	d := p.proc
	p.proc = nil
	return d.wait()
}

// run runs one of the server's programs to its end, as the server's user.
func (p *privatePostgres) run(program string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), serverStartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, program), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", cmd, err, out)
	}
	return nil
}

// privateRedis is a Redis server of one test, on a loopback port of its
// own, that keeps nothing on disk: killed and started again, it is empty.
type privateRedis struct {
	path string
	dir  string
	port int
	log  *os.File
	proc *daemon // nil while killed
}

// mustPrivateRedis starts a Redis server, which the test may kill and
// start again; it goes when the test ends. It skips the test (fails it
// under CI) when redis-server is not installed.
func mustPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "no redis-server on PATH: install the redis-server package")
	}
	r := &privateRedis{path: path, dir: t.TempDir(), port: freePort(t), log: mustLog(t, "redis")}
	t.Cleanup(func() {
		if r.proc != nil {
			if err := r.proc.kill(syscall.SIGTERM); err != nil {
				t.Error(err)
			}
		}
	})
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// URL is the server's database 0.
func (r *privateRedis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// start starts the server on its port and waits until it answers PING.
func (r *privateRedis) start() error {
	if r.proc != nil {
		return errors.New("the private Redis runs already")
	}
	d, err := startDaemon("redis-server", nil, r.log, r.path,
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", r.dir,
	)
	if err != nil {
		return err
	}
	r.proc = d
	opts, err := redis.ParseURL(r.URL())
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	return waitFor(d, func(ctx context.Context) error { return c.Ping(ctx).Err() })
}

// kill ends the server with SIGKILL, as a crash or the OOM killer would.
func (r *privateRedis) kill() error {
	if r.proc == nil {
		return errors.New("the private Redis is not running")
	}
	d := r.proc
	r.proc = nil
	return d.kill(syscall.SIGKILL)
}
