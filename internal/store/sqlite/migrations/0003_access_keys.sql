-- The key pairs that sign access tokens under AUTHD_ACCESS_ALG=EdDSA,
-- numbered in the order they were added: each signs from activates_at
-- until the next one does, and is published until the last token it
-- signed has expired. Times are microseconds since the Unix epoch, UTC.
CREATE TABLE access_keys (
    seq          INTEGER NOT NULL PRIMARY KEY,
    kid          TEXT    NOT NULL UNIQUE,
    alg          TEXT    NOT NULL,
    private_key  BLOB    NOT NULL,
    public_key   BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL
) STRICT;
