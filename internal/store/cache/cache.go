// Package cache keeps the authenticated read path off the database: a
// bounded copy, in memory, of the sessions and users that requests read,
// in front of a store.Store.
//
// The copy is kept true three ways. The writes of this process go through
// the cache, which forgets what each one changes once it has committed.
// The writes of every other process sharing the database (other replicas,
// the authd user commands) reach it through the store's ChangeFeed, which
// the database's own triggers feed as each change commits: PostgreSQL's
// LISTEN/NOTIFY, or a table of changes that a SQLite store polls when
// PRAGMA data_version says the file changed. And every entry is read
// again once it is MaxAge old, whatever the feed says.
//
// While the feed is lost (the listening connection broken, the poll
// failing), nothing is answered from memory: every read goes to the
// database, correct and slower, until the feed follows again, which starts
// from an empty cache. Status says which of the two is the case.
//
// A read that fills the cache may race a write: it read the row before
// the write committed and stores it after the write was told. Every
// change moves an epoch, and a fill is kept only if the epoch has not
// moved since the fill began, so such a read is never kept.
package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"authd/internal/store"
)

// Defaults of Options.
const (
	DefaultMaxEntries = 10000
	DefaultMaxAge     = 30 * time.Second
)

// Options tune a Store.
type Options struct {
	// MaxEntries bounds the sessions kept, and the users; zero means
	// DefaultMaxEntries. When it is reached, an entry chosen at random
	// makes room.
	MaxEntries int
	// MaxAge is how long an entry is answered before it is read again;
	// zero means DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store is a store.Store that answers SessionAndUser (what authenticating
// a request reads) and TOTP from memory while its feed follows the
// database's changes. Every other method goes to the store beneath. It is
// safe for concurrent use.
type Store struct {
	next store.Store
	max  int
	age  time.Duration
	now  func() time.Time

	// following is true while the feed tells every change: only then is
	// anything answered from, or kept in, memory.
	following atomic.Bool
	lost      atomic.Pointer[string] // why the feed is lost; nil while following
	// epoch moves on every change told, under mu.
	epoch atomic.Uint64

	mu       sync.RWMutex
	sessions map[string]sessionEntry
	users    map[int64]userEntry
	byUser   map[int64]map[string]struct{} // the cached sessions of each user
}

type sessionEntry struct {
	s  store.Session
	at time.Time // when it was read
}

// userEntry is a user, and its second factor when read (a user without
// one is cached as such, by hasTOTP with totpErr ErrNotFound).
type userEntry struct {
	u       store.User
	hasUser bool
	t       store.TOTP
	totpErr error // store.ErrNotFound, or nil
	hasTOTP bool
	at      time.Time
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.Cached        = (*Store)(nil)
	_ store.ChangeWatcher = (*Store)(nil)
)

// errNotStarted is why a new Store does not follow changes yet.
var errNotStarted = errors.New("not following the database's changes yet")

// New returns a cache in front of next. It answers nothing from memory
// until it is told that its feed follows the changes (see Following).
func New(next store.Store, o Options) *Store {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Store{
		next:     next,
		max:      o.MaxEntries,
		age:      o.MaxAge,
		now:      o.Now,
		sessions: make(map[string]sessionEntry),
		users:    make(map[int64]userEntry),
		byUser:   make(map[int64]map[string]struct{}),
	}
	reason := errNotStarted.Error()
	c.lost.Store(&reason)
	return c
}

// Uncached returns the store beneath.
func (c *Store) Uncached() store.Store { return c.next }

// Status is "following" while reads are answered from memory, else why
// every read goes to the database.
func (c *Store) Status() string {
	if r := c.lost.Load(); r != nil {
		return "database: " + *r
	}
	return "following"
}

// Following starts answering from memory, from an empty cache: changes
// made before the feed followed may not have been told.
func (c *Store) Following() {
	c.mu.Lock()
	c.clear()
	c.following.Store(true)
	c.lost.Store(nil)
	c.mu.Unlock()
}

// Lost stops answering from memory until the next Following.
func (c *Store) Lost(err error) {
	reason := "the feed of changes is lost"
	if err != nil {
		reason += ": " + err.Error()
	}
	c.mu.Lock()
	c.following.Store(false)
	c.lost.Store(&reason)
	c.clear()
	c.mu.Unlock()
}

// Changed forgets the session or the user (with its second factor) of ch.
func (c *Store) Changed(ch store.Change) {
	c.mu.Lock()
	c.epoch.Add(1)
	if ch.SessionID != "" {
		c.forgetSession(ch.SessionID)
	}
	if ch.UserID != 0 {
		delete(c.users, ch.UserID)
	}
	c.mu.Unlock()
}

// changedUser forgets the user id, its second factor and every session of
// it: what this process changed with a write of many sessions at once.
func (c *Store) changedUser(id int64) {
	c.mu.Lock()
	c.epoch.Add(1)
	delete(c.users, id)
	for sid := range c.byUser[id] {
		delete(c.sessions, sid)
	}
	delete(c.byUser, id)
	c.mu.Unlock()
}

// clear forgets everything; mu is held.
func (c *Store) clear() {
	c.epoch.Add(1)
	clear(c.sessions)
	clear(c.users)
	clear(c.byUser)
}

// forgetSession forgets a session; mu is held.
func (c *Store) forgetSession(id string) {
	e, ok := c.sessions[id]
	if !ok {
		return
	}
	delete(c.sessions, id)
	if ids := c.byUser[e.s.UserID]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(c.byUser, e.s.UserID)
		}
	}
}

