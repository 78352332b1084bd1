package main

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"
)

// sample is one request of an attack on a throttled endpoint, as the
// client saw it. The server decided on it at some time between sent and
// done: the checks below hold whatever that time was.
type sample struct {
	sent       time.Time // when the request was sent
	done       time.Time // when its answer, or its failure, came back
	status     int       // 0: no answer at all
	retryAfter string    // the Retry-After header
	err        string    // why there was no answer
}

// answered reports whether the endpoint itself answered, whatever its
// status: the throttle let the request through.
func (s sample) answered() bool {
	return s.status != 0 && s.status != http.StatusTooManyRequests
}

// windowSpec is the rate one client was attacked against, and how the
// attack went.
type windowSpec struct {
	n      int           // requests a period
	period time.Duration // the throttle's window
	slack  time.Duration // timing error tolerated (clock reads)
}

// windowCheck is what one client's attack on one scope showed.
type windowCheck struct {
	Requests int
	// FirstPeriod counts the requests decided within the first period
	// for certain (answered before it ended), FirstAnswered those of them
	// the endpoint answered, and FirstMaybe the answered requests that
	// may have been decided in it (sent before it ended).
	FirstPeriod   int
	FirstAnswered int
	FirstMaybe    int
	// Reaccepted are the requests answered after the first n; ReaccExpected
	// is how many of the first n had left the window early enough to be
	// seen replaced before the attack ended.
	Reaccepted    int
	ReaccExpected int
	RetryChecked  int // 429s whose Retry-After was checked
	Statuses      map[int]int
	Problems      []string
}

// OK reports whether every assertion held.
func (w windowCheck) OK() bool { return len(w.Problems) == 0 }

// maxProblems bounds the problems listed for one attack.
const maxProblems = 6

func (w *windowCheck) fail(format string, a ...any) {
	switch {
	case len(w.Problems) < maxProblems:
		w.Problems = append(w.Problems, fmt.Sprintf(format, a...))
	case len(w.Problems) == maxProblems:
		w.Problems = append(w.Problems, "(further problems not listed)")
	}
}

