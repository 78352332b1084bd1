package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgNode is any element of a decoded SVG.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []svgNode  `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n svgNode) num(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.attr(name), err)
	}
	return v
}

// all returns the elements named name of class class (any class when
// empty) under n, in document order.
func (n svgNode) all(name, class string) []svgNode {
	var out []svgNode
	for _, c := range n.Nodes {
		if c.XMLName.Local == name && (class == "" || c.attr("class") == class) {
			out = append(out, c)
		}
		out = append(out, c.all(name, class)...)
	}
	return out
}

// mustRenderSVG renders a chart and decodes it as XML, strictly, and
// checks that it stands alone: an <svg> root, and nothing fetched or run.
func mustRenderSVG(t *testing.T, render func(io.Writer) error) svgNode {
	t.Helper()
	var b bytes.Buffer
	if err := render(&b); err != nil {
		t.Fatal(err)
	}
	var root svgNode
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, b.String())
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if cd, ok := tok.(xml.CharData); err != nil || !ok || strings.TrimSpace(string(cd)) != "" {
			t.Errorf("after the root element: %#v, %v", tok, err)
			break
		}
	}
	if root.XMLName.Space != "http://www.w3.org/2000/svg" || root.XMLName.Local != "svg" {
		t.Errorf("root element %v, want svg in the SVG namespace", root.XMLName)
	}
	if root.attr("viewBox") == "" || root.num(t, "width") <= 0 || root.num(t, "height") <= 0 {
		t.Errorf("root lacks its size: %v", root.Attrs)
	}
	for _, banned := range []string{"<script", "href", "@import", "url(", "@font-face", "<style", "<foreignObject"} {
		if strings.Contains(b.String(), banned) {
			t.Errorf("the chart contains %q: it must stand alone", banned)
		}
	}
	return root
}

// mustPoints parses a polyline's points.
func mustPoints(t *testing.T, n svgNode) []point {
	t.Helper()
	var pts []point
	for _, f := range strings.Fields(n.attr("points")) {
		x, y, ok := strings.Cut(f, ",")
		px, errX := strconv.ParseFloat(x, 64)
		py, errY := strconv.ParseFloat(y, 64)
		if !ok || errX != nil || errY != nil {
			t.Fatalf("point %q of %v", f, n.Attrs)
		}
		pts = append(pts, point{px, py})
	}
	return pts
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.011 }

// simAttack is one client attacking a sliding-log throttle that lets
// allow requests through in any window of period: a request every gap
// for du, each decided late after it is sent (lateEvery-th ones 40ms
// late, the others 5ms) and answered 5ms after that, or work after it
// when answered by the endpoint.
type simAttack struct {
	allow           int
	period, gap, du time.Duration
	work            time.Duration
	lateEvery       int
	failAt          time.Duration // the sending of a request without an answer; 0: none
}

func (a simAttack) samples() []sample {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var accepted []time.Time
	var out []sample
	for i, at := 0, time.Duration(0); at <= a.du; i, at = i+1, at+a.gap {
		sent := t0.Add(at)
		decided := sent.Add(5 * time.Millisecond)
		if a.lateEvery > 0 && i%a.lateEvery == a.lateEvery-1 {
			decided = sent.Add(40 * time.Millisecond)
		}
		s := sample{sent: sent, done: decided.Add(5 * time.Millisecond)}
		inWindow := 0
		for _, x := range accepted {
			if decided.Sub(x) < a.period {
				inWindow++
			}
		}
		switch {
		case a.failAt != 0 && at == a.failAt:
			s.err = "connection reset"
		case inWindow < a.allow:
			s.status = 200
			s.done = decided.Add(max(a.work, 5*time.Millisecond))
			accepted = append(accepted, decided)
		default:
			s.status = 429
			s.retryAfter = "1"
		}
		out = append(out, s)
	}
	return out
}

func TestThrottleChart(t *testing.T) {
	t.Parallel()
	const n = 3
	period := time.Second
	attack := simAttack{allow: n, period: period, gap: 100 * time.Millisecond, du: 1500 * time.Millisecond}
	a := seriesOf("A", attack.samples())
	attack.failAt = 400 * time.Millisecond
	b := seriesOf("B", attack.samples())
	// The simulation: 16 requests, 3 answered at once and 3 more once
	// the window slides; B loses one to a failure.
	if len(a.Accepted) != 6 || len(a.Refused) != 10 || len(a.Failed) != 0 {
		t.Fatalf("client A: %d answered, %d refused, %d failed; want 6, 10, 0", len(a.Accepted), len(a.Refused), len(a.Failed))
	}
	if len(b.Accepted) != 6 || len(b.Refused) != 9 || len(b.Failed) != 1 {
		t.Fatalf("client B: %d answered, %d refused, %d failed; want 6, 9, 1", len(b.Accepted), len(b.Refused), len(b.Failed))
	}
	c := throttleChart{Title: "throttle login at 3/second", N: n, Period: period, Series: []throttleSeries{a, b}}
	root := mustRenderSVG(t, c.writeSVG)
	fs := c.frames()
	if len(fs) != 2 {
		t.Fatalf("%d panels, want one per client", len(fs))
	}

	ceilings := root.all("polyline", "ceiling")
	answered := root.all("polyline", "answered")
	if len(ceilings) != 2 || len(answered) != 2 {
		t.Fatalf("%d ceilings and %d answered lines, want one of each per panel", len(ceilings), len(answered))
	}
	// A panel's marks lie within it: count them by position.
	within := func(f frame, y float64) bool { return y >= f.top && y <= f.bottom()+panelBelow }
	for i, s := range c.Series {
		f := fs[i]
		if f.bottom() > fs[len(fs)-1].bottom() || (i > 0 && f.top < fs[i-1].bottom()+panelBelow) {
			t.Errorf("panel %d overlaps the one before it", i)
		}
		// The rate: a horizontal line at N over the first period, from
		// the first request on.
		ceil := mustPoints(t, ceilings[i])
		wantY := f.top + f.h - n/f.yMax*f.h
		if len(ceil) < 2 || !near(ceil[0].x, f.left) || !near(ceil[0].y, wantY) || !near(ceil[1].y, wantY) || !near(ceil[1].x, f.x(period.Seconds())) {
			t.Errorf("client %s: ceiling starts %v, want a horizontal line at y=%.2f (N=%d) from x=%.2f to x=%.2f (one period)",
				s.Client, ceil[:min(2, len(ceil))], wantY, n, f.left, f.x(period.Seconds()))
		}
		if wantY <= f.top || wantY >= f.bottom() {
			t.Errorf("client %s: N at y=%.2f, outside the plot %.2f..%.2f", s.Client, wantY, f.top, f.bottom())
		}
		// Then one step up a period after each answered request was
		// sent, and the answered count never above it.
		last := ceil[len(ceil)-1]
		// The chart ends at 1.6 s: the three answered at once have
		// opened their slots again, the three after them not yet.
		if want := f.y(n + 3); !near(last.y, want) || !near(last.x, f.right()) {
			t.Errorf("client %s: ceiling ends at %v, want (%.2f, %.2f): N, and N again a period after the first N", s.Client, last, f.right(), want)
		}
		ans := mustPoints(t, answered[i])
		if end := ans[len(ans)-1]; !near(end.y, f.y(float64(len(s.Accepted)))) {
			t.Errorf("client %s: answered line ends at y=%.2f, want %.2f (%d answered)", s.Client, end.y, f.y(float64(len(s.Accepted))), len(s.Accepted))
		}
		if p, ok := aboveCeiling(ans, ceil); ok {
			t.Errorf("client %s: answered count at %v is above the ceiling", s.Client, p)
		}

		count := func(name, class string) int {
			k := 0
			for _, e := range root.all(name, class) {
				y := e.attr("cy")
				if y == "" {
					y = e.attr("y1")
				}
				if v, _ := strconv.ParseFloat(y, 64); within(f, v) {
					k++
				}
			}
			return k
		}
		if got := count("circle", "answered-point"); got != len(s.Accepted) {
			t.Errorf("client %s: %d answered points, want %d", s.Client, got, len(s.Accepted))
		}
		if got := count("line", "answer-wait"); got != len(s.Accepted) {
			t.Errorf("client %s: %d waits for an answer, want %d", s.Client, got, len(s.Accepted))
		}
		if got := count("line", "refused"); got != len(s.Refused) {
			t.Errorf("client %s: %d refused marks, want %d", s.Client, got, len(s.Refused))
		}
		if got := count("line", "failed"); got != len(s.Failed) {
			t.Errorf("client %s: %d failure marks, want %d", s.Client, got, len(s.Failed))
		}
	}
}

// aboveCeiling returns the first point of the answered line, in pixels,
// above the ceiling's, and whether there is one.
func aboveCeiling(answered, ceiling []point) (point, bool) {
	for _, p := range answered {
		// The ceiling at p.x: its last point at or before p.x, the upper
		// one where it steps (the lower y).
		y := ceiling[0].y
		for _, c := range ceiling {
			if c.x > p.x+0.01 {
				break
			}
			y = c.y
		}
		if p.y < y-0.01 {
			return p, true
		}
	}
	return point{}, false
}

// The answered count meets the ceiling where the throttle holds, however
// late it decides and the endpoint answers, and crosses it where the
// throttle lets one request too many through.
func TestThrottleChartCeiling(t *testing.T) {
	t.Parallel()
	const n = 6
	period := time.Second
	tests := []struct {
		name   string
		attack simAttack
		above  bool
	}{
		{"prompt", simAttack{allow: n, period: period, gap: 66 * time.Millisecond, du: 1500 * time.Millisecond}, false},
		{"late decisions, slow answers", simAttack{allow: n, period: period, gap: 66 * time.Millisecond, du: 3 * time.Second,
			work: 700 * time.Millisecond, lateEvery: 3}, false},
		{"one too many", simAttack{allow: n + 1, period: period, gap: 66 * time.Millisecond, du: 1500 * time.Millisecond}, true},
		{"one too many, slow answers", simAttack{allow: n + 1, period: period, gap: 66 * time.Millisecond, du: 1500 * time.Millisecond,
			work: 300 * time.Millisecond}, true},
		// The 7th answer comes back after the first request's slot may
		// have opened: from the client, that is no proof of a fault, and
		// checkWindow does not fail it either.
		{"one too many, answered after the window may have slid", simAttack{allow: n + 1, period: period, gap: 66 * time.Millisecond, du: 1500 * time.Millisecond,
			work: 700 * time.Millisecond}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := throttleChart{Title: tt.name, N: n, Period: period, Series: []throttleSeries{seriesOf("A", tt.attack.samples())}}
			root := mustRenderSVG(t, c.writeSVG)
			ceil := mustPoints(t, root.all("polyline", "ceiling")[0])
			ans := mustPoints(t, root.all("polyline", "answered")[0])
			p, above := aboveCeiling(ans, ceil)
			if above != tt.above {
				t.Errorf("answered count above the ceiling: %v (at %v), want %v", above, p, tt.above)
			}
			// Every answered request is counted within its sending and
			// its answer.
			for _, a := range c.counted(c.Series[0]) {
				if a.At < a.Sent || a.At > a.Done {
					t.Errorf("counted at %s, outside its sending %s and answer %s", a.At, a.Sent, a.Done)
				}
			}
		})
	}
}

func TestThroughputChart(t *testing.T) {
	t.Parallel()
	pr := sampleReport().Sections[3].(*perfReport)
	c, ok := pr.throughputChart()
	if !ok {
		t.Fatal("no throughput chart from sweeps that measured the bare handler")
	}
	root := mustRenderSVG(t, c.writeSVG)
	f := c.frame()
	sustained := root.all("rect", "sustained")
	peaks := root.all("rect", "peak")
	if len(sustained) != len(pr.Sweeps) || len(peaks) != len(pr.Sweeps) {
		t.Fatalf("%d sustained and %d peak bars, want %d of each", len(sustained), len(peaks), len(pr.Sweeps))
	}
	for i, s := range pr.Sweeps {
		if got, want := sustained[i].num(t, "width"), float64(s.Best)/f.xMax*f.w; !near(got, want) {
			t.Errorf("%s: sustained bar %.2f wide, want %.2f (%d/s)", s.label(), got, want, s.Best)
		}
		if got, want := peaks[i].num(t, "width"), s.Peak/f.xMax*f.w; !near(got, want) {
			t.Errorf("%s: peak bar %.2f wide, want %.2f (%.0f/s)", s.label(), got, want, s.Peak)
		}
	}

	// A mark at each read-path target, its backend's share of the bare
	// handler's rate measured for that backend: GET /auth/me/ on SQLite
	// (0.8 of 8000/s), on PostgreSQL (0.6 of 7000/s) and on three
	// replicas (0.6 of 6000/s); logins and the bare handler have none.
	targets := root.all("line", "target")
	var want []float64
	for _, r := range []float64{0.8 * 8000, 0.6 * 7000, 0.6 * 6000} {
		want = append(want, f.left+r/f.xMax*f.w)
	}
	if len(targets) != len(want) {
		t.Fatalf("%d target marks, want %d", len(targets), len(want))
	}
	for i, m := range targets {
		if got := m.num(t, "x1"); !near(got, want[i]) {
			t.Errorf("target mark %d at x=%.2f, want %.2f", i, got, want[i])
		}
	}

	// Each backend's name once, above its bars and below the bars of
	// the one before.
	heads := root.all("text", "backend")
	wantHeads := []string{"on " + backendSQLite, "on " + backendPostgres, "on " + backendCluster}
	var got []string
	for _, h := range heads {
		got = append(got, h.Text)
	}
	if !slices.Equal(got, wantHeads) {
		t.Fatalf("backend headings %q, want %q", got, wantHeads)
	}
	headY := func(backend string) float64 {
		for _, h := range heads {
			if h.Text == "on "+backend {
				return h.num(t, "y")
			}
		}
		return math.Inf(-1) // the bare handler: above every heading
	}
	for i, s := range pr.Sweeps {
		top := sustained[i].num(t, "y")
		if top <= headY(s.Backend) {
			t.Errorf("%s: bar at y=%.2f, not below its backend's name at %.2f", s.label(), top, headY(s.Backend))
		}
		for _, h := range heads {
			if y := h.num(t, "y"); y > headY(s.Backend) && y < top+barsHeight {
				t.Errorf("%s: bar at y=%.2f runs into the heading %q at %.2f", s.label(), top, h.Text, y)
			}
		}
		if top+barsHeight > f.bottom() {
			t.Errorf("%s: bar at y=%.2f below the plot's end %.2f", s.label(), top, f.bottom())
		}
	}

	// Only with the bare handler's rate to compare with.
	var authd []sweepResult
	for _, s := range pr.Sweeps {
		if !s.bare() {
			authd = append(authd, s)
		}
	}
	for _, sweeps := range [][]sweepResult{nil, authd, pr.Sweeps[:1], {{Target: "bare net/http handler"}, pr.Sweeps[1]}} {
		if _, ok := (&perfReport{Sweeps: sweeps}).throughputChart(); ok {
			t.Errorf("a throughput chart from sweeps %+v", sweeps)
		}
	}
}

func TestMemoryChart(t *testing.T) {
	t.Parallel()
	pr := sampleReport().Sections[3].(*perfReport)
	run := *pr.Memory
	for i := range 700 {
		rss := int64(25 << 20)
		if at := time.Duration(i) * rssEvery; at >= run.BurstStart && at <= run.BurstEnd {
			rss = 66 << 20
		}
		run.Samples = append(run.Samples, rssSample{At: time.Duration(i) * rssEvery, RSS: rss})
	}
	pr.Memory = &run
	c, ok := pr.memoryChart()
	if !ok {
		t.Fatal("no memory chart from a run with readings")
	}
	root := mustRenderSVG(t, c.writeSVG)
	f := c.frame()
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	lines := root.all("polyline", "rss")
	if len(lines) != 1 {
		t.Fatalf("%d RSS lines, want 1", len(lines))
	}
	pts := mustPoints(t, lines[0])
	if len(pts) != len(run.Samples) {
		t.Fatalf("the RSS line has %d points, want one per reading, %d", len(pts), len(run.Samples))
	}
	for i, s := range run.Samples {
		if want := (point{f.x(s.At.Seconds()), f.y(mb(s.RSS))}); !near(pts[i].x, want.x) || !near(pts[i].y, want.y) {
			t.Fatalf("point %d at %v, want %v (%s, %s)", i, pts[i], want, s.At, mib(s.RSS))
		}
	}
	for _, g := range []struct {
		class string
		bytes int64
	}{{"peak-goal", pr.RSSLimit}, {"idle-goal", idleGoal}, {"peak", pr.RSSPeak}} {
		l := root.all("line", g.class)
		if len(l) != 1 || !near(l[0].num(t, "y1"), f.y(mb(g.bytes))) {
			t.Errorf("%s: %d lines, want one at y=%.2f (%s)", g.class, len(l), f.y(mb(g.bytes)), mib(g.bytes))
		}
	}
	band := root.all("rect", "burst")
	if len(band) != 1 || !near(band[0].num(t, "x"), f.x(run.BurstStart.Seconds())) ||
		!near(band[0].num(t, "width"), f.x(run.BurstEnd.Seconds())-f.x(run.BurstStart.Seconds())) {
		t.Errorf("burst band %v, want one from %s to %s", band, run.BurstStart, run.BurstEnd)
	}
	idle := root.all("circle", "idle")
	if len(idle) != 1 || !near(idle[0].num(t, "cx"), f.x(run.IdleAt.Seconds())) || !near(idle[0].num(t, "cy"), f.y(mb(pr.RSSIdle))) {
		t.Errorf("idle reading %v, want one at %s, %s", idle, run.IdleAt, mib(pr.RSSIdle))
	}
	if f.xMax < run.IdleAt.Seconds() || f.yMax < mb(pr.RSSLimit) {
		t.Errorf("frame to %.0f s and %.0f MiB leaves out the idle reading or the peak goal", f.xMax, f.yMax)
	}

	if _, ok := (&perfReport{}).memoryChart(); ok {
		t.Error("a memory chart without readings")
	}
}

func TestTicks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		max       float64
		n         int
		step, top float64
	}{
		{1.5, 8, 0.2, 1.6},
		{75, 8, 10, 80},
		{6, 5, 2, 6},
		{9, 5, 2, 10},
		{12000, 6, 2000, 12000},
		{0, 5, 0.2, 1},
	}
	for _, tt := range tests {
		step, top := ticks(tt.max, tt.n)
		if !near(step, tt.step) || !near(top, tt.top) {
			t.Errorf("ticks(%v, %d) = %v, %v; want %v, %v", tt.max, tt.n, step, top, tt.step, tt.top)
		}
	}
}