// fresh reports whether an entry read at is still answered at now.
func (c *Store) fresh(at, now time.Time) bool {
	return now.Sub(at) < c.age && !now.Before(at)
}

// SessionAndUser returns the session and its user from memory, or reads
// both in one query and keeps them.
func (c *Store) SessionAndUser(ctx context.Context, id string) (store.Session, store.User, error) {
	if !c.following.Load() {
		return c.next.SessionAndUser(ctx, id)
	}
	now := c.now()
	c.mu.RLock()
	se, ok := c.sessions[id]
	var ue userEntry
	if ok {
		ue, ok = c.users[se.s.UserID]
	}
	c.mu.RUnlock()
	if ok && ue.hasUser && c.fresh(se.at, now) && c.fresh(ue.at, now) {
		return se.s, ue.u, nil
	}
	epoch := c.epoch.Load()
	s, u, err := c.next.SessionAndUser(ctx, id)
	if err != nil {
		return s, u, err
	}
	c.mu.Lock()
	if c.following.Load() && c.epoch.Load() == epoch {
		c.keepSession(sessionEntry{s: s, at: now})
	}
	c.mu.Unlock()
	c.keepUser(u.ID, epoch, now, func(e *userEntry) { e.u, e.hasUser = u, true })
	return s, u, nil
}

// keepSession stores e, making room first when the cache is full; mu is
// held.
func (c *Store) keepSession(e sessionEntry) {
	if _, ok := c.sessions[e.s.ID]; !ok && len(c.sessions) >= c.max {
		for id := range c.sessions { // a random entry: map order is
			c.forgetSession(id)
			break
		}
	}
	c.sessions[e.s.ID] = e
	ids := c.byUser[e.s.UserID]
	if ids == nil {
		ids = make(map[string]struct{})
		c.byUser[e.s.UserID] = ids
	}
	ids[e.s.ID] = struct{}{}
}

// TOTP returns the user's second factor from memory, or reads it and
// keeps it; a user without one is kept as such.
func (c *Store) TOTP(ctx context.Context, userID int64) (store.TOTP, error) {
	if !c.following.Load() {
		return c.next.TOTP(ctx, userID)
	}
	now := c.now()
	c.mu.RLock()
	e, ok := c.users[userID]
	c.mu.RUnlock()
	if ok && e.hasTOTP && c.fresh(e.at, now) {
		return e.t, e.totpErr
	}
	epoch := c.epoch.Load()
	t, err := c.next.TOTP(ctx, userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return t, err
	}
	c.keepUser(userID, epoch, now, func(e *userEntry) { e.t, e.totpErr, e.hasTOTP = t, err, true })
	return t, err
}

// keepUser sets, with set, what was read of the user id at now, if no
// change was told since epoch. The entry's age is that of its oldest part.
func (c *Store) keepUser(id int64, epoch uint64, now time.Time, set func(*userEntry)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.following.Load() || c.epoch.Load() != epoch {
		return
	}
	e, ok := c.users[id]
	if !ok || !c.fresh(e.at, now) {
		if !ok && len(c.users) >= c.max {
			for k := range c.users {
				delete(c.users, k)
				break
			}
		}
		e = userEntry{at: now}
	}
	set(&e)
	c.users[id] = e
}

// Len returns how many sessions and users are kept.
func (c *Store) Len() (sessions, users int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.sessions), len(c.users)
}
