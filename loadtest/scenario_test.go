package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeScenario returns its section, or fails with err.
type fakeScenario struct {
	label string
	sec   section
	err   error
}

func (f fakeScenario) name() string { return f.label }
func (f fakeScenario) run(context.Context, *harness) (section, error) {
	return f.sec, f.err
}

// passed is a section that passed.
type passed string

func (p passed) render(w io.Writer) { fmt.Fprintf(w, "## %s\n\n", string(p)) }
func (passed) failed() bool         { return false }
func (passed) plots() []string      { return nil }

func mustHarness(t *testing.T, m mode, perf bool) (*harness, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	h := &harness{mode: m, opts: options{perf: perf}, rep: &report{}, audit: newCookieAudit(),
		progress: func(format string, a ...any) { fmt.Fprintf(&out, format+"\n", a...) }}
	return h, &out
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	names := func(list []scenario) []string {
		var out []string
		for _, sc := range list {
			out = append(out, sc.name())
		}
		return out
	}
	throttles := []string{"scenarios 1 and 2, every scope from two clients at once", "scenario 3, concurrent logins of one client", "scenario 4, cookie transitions"}
	tests := []struct {
		name string
		mode mode
		perf bool
		want []string
	}{
		{"quick", quickMode, true, throttles},
		{"full", fullMode, true, append(throttles[:3:3], "scenario 5, throughput and latency")},
		{"full without -perf", fullMode, false, throttles},
	}
	for _, tt := range tests {
		h, _ := mustHarness(t, tt.mode, tt.perf)
		if diff := cmp.Diff(tt.want, names(h.scenarios())); diff != "" {
			t.Errorf("%s: scenarios (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-only", "memory", "-authd-env", "GOGC=50", "-authd-env", "AUTHD_MEMORY_LIMIT=off"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(o.only, []string{"memory"}) || !cmp.Equal(o.authdEnv, []string{"GOGC=50", "AUTHD_MEMORY_LIMIT=off"}) {
		t.Errorf("options %+v, want -only memory and both settings", o)
	}
	for _, args := range [][]string{
		{"-only", "throttles"},
		{"-authd-env", "GOGC"},
		{"-authd-env", "=50"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted them", args)
		}
	}
}

func TestOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		only       string
		mode       mode
		want       []string
		err        bool
		memoryOnly bool
	}{
		{"perf", fullMode, []string{"scenario 5, throughput and latency"}, false, false},
		{"cookies, scopes", fullMode, []string{"scenarios 1 and 2, every scope from two clients at once", "scenario 4, cookie transitions"}, false, false},
		{"perf", quickMode, nil, false, false},
		{"perf,nothing", fullMode, nil, true, false},
		{"memory", fullMode, []string{"scenario 5, throughput and latency"}, false, true},
		{"memory,perf", fullMode, []string{"scenario 5, throughput and latency"}, false, false},
		{"memory", quickMode, nil, false, true},
	}
	for _, tt := range tests {
		only, err := parseOnly(tt.only)
		if (err != nil) != tt.err {
			t.Errorf("-only %q: error %v, want one: %v", tt.only, err, tt.err)
		}
		if err != nil {
			continue
		}
		h, _ := mustHarness(t, tt.mode, true)
		h.opts.only = only
		var got []string
		for _, sc := range h.scenarios() {
			got = append(got, sc.name())
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("-only %q in %s mode: scenarios (-want +got):\n%s", tt.only, tt.mode.name, diff)
		}
		if h.memoryOnly() != tt.memoryOnly {
			t.Errorf("-only %q: memoryOnly() = %v, want %v", tt.only, h.memoryOnly(), tt.memoryOnly)
		}
	}
}

func TestRunScenarios(t *testing.T) {
	t.Parallel()
	t.Run("every scenario runs", func(t *testing.T) {
		t.Parallel()
		h, out := mustHarness(t, quickMode, false)
		h.audit.observe("POST", "http://127.0.0.1:1/auth/login/", 200, nil)
		err := h.runScenarios(t.Context(), []scenario{
			fakeScenario{label: "one", sec: passed("one")}, cookieScenario{}, fakeScenario{label: "two", sec: passed("two")},
		})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		h.rep.render(&b)
		for _, want := range []string{"## one\n", "## Scenario 4: cookie transitions", "## two\n"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, b.String())
			}
		}
		if i, j := strings.Index(b.String(), "## one"), strings.Index(b.String(), "## two"); i > j {
			t.Error("sections out of order")
		}
		// The login answered 200 without a refresh_token: the audit
		// found it and the report fails.
		if !h.rep.failed() || !strings.Contains(b.String(), "FAIL") {
			t.Error("a cookie exception passes")
		}
		want := "scenario 4 cookie transitions: FAIL (1 responses checked, 1 exceptions)\n" +
			"scenario 4 cookie transitions over the whole run: FAIL (1 responses checked, 1 exceptions)\n"
		if diff := cmp.Diff(want, out.String()); diff != "" {
			t.Errorf("progress (-want +got):\n%s", diff)
		}
	})
	t.Run("the audit last", func(t *testing.T) {
		t.Parallel()
		h, out := mustHarness(t, quickMode, false)
		if err := h.runScenarios(t.Context(), []scenario{fakeScenario{label: "one", sec: passed("one")}, cookieScenario{}}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "over the whole run") {
			t.Errorf("the tally is repeated with nothing run after it:\n%s", out)
		}
	})
	t.Run("a scenario fails", func(t *testing.T) {
		t.Parallel()
		h, _ := mustHarness(t, quickMode, false)
		boom := errors.New("boom")
		err := h.runScenarios(t.Context(), []scenario{
			fakeScenario{label: "one", sec: passed("one")}, fakeScenario{label: "two", err: boom}, fakeScenario{label: "three", sec: passed("three")},
		})
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "two: ") {
			t.Errorf("error %v, want two's, named", err)
		}
		want := []section{passed("one"), notRun{"two"}, notRun{"three"}}
		if diff := cmp.Diff(want, h.rep.Sections, cmp.AllowUnexported(notRun{})); diff != "" {
			t.Errorf("sections (-want +got):\n%s", diff)
		}
		if !h.rep.failed() {
			t.Error("a report with scenarios not run passes")
		}
	})
}
