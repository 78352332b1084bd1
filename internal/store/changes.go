package store

import (
	"context"
	"strconv"
	"strings"
)

// Change names rows another process changed, as far as a cache of
// sessions and users cares: a session, by id, or a user, by id (the user's
// row, Intra link or second factor).
type Change struct {
	SessionID string // "" for a change of a user
	UserID    int64  // 0 for a change of a session
}

// ParseChange reads a change as the database's triggers write it: "s:"
// and a session id, or "u:" and a user id.
func ParseChange(s string) (Change, bool) {
	kind, key, ok := strings.Cut(s, ":")
	if !ok || key == "" {
		return Change{}, false
	}
	switch kind {
	case "s":
		return Change{SessionID: key}, true
	case "u":
		id, err := strconv.ParseInt(key, 10, 64)
		if err != nil || id <= 0 {
			return Change{}, false
		}
		return Change{UserID: id}, true
	}
	return Change{}, false
}

// ChangeWatcher is told what a ChangeFeed learns.
type ChangeWatcher interface {
	// Following: from now on every change is told. Changes made before
	// may not have been.
	Following()
	// Changed: the rows named changed (or may have: a feed may tell of a
	// change that is not one).
	Changed(c Change)
	// Lost: the feed no longer follows the changes, for err; until it
	// calls Following again, changes go untold.
	Lost(err error)
}

// ChangeFeed is implemented by a Store that can tell of the changes made
// to sessions and users by every process sharing its database, itself
// included: its triggers record them as they commit.
type ChangeFeed interface {
	// WatchChanges tells w of the changes until ctx ends, reconnecting
	// when it loses them. It returns when ctx ends.
	WatchChanges(ctx context.Context, w ChangeWatcher)
}

// Qualified returns columns, a list separated by commas, each prefixed
// with table and a dot: for a query that joins tables whose columns share
// names.
func Qualified(table, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// Cached is implemented by a Store that answers some reads from memory.
type Cached interface {
	// Uncached returns the store beneath, which reads the database.
	Uncached() Store
}

// Uncached returns the store beneath st when st is Cached, else st: for a
// read that decides (a race lost, a code checked), which must see the
// database as it is. Writes go through st itself, which keeps its cache
// true.
func Uncached(st Store) Store {
	if c, ok := st.(Cached); ok {
		return c.Uncached()
	}
	return st
}