// checkWindow verifies the contract's throttle semantics (a request is
// accepted when fewer than n accepted requests lie in the last period;
// refused ones are not counted) on the samples of one client attacking one
// scope above its rate:
//
//   - the first request is answered, and exactly n are answered in the
//     first period, the rest refused with 429;
//   - no n+1 answered requests lie within one period;
//   - once the window slides, requests are answered again at the rate:
//     the k-th answer after the first n comes once the k-th of them has
//     left the window, and no later than the first request sent after;
//   - every 429 carries a Retry-After of S whole seconds, at least 1, and
//     the next request accepted came no sooner than S-1 seconds later (S
//     is rounded up) and no later than the first request sent S seconds
//     on.
//
// The server's decision on a request lies between its sent and done
// times, so each bound is taken on the side that holds whatever the
// delays in between; spec.slack absorbs clock reads.
func checkWindow(in []sample, spec windowSpec) windowCheck {
	s := slices.Clone(in)
	slices.SortStableFunc(s, func(a, b sample) int { return a.sent.Compare(b.sent) })
	w := windowCheck{Requests: len(s), Statuses: map[int]int{}}
	if len(s) == 0 {
		w.fail("no request was sent")
		return w
	}
	t0 := s[0].sent
	off := func(t time.Time) string { return "+" + t.Sub(t0).Round(time.Millisecond).String() }
	for _, x := range s {
		w.Statuses[x.status]++
		if x.status == 0 {
			w.fail("the request sent at %s got no answer: %s", off(x.sent), x.err)
		}
	}
	if !s[0].answered() {
		w.fail("the first request got %d: the client was not fresh", s[0].status)
		return w
	}
	var answered []sample
	for _, x := range s {
		if x.answered() {
			answered = append(answered, x)
		}
	}

	// The first period began with the first acceptance, between the
	// first request's sent and done.
	certainEnd := t0.Add(spec.period - spec.slack)
	maybeEnd := s[0].done.Add(spec.period + spec.slack)
	for _, x := range s {
		if x.done.Before(certainEnd) {
			w.FirstPeriod++
			if x.answered() {
				w.FirstAnswered++
			}
		}
		if x.answered() && x.sent.Before(maybeEnd) {
			w.FirstMaybe++
		}
	}
	if w.FirstPeriod <= spec.n {
		w.fail("only %d requests were decided in the first period: the attack did not exceed the rate of %d", w.FirstPeriod, spec.n)
	}
	if w.FirstAnswered > spec.n {
		w.fail("%d requests were answered in the first period, want exactly %d", w.FirstAnswered, spec.n)
	}
	if w.FirstMaybe < spec.n {
		w.fail("only %d requests were answered in the first period, want exactly %d", w.FirstMaybe, spec.n)
	}

	// No n+1 answers within one period.
	for lo := 0; lo+spec.n < len(answered); lo++ {
		end := answered[lo].done
		for _, x := range answered[lo+1 : lo+spec.n+1] {
			if x.done.After(end) {
				end = x.done
			}
		}
		if end.Sub(answered[lo].sent) < spec.period-spec.slack {
			w.fail("%d requests sent from %s were all answered by %s, within one period; want at most %d",
				spec.n+1, off(answered[lo].sent), off(end), spec.n)
			break
		}
	}

	// The window slides: the k-th of the first n answers is replaced
	// once it has left the window. Its slot has opened by one period
	// after it came back; take, for each of the first k slots in turn, a
	// request of its own sent after that: once all k have come back, k
	// requests have been accepted since, each either accepted itself or
	// refused by a window already full again.
	if len(answered) >= spec.n {
		first, later := answered[:spec.n], answered[spec.n:]
		firstDone := sortedTimes(first, func(x sample) time.Time { return x.done })
		firstSent := sortedTimes(first, func(x sample) time.Time { return x.sent })
		laterSent := sortedTimes(later, func(x sample) time.Time { return x.sent })
		laterDone := sortedTimes(later, func(x sample) time.Time { return x.done })
		w.Reaccepted = len(later)
		next := 0 // the next request that may be taken
		var by time.Time
		for k := range spec.n {
			opened := firstDone[k].Add(spec.period + spec.slack)
			i := max(next, sort.Search(len(s), func(i int) bool { return !s[i].sent.Before(opened) }))
			taken := i < len(s)
			if taken {
				w.ReaccExpected++
				next = i + 1
				if s[i].done.After(by) {
					by = s[i].done
				}
			}
			switch {
			case k >= len(later):
			case laterDone[k].Before(firstSent[k].Add(spec.period - spec.slack)):
				w.fail("answer %d after the first %d was back at %s, before answer %d of them (sent at %s) had left the window",
					k+1, spec.n, off(laterDone[k]), k+1, off(firstSent[k]))
			case taken && laterSent[k].After(by.Add(spec.slack)):
				w.fail("answer %d after the first %d was sent at %s, want by %s: answer %d of them had left the window by %s",
					k+1, spec.n, off(laterSent[k]), off(by), k+1, off(opened))
			}
		}
		if len(later) < w.ReaccExpected {
			w.fail("%d requests were answered after the first %d, want at least %d: as many of those had left the window while the attack went on",
				len(later), spec.n, w.ReaccExpected)
		}
	}

	// Retry-After tells when the next request is accepted.
	for _, x := range s {
		if x.status != http.StatusTooManyRequests {
			continue
		}
		w.RetryChecked++
		secs, err := strconv.Atoi(x.retryAfter)
		if err != nil || secs < 1 {
			w.fail("the 429 sent at %s has Retry-After %q, want whole seconds, at least 1", off(x.sent), x.retryAfter)
			continue
		}
		ra := time.Duration(secs) * time.Second
		// Not too late: the window opens after sent+S-1 and by done+S,
		// and it is taken by the time a request sent after that is
		// answered.
		opens := x.sent.Add(ra - time.Second - spec.slack)
		if q, ok := firstSentAfter(s, x.done.Add(ra+spec.slack)); ok {
			i := slices.IndexFunc(answered, func(y sample) bool { return y.done.After(opens) })
			if i < 0 || answered[i].sent.After(q.done.Add(spec.slack)) {
				w.fail("the 429 sent at %s said Retry-After %d, but the request sent at %s was not accepted nor any before it came back at %s",
					off(x.sent), secs, off(q.sent), off(q.done))
			}
		}
		// Not too soon: the window opens after sent+S-1 at the earliest.
		j := sort.Search(len(answered), func(i int) bool { return answered[i].sent.After(x.done) })
		if j < len(answered) && !answered[j].done.After(x.sent.Add(ra-time.Second-spec.slack)) {
			w.fail("the 429 sent at %s said Retry-After %d, but a request sent at %s was accepted by %s", off(x.sent), secs, off(answered[j].sent), off(answered[j].done))
		}
	}
	return w
}

// firstSentAfter returns the first of s, sorted by sent time, sent at or
// after t.
func firstSentAfter(s []sample, t time.Time) (sample, bool) {
	i := sort.Search(len(s), func(i int) bool { return !s[i].sent.Before(t) })
	if i == len(s) {
		return sample{}, false
	}
	return s[i], true
}

// sortedTimes returns one time of each sample, in order.
func sortedTimes(s []sample, at func(sample) time.Time) []time.Time {
	ts := make([]time.Time, len(s))
	for i, x := range s {
		ts[i] = at(x)
	}
	slices.SortFunc(ts, time.Time.Compare)
	return ts
}
