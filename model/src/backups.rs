//! Backups as they cross the wire: a backup volume as listed (with the server it belongs to),
//! the list's filters and totals, and a "back up now" request with its choices parsed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// One backup on a Proxmox storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupVolume {
    /// `local:backup/vzdump-qemu-100-2026_01_15-10_00_00.vma.zst`.
    pub volid: String,
    /// The part after `backup/`: the file name (or a PBS snapshot path).
    pub filename: String,
    /// The node it was read from (for a shared storage, the first node that sees it).
    pub node: String,
    pub storage: String,
    pub shared: bool,
    /// The guest it belongs to, from Proxmox's `vmid` field.
    pub vmid: Option<u32>,
    /// The proxfleet server with that vmid; `None` when no managed server has it.
    pub server: Option<String>,
    /// Unix seconds (the time in the archive's name).
    pub ctime: i64,
    /// Bytes.
    pub size: u64,
    /// `vma.zst`, `vma.gz`, `vma.lzo`, `vma`, `pbs-vm`.
    pub format: String,
    /// The first line of the notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub protected: bool,
}

/// Filters and order of the backups list (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupQuery {
    /// Text found in the server name, volume id or notes.
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
    /// A server name; its backups only.
    #[serde(default)]
    pub server: Option<String>,
    /// Only backups made on or after this day (`YYYY-MM-DD`, UTC).
    #[serde(default)]
    pub from: Option<String>,
    /// Only backups made on or before this day (`YYYY-MM-DD`, UTC).
    #[serde(default)]
    pub to: Option<String>,
    /// `newest` (default), `oldest`, `largest`, `server`.
    #[serde(default)]
    pub sort: Option<String>,
}

/// Backups and totals per node of one storage view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeBackupStats {
    pub backup_count: usize,
    /// Bytes.
    pub total_size: u64,
}

/// The backups list: the matching volumes (one page of them) and totals over all matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackupList {
    pub backups: Vec<BackupVolume>,
    pub total_count: usize,
    /// Bytes, over every match.
    pub total_size: u64,
    pub node_stats: BTreeMap<String, NodeBackupStats>,
    /// Every node and storage that holds backups, for the filters.
    pub nodes: Vec<String>,
    pub storages: Vec<String>,
    /// More matched than one answer carries (old endpoints without `page`: 5,000).
    pub truncated: bool,
}

/// How vzdump keeps the guest consistent while it reads the disks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupMode {
    /// Live, the guest keeps running (QEMU's backup job; default).
    #[default]
    Snapshot,
    /// The guest is paused while the backup starts.
    Suspend,
    /// The guest is shut down, backed up, and started again.
    Stop,
}

impl BackupMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupMode::Snapshot => "snapshot",
            BackupMode::Suspend => "suspend",
            BackupMode::Stop => "stop",
        }
    }

    pub fn parse(text: &str) -> Result<BackupMode, Invalid> {
        match text {
            "snapshot" | "" => Ok(BackupMode::Snapshot),
            "suspend" => Ok(BackupMode::Suspend),
            "stop" => Ok(BackupMode::Stop),
            other => Err(Invalid::new("mode", format!("unknown backup mode {other:?}: snapshot, suspend or stop"))),
        }
    }
}

/// The archive's compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Zstd,
    Gzip,
    Lzo,
    /// No compression (`0`).
    None,
}

impl Compression {
    /// As vzdump takes it.
    pub fn as_pve(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::Lzo => "lzo",
            Compression::None => "0",
        }
    }

    /// Our names and the old tool's: `lz4` (its UI's choice, which vzdump does not have) is
    /// taken as `lzo`, the other fast one; the second value says so.
    pub fn parse(text: &str) -> Result<(Compression, Option<&'static str>), Invalid> {
        match text {
            "zstd" | "" => Ok((Compression::Zstd, None)),
            "gzip" => Ok((Compression::Gzip, None)),
            "lzo" | "1" => Ok((Compression::Lzo, None)),
            "lz4" => Ok((Compression::Lzo, Some("lz4 is not a vzdump compression; used lzo, the other fast one"))),
            "0" | "none" => Ok((Compression::None, None)),
            other => Err(Invalid::new("compress", format!("unknown compression {other:?}: zstd, gzip, lzo or 0"))),
        }
    }
}

/// "Back up now" for one or more servers, as sent (the old tool's field names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupRequest {
    /// A storage of the server's node that holds backups; default: the first of `local`,
    /// then any other.
    #[serde(default)]
    pub storage: Option<String>,
    /// `snapshot` (default), `suspend` or `stop`.
    #[serde(default)]
    pub mode: Option<String>,
    /// `zstd` (default), `gzip`, `lzo`, `0`; the old UI's `lz4` is taken as `lzo`.
    #[serde(default)]
    pub compress: Option<String>,
    /// Added to the backup's notes after the server's name (one line, ≤ 1024 characters).
    #[serde(default)]
    pub description: Option<String>,
    /// Protected backups are never pruned or deleted until unprotected.
    #[serde(default)]
    pub protected: bool,
}

/// Changes to one backup volume.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VolumeUpdate {
    pub node: String,
    pub volid: String,
    /// New notes (`""` removes them).
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub protected: Option<bool>,
}

/// The notes rule PVE applies (one line, at most 1024 characters), for `field`.
pub fn check_notes(field: &str, text: &str) -> Result<(), Invalid> {
    if text.contains(['\n', '\r']) {
        return Err(Invalid::new(field, "notes must be one line"));
    }
    if text.chars().count() > 1024 {
        return Err(Invalid::new(field, "notes may be at most 1024 characters"));
    }
    Ok(())
}

/// `vzdump-qemu-100-2026_01_15-10_00_00.vma.zst` from a volume id or a bare file name.
pub fn filename_of(volid: &str) -> &str {
    let rest = volid.split_once(':').map_or(volid, |(_, r)| r);
    rest.strip_prefix("backup/").unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_with_their_field() {
        assert_eq!(BackupMode::parse("stop"), Ok(BackupMode::Stop));
        assert_eq!(BackupMode::parse("hot").map_err(|e| e.field), Err("mode".to_owned()));
        assert_eq!(Compression::parse("lz4").map(|c| c.0), Ok(Compression::Lzo));
        assert!(Compression::parse("lz4").is_ok_and(|c| c.1.is_some()));
        assert_eq!(Compression::parse("0").map(|c| c.0.as_pve()), Ok("0"));
        assert_eq!(Compression::parse("xz").map_err(|e| e.field), Err("compress".to_owned()));
        assert!(check_notes("description", "a\nb").is_err());
        assert!(check_notes("description", &"x".repeat(1025)).is_err());
        assert_eq!(filename_of("local:backup/vzdump-qemu-1.vma"), "vzdump-qemu-1.vma");
        assert_eq!(filename_of("vzdump-qemu-1.vma"), "vzdump-qemu-1.vma");
    }
}
