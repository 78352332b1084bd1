package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// chart is an SVG picture written beside the report, which shows it.
type chart struct {
	File string // its name, in the report's folder
	Alt  string // what it shows, in words
}

// markdown writes the chart as an image of the report.
func (c chart) markdown() string { return fmt.Sprintf("![%s](%s)", c.Alt, c.File) }

// throttleChartFile is the chart of a scope's attacks.
func throttleChartFile(scope string) chart {
	return chart{File: "throttle-" + scope + ".svg", Alt: scope + ": answered and refused requests against the window's ceiling"}
}

// throughputChartFile is the chart of scenario 5's sweeps.
var throughputChartFile = chart{File: "perf-throughput.svg", Alt: "requests a second sustained by authd on each backend and by a bare handler"}

// writeChart writes a picture to path.
func writeChart(path string, render func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := render(f); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return f.Close()
}

// throttleChart pictures the attacks on one throttle scope, a panel per
// client: the requests the endpoint answered, counted up, under the most
// the sliding window allows, and the requests refused with 429.
//
// The count is cumulative, not a count a second: at 6 a minute, bars a
// second would be a row of ones and zeros over 75 seconds, and the window
// would not be seen. The cumulative count climbs N steps, stays flat
// against the ceiling, and climbs again as each slot of the window frees,
// one period after the acceptance that took it. The ceiling is the rate
// itself, "N in any window of one period", drawn against this attack: N
// more than the answered requests sent at least one period earlier. It
// starts as a horizontal line at N and rises one step a period after each
// answered request was sent, so the refill shows as the answered count
// following it up.
//
// The client does not see when the throttle decided on a request: some
// time between sending it and its answer, which may be most of a period
// later when the endpoint then hashes a password on a busy machine, and
// the sending itself may wait on the client. An answered request is
// counted at the earliest time the window can have had room for it: when
// it was sent or, if later, one period after the N-th answered request
// before it was sent; and no later than its answer came back. So, as
// long as requests reach the throttle in the order they were sent, the
// count meets the ceiling without crossing it while the throttle holds,
// and crosses it where a request was answered before the window can have
// had room for it. A light line runs from each one's sending to its
// answer. checkWindow, not the chart, judges the attack.
type throttleChart struct {
	Title  string
	N      int
	Period time.Duration
	Series []throttleSeries // one panel each
}

// throttleSeries is one client's attack on a scope, times counted from
// its first request sent.
type throttleSeries struct {
	Client   string
	Accepted []acceptance    // answered by the endpoint, in the order sent
	Refused  []time.Duration // when each request refused with 429 was sent
	Failed   []time.Duration // when each request without an answer was sent
}

// acceptance is a request the endpoint answered: when it was sent and
// when its answer came back.
type acceptance struct{ Sent, Done time.Duration }

// seriesOf reads one client's samples for its chart.
func seriesOf(client string, in []sample) throttleSeries {
	s := throttleSeries{Client: client}
	if len(in) == 0 {
		return s
	}
	t0 := in[0].sent
	for _, x := range in {
		if x.sent.Before(t0) {
			t0 = x.sent
		}
	}
	for _, x := range in {
		switch {
		case x.answered():
			s.Accepted = append(s.Accepted, acceptance{Sent: x.sent.Sub(t0), Done: x.done.Sub(t0)})
		case x.status == 0:
			s.Failed = append(s.Failed, x.sent.Sub(t0))
		default:
			s.Refused = append(s.Refused, x.sent.Sub(t0))
		}
	}
	slices.SortFunc(s.Accepted, func(a, b acceptance) int { return cmp.Compare(a.Sent, b.Sent) })
	slices.Sort(s.Refused)
	slices.Sort(s.Failed)
	return s
}

// counted is an answered request as the chart counts it.
type counted struct {
	acceptance
	At time.Duration // when it is counted
}

