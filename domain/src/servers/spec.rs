//! What a create request says about a server, in our field names and the old tool's, and the
//! checked `ServerSpec` the create job works from. Checks that need no database or cluster
//! (names, ranges, devices, addresses) live here; `validate` in `service.rs` adds the rest.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// A template by id (`9000`, `"9000"`) or by name (`"ubuntu-24.04"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TemplateRef {
    Id(u32),
    Name(String),
}

/// A number the old tool's UI may send as a string (`"24"`).
fn loose_u32<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u32>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()).map(Some).ok_or_else(|| serde::de::Error::custom("expected a whole number")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("{s:?} is not a whole number"))),
        Some(_) => Err(serde::de::Error::custom("expected a whole number")),
    }
}

fn loose_u64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    loose_u32(d).map(|v| v.map(u64::from))
}

/// One disk as sent: `{"size": 20, "interface": "scsi0", "datastore_id": "local-lvm"}` (old)
/// or `{"size_gb": 20, "bus": "scsi", "index": 0, "storage": "local-lvm", "type": "ssd"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskRequest {
    /// GB.
    #[serde(default, alias = "size", deserialize_with = "loose_u64")]
    pub size_gb: Option<u64>,
    /// `scsi0`, `virtio1`, … (the old tool's name for bus + index).
    #[serde(default)]
    pub interface: Option<String>,
    #[serde(default)]
    pub bus: Option<String>,
    #[serde(default, deserialize_with = "loose_u32")]
    pub index: Option<u32>,
    #[serde(default, alias = "datastore_id", alias = "datastore")]
    pub storage: Option<String>,
    /// `hdd` or `ssd`: which default datastore to use when `storage` is not given.
    #[serde(default, rename = "type", alias = "disk_type")]
    pub kind: Option<String>,
}

/// One NIC as sent: `{"bridge","ip_address","subnet","gateway"}` (old) or with `ip_pool`,
/// `vlan`, `dns`, `prefix`, `ip`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NicRequest {
    #[serde(default)]
    pub bridge: Option<String>,
    #[serde(default, alias = "ip_address")]
    pub ip: Option<String>,
    /// Prefix length (the old tool called it `subnet`).
    #[serde(default, alias = "subnet", deserialize_with = "loose_u32")]
    pub prefix: Option<u32>,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default, alias = "pool")]
    pub ip_pool: Option<String>,
    #[serde(default, deserialize_with = "loose_u32")]
    pub vlan: Option<u32>,
    #[serde(default)]
    pub dns: Vec<String>,
    /// `dhcp`: no address from proxfleet.
    #[serde(default)]
    pub mode: Option<String>,
}

/// One server as sent, in our names or the old tool's (aliases).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, alias = "template_vm_id", alias = "template_vmid")]
    pub template: Option<TemplateRef>,
    #[serde(default)]
    pub os_type: Option<String>,
    #[serde(default, alias = "cpu", deserialize_with = "loose_u32")]
    pub cores: Option<u32>,
    #[serde(default, deserialize_with = "loose_u32")]
    pub sockets: Option<u32>,
    /// MB.
    #[serde(default, alias = "memory_mb", deserialize_with = "loose_u64")]
    pub memory: Option<u64>,
    #[serde(default)]
    pub disks: Option<Vec<DiskRequest>>,
    #[serde(default, alias = "network_devices")]
    pub nics: Option<Vec<NicRequest>>,
    #[serde(default, alias = "vm_username")]
    pub ci_user: Option<String>,
    /// Stored only in the job's parameters (masked wherever a job is shown).
    #[serde(default, alias = "vm_password")]
    pub ci_password: Option<String>,
    #[serde(default)]
    pub ssh_keys: Option<Vec<String>>,
    /// `full` (default) or `linked`.
    #[serde(default)]
    pub clone: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default, alias = "firewall_group")]
    pub security_group: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    /// The old UI sends a redundant `disk` next to `disks`; accepted and ignored.
    #[serde(default, rename = "disk", skip_serializing)]
    pub legacy_disk: Option<Value>,
}

/// A bulk request: the old tool's `{"servers": [...]}`, or ours: a name pattern with `{n}`
/// and a count applied to one `spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    #[serde(default)]
    pub servers: Option<Vec<ServerRequest>>,
    #[serde(default)]
    pub name_pattern: Option<String>,
    #[serde(default, deserialize_with = "loose_u32")]
    pub count: Option<u32>,
    /// First `{n}` (default 1).
    #[serde(default, deserialize_with = "loose_u32")]
    pub start: Option<u32>,
    #[serde(default)]
    pub spec: Option<ServerRequest>,
}

