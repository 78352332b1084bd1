package main

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// cappedPacer paces as its Pacer does and stops after max hits, so that
// an attack is bounded in count as well as in rate and time, or as soon
// as done is closed.
type cappedPacer struct {
	vegeta.Pacer
	max  uint64
	done <-chan struct{}
}

func (c cappedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	select {
	case <-c.done:
		return 0, true
	default:
	}
	if hits >= c.max {
		return 0, true
	}
	return c.Pacer.Pace(elapsed, hits)
}

// newClient is the HTTP client of one or more attacks: on loopback
// whatever the environment's proxy settings, following no redirect, each
// request bounded by timeout, at most maxConns connections (0: no limit).
// Its caller closes its idle connections when done, so that authd's
// graceful stop does not wait on connections never used.
func newClient(timeout time.Duration, maxConns int) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: vegeta.DefaultConnections,
			MaxConnsPerHost:     maxConns,
		},
	}
}

// fire runs one attack with a new Attacker sending through client: each
// target is sent once, in order, at the pacer's rate, for at most du;
// each result goes to each as it arrives. Cancelling ctx stops the attack.
func fire(ctx context.Context, client *http.Client, name string, targets []vegeta.Target, pacer vegeta.Pacer, du time.Duration, each func(*vegeta.Result), opts ...func(*vegeta.Attacker)) {
	opts = append([]func(*vegeta.Attacker){vegeta.Client(client), vegeta.MaxBody(64 << 10), vegeta.MaxWorkers(512)}, opts...)
	a := vegeta.NewAttacker(opts...)
	var next atomic.Int64
	tr := func(t *vegeta.Target) error {
		i := next.Add(1) - 1
		if i >= int64(len(targets)) {
			return vegeta.ErrNoTargets
		}
		*t = targets[i]
		return nil
	}
	// Cancelling ctx stops the Attacker, and the pacer refuses further
	// hits, which a stopped Attacker may otherwise still send.
	stop := context.AfterFunc(ctx, func() { a.Stop() })
	defer stop()
	for r := range a.Attack(tr, cappedPacer{pacer, uint64(len(targets)), ctx.Done()}, du, name) {
		each(r)
	}
}

// repeat is n copies of one target.
func repeat(t vegeta.Target, n int) []vegeta.Target {
	ts := make([]vegeta.Target, n)
	for i := range ts {
		ts[i] = t
	}
	return ts
}
