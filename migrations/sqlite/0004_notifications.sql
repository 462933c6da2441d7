-- Notifications: per-user or broadcast (user_id NULL), with per-user read and hidden state, so
-- a broadcast one user has read or cleared stays unread for everyone else.
-- Kept column-for-column identical to the other dialect's 0004_notifications.sql.

UPDATE schema_version SET version = 4 WHERE id = 1;

CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    details     TEXT    NOT NULL DEFAULT '',
    -- info, success, warning, error
    severity    TEXT    NOT NULL,
    job_id      BIGINT  REFERENCES jobs (id) ON DELETE SET NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, id);

CREATE TABLE notification_states (
    notification_id  BIGINT  NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    user_id          BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    read_at          BIGINT,
    hidden           BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (notification_id, user_id)
);
