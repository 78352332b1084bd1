package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"authd/internal/authdtest"
)

// cli runs one authd command line against env and returns its output.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &out)
	return out.String(), err
}

func TestUserCommands(t *testing.T) {
	t.Parallel()
	env := map[string]string{"AUTHD_DB": filepath.Join(t.TempDir(), "authd.db"), "AUTHD_COOKIE_SECURE": "false"}
	steps := []struct {
		args    []string
		stdin   string
		wantErr string // substring of the error; empty: success
		wantOut string // substring of the output
	}{
		{args: []string{"migrate"}, wantOut: "schema version"},
		{args: []string{"migrate"}, wantOut: "applied 0 migration(s)"},
		{args: []string{"user", "add", "--email", "dana@example.com", "--password-stdin", "dana"}, stdin: "dana's password\n", wantOut: "created user dana"},
		{args: []string{"user", "add", "--password-stdin", "DANA"}, stdin: "another password\n", wantErr: "taken"},
		{args: []string{"user", "add", "--password-stdin", "x"}, stdin: "long enough\n", wantErr: "3 to 32"},
		{args: []string{"user", "add", "--password-stdin", "erin"}, stdin: "short\n", wantErr: "8 to 1024"},
		{args: []string{"user", "add", "--password-stdin", "erin"}, stdin: "", wantErr: "no password"},
		{args: []string{"user", "add", "erin"}, stdin: "", wantErr: "--password-stdin"},
		{args: []string{"user", "passwd", "--password-stdin", "nobody"}, stdin: "whatever pw\n", wantErr: `no user "nobody"`},
		{args: []string{"user", "passwd", "--password-stdin", "dana"}, stdin: "dana's new password\r\n", wantOut: "password of dana set"},
		{args: []string{"user", "unlink", "dana"}, wantErr: "no 42 account linked"},
		{args: []string{"user", "unlink", "nobody"}, wantErr: `no user "nobody"`},
		{args: []string{"user", "unlink"}, wantErr: "exactly one USERNAME"},
		{args: []string{"user", "disable", "dana"}, wantOut: "disabled dana"},
		{args: []string{"user", "list"}, wantOut: "dana"},
		{args: []string{"user", "enable", "dana"}, wantOut: "enabled dana"},
		{args: []string{"user", "frobnicate", "dana"}, wantErr: "unknown subcommand"},
		{args: []string{"user"}, wantErr: "want add"},
		{args: []string{"version"}, wantOut: "authd "},
		{args: []string{"bogus"}, wantErr: "unknown command"},
	}
	for _, s := range steps {
		out, err := cli(t, env, s.stdin, s.args...)
		switch {
		case s.wantErr == "" && err != nil:
			t.Errorf("authd %v: %v\n%s", s.args, err, out)
		case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
			t.Errorf("authd %v = %v, want an error containing %q", s.args, err, s.wantErr)
		case !strings.Contains(out, s.wantOut):
			t.Errorf("authd %v printed %q, want %q in it", s.args, out, s.wantOut)
		}
	}
	out, _ := cli(t, env, "", "user", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "dana@example.com") || !strings.Contains(lines[1], "false") {
		t.Errorf("user list =\n%s\nwant a header and dana, enabled", out)
	}

	// The password set by passwd is the one the server accepts.
	s := mustRun(t, env)
	if r := authdtest.NewClient(t, s.URL).Login("dana", "dana's new password"); r.Status != 200 {
		t.Errorf("login with the password set by passwd = %s", r)
	}
}
