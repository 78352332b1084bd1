-- Every replica keeps a cache of the sessions and users its requests read
-- (package cache). These triggers tell every replica, at commit, which of
-- those rows changed: a notification on the channel authd_changes, its
-- payload 's:<session id>' or 'u:<user id>'. Being triggers, they also
-- tell of the changes of the authd user commands and of any other client.

CREATE FUNCTION authd_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- TG_ARGV[0] is the payload's prefix, TG_ARGV[1] the column of the key.
    r RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    PERFORM pg_notify('authd_changes', TG_ARGV[0] || ':' || (to_jsonb(r) ->> TG_ARGV[1]));
    -- A user moved from one row to another (never done, but possible)
    -- changes both.
    IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) ->> TG_ARGV[1]) IS DISTINCT FROM (to_jsonb(NEW) ->> TG_ARGV[1]) THEN
        PERFORM pg_notify('authd_changes', TG_ARGV[0] || ':' || (to_jsonb(OLD) ->> TG_ARGV[1]));
    END IF;
    RETURN NULL;
END
$$;

-- A session's last use moves on refreshes and tells nothing a cache
-- decides on: only the other columns notify.
CREATE TRIGGER sessions_changed
    AFTER UPDATE OF user_id, expires_at, revoked_at, auth_time, refresh_id, prev_refresh_id, rotated_at
    ON sessions FOR EACH ROW EXECUTE FUNCTION authd_notify_change('s', 'id');
CREATE TRIGGER sessions_deleted
    AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION authd_notify_change('s', 'id');

CREATE TRIGGER users_changed
    AFTER UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION authd_notify_change('u', 'id');
CREATE TRIGGER intra_links_changed
    AFTER INSERT OR UPDATE OR DELETE ON intra_links FOR EACH ROW EXECUTE FUNCTION authd_notify_change('u', 'user_id');
CREATE TRIGGER totp_changed
    AFTER INSERT OR UPDATE OR DELETE ON totp FOR EACH ROW EXECUTE FUNCTION authd_notify_change('u', 'user_id');
