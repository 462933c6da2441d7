-- Concurrency slots shared by every instance on this database ("at most 2 clones per storage"
-- must hold across instances, not per instance). A slot is held under a lease that the holder
-- renews; a dead instance's slot is free again once its lease ran out.
-- Kept column-for-column identical to the other dialect's 0006_job_slots.sql.

UPDATE schema_version SET version = 6 WHERE id = 1;

CREATE TABLE job_slots (
    slot_key    TEXT    NOT NULL,
    slot        BIGINT  NOT NULL,
    holder      TEXT    NOT NULL,
    lease_until BIGINT  NOT NULL,
    PRIMARY KEY (slot_key, slot)
);
