package throttle

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys is the number of keys a Memory tracks at most when
// MemoryOptions.MaxKeys is 0.
const DefaultMaxKeys = 100_000

// KeyBytes bounds the heap a Memory takes a tracked key at six requests a
// minute: the map, the entry, its log and its key. Its tests hold it to
// that.
const KeyBytes = 400

const (
	// maxShards is the number of independently locked parts of a Memory.
	maxShards = 64
	// maxSlots bounds the log of one key. A rate of up to maxSlots
	// requests per period is kept exactly, one timestamp per accepted
	// request. Above it, the period is cut into maxSlots buckets and the
	// requests of a bucket are counted together, as if all were made at
	// the time of its latest one: a request then stays counted up to
	// Period/maxSlots longer than it would in an exact log, never shorter,
	// so the limiter refuses a little early rather than accepting more
	// than N.
	maxSlots = 512
	// initialSlots is the log size of a new key; it doubles as needed, up
	// to the rate's ceiling, so that rarely used keys stay small.
	initialSlots = 8
)

// MemoryOptions configure a Memory.
type MemoryOptions struct {
	Now     func() time.Time // the clock; nil means time.Now
	MaxKeys int              // most keys tracked at once; 0 (or less) means DefaultMaxKeys
	// KeepLive is for counts that must not be forgotten while they
	// matter, such as the failed logins of a locked username: a key with
	// a request in its window is never evicted. When a shard has no room
	// but for such keys, a new key of that shard is counted in the
	// shard's overflow log, shared by every key that finds no room, until
	// room frees; Peek of such a key answers from that log. A flood of
	// new keys then refuses early (the overflow fills N times faster than
	// one key's log) rather than forgetting a live count.
	KeepLive bool
}

