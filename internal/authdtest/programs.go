package authdtest

import (
	"fmt"
	"net/http"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// AuthdCommand is `authd serve` of the binary bin on a free loopback port,
// with settings (AUTHD_X=value) as its whole configuration; it is ready
// once /readyz answers 200.
func AuthdCommand(bin string, settings ...string) Command {
	return Command{
		Name:  "authd",
		Path:  bin,
		Args:  []string{"serve"},
		Env:   append([]string{"AUTHD_ADDR=127.0.0.1:0"}, settings...),
		Ready: "/readyz",
	}
}

// FakeintraCommand is the fake 42 provider of the binary bin on a free
// loopback port, with args added to its command line; it is ready once
// its control endpoint answers.
func FakeintraCommand(bin string, args ...string) Command {
	return Command{
		Name:  "fakeintra",
		Path:  bin,
		Args:  append([]string{"-addr", "127.0.0.1:0"}, args...),
		Ready: "/_fake/faults",
	}
}

// Fakeintra is a running fake 42 provider, driven through its control
// endpoint.
type Fakeintra struct {
	*Server
}

// MustFault sets a fault, e.g. {"endpoint":"token","kind":"status","status":503}.
func (f Fakeintra) MustFault(t testing.TB, fault string) {
	t.Helper()
	resp, err := http.Post(f.URL+"/_fake/faults", "application/json", strings.NewReader(fault))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /_fake/faults %s = %d", fault, resp.StatusCode)
	}
}

// MustClearFaults clears every fault, releasing calls that hang.
func (f Fakeintra) MustClearFaults(t testing.TB) {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, f.URL+"/_fake/faults", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /_fake/faults = %d", resp.StatusCode)
	}
}

// Build compiles packages of this module, by import path
// (authd/cmd/authd), into dir; each binary is named after the last
// element of its path.
func Build(dir string, pkgs ...string) error {
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

// MustBuild compiles one package into a temporary folder of the test and
// returns the binary's path.
func MustBuild(t testing.TB, pkg string) string {
	t.Helper()
	dir := t.TempDir()
	if err := Build(dir, pkg); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, path.Base(pkg))
}