// counted places the answered requests of s, in the order they are
// counted: each at the earliest time the window can have had room for
// it, and no later than its answer.
func (c throttleChart) counted(s throttleSeries) []counted {
	out := make([]counted, len(s.Accepted))
	for k, a := range s.Accepted {
		at := a.Sent
		if k >= c.N {
			at = max(at, s.Accepted[k-c.N].Sent+c.Period)
		}
		out[k] = counted{a, min(at, a.Done)}
	}
	slices.SortStableFunc(out, func(a, b counted) int { return cmp.Compare(a.At, b.At) })
	return out
}

// answeredSteps is the count of answered requests as a step line, in
// seconds, up to end.
func answeredSteps(cs []counted, end float64) []point {
	pts := []point{{0, 0}}
	for k, a := range cs {
		t := a.At.Seconds()
		pts = append(pts, point{t, float64(k)}, point{t, float64(k + 1)})
	}
	return append(pts, point{end, float64(len(cs))})
}

// ceilingSteps is the most the window allows as a step line, in seconds,
// up to end: n, plus one a period after each answered request was sent.
func (s throttleSeries) ceilingSteps(n int, period time.Duration, end float64) []point {
	var opens []float64
	for _, a := range s.Accepted {
		opens = append(opens, (a.Sent + period).Seconds())
	}
	slices.Sort(opens)
	c := float64(n)
	pts := []point{{0, c}}
	for _, t := range opens {
		if t > end {
			break
		}
		pts = append(pts, point{t, c}, point{t, c + 1})
		c++
	}
	return append(pts, point{end, c})
}

// Layout of the throttle charts, in pixels.
const (
	chartWidth     = 820.0
	chartHeader    = 64.0  // title and legend
	throttleLeft   = 56.0  // y axis labels
	throttleRight  = 24.0  // margin
	panelCaption   = 28.0  // the client's line above its plot
	panelPlot      = 190.0 // the plot itself
	panelRug       = 12.0  // the 429s, below the plot
	panelBelow     = 46.0  // the rug and the x axis labels
	panelHeight    = panelCaption + panelPlot + panelBelow
	throttleBottom = 8.0
)

// frames lays out the chart: the plot area of each panel, sharing their
// scales so that the clients compare at a glance.
func (c throttleChart) frames() []frame {
	end := c.Period.Seconds()
	top := float64(c.N)
	for _, s := range c.Series {
		for _, a := range s.Accepted {
			end = max(end, a.Done.Seconds())
		}
		for _, t := range slices.Concat(s.Refused, s.Failed) {
			end = max(end, t.Seconds())
		}
	}
	_, xMax := ticks(end, 8)
	for _, s := range c.Series {
		ceiling := s.ceilingSteps(c.N, c.Period, xMax)
		top = max(top, float64(len(s.Accepted)), ceiling[len(ceiling)-1].y)
	}
	_, yMax := ticks(top, 5)
	var fs []frame
	for i := range c.Series {
		fs = append(fs, frame{
			left: throttleLeft, top: chartHeader + float64(i)*panelHeight + panelCaption,
			w: chartWidth - throttleLeft - throttleRight, h: panelPlot, xMax: xMax, yMax: yMax,
		})
	}
	return fs
}

// writeSVG draws the chart.
func (c throttleChart) writeSVG(w io.Writer) error {
	fs := c.frames()
	d := newSVG(chartWidth, chartHeader+float64(len(fs))*panelHeight+throttleBottom)
	d.text(throttleLeft, 22, "start", `font-size="16" font-weight="bold"`, c.Title)
	d.legend(throttleLeft, 46, []legendItem{
		{lineMark(colorAnswered, ""), "answered"},
		{lineMark(colorWait, ""), "from sending to answer"},
		{lineMark(colorCeiling, "6 4"), "ceiling: most the window allows"},
		{tickMark(colorRefused), "refused (429)"},
	})
	for i, s := range c.Series {
		c.panel(d, fs[i], s)
	}
	_, err := d.WriteTo(w)
	return err
}

