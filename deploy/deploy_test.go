// Package deploy holds the deployment files (the image, the compose
// example, the Grafana dashboard); its tests check them, since no
// container engine runs the tests.
package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"authd/internal/account"
	"authd/internal/metrics"
	"authd/internal/throttle"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
}

// parseDockerfile reads the instructions of a Dockerfile: comments and
// blank lines dropped, lines ending in a backslash joined to the next.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("%s ends in a continuation", path)
	}
	known := []string{"FROM", "WORKDIR", "ENV", "COPY", "RUN", "ARG", "USER", "EXPOSE", "VOLUME", "HEALTHCHECK", "ENTRYPOINT", "CMD", "LABEL"}
	for _, in := range out {
		if !slices.Contains(known, in.cmd) {
			t.Errorf("%s: unknown instruction %q", path, in.cmd)
		}
	}
	return out
}

// execForm reads a JSON array argument (exec form, no shell).
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Fatalf("%s %s: not the exec form (a JSON array): %v", what, args, err)
	}
	return v
}

// TestDockerfile checks the image: built in a stage of its own with the
// flags of `make build`, a final stage from a static distroless image
// with no shell, a user that is not root, and the healthcheck subcommand
// in exec form.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	ins := parseDockerfile(t, "Dockerfile")
	var stages []int
	for i, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, i)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d FROM, want a build stage and a final one", len(stages))
	}
	build, final := ins[:stages[len(stages)-1]], ins[stages[len(stages)-1]:]
	if img := final[0].args; !strings.HasPrefix(img, "gcr.io/distroless/static") && img != "scratch" {
		t.Errorf("final image %q, want distroless static or scratch (static binary, no shell)", img)
	}

	// The build: CGO_ENABLED=0 and the Makefile's flags.
	var env, run string
	for _, in := range build {
		switch {
		case in.cmd == "ENV":
			env += " " + in.args
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			run = in.args
		}
	}
	if !strings.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("the build stage does not set CGO_ENABLED=0: the binary would not be static")
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	goflags := regexp.MustCompile(`(?m)^GOFLAGS\s*:=\s*(.*)$`).FindSubmatch(makefile)
	if goflags == nil {
		t.Fatal("the Makefile sets no GOFLAGS")
	}
	want := "go build " + strings.TrimSpace(string(goflags[1])) + " -o /out/authd ./cmd/authd"
	if !strings.Contains(run, want) {
		t.Errorf("the build runs %q, want %q (the flags of make build)", run, want)
	}

	var user string
	var health, entry []string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "HEALTHCHECK":
			_, cmd, ok := strings.Cut(in.args, "CMD ")
			if !ok {
				t.Fatalf("HEALTHCHECK %s: no CMD", in.args)
			}
			health = execForm(t, "HEALTHCHECK CMD", cmd)
		case "ENTRYPOINT":
			entry = execForm(t, "ENTRYPOINT", in.args)
		case "RUN":
			t.Errorf("the final stage runs %q: it has no shell", in.args)
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q, want a user that is not root", user)
	}
	if len(health) < 2 || health[0] != "/authd" || health[1] != "healthcheck" {
		t.Errorf("HEALTHCHECK CMD %q, want /authd healthcheck", health)
	}
	if !slices.Equal(entry, []string{"/authd"}) {
		t.Errorf("ENTRYPOINT %q, want [/authd]", entry)
	}
}

// TestCompose checks that the compose example uses the healthcheck and
// the metrics listener.
func TestCompose(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`test: ["CMD", "/authd", "healthcheck"`, `AUTHD_METRICS_ADDR: ":9090"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("compose.yaml lacks %s", want)
		}
	}
}

// families returns the names of every metric family authd serves.
func families(t *testing.T) []string {
	t.Helper()
	m := metrics.New(metrics.Options{})
	m.ObserveRequest("GET /healthz", 200, time.Millisecond)
	m.ObserveHash(time.Millisecond)
	m.ObserveEvent(account.Event{Name: account.EventLoginSucceeded, Method: account.MethodPassword})
	m.ObserveEvent(account.Event{Name: account.EventLogout, Reason: account.ReasonLogout})
	m.Limiter(throttle.NewMemory(throttle.MemoryOptions{})).Allow(t.Context(), "login|x", throttle.Rate{N: 1, Period: time.Second})
	fs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fs {
		names = append(names, f.GetName())
	}
	return names
}

// TestDashboard checks that the Grafana dashboard queries only metrics
// authd serves, and every family of authd's own.
func TestDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	served := families(t)
	metricName := regexp.MustCompile(`\b(?:authd|go|process)_[a-z_]+`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			for _, name := range metricName.FindAllString(tg.Expr, -1) {
				family := name
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if f, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(served, f) {
						family = f
					}
				}
				if !slices.Contains(served, family) {
					t.Errorf("panel %q queries %s, which authd does not serve", p.Title, name)
				}
				used[family] = true
			}
		}
	}
	for _, f := range served {
		if strings.HasPrefix(f, "authd_") && !used[f] {
			t.Errorf("no panel shows %s", f)
		}
	}
}