// Memory is the in-process Limiter. Its state is that of one process: with
// several replicas each counts on its own.
//
// Keys are spread over independently locked shards, so that requests of
// different clients rarely wait for one another. Memory is bounded: at most
// MaxKeys keys are tracked, each with a log of at most min(N, 513) entries
// of 16 bytes. MaxKeys is split evenly between the shards, and when a new
// key would exceed its shard's share, keys of that shard whose log lies
// wholly outside their window go first (such a key is the same as no key),
// then its least recently used one.
//
// Times are measured from the creation of the Memory, on the monotonic
// clock when Now is time.Now, so that a change of the wall clock does not
// move the windows.
type Memory struct {
	now    func() time.Time
	epoch  time.Time // times are kept as nanoseconds since epoch
	seed   maphash.Seed
	mask   uint64
	shards []shard
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty in-process limiter.
func NewMemory(opts MemoryOptions) *Memory {
	return newMemory(opts, maxShards)
}

// newMemory is NewMemory with at most the given number of shards, a power
// of two.
func newMemory(opts MemoryOptions, shards int) *Memory {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	// Fewer shards than keys, so that every shard holds at least one and
	// the shards together hold exactly maxKeys.
	for shards > maxKeys {
		shards /= 2
	}
	m := &Memory{
		now:    now,
		epoch:  now(),
		seed:   maphash.MakeSeed(),
		mask:   uint64(shards - 1),
		shards: make([]shard, shards),
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.keepLive = opts.KeepLive
		s.keys = make(map[string]*entry)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
		s.max = maxKeys / shards
		if i < maxKeys%shards {
			s.max++
		}
		s.sweepAt = math.MaxInt64
	}
	return m
}

// Allow counts one request of key at rate r, if the rate allows it. It
// returns an error only for a rate that cannot be enforced (N < 1 or a
// period that is not positive). The context is not used: Memory never
// waits for anything but its own short critical sections.
//
// Calls for a key that is already tracked do not allocate.
func (m *Memory) Allow(_ context.Context, key string, r Rate) (Decision, error) {
	s, now, err := m.shard(key, r)
	if err != nil {
		return Decision{}, err
	}
	s.mu.Lock()
	e := s.entry(key, r, now)
	d := e.allow(now)
	if exp := e.expiry(); exp < s.sweepAt {
		s.sweepAt = exp
	}
	s.mu.Unlock()
	return d, nil
}

// Peek tells what Allow would decide for key at rate r, counting nothing.
// A key that is not tracked is not added, a tracked one keeps its place
// in the recency order, and one whose requests have all left the window
// is forgotten. It returns an error only for a rate that cannot be
// enforced.
func (m *Memory) Peek(_ context.Context, key string, r Rate) (Decision, error) {
	s, now, err := m.shard(key, r)
	if err != nil {
		return Decision{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.keys[key]
	if e == nil {
		e = s.overflowFor(r, now)
	}
	if e == nil {
		return Decision{Allowed: true, Remaining: r.N}, nil
	}
	if e.rate != r {
		e.setRate(r)
	}
	d := e.peek(now)
	if e == s.overflow {
		return d, nil
	}
	if e.used == 0 {
		// Every request has left the window: the same as no key.
		s.remove(e)
	} else if exp := e.expiry(); exp < s.sweepAt {
		s.sweepAt = exp
	}
	return d, nil
}

// shard returns the shard of key and the time now, after checking that
// rate r can be enforced.
func (m *Memory) shard(key string, r Rate) (*shard, int64, error) {
	if !r.valid() {
		return nil, 0, fmt.Errorf("throttle: invalid rate %d per %v", r.N, r.Period)
	}
	return &m.shards[maphash.String(m.seed, key)&m.mask], int64(m.now().Sub(m.epoch)), nil
}

// Len is the number of keys currently tracked.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}

// A shard is one independently locked part of a Memory.
type shard struct {
	mu   sync.Mutex
	keys map[string]*entry
	// lru is the sentinel of the recency list: lru.next is the most
	// recently used entry, lru.prev the least.
	lru entry
	max int // most keys this shard tracks
	// keepLive: never evict a key with a request in its window; new keys
	// that find no room are counted in overflow.
	keepLive bool
	overflow *entry
	// sweepAt is a time before which no tracked log lies wholly outside
	// its window: a lower bound of every entry's expiry.
	sweepAt int64
	_       [64]byte // keeps neighbouring shards' locks off one cache line
}

// entry returns the entry of key, made most recently used, creating it
// (and making room for it) if the key is not tracked.
func (s *shard) entry(key string, r Rate, now int64) *entry {
	if e := s.keys[key]; e != nil {
		if e.rate != r {
			e.setRate(r)
		}
		if s.lru.next != e {
			s.unlink(e)
			s.pushFront(e)
		}
		return e
	}
	var e *entry
	if len(s.keys) >= s.max {
		if s.keepLive {
			if e = s.evictIdle(now); e == nil {
				return s.overflowFor(r, now)
			}
		} else {
			e = s.evict(now)
		}
	}
	if e == nil {
		e = new(entry)
	}
	e.reset(key, r)
	s.keys[key] = e
	s.pushFront(e)
	return e
}

// evict removes at least one key and returns a removed entry for reuse.
// Keys whose log lies wholly outside their window go first, then the least
// recently used.
func (s *shard) evict(now int64) *entry {
	if e := s.evictIdle(now); e != nil {
		return e
	}
	tail := s.lru.prev
	s.remove(tail)
	return tail
}

// overflowFor returns the overflow log of a full shard that keeps live
// keys, at rate r, or nil when the shard does not keep live keys or has
// room for a new key (after forgetting the idle ones).
func (s *shard) overflowFor(r Rate, now int64) *entry {
	if !s.keepLive || len(s.keys) < s.max {
		return nil
	}
	if e := s.evictIdle(now); e != nil {
		return nil
	}
	if s.overflow == nil {
		s.overflow = new(entry)
		s.overflow.reset("", r)
	} else if s.overflow.rate != r {
		s.overflow.setRate(r)
	}
	return s.overflow
}

// evictIdle removes the keys whose log lies wholly outside their window,
// as far as it looks, and returns one removed entry for reuse, or nil
// when there is none.
func (s *shard) evictIdle(now int64) *entry {
	tail := s.lru.prev
	if tail.idle(now) {
		s.remove(tail)
		return tail
	}
	if now >= s.sweepAt {
		var spare *entry
		next := int64(math.MaxInt64)
		for e := s.lru.next; e != &s.lru; {
			following := e.next
			if e.idle(now) {
				s.remove(e)
				spare = e
			} else {
				next = min(next, e.expiry())
			}
			e = following
		}
		s.sweepAt = next
		if spare != nil {
			return spare
		}
	}
	return nil
}

func (s *shard) remove(e *entry) {
	delete(s.keys, e.key)
	s.unlink(e)
}

func (s *shard) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *shard) pushFront(e *entry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

// An entry is the log of one key: a ring buffer of slots, oldest first.
type entry struct {
	key        string
	prev, next *entry // recency list of the shard
	rate       Rate
	// width is the bucket size of the log in nanoseconds; 0 keeps one slot
	// per accepted request, an exact log.
	width   int64
	ceiling int    // most slots the log may have at this rate
	slots   []slot // the ring; len(slots) is its current size
	head    int    // index of the oldest slot
	used    int    // slots in use
	count   int    // accepted requests in the slots in use
}

// A slot is one accepted request, or in a bucketed log the accepted
// requests of one bucket.
type slot struct {
	at int64 // time of the (latest) request, in nanoseconds since the epoch
	n  int   // requests
}

// layout returns the bucket width and the most slots of a log at rate r.
func layout(r Rate) (width int64, ceiling int) {
	if r.N <= maxSlots {
		return 0, r.N
	}
	width = max(1, (int64(r.Period)+maxSlots-1)/maxSlots)
	// The live slots of a bucketed log have times in (now-Period, now] and
	// distinct buckets: at most floor((Period-1)/width)+2 <= maxSlots+1.
	return width, min(r.N, maxSlots+1)
}

// reset makes e the empty log of key at rate r, keeping its ring when it
// fits.
func (e *entry) reset(key string, r Rate) {
	e.key = key
	e.head, e.used, e.count = 0, 0, 0
	if e.rate != r || e.slots == nil {
		e.slots = nil
		e.setRate(r)
	}
}

// setRate changes the rate of e's log. When the log has more slots than
// the new rate allows, its oldest ones are counted with the oldest slot
// kept, as if made at its time: nothing is forgotten, and requests only
// ever stay counted longer.
func (e *entry) setRate(r Rate) {
	width, ceiling := layout(r)
	keep := min(e.used, ceiling)
	slots := make([]slot, min(ceiling, max(initialSlots, keep)))
	for i := range e.used {
		s := e.slots[(e.head+i)%len(e.slots)]
		j := max(0, i-(e.used-keep))
		slots[j].at = s.at
		slots[j].n += s.n
	}
	e.rate, e.width, e.ceiling = r, width, ceiling
	e.slots, e.head, e.used = slots, 0, keep
}

// newest returns the latest slot; e.used must be positive.
func (e *entry) newest() *slot {
	i := e.head + e.used - 1
	if i >= len(e.slots) {
		i -= len(e.slots)
	}
	return &e.slots[i]
}

// idle reports whether the log lies wholly outside its window, which is the
// same as having no log.
func (e *entry) idle(now int64) bool {
	return e.used == 0 || now-e.newest().at >= int64(e.rate.Period)
}

// expiry is the time at which the log will lie wholly outside its window.
func (e *entry) expiry() int64 {
	if e.used == 0 {
		return math.MinInt64
	}
	at, p := e.newest().at, int64(e.rate.Period)
	if at > math.MaxInt64-p {
		return math.MaxInt64
	}
	return at + p
}

// allow decides on one request at time now and records it if accepted.
func (e *entry) allow(now int64) Decision {
	now = e.slide(now)
	if e.count >= e.rate.N {
		return Decision{RetryAfter: e.retryAfter(now)}
	}
	e.record(now)
	return Decision{Allowed: true, Remaining: e.rate.N - e.count}
}

// peek decides as allow would at time now, recording nothing.
func (e *entry) peek(now int64) Decision {
	now = e.slide(now)
	if e.count >= e.rate.N {
		return Decision{RetryAfter: e.retryAfter(now)}
	}
	return Decision{Allowed: true, Remaining: e.rate.N - e.count}
}

// slide drops the slots that have left the window at time now, which
// changes no decision, and returns the time to decide at: now, or the
// latest request's time if the clock went back.
func (e *entry) slide(now int64) int64 {
	if e.used > 0 {
		// Calls that read the clock in one order may take the lock in
		// the other; a log stays in time order.
		now = max(now, e.newest().at)
	}
	p := int64(e.rate.Period)
	for e.used > 0 {
		s := &e.slots[e.head]
		if now-s.at < p {
			break
		}
		e.count -= s.n
		e.head++
		if e.head == len(e.slots) {
			e.head = 0
		}
		e.used--
	}
	return now
}

// record adds an accepted request at time now.
func (e *entry) record(now int64) {
	e.count++
	if e.used > 0 {
		last := e.newest()
		if (e.width > 0 && bucket(last.at, e.width) == bucket(now, e.width)) || e.used == e.ceiling {
			// The same bucket; or, after a change of rate, a full log:
			// counting the request with the newest slot keeps the
			// log conservative.
			last.at = now
			last.n++
			return
		}
	}
	if e.used == len(e.slots) {
		e.grow()
	}
	i := e.head + e.used
	if i >= len(e.slots) {
		i -= len(e.slots)
	}
	e.slots[i] = slot{at: now, n: 1}
	e.used++
}

// grow doubles the ring, up to the ceiling.
func (e *entry) grow() {
	slots := make([]slot, min(max(2*len(e.slots), initialSlots), e.ceiling))
	n := copy(slots, e.slots[e.head:])
	copy(slots[n:], e.slots[:e.head])
	e.slots, e.head = slots, 0
}

// retryAfter is the time from now until the log accepts a request again:
// normally until its oldest slot leaves the window.
func (e *entry) retryAfter(now int64) time.Duration {
	left := e.count
	for i, j := 0, e.head; ; i++ {
		s := e.slots[j]
		left -= s.n
		if left < e.rate.N || i == e.used-1 {
			return e.rate.Period - time.Duration(now-s.at)
		}
		if j++; j == len(e.slots) {
			j = 0
		}
	}
}

// bucket is floor(t/width).
func bucket(t, width int64) int64 {
	q := t / width
	if t%width < 0 {
		q--
	}
	return q
}
