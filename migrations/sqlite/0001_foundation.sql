-- Foundation schema: schema version, users, sessions, settings.
-- Kept column-for-column identical to migrations/postgres/0001_foundation.sql: times are unix
-- milliseconds (BIGINT) and flags are 0/1 BIGINTs so the same queries run on both dialects.

CREATE TABLE schema_version (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    version  BIGINT NOT NULL
);
INSERT INTO schema_version (id, version) VALUES (1, 1);

CREATE TABLE users (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    username              TEXT    NOT NULL UNIQUE,
    password_hash         TEXT    NOT NULL,
    role                  TEXT    NOT NULL,
    permissions           TEXT    NOT NULL DEFAULT '',
    active                BIGINT  NOT NULL DEFAULT 1,
    must_change_password  BIGINT  NOT NULL DEFAULT 0,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL,
    last_login_at         BIGINT
);

CREATE TABLE sessions (
    id            TEXT    PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    source_ip     TEXT,
    user_agent    TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE settings (
    key         TEXT    PRIMARY KEY,
    value       TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL
);
