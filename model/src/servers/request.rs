//! A create request as sent, in our field names and the old tool's (aliases): one server, or
//! a bulk request (the old tool's `{"servers": [...]}`, or a name pattern with a count). The
//! checks and the expansion into servers are the domain's (`domain::servers::spec`); the
//! create page builds these same types, so what it sends is what REST callers send.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

#[cfg(feature = "openapi")]
use crate::limits;
use crate::limits::shown;

/// At most this many servers per request.
pub const MAX_BULK: usize = 200;

/// A template by id (`9000`, `"9000"`) or by name (`"ubuntu-24.04"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TemplateRef {
    Id(u32),
    Name(String),
}

/// Written by hand: the derive cannot put a length on one variant of an untagged enum.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TemplateRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
        let id =
            ObjectBuilder::new().schema_type(SchemaType::new(Type::Integer)).minimum(Some(0)).maximum(Some(u32::MAX));
        let name =
            ObjectBuilder::new().schema_type(SchemaType::new(Type::String)).max_length(Some(limits::TEMPLATE_NAME));
        OneOfBuilder::new()
            .item(id)
            .item(name)
            .description(Some("A template by VMID (`9000`) or by name (`ubuntu-24.04`)"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TemplateRef {}

/// A number the old tool's UI may send as a string (`"24"`).
fn loose_u32<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u32>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected a whole number")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{} is not a whole number", shown(&s)))),
        Some(_) => Err(serde::de::Error::custom("expected a whole number")),
    }
}

fn loose_u64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    loose_u32(d).map(|v| v.map(u64::from))
}

/// One disk as sent: `{"size": 20, "interface": "scsi0", "datastore_id": "local-lvm"}` (old)
/// or `{"size_gb": 20, "bus": "scsi", "index": 0, "storage": "local-lvm", "type": "ssd"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DiskRequest {
    /// Size in GB (old name: `size`).
    #[serde(default, alias = "size", deserialize_with = "loose_u64")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65536))]
    pub size_gb: Option<u64>,
    /// `scsi0`, `virtio1`, … (the old tool's name for bus + index).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|sata[0-5]|ide[013])$")
    )]
    pub interface: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(scsi|virtio|sata|ide)$"))]
    pub bus: Option<String>,
    #[serde(default, deserialize_with = "loose_u32")]
    #[cfg_attr(feature = "openapi", schema(maximum = 30))]
    pub index: Option<u32>,
    /// The datastore (old names: `datastore_id`, `datastore`); default: the HDD or SSD default.
    #[serde(default, alias = "datastore_id", alias = "datastore")]
    pub storage: Option<String>,
    /// `hdd` or `ssd`: which default datastore to use when `storage` is not given.
    #[serde(default, rename = "type", alias = "disk_type")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^([hH][dD][dD]|[sS][sS][dD])$"))]
    pub kind: Option<String>,
}

/// One NIC as sent: `{"bridge","ip_address","subnet","gateway"}` (old) or with `ip_pool`,
/// `vlan`, `dns`, `prefix`, `ip`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NicRequest {
    /// The bridge (`vmbr0`); empty: the IP pool's bridge.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9]{0,15}$"))]
    pub bridge: Option<String>,
    /// A static IPv4 address, optionally with its prefix (`10.0.0.5/24`); old name `ip_address`.
    #[serde(default, alias = "ip_address")]
    #[cfg_attr(feature = "openapi", schema(max_length = 18))]
    pub ip: Option<String>,
    /// Prefix length (the old tool called it `subnet`).
    #[serde(default, alias = "subnet", deserialize_with = "loose_u32")]
    #[cfg_attr(feature = "openapi", schema(minimum = 8, maximum = 32))]
    pub prefix: Option<u32>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 15))]
    pub gateway: Option<String>,
    /// The IP pool to take an address from (default: `default`); old name `pool`.
    #[serde(default, alias = "pool")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub ip_pool: Option<String>,
    #[serde(default, deserialize_with = "loose_u32")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 4094))]
    pub vlan: Option<u32>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 8))]
    pub dns: Vec<String>,
    /// `dhcp`: no address from proxfleet; `static` or `pool` (the default).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(dhcp|static|pool)$"))]
    pub mode: Option<String>,
}

/// One server as sent, in our names or the old tool's (aliases): `cpu` = `cores`,
/// `memory_mb` = `memory`, `template_vm_id`/`template_vmid` = `template`, `network_devices` =
/// `nics`, `vm_username` = `ci_user`, `vm_password` = `ci_password`, `firewall_group` =
/// `security_group`. `name` is required when creating one server (in a bulk `spec` the pattern
/// names them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ServerRequest {
    /// A DNS label: 1–63 letters, digits and `-`, not at the ends.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"))]
    pub name: Option<String>,
    #[serde(default, alias = "template_vm_id", alias = "template_vmid")]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub template: Option<TemplateRef>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub os_type: Option<String>,
    /// vCPU cores [default: 2].
    #[serde(default, alias = "cpu", deserialize_with = "loose_u32")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 128))]
    pub cores: Option<u32>,
    #[serde(default, deserialize_with = "loose_u32")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 4))]
    pub sockets: Option<u32>,
    /// MB [default: 2048].
    #[serde(default, alias = "memory_mb", deserialize_with = "loose_u64")]
    #[cfg_attr(feature = "openapi", schema(minimum = 256, maximum = 4194304))]
    pub memory: Option<u64>,
    /// The first disk is the boot disk (the template's, grown if larger).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, min_items = 1, max_items = 16))]
    pub disks: Option<Vec<DiskRequest>>,
    /// [default: one NIC with an address from the pool `default`]
    #[serde(default, alias = "network_devices")]
    #[cfg_attr(feature = "openapi", schema(max_items = 8))]
    pub nics: Option<Vec<NicRequest>>,
    #[serde(default, alias = "vm_username")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9_-]{0,32}$"))]
    pub ci_user: Option<String>,
    /// Stored only in the job's parameters (masked wherever a job is shown).
    #[serde(default, alias = "vm_password")]
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub ci_password: Option<String>,
    /// OpenSSH public keys, one per entry: `type base64 [comment]`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 16))]
    pub ssh_keys: Option<Vec<String>>,
    /// `full` (default) or `linked`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(full|linked)$"))]
    pub clone: Option<String>,
    /// web, was, java, search, ftp or db.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(|web|was|java|search|ftp|db)$"))]
    pub role: Option<String>,
    #[serde(default, alias = "firewall_group")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub security_group: Option<String>,
    /// Letters, digits, `-`, `_` and `.`; at most 32 characters each.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 32))]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 8192))]
    pub description: Option<String>,
    /// The old UI sends a redundant `disk` next to `disks`; accepted and ignored.
    #[serde(default, rename = "disk", skip_serializing)]
    pub legacy_disk: Option<Value>,
}

/// A bulk request: the old tool's `{"servers": [...]}`, or ours: a name pattern with `{n}`
/// and a count applied to one `spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 200))]
    pub servers: Option<Vec<ServerRequest>>,
    /// `web-{n}`: each name is the pattern with `{n}` replaced by its number.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 66, pattern = "\\{n\\}"))]
    pub name_pattern: Option<String>,
    #[serde(default, deserialize_with = "loose_u32")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 200))]
    pub count: Option<u32>,
    /// First `{n}` (default 1).
    #[serde(default, deserialize_with = "loose_u32")]
    pub start: Option<u32>,
    #[serde(default)]
    pub spec: Option<ServerRequest>,
}
