-- Two-factor authentication: each user's TOTP secret, their recovery
-- codes, and the attempts made with each mfa_token.

CREATE TABLE totp (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The active secret as kept: 'aes256gcm:...', encrypted with the data
    -- key, or 'plain:...'; '' while none is active.
    secret     TEXT NOT NULL DEFAULT '',
    -- The secret set up and not confirmed yet; '' when none is.
    pending    TEXT NOT NULL DEFAULT '',
    -- The time step of the last code accepted: no code of it or of an
    -- earlier step is accepted again, on any replica.
    last_step  BIGINT NOT NULL DEFAULT 0,
    enabled_at TIMESTAMPTZ
);

-- Recovery codes, kept only as hashes; used_at is NULL until used.
CREATE TABLE recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- Each mfa_token tried: how many codes it was tried with, and whether a
-- right one used it up; kept until it expires.
CREATE TABLE mfa_tokens (
    jti        TEXT PRIMARY KEY,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used       BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX mfa_tokens_expires_at_idx ON mfa_tokens (expires_at);