pub const MAX_BULK: usize = 200;

impl BulkRequest {
    /// The servers it stands for, in order.
    pub fn expand(self) -> Result<Vec<ServerRequest>> {
        match (self.servers, self.name_pattern) {
            (Some(_), Some(_)) => Err(Error::validation("servers", "give either `servers` or `name_pattern` + `count`, not both")),
            (Some(list), None) => {
                if list.is_empty() {
                    return Err(Error::validation("servers", "the list of servers is empty"));
                }
                if list.len() > MAX_BULK {
                    return Err(Error::validation("servers", format!("at most {MAX_BULK} servers per request")));
                }
                Ok(list)
            }
            (None, Some(pattern)) => {
                if !pattern.contains("{n}") {
                    return Err(Error::validation("name_pattern", "the pattern needs {n} where the number goes, e.g. web-{n}"));
                }
                let count = self.count.ok_or_else(|| Error::validation("count", "how many servers?"))? as usize;
                if count == 0 || count > MAX_BULK {
                    return Err(Error::validation("count", format!("count must be 1–{MAX_BULK}")));
                }
                let spec = self.spec.ok_or_else(|| Error::validation("spec", "the spec every server is made from"))?;
                let start = self.start.unwrap_or(1);
                Ok((0..count)
                    .map(|i| ServerRequest { name: Some(pattern.replace("{n}", &(start as usize + i).to_string())), ..spec.clone() })
                    .collect())
            }
            (None, None) => Err(Error::validation("servers", "give `servers` (a list) or `name_pattern` + `count` + `spec`")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskSpec {
    pub bus: String,
    pub index: u32,
    /// Empty until the service fills in the default datastore.
    pub storage: String,
    pub size_gb: u64,
    /// `hdd`/`ssd`, for the default datastore.
    pub kind: String,
}

impl DiskSpec {
    pub fn device(&self) -> String {
        format!("{}{}", self.bus, self.index)
    }
}

/// Where a NIC's address comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum NicAddress {
    Pool { pool: String },
    Static { ip: String, prefix: u8, gateway: Option<String> },
    Dhcp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NicSpec {
    pub index: u32,
    /// Empty: the pool's bridge.
    pub bridge: String,
    pub vlan: Option<u16>,
    pub address: NicAddress,
    pub dns: Vec<String>,
}

/// A checked server, ready for the create job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSpec {
    pub name: String,
    pub template: TemplateRef,
    pub os_type: String,
    pub cores: u32,
    pub sockets: u32,
    pub memory_mb: u64,
    pub disks: Vec<DiskSpec>,
    pub nics: Vec<NicSpec>,
    pub ci_user: String,
    pub ci_password: Option<String>,
    pub ssh_keys: Vec<String>,
    pub full_clone: bool,
    pub role: String,
    pub security_group: String,
    pub tags: Vec<String>,
    pub description: String,
}

pub const BUSES: [(&str, u32); 4] = [("scsi", 30), ("virtio", 15), ("sata", 5), ("ide", 3)];
pub const ROLES: [&str; 6] = ["web", "was", "java", "search", "ftp", "db"];

/// A server name: a DNS label (Proxmox requires one), 1–63 characters.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid server name: use 1–63 letters, digits and '-' (not at the ends)"))
    }
}

/// `scsi0` → (`scsi`, 0).
pub fn parse_device(text: &str) -> Option<(String, u32)> {
    let split = text.find(|c: char| c.is_ascii_digit())?;
    let (bus, index) = text.split_at(split);
    let index: u32 = index.parse().ok()?;
    BUSES.iter().find(|(b, max)| *b == bus && index <= *max).map(|(b, _)| ((*b).to_owned(), index))
}

/// The field path of a server in a request, for error messages: `servers[2] (web-3).memory`.
fn at(position: usize, name: &str, field: &str) -> String {
    if name.is_empty() {
        format!("servers[{position}].{field}")
    } else {
        format!("servers[{position}] ({name}).{field}")
    }
}

fn invalid(position: usize, name: &str, field: &str, message: impl Into<String>) -> Error {
    let field = at(position, name, field);
    let message = format!("{field}: {}", message.into());
    Error::Validation { field: Some(field), message, details: None }
}

/// Checks one request on its own and turns it into a spec. `default_keys` are added when the
/// request brings no SSH key.
pub fn normalise(position: usize, r: ServerRequest, default_keys: &[String]) -> Result<ServerSpec> {
    let name = r.name.clone().unwrap_or_default().trim().to_owned();
    check_name(&name).map_err(|m| invalid(position, &name, "name", m))?;
    let template = r.template.clone().ok_or_else(|| invalid(position, &name, "template", "which template (template_vm_id) to clone"))?;
    let cores = r.cores.unwrap_or(2);
    if !(1..=128).contains(&cores) {
        return Err(invalid(position, &name, "cores", "cores (cpu) must be 1–128"));
    }
    let sockets = r.sockets.unwrap_or(1);
    if !(1..=4).contains(&sockets) {
        return Err(invalid(position, &name, "sockets", "sockets must be 1–4"));
    }
    let memory_mb = r.memory.unwrap_or(2048);
    if !(256..=4 * 1024 * 1024).contains(&memory_mb) {
        return Err(invalid(position, &name, "memory", "memory (MB) must be 256–4194304"));
    }

    let mut disks = Vec::new();
    let mut used = BTreeSet::new();
    for (i, d) in r.disks.clone().unwrap_or_default().into_iter().enumerate() {
        let field = format!("disks[{i}]");
        let size_gb = d.size_gb.ok_or_else(|| invalid(position, &name, &format!("{field}.size"), "the size in GB"))?;
        if !(1..=65536).contains(&size_gb) {
            return Err(invalid(position, &name, &format!("{field}.size"), "sizes are 1–65536 GB"));
        }
        let (bus, index) = match (&d.interface, &d.bus) {
            (Some(iface), _) => parse_device(iface)
                .ok_or_else(|| invalid(position, &name, &format!("{field}.interface"), format!("{iface:?} is not a disk device such as scsi0 or virtio1")))?,
            (None, Some(bus)) => {
                let Some((b, max)) = BUSES.iter().find(|(b, _)| b == bus) else {
                    return Err(invalid(position, &name, &format!("{field}.bus"), format!("{bus:?}: use scsi, virtio, sata or ide")));
                };
                // No index: the next free one on that bus.
                let index = match d.index {
                    Some(n) => n,
                    None => (0..=*max).find(|n| !used.contains(&format!("{b}{n}"))).unwrap_or(*max + 1),
                };
                if index > *max {
                    return Err(invalid(position, &name, &format!("{field}.index"), format!("{b} has devices 0–{max}")));
                }
                ((*b).to_owned(), index)
            }
            (None, None) if i == 0 => ("scsi".to_owned(), 0),
            (None, None) => {
                let n = (0..=30).find(|n| !used.contains(&format!("scsi{n}"))).unwrap_or(31);
                ("scsi".to_owned(), n)
            }
        };
        let device = format!("{bus}{index}");
        if bus == "ide" && index == 2 {
            return Err(invalid(position, &name, &format!("{field}.interface"), "ide2 holds the cloud-init drive"));
        }
        if !used.insert(device.clone()) {
            return Err(invalid(position, &name, &format!("{field}.interface"), format!("{device} is used twice")));
        }
        let kind = d.kind.clone().unwrap_or_else(|| "hdd".into()).to_lowercase();
        if kind != "hdd" && kind != "ssd" {
            return Err(invalid(position, &name, &format!("{field}.type"), "hdd or ssd"));
        }
        disks.push(DiskSpec { bus, index, storage: d.storage.clone().unwrap_or_default().trim().to_owned(), size_gb, kind });
    }
    if disks.is_empty() {
        return Err(invalid(position, &name, "disks", "at least one disk (the first one is the boot disk)"));
    }
    if disks.len() > 16 {
        return Err(invalid(position, &name, "disks", "at most 16 disks"));
    }

    let mut nics = Vec::new();
    let requested = r.nics.clone().unwrap_or_else(|| vec![NicRequest { ip_pool: Some("default".into()), ..Default::default() }]);
    if requested.len() > 8 {
        return Err(invalid(position, &name, "network_devices", "at most 8 network devices"));
    }
    for (i, n) in requested.into_iter().enumerate() {
        let field = format!("network_devices[{i}]");
        let bridge = n.bridge.clone().unwrap_or_default();
        if !bridge.is_empty() && (bridge.len() > 15 || !bridge.chars().all(|c| c.is_ascii_alphanumeric())) {
            return Err(invalid(position, &name, &format!("{field}.bridge"), format!("{bridge:?} is not a bridge name such as vmbr0")));
        }
        let vlan = match n.vlan {
            None => None,
            Some(v @ 1..=4094) => Some(v as u16),
            Some(_) => return Err(invalid(position, &name, &format!("{field}.vlan"), "VLAN tags are 1–4094")),
        };
        let ip = n.ip.clone().filter(|s| !s.trim().is_empty());
        let address = match (ip, n.ip_pool.clone().filter(|s| !s.is_empty()), n.mode.as_deref()) {
            (_, _, Some("dhcp")) => NicAddress::Dhcp,
            (_, _, Some(m)) if m != "static" && m != "pool" => {
                return Err(invalid(position, &name, &format!("{field}.mode"), "dhcp, static or pool"));
            }
            (Some(_), Some(_), _) => return Err(invalid(position, &name, &format!("{field}.ip_address"), "give ip_address or ip_pool, not both")),
            (Some(ip), None, _) => {
                // `10.0.0.5/24` carries its prefix; otherwise `subnet`/`prefix` does.
                let (addr, inline_prefix) = match ip.trim().split_once('/') {
                    Some((a, p)) => (a.to_owned(), p.parse::<u32>().ok()),
                    None => (ip.trim().to_owned(), None),
                };
                let parsed: Ipv4Addr = addr.parse().map_err(|_| invalid(position, &name, &format!("{field}.ip_address"), format!("{addr:?} is not an IPv4 address")))?;
                let prefix = inline_prefix.or(n.prefix).unwrap_or(24);
                if !(8..=32).contains(&prefix) {
                    return Err(invalid(position, &name, &format!("{field}.subnet"), "the prefix (subnet) must be 8–32"));
                }
                let gateway = match n.gateway.clone().filter(|g| !g.trim().is_empty()) {
                    None => None,
                    Some(g) => {
                        let gw: Ipv4Addr = g.trim().parse().map_err(|_| invalid(position, &name, &format!("{field}.gateway"), format!("{g:?} is not an IPv4 address")))?;
                        let mask = if prefix == 32 { u32::MAX } else { u32::MAX << (32 - prefix) };
                        if u32::from(gw) & mask != u32::from(parsed) & mask {
                            return Err(invalid(position, &name, &format!("{field}.gateway"), format!("gateway {gw} is not in {parsed}/{prefix}")));
                        }
                        Some(gw.to_string())
                    }
                };
                NicAddress::Static { ip: parsed.to_string(), prefix: prefix as u8, gateway }
            }
            (None, Some(pool), _) => NicAddress::Pool { pool },
            (None, None, _) => NicAddress::Pool { pool: "default".into() },
        };
        if matches!(address, NicAddress::Static { .. }) && bridge.is_empty() {
            return Err(invalid(position, &name, &format!("{field}.bridge"), "a static address needs its bridge (e.g. vmbr0)"));
        }
        for d in &n.dns {
            d.parse::<std::net::IpAddr>().map_err(|_| invalid(position, &name, &format!("{field}.dns"), format!("{d:?} is not an IP address")))?;
        }
        nics.push(NicSpec { index: i as u32, bridge, vlan, address, dns: n.dns.clone() });
    }

    let ci_user = r.ci_user.clone().unwrap_or_default().trim().to_owned();
    if !ci_user.is_empty() && (ci_user.len() > 32 || !ci_user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        return Err(invalid(position, &name, "vm_username", "a user name of letters, digits, '-' and '_'"));
    }
    let mut ssh_keys: Vec<String> = r.ssh_keys.clone().unwrap_or_default().into_iter().map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect();
    for (i, k) in ssh_keys.iter().enumerate() {
        let kind = k.split_whitespace().next().unwrap_or("");
        if !(kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-")) || k.split_whitespace().count() < 2 {
            return Err(invalid(position, &name, &format!("ssh_keys[{i}]"), "not an OpenSSH public key (ssh-ed25519 AAAA… comment)"));
        }
    }
    if ssh_keys.is_empty() {
        ssh_keys = default_keys.to_vec();
    }
    let full_clone = match r.clone.as_deref() {
        None | Some("full") => true,
        Some("linked") => false,
        Some(other) => return Err(invalid(position, &name, "clone", format!("{other:?}: full or linked"))),
    };
    let role = r.role.clone().unwrap_or_default().trim().to_owned();
    if !role.is_empty() && !ROLES.contains(&role.as_str()) {
        return Err(invalid(position, &name, "role", format!("{role:?}: one of {}", ROLES.join(", "))));
    }
    let tags: Vec<String> = r.tags.clone().unwrap_or_default().into_iter().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
    for t in &tags {
        if t.len() > 32 || !t.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(invalid(position, &name, "tags", format!("{t:?}: tags are letters, digits, '-', '_' and '.'")));
        }
    }
    let description = r.description.clone().unwrap_or_default();
    if description.len() > 8192 {
        return Err(invalid(position, &name, "description", "at most 8 KiB"));
    }
    Ok(ServerSpec {
        name,
        template,
        os_type: r.os_type.clone().unwrap_or_default().trim().to_lowercase(),
        cores,
        sockets,
        memory_mb,
        disks,
        nics,
        ci_user,
        ci_password: r.ci_password.clone().filter(|p| !p.is_empty()),
        ssh_keys,
        full_clone,
        role,
        security_group: r.security_group.clone().unwrap_or_default().trim().to_owned(),
        tags,
        description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old_tool_body() -> Value {
        serde_json::json!({
            "name": "web-1", "cpu": 2, "memory": 4096,
            "disks": [{"size": 40, "interface": "scsi0", "datastore_id": "local-lvm"}, {"size": "100", "interface": "scsi1", "datastore_id": "shared-nfs"}],
            "network_devices": [{"bridge": "vmbr0", "ip_address": "10.0.0.5", "subnet": "24", "gateway": "10.0.0.1"}],
            "template_vm_id": 8000, "role": "web", "os_type": "rocky", "firewall_group": "web-sg",
            "vm_username": "rocky", "vm_password": "rocky123", "disk": 40
        })
    }

    #[test]
    fn the_old_tools_field_names_are_understood() {
        let r: ServerRequest = serde_json::from_value(old_tool_body()).unwrap_or_else(|e| panic!("{e}"));
        let s = normalise(0, r, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.cores, s.memory_mb, s.template.clone()), (2, 4096, TemplateRef::Id(8000)));
        assert_eq!(s.disks.iter().map(|d| (d.device(), d.storage.as_str(), d.size_gb)).collect::<Vec<_>>(), [("scsi0".into(), "local-lvm", 40), ("scsi1".into(), "shared-nfs", 100)]);
        assert_eq!(s.nics[0].address, NicAddress::Static { ip: "10.0.0.5".into(), prefix: 24, gateway: Some("10.0.0.1".into()) });
        assert_eq!((s.security_group.as_str(), s.ci_user.as_str(), s.ci_password.as_deref()), ("web-sg", "rocky", Some("rocky123")));
    }

    #[test]
    fn errors_name_the_server_and_the_field() {
        let mut body = old_tool_body();
        body["network_devices"][0]["gateway"] = "192.168.1.1".into();
        let r: ServerRequest = serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
        let e = normalise(3, r, &[]).unwrap_err();
        assert!(e.to_string().starts_with("servers[3] (web-1).network_devices[0].gateway: gateway 192.168.1.1 is not in 10.0.0.5/24"), "{e}");
        for (field, value, expect) in [
            ("name", Value::from("-bad"), "name"),
            ("cpu", Value::from(0), "cores"),
            ("memory", Value::from(100), "memory"),
            ("role", Value::from("wizard"), "role"),
        ] {
            let mut body = old_tool_body();
            body[field] = value;
            let r: ServerRequest = serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
            let e = normalise(0, r, &[]).unwrap_err();
            assert!(matches!(&e, Error::Validation { field: Some(f), .. } if f.ends_with(expect)), "{field}: {e}");
        }
        let mut body = old_tool_body();
        body["disks"][1]["interface"] = "scsi0".into();
        let e = normalise(0, serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}")), &[]).unwrap_err();
        assert!(e.to_string().contains("scsi0 is used twice"), "{e}");
        assert!(serde_json::from_value::<ServerRequest>(serde_json::json!({"name": "x", "cpus": 2})).is_err(), "unknown fields are refused");
    }

    #[test]
    fn a_pattern_expands_to_numbered_servers() {
        let bulk = BulkRequest {
            name_pattern: Some("web-{n}".into()),
            count: Some(3),
            start: Some(7),
            spec: Some(ServerRequest { template: Some(TemplateRef::Id(9000)), ..Default::default() }),
            ..Default::default()
        };
        let names: Vec<String> = bulk.expand().unwrap_or_else(|e| panic!("{e}")).into_iter().filter_map(|s| s.name).collect();
        assert_eq!(names, ["web-7", "web-8", "web-9"]);
    }
}