// panel draws one client's attack in f.
func (c throttleChart) panel(d *svgDoc, f frame, s throttleSeries) {
	caption := fmt.Sprintf("client %s: %d answered, %d refused with 429", s.Client, len(s.Accepted), len(s.Refused))
	if len(s.Failed) > 0 {
		caption += fmt.Sprintf(", %d without an answer", len(s.Failed))
	}
	d.text(f.left, f.top-10, "start", `font-weight="bold"`, caption)

	yStep, _ := ticks(f.yMax, 5)
	for v := 0.0; v <= f.yMax+1e-9; v += yStep {
		d.line(f.left, f.y(v), f.right(), f.y(v), fmt.Sprintf(`stroke="%s" stroke-width="1"`, colorGrid))
		d.text(f.left-6, f.y(v)+4, "end", fmt.Sprintf(`fill="%s"`, colorMuted), num(v))
	}
	rugTop := f.bottom() + 8
	xStep, _ := ticks(f.xMax, 8)
	for v := 0.0; v <= f.xMax+1e-9; v += xStep {
		d.line(f.x(v), f.bottom(), f.x(v), f.bottom()+4, fmt.Sprintf(`stroke="%s"`, colorMuted))
		d.text(f.x(v), rugTop+panelRug+16, "middle", fmt.Sprintf(`fill="%s"`, colorMuted), num(v)+" s")
	}
	d.line(f.left, f.bottom(), f.right(), f.bottom(), fmt.Sprintf(`stroke="%s"`, colorMuted))
	// Where the first period ends.
	p := c.Period.Seconds()
	d.line(f.x(p), f.top, f.x(p), f.bottom(), fmt.Sprintf(`stroke="%s" stroke-dasharray="2 3"`, colorMuted))
	d.text(f.x(p)+4, f.top+12, "start", fmt.Sprintf(`fill="%s"`, colorMuted), "one period")

	d.polyline(mapPoints(f, s.ceilingSteps(c.N, c.Period, f.xMax)),
		fmt.Sprintf(`class="ceiling" stroke="%s" stroke-width="2" stroke-dasharray="6 4"`, colorCeiling))
	d.text(f.x(0)+4, f.y(float64(c.N))-5, "start", fmt.Sprintf(`fill="%s"`, colorCeiling), fmt.Sprintf("%d in any window of one period", c.N))
	cs := c.counted(s)
	for k, a := range cs {
		y := f.y(float64(k + 1))
		d.line(f.x(a.Sent.Seconds()), y, f.x(a.Done.Seconds()), y, fmt.Sprintf(`class="answer-wait" stroke="%s" stroke-width="3"`, colorWait))
	}
	d.polyline(mapPoints(f, answeredSteps(cs, f.xMax)), fmt.Sprintf(`class="answered" stroke="%s" stroke-width="2"`, colorAnswered))
	for k, a := range cs {
		d.el(`<circle class="answered-point" cx="%s" cy="%s" r="2.5" fill="%s"/>`, num(f.x(a.At.Seconds())), num(f.y(float64(k+1))), colorAnswered)
	}

	d.text(f.left-6, rugTop+panelRug-2, "end", fmt.Sprintf(`fill="%s"`, colorRefused), "429")
	for _, t := range s.Refused {
		d.line(f.x(t.Seconds()), rugTop, f.x(t.Seconds()), rugTop+panelRug, fmt.Sprintf(`class="refused" stroke="%s" stroke-width="1.5"`, colorRefused))
	}
	for _, t := range s.Failed {
		d.line(f.x(t.Seconds()), rugTop-3, f.x(t.Seconds()), rugTop+panelRug+3, fmt.Sprintf(`class="failed" stroke="%s" stroke-width="2"`, colorFailed))
	}
}

func mapPoints(f frame, pts []point) []point {
	out := make([]point, len(pts))
	for i, p := range pts {
		out[i] = point{f.x(p.x), f.y(p.y)}
	}
	return out
}

// throughputChart pictures scenario 5's sweeps: for each target, the
// highest rate it sustained and its peak throughput, beside the bare
// handler's, with the rate each is expected to reach; the targets of each
// backend under its name, after the bare handler's sweep made just before
// theirs, which they are compared with.
type throughputChart struct {
	Title string
	Bare  int // the bare handler's highest rate sustained
	Bars  []throughputBar
}

