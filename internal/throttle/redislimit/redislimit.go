// Package redislimit is the throttle.Limiter that every replica of the
// service shares: the logs of the clients live in Redis, and each request
// is decided by one script that Redis runs atomically, so that all replicas
// together accept no more requests than the rate allows.
//
// The semantics are those of throttle.Memory, Django REST Framework's
// sliding log: a request is accepted when fewer than N accepted requests of
// the same key lie in the last period; a request made at t has left the
// window at exactly t+Period; refused requests are not counted; a refused
// request gets the time until the oldest counted request leaves. Two
// differences follow from the store: times are kept to the microsecond
// (the resolution of the Redis clock), a period being rounded up to whole
// microseconds; and the time is by default the Redis server's, so that
// replicas whose clocks disagree still share one window.
//
// The log of a key is a sorted set, one member per accepted request, and
// Redis drops it once its latest request has left the window. As in
// throttle.Memory, a rate of more than 512 requests per period is counted
// in slots of Period/512 (rounded up to a microsecond): the requests of a
// slot count as one entry at the time of the latest, so a request stays
// counted up to one slot longer than in an exact log, never shorter. A log
// thus holds at most 513 entries whatever N is, and deciding a request
// costs O(log entries) in Redis.
//
// Peek, the check that counts nothing, is a second script that only reads
// the log, and decides as Allow would.
package redislimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"authd/internal/throttle"
)

// DefaultPrefix begins the Redis key of every log when Options.Prefix is
// empty.
const DefaultPrefix = "authd:throttle:"

// maxSlots is the most entries per period an exact log keeps; above it,
// requests are counted in slots of Period/maxSlots. It is the bound of
// throttle.Memory, so that both limiters decide alike.
const maxSlots = 512

//go:embed allow.lua
var allowSource string

//go:embed peek.lua
var peekSource string

// Options configure a Limiter.
type Options struct {
	// Prefix begins the Redis key of every log; empty means DefaultPrefix.
	Prefix string
	// Now is the clock. When nil, the Redis server's clock is used, which
	// all replicas share; a clock of the process is for tests, or for
	// replicas whose clocks are known to agree.
	Now func() time.Time
}

// Limiter is a throttle.Limiter whose logs live in Redis, shared by every
// process that uses the same server and prefix. It is safe for concurrent
// use.
type Limiter struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
	allow  *redis.Script
	peek   *redis.Script
}

var _ throttle.Limiter = (*Limiter)(nil)

// New returns a Limiter that keeps its logs in the Redis server (or
// cluster) of client. The client stays the caller's to close.
func New(client redis.UniversalClient, opts Options) *Limiter {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Limiter{
		client: client,
		prefix: prefix,
		now:    opts.Now,
		allow:  redis.NewScript(allowSource),
		peek:   redis.NewScript(peekSource),
	}
}

// Allow counts one request of key at rate, if the rate allows it. The key
// of its log is the prefix followed by key. It returns an error for a rate
// that cannot be enforced (N < 1 or a period that is not positive), and
// when Redis does not answer within ctx or the client's timeouts; the
// request should then be refused.
func (l *Limiter) Allow(ctx context.Context, key string, rate throttle.Rate) (throttle.Decision, error) {
	if rate.N < 1 || rate.Period <= 0 {
		return throttle.Decision{}, fmt.Errorf("redislimit: invalid rate %d per %v", rate.N, rate.Period)
	}
	period := micros(rate.Period)
	var width int64
	if rate.N > maxSlots {
		width = (period + maxSlots - 1) / maxSlots
	}
	res, err := l.allow.Run(ctx, l.client, []string{l.prefix + key}, rate.N, period, width, l.clock()).Int64Slice()
	if err != nil {
		return throttle.Decision{}, fmt.Errorf("redislimit: allow: %w", err)
	}
	if len(res) != 3 {
		return throttle.Decision{}, fmt.Errorf("redislimit: allow: script answered %d values, want 3", len(res))
	}
	accepted, counted, retry := res[0] == 1, res[1], res[2]
	if accepted {
		return throttle.Decision{Allowed: true, Remaining: rate.N - int(counted) - 1}, nil
	}
	return throttle.Decision{RetryAfter: time.Duration(retry) * time.Microsecond}, nil
}

