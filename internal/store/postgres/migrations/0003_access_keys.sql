-- The key pairs that sign access tokens under AUTHD_ACCESS_ALG=EdDSA,
-- numbered in the order they were added: each signs from activates_at
-- until the next one does, and is published until the last token it
-- signed has expired.
CREATE TABLE access_keys (
    seq          BIGINT PRIMARY KEY,
    kid          TEXT NOT NULL,
    alg          TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    public_key   BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    activates_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT access_keys_kid_key UNIQUE (kid)
);