// throughputBar is one target of the sweeps.
type throughputBar struct {
	Label     string
	Backend   string  // where authd kept its data; empty: none
	Bare      int     // the rate of the bare handler it is compared with; 0: none
	Sustained int     // highest rate sustained, a second
	Peak      float64 // highest throughput of any step, latency aside
	Target    float64 // the rate it is expected to sustain; 0: none
	Ratio     float64 // the ratio to the bare handler that target is
}

// throughputChart returns the chart of the sweeps, and false when they
// hold no bare handler's rate to compare with, as when scenario 5 did not
// measure it.
func (p *perfReport) throughputChart() (throughputChart, bool) {
	bare, ok := p.sweep("bare")
	if !ok || bare.Best == 0 || len(p.Sweeps) < 2 {
		return throughputChart{}, false
	}
	c := throughputChart{Title: "Requests a second: authd on each backend against a bare net/http handler", Bare: bare.Best}
	for _, s := range p.Sweeps {
		b := throughputBar{Label: s.Target, Backend: s.Backend, Sustained: s.Best, Peak: s.Peak}
		if ref, ok := p.bareFor(s.Backend); ok && !s.bare() {
			b.Bare = ref.Best
		}
		if t, ok := targetOf(s.Backend, s.Target); ok {
			b.Target, b.Ratio = t.ratio*float64(b.Bare), t.ratio
		}
		c.Bars = append(c.Bars, b)
	}
	return c, true
}

// Layout of the throughput chart, in pixels.
const (
	barsLeft   = 190.0 // the targets' names
	barsRight  = 180.0 // the values
	barsRow    = 46.0
	barsHeight = 24.0
	barsGroup  = 28.0 // a backend's name, above its targets
	barsBelow  = 40.0 // the x axis labels
)

// barsHeading is a backend's name above its bars.
type barsHeading struct {
	Name string
	Y    float64 // its line, across the chart
}

// rows lays out the bars from top down: the top of each row, and the
// heading of each backend, above its first bar; it returns where the last
// row ends.
func (c throughputChart) rows(top float64) (rowTops []float64, heads []barsHeading, bottom float64) {
	y := top
	for i, b := range c.Bars {
		if b.Backend != "" && (i == 0 || c.Bars[i-1].Backend != b.Backend) {
			heads = append(heads, barsHeading{Name: b.Backend, Y: y + barsGroup - 6})
			y += barsGroup
		}
		rowTops = append(rowTops, y)
		y += barsRow
	}
	return rowTops, heads, y
}

// frame lays out the chart: the bars and their backends' names, top down;
// y is in pixels.
func (c throughputChart) frame() frame {
	top := float64(c.Bare)
	for _, b := range c.Bars {
		top = max(top, float64(b.Sustained), b.Peak, b.Target)
	}
	_, xMax := ticks(top, 6)
	_, _, bottom := c.rows(chartHeader)
	h := bottom - chartHeader
	return frame{left: barsLeft, top: chartHeader, w: chartWidth - barsLeft - barsRight, h: h, xMax: xMax, yMax: h}
}

