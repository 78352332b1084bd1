package authdtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Try calls f outside any test, for a program that drives authd with this
// package, such as the load test. f's t acts as a test's would: Fatal
// ends f, Error marks it failed and lets it go on, and its cleanups run,
// last added first, once f has returned. Try returns nil when f did not
// fail, else an error of everything f logged and reported. A skip is a
// failure: nothing outside a test may pass by skipping.
//
// f runs in a goroutine of its own, as a test does, and t.Context() is
// derived from ctx and ends before the cleanups run. Setenv, Chdir and
// ArtifactDir, which belong to a test binary, fail.
func Try(ctx context.Context, f func(t testing.TB)) error {
	ctx, cancel := context.WithCancel(ctx)
	t := &tryTB{ctx: ctx}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(t) // Fatal ends it here, by runtime.Goexit
	}()
	<-done
	cancel()
	t.cleanUp()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.failed {
		return nil
	}
	return errors.New(strings.TrimSuffix(t.log.String(), "\n"))
}

// tryTB is the testing.TB of Try. It embeds the interface only to
// satisfy its unexported method; every exported one is its own.
type tryTB struct {
	testing.TB

	ctx      context.Context
	mu       sync.Mutex
	log      strings.Builder
	failed   bool
	skipped  bool
	cleanups []func()
}

// cleanUp runs the cleanups, last added first, including those added by
// a cleanup; a cleanup's Fatal ends that cleanup alone.
func (t *tryTB) cleanUp() {
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.mu.Unlock()
			return
		}
		last := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		done := make(chan struct{})
		go func() {
			defer close(done)
			last()
		}()
		<-done
	}
}

func (t *tryTB) logLine(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.log.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		t.log.WriteByte('\n')
	}
}

func (t *tryTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *tryTB) Log(args ...any)                 { t.logLine(fmt.Sprintln(args...)) }
func (t *tryTB) Logf(format string, args ...any) { t.logLine(fmt.Sprintf(format, args...)) }
func (t *tryTB) Attr(key, value string)          { t.logLine(key + ": " + value) }
func (t *tryTB) Output() io.Writer               { return tryOutput{t} }
func (t *tryTB) Helper()                         {}
func (t *tryTB) Name() string                    { return "try" }
func (t *tryTB) Context() context.Context        { return t.ctx }

func (t *tryTB) Fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}

func (t *tryTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *tryTB) FailNow() {
	t.Fail()
	runtime.Goexit()
}

func (t *tryTB) Error(args ...any)                 { t.Log(args...); t.Fail() }
func (t *tryTB) Errorf(format string, args ...any) { t.Logf(format, args...); t.Fail() }
func (t *tryTB) Fatal(args ...any)                 { t.Log(args...); t.FailNow() }
func (t *tryTB) Fatalf(format string, args ...any) { t.Logf(format, args...); t.FailNow() }

func (t *tryTB) SkipNow() {
	t.mu.Lock()
	t.skipped = true
	t.mu.Unlock()
	t.Fatal("skipped outside a test")
}

func (t *tryTB) Skip(args ...any)                 { t.Log(args...); t.SkipNow() }
func (t *tryTB) Skipf(format string, args ...any) { t.Logf(format, args...); t.SkipNow() }

func (t *tryTB) Skipped() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.skipped
}

func (t *tryTB) TempDir() string {
	dir, err := os.MkdirTemp("", "authdtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *tryTB) Setenv(key, _ string) { t.Fatalf("Setenv(%q) outside a test", key) }
func (t *tryTB) Chdir(dir string)     { t.Fatalf("Chdir(%q) outside a test", dir) }
func (t *tryTB) ArtifactDir() string {
	t.Fatal("ArtifactDir outside a test")
	return ""
}

// tryOutput is the io.Writer of Output: what is written goes to the log.
type tryOutput struct{ t *tryTB }

func (o tryOutput) Write(p []byte) (int, error) {
	o.t.logLine(string(p))
	return len(p), nil
}
