//go:build e2e

// Package e2e tests the whole system as its users run it: the authd and
// fakeintra binaries as processes of their own on free loopback ports, each
// authd on a fresh database, driven over HTTP with real cookie jars and,
// through the authd-demo page, by a real headless Chromium.
//
// Run it with `make e2e`, or `go test -tags e2e -count=1 -v ./e2e/`.
// Settings, all optional:
//
//	AUTHD_E2E_BIN       folder holding authd, fakeintra and authd-demo (make
//	                    e2e passes bin/); unset: the suite builds them itself
//	AUTHD_E2E_OUT       folder for the processes' logs and the screenshots;
//	                    e2e/out by default
//	AUTHD_E2E_CHROMIUM  the browser; /usr/bin/chromium by default
//	CI                  when set, a missing browser fails the browser test
//	                    instead of skipping it
//
// Every process is started by internal/authdtest, with no settings but the
// test's, in a process group of its own, and stopped with SIGTERM (then
// SIGKILL) when its test ends, whatever happens; if the test binary itself
// dies, the kernel kills them (Pdeathsig). The suite fails if a process
// group or a listening port outlives it.
package e2e

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"authd/internal/authdtest"
)

// Paths of the binaries under test, set by TestMain.
var bins struct {
	authd, fakeintra, demo string
}

// outDir keeps the logs of every process and the browser's screenshots.
var outDir string

// repoRoot is the module's root folder.
var repoRoot string

// provider is the fake 42 provider that the tests share; tests that
// inject faults start their own.
var provider authdtest.Fakeintra

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	began := time.Now()
	var err error
	if repoRoot, err = filepath.Abs(".."); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if outDir, err = prepareOutDir(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: output folder:", err)
		return 1
	}
	defer func() {
		if leftovers := authdtest.StopAll(); len(leftovers) > 0 {
			fmt.Fprintln(os.Stderr, "e2e: FAIL: left running after the tests:", strings.Join(leftovers, "; "))
			code = 1
		}
		fmt.Printf("e2e: logs and screenshots in %s; %s in all\n", outDir, time.Since(began).Round(100*time.Millisecond))
	}()

	cleanup, err := findBinaries()
	defer cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	// Interrupted (Ctrl-C, or a CI job cancelled), stop the processes in
	// order rather than leave them to the kernel.
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-interrupt
		fmt.Fprintf(os.Stderr, "e2e: %v: stopping every process; logs in %s\n", sig, outDir)
		for _, left := range authdtest.StopAll() {
			fmt.Fprintln(os.Stderr, "e2e:", left)
		}
		cleanup()
		os.Exit(1)
	}()
	shared := providerCommand()
	shared.LogDir = outDir
	s, err := authdtest.Start(shared)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start fakeintra:", err)
		return 1
	}
	provider = authdtest.Fakeintra{Server: s}

	code = m.Run()

	if err := provider.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: fakeintra: %v\n", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: the last lines of %s:\n%s", provider.LogPath, provider.Tail(40))
	}
	return code
}

// prepareOutDir creates the output folder and removes the logs and
// screenshots of an earlier run.
func prepareOutDir() (string, error) {
	dir := os.Getenv("AUTHD_E2E_OUT")
	if dir == "" {
		dir = "out"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, pattern := range []string{"*.log", "*.png"} {
		old, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range old {
			os.Remove(f)
		}
	}
	return dir, nil
}

// findBinaries uses the binaries of AUTHD_E2E_BIN, or builds them from
// this source tree into a temporary folder, which cleanup removes. It
// never picks up bin/ on its own: an old build there would be tested in
// place of the code at hand.
func findBinaries() (cleanup func(), err error) {
	cleanup = func() {}
	dir := os.Getenv("AUTHD_E2E_BIN")
	if dir == "" {
		tmp, err := os.MkdirTemp("", "authd-e2e-bin-")
		if err != nil {
			return cleanup, err
		}
		cleanup = func() { os.RemoveAll(tmp) }
		start := time.Now()
		if err := authdtest.Build(tmp, "authd/cmd/authd", "authd/cmd/fakeintra", "authd/cmd/authd-demo"); err != nil {
			return cleanup, err
		}
		fmt.Printf("e2e: built authd, fakeintra and authd-demo in %s\n", time.Since(start).Round(100*time.Millisecond))
		dir = tmp
	}
	bins.authd = filepath.Join(dir, "authd")
	bins.fakeintra = filepath.Join(dir, "fakeintra")
	bins.demo = filepath.Join(dir, "authd-demo")
	for _, p := range []string{bins.authd, bins.fakeintra, bins.demo} {
		if _, err := os.Stat(p); err != nil {
			return cleanup, fmt.Errorf("AUTHD_E2E_BIN=%s: %w", dir, err)
		}
	}
	return cleanup, nil
}
