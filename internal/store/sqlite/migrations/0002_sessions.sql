-- What a user sees of their sessions, refresh-token rotation, and the ids
-- of single-use tokens already used.

-- How the session began: 'password' or 'intra' ('' for older sessions).
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT '';
-- The client that began it: its address (as the throttles see it) and
-- its User-Agent, cut to 256 bytes.
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
-- When the user last proved who they are; NULL: created_at.
ALTER TABLE sessions ADD COLUMN auth_time INTEGER;
-- Moved by every refresh; NULL: created_at.
ALTER TABLE sessions ADD COLUMN last_used_at INTEGER;
-- The jti of the newest refresh token, and of the one it replaced at
-- rotated_at ('' and NULL before any rotation).
ALTER TABLE sessions ADD COLUMN refresh_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN prev_refresh_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN rotated_at INTEGER;

-- The jti of each single-use token (api_token) accepted once, kept until
-- the token expires.
CREATE TABLE used_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX used_tokens_expires_at_idx ON used_tokens (expires_at);