// Peek tells what Allow would decide for key at rate, counting nothing:
// the log is only read, by a second script. It fails as Allow does.
func (l *Limiter) Peek(ctx context.Context, key string, rate throttle.Rate) (throttle.Decision, error) {
	if rate.N < 1 || rate.Period <= 0 {
		return throttle.Decision{}, fmt.Errorf("redislimit: invalid rate %d per %v", rate.N, rate.Period)
	}
	res, err := l.peek.Run(ctx, l.client, []string{l.prefix + key}, rate.N, micros(rate.Period), l.clock()).Int64Slice()
	if err != nil {
		return throttle.Decision{}, fmt.Errorf("redislimit: peek: %w", err)
	}
	if len(res) != 3 {
		return throttle.Decision{}, fmt.Errorf("redislimit: peek: script answered %d values, want 3", len(res))
	}
	open, counted, retry := res[0] == 1, res[1], res[2]
	if open {
		return throttle.Decision{Allowed: true, Remaining: rate.N - int(counted)}, nil
	}
	return throttle.Decision{RetryAfter: time.Duration(retry) * time.Microsecond}, nil
}

// clock is the time argument of the scripts: the process's clock in
// microseconds since the Unix epoch, or "" for the server's.
func (l *Limiter) clock() string {
	if l.now == nil {
		return ""
	}
	return strconv.FormatInt(l.now().UnixMicro(), 10)
}

// micros is d in whole microseconds, rounded up.
func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	if d%time.Microsecond > 0 {
		us++
	}
	return us
}

// Timeouts of a client made by Open, unless its URL sets them.
const (
	dialTimeout  = 2 * time.Second
	readTimeout  = time.Second
	writeTimeout = time.Second
)

// Open connects to the Redis server at rawURL, a redis:// or rediss:// URL
// as redis.ParseURL reads it (redis://[[user]:password@]host[:port][/db]),
// and checks that it answers PING within ctx. Unless the URL's query says
// otherwise, the client gives up dialing after 2 s and reading or writing
// after 1 s, and a call's context bounds it too. Errors name the server by
// scheme, host and database only: never the password.
func Open(ctx context.Context, rawURL string) (*redis.Client, error) {
	client, server, err := newClient(rawURL)
	if err != nil {
		return nil, err
	}
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redislimit: ping %s: %w", server, err)
	}
	return client, nil
}

// NewClient is Open without the PING: a client for a server that may not
// answer yet, for a service that must start (and count in-process) while
// Redis is down. Only a malformed URL is an error.
func NewClient(rawURL string) (*redis.Client, error) {
	c, _, err := newClient(rawURL)
	return c, err
}

// newClient also returns the server as it may appear in errors and logs:
// scheme, host and database, never the password.
func newClient(rawURL string) (*redis.Client, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// The parser's message quotes the URL, password included.
		return nil, "", errors.New("redislimit: the Redis URL does not parse, want redis://[[user]:password@]host[:port][/db], or the same with rediss://")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, "", fmt.Errorf("redislimit: Redis URL scheme %q, want redis or rediss", u.Scheme)
	}
	server := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("redislimit: %s: %w", server, err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = dialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = readTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = writeTimeout
	}
	// A limiter that cannot reach Redis must say so at once, so that the
	// failover counts in-process instead of holding the request: go-redis
	// by default dials five times and retries a command three times, about
	// two seconds against a server that is down. One dial and one retry,
	// unless the URL asks otherwise.
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 1
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	opts.ContextTimeoutEnabled = true
	return redis.NewClient(opts), server, nil
}
