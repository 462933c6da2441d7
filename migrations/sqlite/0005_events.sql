-- Live events, kept so a reconnecting client (Last-Event-ID) gets what it missed.
-- Kept column-for-column identical to the other dialect's 0005_events.sql.

UPDATE schema_version SET version = 5 WHERE id = 1;

CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT  NOT NULL,
    -- NULL: every signed-in user may see it; otherwise only this user.
    user_id   BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    kind      TEXT    NOT NULL,
    payload   TEXT    NOT NULL
);
CREATE INDEX events_user_id ON events (user_id, id);
