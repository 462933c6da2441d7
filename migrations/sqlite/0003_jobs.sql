-- Durable jobs: one row per job, one per item of a bulk job, and log lines.
-- Kept column-for-column identical to the other dialect's 0003_jobs.sql.

UPDATE schema_version SET version = 3 WHERE id = 1;

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    kind              TEXT    NOT NULL,
    params            TEXT    NOT NULL DEFAULT '{}',
    -- The user who started it (kept by name too: the record outlives a deleted user).
    owner_id          BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    owner             TEXT    NOT NULL DEFAULT '',
    -- queued, running, succeeded, failed, partially_failed, cancelled
    status            TEXT    NOT NULL,
    progress          BIGINT  NOT NULL DEFAULT 0,
    step              TEXT    NOT NULL DEFAULT '',
    -- Steps finished so far: a resumed job continues after them.
    steps_done        BIGINT  NOT NULL DEFAULT 0,
    result            TEXT,
    error             TEXT,
    attempts          BIGINT  NOT NULL DEFAULT 0,
    cancel_requested  BIGINT  NOT NULL DEFAULT 0,
    retry_of          BIGINT  REFERENCES jobs (id) ON DELETE SET NULL,
    -- Which instance runs it, and until when its claim holds without a heartbeat.
    lease_owner       TEXT,
    lease_until       BIGINT,
    created_at        BIGINT  NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT,
    updated_at        BIGINT  NOT NULL
);
CREATE INDEX jobs_status_id ON jobs (status, id);
CREATE INDEX jobs_owner ON jobs (owner_id, id);

CREATE TABLE job_items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      BIGINT  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position    BIGINT  NOT NULL,
    name        TEXT    NOT NULL,
    -- queued, running, succeeded, failed, cancelled
    status      TEXT    NOT NULL,
    result      TEXT,
    error       TEXT,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX job_items_job ON job_items (job_id, position);

CREATE TABLE job_logs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  BIGINT  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at      BIGINT  NOT NULL,
    level   TEXT    NOT NULL,
    item    TEXT,
    line    TEXT    NOT NULL
);
CREATE INDEX job_logs_job ON job_logs (job_id, id);
