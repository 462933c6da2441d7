//! What the orphan check (`GET /api/cleanup/orphans`) answers: what is out of step between
//! Proxmox, the records and the address pools.

use serde::{Deserialize, Serialize};

use super::ServerStatus;

/// What the orphan check found (`GET /api/cleanup/orphans`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Orphans {
    /// VMs Proxmox has (templates aside) that no record stands for.
    pub vms_without_record: Vec<OrphanVm>,
    /// Records whose VM Proxmox does not have (by vmid and name); creates and deletes in
    /// progress are left out unless stuck.
    pub records_without_vm: Vec<OrphanRecord>,
    /// Addresses allocated to a server that has no record.
    pub addresses_without_server: Vec<OrphanAddress>,
    pub total: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrphanVm {
    pub vmid: u32,
    pub node: String,
    pub name: String,
    pub status: String,
    /// Whether it carries proxfleet's marker (made by proxfleet, its record lost); `None`
    /// when its config could not be read or there were too many to read.
    pub made_by_proxfleet: Option<bool>,
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrphanRecord {
    pub name: String,
    pub vmid: Option<u32>,
    pub node: Option<String>,
    pub status: ServerStatus,
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrphanAddress {
    pub address: String,
    pub server_name: String,
}
