-- Users, their Intra links, login sessions and the generated signing key.
-- Every time is an INTEGER: microseconds since the Unix epoch, UTC.

CREATE TABLE users (
    -- AUTOINCREMENT: the id of a deleted user is never given to another.
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    -- The username lower-cased: usernames are unique without regard to
    -- case, so Alice and alice cannot both exist.
    username_key  TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL DEFAULT '',
    -- Empty for a user who has no password.
    password_hash TEXT    NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT;

-- A user has at most one Intra account and an Intra account at most one user.
CREATE TABLE intra_links (
    user_id      INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    intra_id     INTEGER NOT NULL UNIQUE,
    login        TEXT    NOT NULL,
    email        TEXT    NOT NULL DEFAULT '',
    display_name TEXT    NOT NULL DEFAULT '',
    image_link   TEXT    NOT NULL DEFAULT '',
    linked_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- NULL while the session is not revoked.
    revoked_at INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- The signing key generated on first start when none is configured. The
-- check on id keeps the table to a single row.
CREATE TABLE signing_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    key        BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
