package main

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// limiterSim plays an attack against a simulated limiter: requests sent
// every interval for du, each reaching the limiter after delay and
// answered work later. The limiter keeps a sliding log of accepted
// requests, as the contract says, unless a fault below is set.
type limiterSim struct {
	n        int
	period   time.Duration
	interval time.Duration
	du       time.Duration
	delay    func(i int) time.Duration         // sent to decided
	work     func(accepted bool) time.Duration // decided to answered

	// Faults.
	extra        int           // accepts n+extra a period
	countRefused bool          // counts refused requests too
	retryShift   time.Duration // added to the true Retry-After
	noRetryAfter bool          // sends no Retry-After
}

var simStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (c limiterSim) run() []sample {
	type req struct {
		i            int
		sent, decide time.Time
	}
	var reqs []req
	for i := 0; time.Duration(i)*c.interval < c.du; i++ {
		sent := simStart.Add(time.Duration(i) * c.interval)
		reqs = append(reqs, req{i, sent, sent.Add(c.delay(i))})
	}
	slices.SortStableFunc(reqs, func(a, b req) int { return a.decide.Compare(b.decide) })
	out := make([]sample, len(reqs))
	var log []time.Time
	for _, r := range reqs {
		for len(log) > 0 && !log[0].After(r.decide.Add(-c.period)) {
			log = log[1:]
		}
		s := sample{sent: r.sent}
		if len(log) < c.n+c.extra {
			log = append(log, r.decide)
			s.status = http.StatusOK
			s.done = r.decide.Add(c.work(true))
		} else {
			s.status = http.StatusTooManyRequests
			wait := log[0].Add(c.period).Sub(r.decide) + c.retryShift
			secs := int((wait + time.Second - 1) / time.Second)
			if !c.noRetryAfter {
				s.retryAfter = strconv.Itoa(max(1, secs))
			}
			if c.countRefused {
				log = append(log, r.decide)
			}
			s.done = r.decide.Add(c.work(false))
		}
		out[r.i] = s
	}
	return out
}

func (c limiterSim) spec() windowSpec {
	return windowSpec{n: c.n, period: c.period, slack: 10 * time.Millisecond}
}

func fixed(d time.Duration) func(int) time.Duration { return func(int) time.Duration { return d } }

// hashing answers accepted requests slowly, as a login does.
func hashing(accepted bool) time.Duration {
	if accepted {
		return 250 * time.Millisecond
	}
	return time.Millisecond
}

func quickSim() limiterSim {
	return limiterSim{n: 6, period: time.Second, interval: time.Second / 15, du: 1500 * time.Millisecond,
		delay: fixed(time.Millisecond), work: func(bool) time.Duration { return 2 * time.Millisecond }}
}

func fullSim() limiterSim {
	return limiterSim{n: 20, period: time.Minute, interval: time.Second, du: 75 * time.Second,
		delay: fixed(time.Millisecond), work: func(bool) time.Duration { return 2 * time.Millisecond }}
}

func TestCheckWindowAcceptsTheContractsLimiter(t *testing.T) {
	t.Parallel()
	jitter := func(seed uint64, most time.Duration) func(int) time.Duration {
		r := rand.New(rand.NewPCG(seed, seed))
		return func(int) time.Duration { return time.Duration(r.Int64N(int64(most))) }
	}
	tests := map[string]limiterSim{
		"quick":              quickSim(),
		"full":               fullSim(),
		"quick, slow hashes": func() limiterSim { c := quickSim(); c.work = hashing; return c }(),
		"full, slow hashes":  func() limiterSim { c := fullSim(); c.work = hashing; return c }(),
		"many a period":      {n: 60, period: time.Second, interval: time.Second / 150, du: 1500 * time.Millisecond, delay: fixed(0), work: hashing},
	}
	for seed := range uint64(20) {
		c := quickSim()
		c.delay, c.work = jitter(seed, 200*time.Millisecond), hashing
		tests["quick, delays up to 200ms, seed "+strconv.FormatUint(seed, 10)] = c
		c = fullSim()
		c.delay = jitter(seed, 2*time.Second)
		tests["full, delays up to 2s, seed "+strconv.FormatUint(seed, 10)] = c
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := checkWindow(c.run(), c.spec())
			if !w.OK() {
				t.Fatalf("problems with a correct limiter:\n%s", strings.Join(w.Problems, "\n"))
			}
			if w.FirstAnswered != c.n {
				t.Errorf("FirstAnswered = %d, want %d", w.FirstAnswered, c.n)
			}
			if w.Reaccepted == 0 || w.Reaccepted < w.ReaccExpected {
				t.Errorf("Reaccepted = %d, ReaccExpected = %d", w.Reaccepted, w.ReaccExpected)
			}
			if w.RetryChecked == 0 {
				t.Error("no Retry-After checked")
			}
		})
	}
}

func TestCheckWindowFindsFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sim  limiterSim
		edit func([]sample) []sample
		want string
	}{
		{name: "one too many", sim: func() limiterSim { c := quickSim(); c.extra = 1; return c }(),
			want: "7 requests were answered in the first period, want exactly 6"},
		{name: "one too many, full", sim: func() limiterSim { c := fullSim(); c.extra = 1; return c }(),
			want: "21 requests were answered in the first period, want exactly 20"},
		{name: "refused requests counted", sim: func() limiterSim { c := quickSim(); c.countRefused = true; return c }(),
			want: "requests were answered after the first 6, want at least"},
		{name: "Retry-After two seconds long", sim: func() limiterSim { c := fullSim(); c.retryShift = 2 * time.Second; return c }(),
			want: "was accepted by"},
		{name: "Retry-After two seconds short", sim: func() limiterSim { c := fullSim(); c.retryShift = -2 * time.Second; return c }(),
			want: "was not accepted nor any before it"},
		{name: "no Retry-After", sim: func() limiterSim { c := quickSim(); c.noRetryAfter = true; return c }(),
			want: `has Retry-After ""`},
		{name: "attack below the rate", sim: func() limiterSim { c := quickSim(); c.interval = time.Second / 5; return c }(),
			want: "the attack did not exceed the rate"},
		{name: "client not fresh", sim: quickSim(), edit: func(s []sample) []sample {
			s[0].status, s[0].retryAfter = http.StatusTooManyRequests, "1"
			return s
		}, want: "the client was not fresh"},
		{name: "no answer", sim: quickSim(), edit: func(s []sample) []sample {
			s[3].status, s[3].err = 0, "connection refused"
			return s
		}, want: "got no answer: connection refused"},
		{name: "window slides late", sim: quickSim(), edit: func(s []sample) []sample {
			// The first answer after the first 6 is replaced by a 429.
			n := 0
			for i := range s {
				if s[i].answered() {
					if n++; n == 7 {
						s[i].status, s[i].retryAfter = http.StatusTooManyRequests, "1"
					}
				}
			}
			return s
		}, want: "after the first 6 was sent at"},
		{name: "n+1 within a period, later", sim: fullSim(), edit: func(s []sample) []sample {
			// A 429 half a period in becomes an answer.
			for i := range s {
				if s[i].sent.Sub(simStart) >= 30*time.Second && s[i].status == http.StatusTooManyRequests {
					s[i].status = http.StatusOK
					break
				}
			}
			return s
		}, want: "within one period; want at most 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.sim.run()
			if tt.edit != nil {
				s = tt.edit(s)
			}
			w := checkWindow(s, tt.sim.spec())
			if w.OK() {
				t.Fatalf("no problem found, want one with %q", tt.want)
			}
			if !slices.ContainsFunc(w.Problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems:\n%s\nwant one with %q", strings.Join(w.Problems, "\n"), tt.want)
			}
		})
	}
}

func TestCheckWindowBoundsProblems(t *testing.T) {
	t.Parallel()
	c := quickSim()
	s := c.run()
	for i := range s {
		s[i].status, s[i].err = 0, "timeout"
	}
	w := checkWindow(s, c.spec())
	if len(w.Problems) != maxProblems+1 || !strings.Contains(w.Problems[maxProblems], "not listed") {
		t.Errorf("got %d problems, want %d and a note:\n%s", len(w.Problems), maxProblems, strings.Join(w.Problems, "\n"))
	}
}
