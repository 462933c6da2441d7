//! Backups: Proxmox VE's vzdump archives of the servers, listed across the cluster, made on
//! demand as jobs, and changed one volume at a time.
//!
//! - `catalogue`: every backup on every node's backup storages, read side by side and kept
//!   10 s (one read in flight), marked stale by the jobs that change it;
//! - `run`: the `backup` job — vzdump per server, followed through its task log (progress,
//!   the new volume), cancelled by stopping the Proxmox task;
//! - `service`: `BackupService` — list, back up now, status per server, notes, protection,
//!   delete.
//!
//! Proxmox holds the backups; proxfleet's database holds only the jobs that made them.

pub mod catalogue;
pub mod run;
pub mod service;

pub use run::{BackupParams, BACKUP};
pub use service::{BackupService, BackupStatus};