// writeSVG draws the chart.
func (c throughputChart) writeSVG(w io.Writer) error {
	f := c.frame()
	d := newSVG(chartWidth, f.bottom()+barsBelow)
	d.text(16, 22, "start", `font-size="16" font-weight="bold"`, c.Title)
	d.legend(16, 46, []legendItem{
		{boxMark(colorAnswered), fmt.Sprintf("highest rate sustained (p99 under %s, every answer 200)", latencyBudget)},
		{boxMark(colorPeak), "peak throughput"},
		{tickMark(colorCeiling), "target"},
	})
	xStep, _ := ticks(f.xMax, 6)
	for v := 0.0; v <= f.xMax+1e-9; v += xStep {
		d.line(f.x(v), f.top, f.x(v), f.bottom(), fmt.Sprintf(`stroke="%s" stroke-width="1"`, colorGrid))
		d.text(f.x(v), f.bottom()+18, "middle", fmt.Sprintf(`fill="%s"`, colorMuted), num(v)+"/s")
	}
	rowTops, heads, _ := c.rows(f.top)
	for _, hd := range heads {
		d.line(16, hd.Y+6, chartWidth-16, hd.Y+6, fmt.Sprintf(`class="backend-rule" stroke="%s" stroke-width="1"`, colorMuted))
		d.text(16, hd.Y, "start", `class="backend" font-weight="bold"`, "on "+hd.Name)
	}
	for i, b := range c.Bars {
		rowTop := rowTops[i] + (barsRow-barsHeight)/2
		mid := rowTop + barsHeight/2
		d.text(f.left-10, mid+4, "end", "", b.Label)
		d.el(`<rect class="peak" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`,
			num(f.left), num(rowTop), num(f.x(b.Peak)-f.left), num(barsHeight), colorPeak)
		d.el(`<rect class="sustained" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`,
			num(f.left), num(rowTop+4), num(f.x(float64(b.Sustained))-f.left), num(barsHeight-8), colorAnswered)
		value, detail := fmt.Sprintf("%d/s", b.Sustained), fmt.Sprintf("peak %.0f/s", b.Peak)
		if b.Bare > 0 {
			value += fmt.Sprintf(" = %.2f×", float64(b.Sustained)/float64(b.Bare))
		}
		if b.Target > 0 {
			d.line(f.x(b.Target), rowTop-3, f.x(b.Target), rowTop+barsHeight+3,
				fmt.Sprintf(`class="target" stroke="%s" stroke-width="2"`, colorCeiling))
			detail += fmt.Sprintf(", target %.1f×", b.Ratio)
		}
		d.text(f.right()+8, mid-2, "start", `font-weight="bold"`, value)
		d.text(f.right()+8, mid+12, "start", fmt.Sprintf(`fill="%s" font-size="11"`, colorMuted), detail)
	}
	d.line(f.left, f.top, f.left, f.bottom(), fmt.Sprintf(`stroke="%s"`, colorMuted))
	_, err := d.WriteTo(w)
	return err
}

// memoryChartFile is the chart of authd's resident set around the burst
// of concurrent logins.
var memoryChartFile = chart{File: "perf-memory.svg", Alt: "authd's resident memory during and after concurrent logins, against its goals"}

// memoryChart pictures authd's resident set (VmRSS) through the burst of
// concurrent logins and the idle time after it, against the goals: the
// peak allowed while the hashing pool is busy, and what may stay resident
// once it is idle.
type memoryChart struct {
	Title    string
	Run      memoryRun
	PeakGoal int64 // bytes
	IdleGoal int64
	Peak     int64 // the high-water mark, which a reading may miss
	Idle     int64 // read at Run.IdleAt
}

// memoryChart returns the chart of the resident set, and false when it
// was not read.
func (p *perfReport) memoryChart() (memoryChart, bool) {
	if p.Memory == nil || len(p.Memory.Samples) == 0 {
		return memoryChart{}, false
	}
	return memoryChart{
		Title:    fmt.Sprintf("authd's resident memory: %d concurrent logins, hashing pool of %d, then idle", concurrentLogins, p.Pool),
		Run:      *p.Memory,
		PeakGoal: p.RSSLimit, IdleGoal: idleGoal, Peak: p.RSSPeak, Idle: p.RSSIdle,
	}, true
}

// Layout of the memory chart, in pixels.
const (
	memoryLeft   = 64.0
	memoryRight  = 24.0
	memoryPlot   = 300.0
	memoryBelow  = 40.0
	memoryHeader = 72.0
)

// frame lays out the chart: seconds across, MiB up.
func (c memoryChart) frame() frame {
	end := c.Run.IdleAt.Seconds()
	top := float64(max(c.PeakGoal, c.IdleGoal, c.Peak))
	for _, s := range c.Run.Samples {
		end = max(end, s.At.Seconds())
		top = max(top, float64(s.RSS))
	}
	_, xMax := ticks(end, 10)
	_, yMax := ticks(top/(1<<20)*1.05, 6)
	return frame{left: memoryLeft, top: memoryHeader, w: chartWidth - memoryLeft - memoryRight, h: memoryPlot, xMax: xMax, yMax: yMax}
}

