-- The security groups proxfleet attached to each server, in order (the first is evaluated
-- first on the VM). Kept identical to the other dialect's 0009_server_firewall_groups.sql.
-- The VM's own rules are Proxmox's; this table holds only what proxfleet manages there.

UPDATE schema_version SET version = 9 WHERE id = 1;

CREATE TABLE server_firewall_groups (
    server_name TEXT    NOT NULL,
    group_name  TEXT    NOT NULL,
    position    BIGINT  NOT NULL,
    attached_at BIGINT  NOT NULL,
    PRIMARY KEY (server_name, group_name)
);
CREATE INDEX server_firewall_groups_group ON server_firewall_groups (group_name);

-- What proxfleet changed on the VM to make its groups work, so that removing the last group
-- undoes exactly that and nothing the operator set by hand.
CREATE TABLE server_firewall_state (
    server_name   TEXT    NOT NULL PRIMARY KEY,
    -- proxfleet turned the VM's firewall on.
    enabled_by_us BIGINT  NOT NULL DEFAULT 0,
    -- NICs whose firewall flag proxfleet set, comma-separated (net0,net1).
    flagged_nics  TEXT    NOT NULL DEFAULT ''
);
