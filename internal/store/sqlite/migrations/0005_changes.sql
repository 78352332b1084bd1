-- Every process keeps a cache of the sessions and users its requests read
-- (package cache). These triggers record, in the transaction that makes
-- it, which of those rows changed: a row of changes whose key is
-- 's:<session id>' or 'u:<user id>'. A process polls PRAGMA data_version
-- and, when the file changed, reads the changes past the last it saw.
-- Being triggers, they record the changes of the authd user commands,
-- and of the sqlite3 shell, too. Rows are kept for a few minutes.

CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT    NOT NULL,
    -- Seconds since the Unix epoch: rows older than a few minutes go.
    at  INTEGER NOT NULL DEFAULT (unixepoch())
) STRICT;

-- A session's last use moves on refreshes and tells nothing a cache
-- decides on: only the other columns record a change.
CREATE TRIGGER sessions_changed
    AFTER UPDATE OF user_id, expires_at, revoked_at, auth_time, refresh_id, prev_refresh_id, rotated_at ON sessions
BEGIN
    INSERT INTO changes (key) VALUES ('s:' || NEW.id);
END;
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
BEGIN
    INSERT INTO changes (key) VALUES ('s:' || OLD.id);
END;

CREATE TRIGGER users_changed AFTER UPDATE ON users
BEGIN
    INSERT INTO changes (key) VALUES ('u:' || NEW.id);
END;
CREATE TRIGGER users_deleted AFTER DELETE ON users
BEGIN
    INSERT INTO changes (key) VALUES ('u:' || OLD.id);
END;

CREATE TRIGGER intra_links_inserted AFTER INSERT ON intra_links
BEGIN
    INSERT INTO changes (key) VALUES ('u:' || NEW.user_id);
END;
CREATE TRIGGER intra_links_changed AFTER UPDATE ON intra_links
BEGIN
    INSERT INTO changes (key) VALUES ('u:' || NEW.user_id), ('u:' || OLD.user_id);
END;
CREATE TRIGGER intra_links_deleted AFTER DELETE ON intra_links
BEGIN
    INSERT INTO changes (key) VALUES ('u:' || OLD.user_id);
END;

CREATE TRIGGER totp_inserted AFTER INSERT ON totp
BEGIN
    INSERT INTO changes (key) VALUES ('u:' || NEW.user_id);
END;
CREATE TRIGGER totp_changed AFTER UPDATE ON totp
BEGIN
    INSERT INTO changes (key) VALUES ('u:' || NEW.user_id);
END;
CREATE TRIGGER totp_deleted AFTER DELETE ON totp
BEGIN
    INSERT INTO changes (key) VALUES ('u:' || OLD.user_id);
END;