// writeSVG draws the chart.
func (c memoryChart) writeSVG(w io.Writer) error {
	f := c.frame()
	d := newSVG(chartWidth, f.bottom()+memoryBelow)
	d.text(16, 22, "start", `font-size="16" font-weight="bold"`, c.Title)
	d.legend(16, 48, []legendItem{
		{lineMark(colorAnswered, ""), "resident set (VmRSS)"},
		{lineMark(colorCeiling, "6 4"), "goal under load"},
		{lineMark(colorRefused, "2 3"), "goal once idle"},
		{boxMark(colorWait), "logins in flight"},
	})
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	d.el(`<rect class="burst" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`, num(f.x(c.Run.BurstStart.Seconds())), num(f.top),
		num(max(1, f.x(c.Run.BurstEnd.Seconds())-f.x(c.Run.BurstStart.Seconds()))), num(f.h), colorWait)
	yStep, _ := ticks(f.yMax, 6)
	for v := 0.0; v <= f.yMax+1e-9; v += yStep {
		d.line(f.left, f.y(v), f.right(), f.y(v), fmt.Sprintf(`stroke="%s" stroke-width="1"`, colorGrid))
		d.text(f.left-6, f.y(v)+4, "end", fmt.Sprintf(`fill="%s"`, colorMuted), num(v)+" MiB")
	}
	xStep, _ := ticks(f.xMax, 10)
	for v := 0.0; v <= f.xMax+1e-9; v += xStep {
		d.line(f.x(v), f.bottom(), f.x(v), f.bottom()+4, fmt.Sprintf(`stroke="%s"`, colorMuted))
		d.text(f.x(v), f.bottom()+18, "middle", fmt.Sprintf(`fill="%s"`, colorMuted), num(v)+" s")
	}
	d.line(f.left, f.bottom(), f.right(), f.bottom(), fmt.Sprintf(`stroke="%s"`, colorMuted))

	d.line(f.left, f.y(mb(c.PeakGoal)), f.right(), f.y(mb(c.PeakGoal)),
		fmt.Sprintf(`class="peak-goal" stroke="%s" stroke-width="2" stroke-dasharray="6 4"`, colorCeiling))
	d.text(f.right()-4, f.y(mb(c.PeakGoal))-5, "end", fmt.Sprintf(`fill="%s"`, colorCeiling), "peak goal "+mib(c.PeakGoal))
	idleFrom := f.x(c.Run.BurstEnd.Seconds())
	d.line(idleFrom, f.y(mb(c.IdleGoal)), f.right(), f.y(mb(c.IdleGoal)),
		fmt.Sprintf(`class="idle-goal" stroke="%s" stroke-width="2" stroke-dasharray="2 3"`, colorRefused))
	d.text(f.right()-4, f.y(mb(c.IdleGoal))-5, "end", fmt.Sprintf(`fill="%s"`, colorRefused), "idle goal "+mib(c.IdleGoal))

	var pts []point
	for _, s := range c.Run.Samples {
		pts = append(pts, point{f.x(s.At.Seconds()), f.y(mb(s.RSS))})
	}
	d.polyline(pts, fmt.Sprintf(`class="rss" stroke="%s" stroke-width="2"`, colorAnswered))
	// The high-water mark, which may lie between two readings.
	d.line(f.x(c.Run.BurstStart.Seconds()), f.y(mb(c.Peak)), idleFrom, f.y(mb(c.Peak)),
		fmt.Sprintf(`class="peak" stroke="%s" stroke-width="1"`, colorText))
	d.text(f.x(c.Run.BurstStart.Seconds()), f.y(mb(c.Peak))-5, "start", "", "peak (VmHWM) "+mib(c.Peak))
	ix, iy := f.x(c.Run.IdleAt.Seconds()), f.y(mb(c.Idle))
	d.el(`<circle class="idle" cx="%s" cy="%s" r="4" fill="%s"/>`, num(ix), num(iy), colorAnswered)
	d.text(ix-8, iy-8, "end", `font-weight="bold"`, fmt.Sprintf("%s, %s after the last answer", mib(c.Idle), (c.Run.IdleAt-c.Run.BurstEnd).Round(time.Second)))
	_, err := d.WriteTo(w)
	return err
}
