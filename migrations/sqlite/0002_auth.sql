-- Auth: user contact details, API tokens and the audit log.
-- Kept column-for-column identical to the other dialect's 0002_auth.sql.

UPDATE schema_version SET version = 2 WHERE id = 1;

-- The old tool's user object has these; scripts read them.
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';

-- A token acts as its user. Only the SHA-256 of the secret is kept; `prefix` (the first
-- characters of the secret) lets a person tell their tokens apart without revealing them.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    prefix        TEXT    NOT NULL,
    token_digest  TEXT    NOT NULL UNIQUE,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

-- Who did what to what, when, from where, and whether it worked. Actor and target are kept
-- as names (not foreign keys): the record must outlive a deleted user.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         BIGINT  NOT NULL,
    actor      TEXT,
    action     TEXT    NOT NULL,
    target     TEXT,
    source_ip  TEXT,
    success    BIGINT  NOT NULL,
    detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor);
