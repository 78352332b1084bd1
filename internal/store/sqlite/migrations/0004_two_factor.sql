-- Two-factor authentication: each user's TOTP secret, their recovery
-- codes, and the attempts made with each mfa_token.

CREATE TABLE totp (
    user_id    INTEGER NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The active secret as kept: 'aes256gcm:...', encrypted with the data
    -- key, or 'plain:...'; '' while none is active.
    secret     TEXT    NOT NULL DEFAULT '',
    -- The secret set up and not confirmed yet; '' when none is.
    pending    TEXT    NOT NULL DEFAULT '',
    -- The time step of the last code accepted: no code of it or of an
    -- earlier step is accepted again, on any replica.
    last_step  INTEGER NOT NULL DEFAULT 0,
    enabled_at INTEGER
) STRICT;

-- Recovery codes, kept only as hashes; used_at is NULL until used.
CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;

-- Each mfa_token tried: how many codes it was tried with, and whether a
-- right one used it up; kept until it expires.
CREATE TABLE mfa_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used       INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX mfa_tokens_expires_at_idx ON mfa_tokens (expires_at);
