package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// scenario is one part of a run: it attacks authd, checks what it saw and
// returns its section of the report. A new scenario is a new value in
// harness.scenarios.
type scenario interface {
	// name says which scenario it is, in errors and in the report when
	// it did not run.
	name() string
	run(ctx context.Context, h *harness) (section, error)
}

// scenarios are the run's scenarios, in the order they run and are
// reported.
func (h *harness) scenarios() []scenario {
	list := []scenario{scopeScenario{}, burstScenario{}, cookieScenario{}}
	if h.mode.name == "full" && h.opts.perf {
		list = append(list, perfScenario{})
	}
	if len(h.opts.only) == 0 {
		return list
	}
	return slices.DeleteFunc(list, func(sc scenario) bool {
		return !slices.ContainsFunc(h.opts.only, func(key string) bool { return scenarioKeys[key] == sc })
	})
}

// scenarioKeys name the scenarios for -only. memory is scenario 5's
// memory and login measurements alone, without its sweeps.
var scenarioKeys = map[string]scenario{
	"scopes":  scopeScenario{},
	"burst":   burstScenario{},
	"cookies": cookieScenario{},
	"perf":    perfScenario{},
	"memory":  perfScenario{},
}

// memoryOnly reports whether scenario 5 runs its memory and login
// measurements alone: -only names memory, not perf.
func (h *harness) memoryOnly() bool {
	return slices.Contains(h.opts.only, "memory") && !slices.Contains(h.opts.only, "perf")
}

// parseOnly reads -only: scenario keys, separated by commas.
func parseOnly(v string) ([]string, error) {
	var keys []string
	for k := range strings.SplitSeq(v, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if _, ok := scenarioKeys[k]; !ok {
			return nil, fmt.Errorf("-only: no scenario %q (scopes, burst, cookies, perf, memory)", k)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// runScenarios runs each scenario in turn and adds its section to the
// report. At the first that fails, it stops: that one and those after it
// are reported as not run.
func (h *harness) runScenarios(ctx context.Context, list []scenario) error {
	audited, after := false, false
	for i, sc := range list {
		sec, err := sc.run(ctx, h)
		if err != nil {
			h.notRun(list[i:])
			return fmt.Errorf("%s: %w", sc.name(), err)
		}
		h.rep.Sections = append(h.rep.Sections, sec)
		_, isAudit := sc.(cookieScenario)
		after = after || audited
		audited = audited || isAudit
	}
	// The cookie audit goes on through the scenarios after its own: its
	// tally again, over the whole run.
	if after {
		h.cookieProgress(" over the whole run")
	}
	return nil
}

// notRun reports each scenario of list as not run.
func (h *harness) notRun(list []scenario) {
	for _, sc := range list {
		h.rep.Sections = append(h.rep.Sections, notRun{sc.name()})
	}
}
