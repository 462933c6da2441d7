-- Managed servers and IP address management.
-- Kept column-for-column identical to the other dialect's 0007_servers.sql.

UPDATE schema_version SET version = 7 WHERE id = 1;

CREATE TABLE ip_pools (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    -- IPv4 network, e.g. 10.20.0.0/24
    cidr        TEXT    NOT NULL,
    gateway     TEXT,
    -- Comma-separated resolver addresses.
    dns         TEXT    NOT NULL DEFAULT '',
    bridge      TEXT    NOT NULL,
    vlan        BIGINT,
    -- Comma-separated addresses and ranges never handed out: "10.20.0.1-10.20.0.20,10.20.0.254".
    reserved    TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- Every address in use by a server proxfleet knows, from a pool or static. The primary key is
-- what makes an address impossible to hand out twice, whatever the number of instances.
CREATE TABLE ip_allocations (
    address     TEXT    NOT NULL PRIMARY KEY,
    pool_id     BIGINT  REFERENCES ip_pools (id) ON DELETE RESTRICT,
    server_name TEXT    NOT NULL,
    -- The create job that took it (NULL once the server is recorded, or for imported servers).
    job_id      BIGINT,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX ip_allocations_server ON ip_allocations (server_name);
CREATE INDEX ip_allocations_pool ON ip_allocations (pool_id);

CREATE TABLE servers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE,
    vmid           BIGINT  UNIQUE,
    node           TEXT,
    -- creating, running, stopped, paused, missing (gone from Proxmox), failed, deleting, unknown
    status         TEXT    NOT NULL,
    cores          BIGINT  NOT NULL DEFAULT 1,
    sockets        BIGINT  NOT NULL DEFAULT 1,
    memory_mb      BIGINT  NOT NULL DEFAULT 512,
    -- JSON arrays: [{"device":"scsi0","bus":"scsi","index":0,"storage":"local-lvm","size_gb":20}]
    -- and [{"index":0,"bridge":"vmbr0","vlan":null,"mac":"…","ip":"10.0.0.5","prefix":24,"gateway":"…","pool":"default"}]
    disks          TEXT    NOT NULL DEFAULT '[]',
    nics           TEXT    NOT NULL DEFAULT '[]',
    role           TEXT    NOT NULL DEFAULT '',
    security_group TEXT    NOT NULL DEFAULT '',
    os_type        TEXT    NOT NULL DEFAULT '',
    template_vmid  BIGINT,
    owner_id       BIGINT  REFERENCES users (id) ON DELETE SET NULL,
    owner          TEXT    NOT NULL DEFAULT '',
    -- Comma-separated.
    tags           TEXT    NOT NULL DEFAULT '',
    description    TEXT    NOT NULL DEFAULT '',
    -- What Proxmox reports differently from the record (JSON object field → [ours, theirs]).
    drift          TEXT    NOT NULL DEFAULT '{}',
    -- Live figures from the last sync.
    -- CPU load in thousandths of one core set (PVE's fraction × 1000).
    cpu_permille   BIGINT  NOT NULL DEFAULT 0,
    mem_used       BIGINT  NOT NULL DEFAULT 0,
    uptime         BIGINT  NOT NULL DEFAULT 0,
    synced_at      BIGINT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
