//! What a create request says about a server, in our field names and the old tool's, and the
//! checked `ServerSpec` the create job works from. Checks that need no database or cluster
//! (names, ranges, devices, addresses) live here; `validate` in `service.rs` adds the rest.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ssh_keys;
use crate::limits::{self, shown};
use crate::{Error, Result};

pub use model::servers::request::{BulkRequest, DiskRequest, NicRequest, ServerRequest, TemplateRef, MAX_BULK};

/// The servers a bulk request stands for, in order.
pub fn expand(bulk: BulkRequest) -> Result<Vec<ServerRequest>> {
    match (bulk.servers, bulk.name_pattern) {
        (Some(_), Some(_)) => {
            Err(Error::validation("servers", "give either `servers` or `name_pattern` + `count`, not both"))
        }
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
            let count = bulk.count.ok_or_else(|| Error::validation("count", "how many servers?"))? as usize;
            if count == 0 || count > MAX_BULK {
                return Err(Error::validation("count", format!("count must be 1–{MAX_BULK}")));
            }
            let start = u64::from(bulk.start.unwrap_or(1));
            check_pattern(&pattern, start + count as u64 - 1)?;
            let spec = bulk.spec.ok_or_else(|| Error::validation("spec", "the spec every server is made from"))?;
            // Check the spec once before copying it `count` times: afterwards every text in
            // it is within its limit, so the copies are bounded too.
            normalise(
                0,
                ServerRequest { name: Some(pattern.replace("{n}", &start.to_string())), ..spec.clone() },
                &[],
            )?;
            Ok((0..count as u64)
                .map(|i| ServerRequest { name: Some(pattern.replace("{n}", &(start + i).to_string())), ..spec.clone() })
                .collect())
        }
        (None, None) => {
            Err(Error::validation("servers", "give `servers` (a list) or `name_pattern` + `count` + `spec`"))
        }
    }
}

/// Checks a name pattern before any name is made from it: every name it makes differs from the
/// one for the highest number only in having fewer digits, so when that name is valid, all are.
fn check_pattern(pattern: &str, highest: u64) -> Result<()> {
    // The longest valid pattern is a 63-character name with `{n}` in it; anything longer is
    // refused before it is copied even once.
    if pattern.chars().nth(63 + 3).is_some() {
        return Err(Error::validation("name_pattern", "the pattern makes names longer than 63 characters"));
    }
    if !pattern.contains("{n}") {
        return Err(Error::validation("name_pattern", "the pattern needs {n} where the number goes, e.g. web-{n}"));
    }
    check_name(&pattern.replace("{n}", &highest.to_string()))
        .map_err(|m| Error::validation("name_pattern", format!("name_pattern {}: {m}", shown(pattern))))
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
        Err(format!("{} is not a valid server name: use 1–63 letters, digits and '-' (not at the ends)", shown(name)))
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
        return format!("servers[{position}].{field}");
    }
    // Only a valid name (at most 63 characters) is repeated whole.
    match name.char_indices().nth(63) {
        None => format!("servers[{position}] ({name}).{field}"),
        Some((cut, _)) => format!("servers[{position}] ({}…).{field}", &name[..cut]),
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
    // The old UI's redundant `disk` (a size) is ignored, but must stay small: it is copied.
    match &r.legacy_disk {
        None | Some(Value::Null | Value::Number(_)) => {}
        Some(Value::String(t)) if t.len() <= 32 => {}
        Some(_) => return Err(invalid(position, &name, "disk", "the old `disk` field is a size in GB (use `disks`)")),
    }
    let template = r
        .template
        .clone()
        .ok_or_else(|| invalid(position, &name, "template", "which template (template_vm_id) to clone"))?;
    if matches!(&template, TemplateRef::Name(t) if t.chars().nth(limits::TEMPLATE_NAME).is_some()) {
        return Err(invalid(
            position,
            &name,
            "template",
            format!("a template name has at most {} characters", limits::TEMPLATE_NAME),
        ));
    }
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
            (Some(iface), _) => parse_device(iface).ok_or_else(|| {
                invalid(
                    position,
                    &name,
                    &format!("{field}.interface"),
                    format!("{} is not a disk device such as scsi0 or virtio1", shown(iface)),
                )
            })?,
            (None, Some(bus)) => {
                let Some((b, max)) = BUSES.iter().find(|(b, _)| b == bus) else {
                    return Err(invalid(
                        position,
                        &name,
                        &format!("{field}.bus"),
                        format!("{}: use scsi, virtio, sata or ide", shown(bus)),
                    ));
                };
                // No index: the next free one on that bus.
                let index = match d.index {
                    Some(n) => n,
                    None => (0..=*max).find(|n| !used.contains(&format!("{b}{n}"))).unwrap_or(*max + 1),
                };
                if index > *max {
                    return Err(invalid(
                        position,
                        &name,
                        &format!("{field}.index"),
                        format!("{b} has devices 0–{max}"),
                    ));
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
        let storage = d.storage.clone().unwrap_or_default().trim().to_owned();
        if storage.chars().nth(limits::NAME).is_some() {
            return Err(invalid(
                position,
                &name,
                &format!("{field}.datastore_id"),
                format!("at most {} characters", limits::NAME),
            ));
        }
        disks.push(DiskSpec { bus, index, storage, size_gb, kind });
    }
    if disks.is_empty() {
        return Err(invalid(position, &name, "disks", "at least one disk (the first one is the boot disk)"));
    }
    if disks.len() > 16 {
        return Err(invalid(position, &name, "disks", "at most 16 disks"));
    }

    let mut nics = Vec::new();
    let requested =
        r.nics.clone().unwrap_or_else(|| vec![NicRequest { ip_pool: Some("default".into()), ..Default::default() }]);
    if requested.len() > 8 {
        return Err(invalid(position, &name, "network_devices", "at most 8 network devices"));
    }
    for (i, n) in requested.into_iter().enumerate() {
        let field = format!("network_devices[{i}]");
        let bridge = n.bridge.clone().unwrap_or_default();
        if !bridge.is_empty() && (bridge.len() > 15 || !bridge.chars().all(|c| c.is_ascii_alphanumeric())) {
            return Err(invalid(
                position,
                &name,
                &format!("{field}.bridge"),
                format!("{} is not a bridge name such as vmbr0", shown(&bridge)),
            ));
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
            (Some(_), Some(_), _) => {
                return Err(invalid(
                    position,
                    &name,
                    &format!("{field}.ip_address"),
                    "give ip_address or ip_pool, not both",
                ))
            }
            (Some(ip), None, _) => {
                // `10.0.0.5/24` carries its prefix; otherwise `subnet`/`prefix` does.
                let (addr, inline_prefix) = match ip.trim().split_once('/') {
                    Some((a, p)) => (a.to_owned(), p.parse::<u32>().ok()),
                    None => (ip.trim().to_owned(), None),
                };
                let parsed: Ipv4Addr = addr.parse().map_err(|_| {
                    invalid(
                        position,
                        &name,
                        &format!("{field}.ip_address"),
                        format!("{} is not an IPv4 address", shown(&addr)),
                    )
                })?;
                let prefix = inline_prefix.or(n.prefix).unwrap_or(24);
                if !(8..=32).contains(&prefix) {
                    return Err(invalid(
                        position,
                        &name,
                        &format!("{field}.subnet"),
                        "the prefix (subnet) must be 8–32",
                    ));
                }
                let gateway = match n.gateway.clone().filter(|g| !g.trim().is_empty()) {
                    None => None,
                    Some(g) => {
                        let gw: Ipv4Addr = g.trim().parse().map_err(|_| {
                            invalid(
                                position,
                                &name,
                                &format!("{field}.gateway"),
                                format!("{} is not an IPv4 address", shown(&g)),
                            )
                        })?;
                        let mask = if prefix == 32 { u32::MAX } else { u32::MAX << (32 - prefix) };
                        if u32::from(gw) & mask != u32::from(parsed) & mask {
                            return Err(invalid(
                                position,
                                &name,
                                &format!("{field}.gateway"),
                                format!("gateway {gw} is not in {parsed}/{prefix}"),
                            ));
                        }
                        Some(gw.to_string())
                    }
                };
                NicAddress::Static { ip: parsed.to_string(), prefix: prefix as u8, gateway }
            }
            (None, Some(pool), _) if pool.chars().nth(limits::NAME).is_some() => {
                return Err(invalid(
                    position,
                    &name,
                    &format!("{field}.ip_pool"),
                    format!("at most {} characters", limits::NAME),
                ));
            }
            (None, Some(pool), _) => NicAddress::Pool { pool },
            (None, None, _) => NicAddress::Pool { pool: "default".into() },
        };
        if matches!(address, NicAddress::Static { .. }) && bridge.is_empty() {
            return Err(invalid(
                position,
                &name,
                &format!("{field}.bridge"),
                "a static address needs its bridge (e.g. vmbr0)",
            ));
        }
        if n.dns.len() > limits::DNS_SERVERS {
            return Err(invalid(
                position,
                &name,
                &format!("{field}.dns"),
                format!("at most {} DNS servers", limits::DNS_SERVERS),
            ));
        }
        for d in &n.dns {
            d.parse::<std::net::IpAddr>().map_err(|_| {
                invalid(position, &name, &format!("{field}.dns"), format!("{} is not an IP address", shown(d)))
            })?;
        }
        nics.push(NicSpec { index: i as u32, bridge, vlan, address, dns: n.dns.clone() });
    }

    let ci_user = r.ci_user.clone().unwrap_or_default().trim().to_owned();
    if !ci_user.is_empty()
        && (ci_user.len() > 32 || !ci_user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        return Err(invalid(position, &name, "vm_username", "a user name of letters, digits, '-' and '_'"));
    }
    let mut ssh_keys: Vec<String> = r
        .ssh_keys
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    if ssh_keys.len() > limits::SSH_KEYS {
        return Err(invalid(position, &name, "ssh_keys", format!("at most {} keys", limits::SSH_KEYS)));
    }
    for (i, k) in ssh_keys.iter().enumerate() {
        ssh_keys::check(k).map_err(|m| invalid(position, &name, &format!("ssh_keys[{i}]"), m))?;
    }
    if ssh_keys.is_empty() {
        ssh_keys = default_keys.to_vec();
    }
    let full_clone = match r.clone.as_deref() {
        None | Some("full") => true,
        Some("linked") => false,
        Some(other) => return Err(invalid(position, &name, "clone", format!("{}: full or linked", shown(other)))),
    };
    let role = r.role.clone().unwrap_or_default().trim().to_owned();
    if !role.is_empty() && !ROLES.contains(&role.as_str()) {
        return Err(invalid(position, &name, "role", format!("{}: one of {}", shown(&role), ROLES.join(", "))));
    }
    let tags: Vec<String> = r
        .tags
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.len() > limits::TAGS {
        return Err(invalid(position, &name, "tags", format!("at most {} tags", limits::TAGS)));
    }
    for t in &tags {
        if t.chars().nth(limits::TAG).is_some() || !t.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(invalid(
                position,
                &name,
                "tags",
                format!("{}: tags are letters, digits, '-', '_' and '.'", shown(t)),
            ));
        }
    }
    let description = r.description.clone().unwrap_or_default();
    if description.chars().nth(limits::DESCRIPTION).is_some() {
        return Err(invalid(position, &name, "description", format!("at most {} characters", limits::DESCRIPTION)));
    }
    let security_group = r.security_group.clone().unwrap_or_default().trim().to_owned();
    if security_group.chars().nth(limits::NAME).is_some() {
        return Err(invalid(position, &name, "security_group", format!("at most {} characters", limits::NAME)));
    }
    let os_type = r.os_type.clone().unwrap_or_default().trim().to_lowercase();
    if os_type.chars().nth(limits::OS_TYPE).is_some() {
        return Err(invalid(position, &name, "os_type", format!("at most {} characters", limits::OS_TYPE)));
    }
    let ci_password = r.ci_password.clone().filter(|p| !p.is_empty());
    if ci_password.as_ref().is_some_and(|p| p.chars().nth(limits::CI_PASSWORD).is_some()) {
        return Err(invalid(position, &name, "vm_password", format!("at most {} characters", limits::CI_PASSWORD)));
    }
    Ok(ServerSpec {
        name,
        template,
        os_type,
        cores,
        sockets,
        memory_mb,
        disks,
        nics,
        ci_user,
        ci_password,
        ssh_keys,
        full_clone,
        role,
        security_group,
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
        assert_eq!(
            s.disks.iter().map(|d| (d.device(), d.storage.as_str(), d.size_gb)).collect::<Vec<_>>(),
            [("scsi0".into(), "local-lvm", 40), ("scsi1".into(), "shared-nfs", 100)]
        );
        assert_eq!(
            s.nics[0].address,
            NicAddress::Static { ip: "10.0.0.5".into(), prefix: 24, gateway: Some("10.0.0.1".into()) }
        );
        assert_eq!(
            (s.security_group.as_str(), s.ci_user.as_str(), s.ci_password.as_deref()),
            ("web-sg", "rocky", Some("rocky123"))
        );
    }

    #[test]
    fn errors_name_the_server_and_the_field() {
        let mut body = old_tool_body();
        body["network_devices"][0]["gateway"] = "192.168.1.1".into();
        let r: ServerRequest = serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
        let e = normalise(3, r, &[]).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "servers[3] (web-1).network_devices[0].gateway: gateway 192.168.1.1 is not in 10.0.0.5/24"
            ),
            "{e}"
        );
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
        assert!(
            serde_json::from_value::<ServerRequest>(serde_json::json!({"name": "x", "cpus": 2})).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn a_pattern_expands_to_numbered_servers() {
        let bulk = BulkRequest {
            name_pattern: Some("web-{n}".into()),
            count: Some(3),
            start: Some(7),
            spec: Some(ServerRequest {
                template: Some(TemplateRef::Id(9000)),
                disks: Some(vec![DiskRequest { size_gb: Some(20), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let names: Vec<String> =
            expand(bulk).unwrap_or_else(|e| panic!("{e}")).into_iter().filter_map(|s| s.name).collect();
        assert_eq!(names, ["web-7", "web-8", "web-9"]);
    }

    #[test]
    fn a_pattern_is_checked_before_any_name_is_made() {
        let bulk = |pattern: String, count: u32, start: u32| BulkRequest {
            name_pattern: Some(pattern),
            count: Some(count),
            start: Some(start),
            spec: Some(ServerRequest {
                template: Some(TemplateRef::Id(9000)),
                disks: Some(vec![DiskRequest { size_gb: Some(20), ..Default::default() }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let huge = format!("{}{{n}}", "a".repeat(1_800_000));
        let e = expand(bulk(huge, 40, 1)).unwrap_err();
        assert!(matches!(&e, Error::Validation { field: Some(f), .. } if f == "name_pattern"), "{e}");
        assert!(e.to_string().len() < 200, "the error does not repeat the pattern: {} bytes", e.to_string().len());
        // 60 letters and 10099 make 65 characters: too long (the last names only).
        let e = expand(bulk(format!("{}{{n}}", "a".repeat(60)), 200, 9900)).unwrap_err();
        assert!(e.to_string().contains("not a valid server name"), "{e}");
        assert!(expand(bulk(format!("{}{{n}}", "a".repeat(60)), 200, 1)).is_ok(), "three digits fit");
        assert!(expand(bulk("-{n}".into(), 2, 1)).is_err());
        assert!(expand(bulk("web".into(), 2, 1)).is_err());
        // The spec is checked once before it is copied: a long description is refused as such.
        let mut long = bulk("web-{n}".into(), 200, 1);
        if let Some(spec) = long.spec.as_mut() {
            spec.description = Some("x".repeat(1_900_000));
        }
        let e = expand(long).unwrap_err();
        assert!(matches!(&e, Error::Validation { field: Some(f), .. } if f.ends_with("description")), "{e}");
    }

    #[test]
    fn long_or_many_texts_are_refused_naming_the_field() {
        for (field, value, expect) in [
            ("description", Value::from("x".repeat(limits::DESCRIPTION + 1)), "description"),
            ("tags", Value::from(vec!["t"; limits::TAGS + 1]), "tags"),
            ("ssh_keys", Value::from(vec!["ssh-ed25519 AAAA"; limits::SSH_KEYS + 1]), "ssh_keys"),
            ("os_type", Value::from("x".repeat(limits::OS_TYPE + 1)), "os_type"),
            ("firewall_group", Value::from("x".repeat(limits::NAME + 1)), "security_group"),
            ("vm_password", Value::from("x".repeat(limits::CI_PASSWORD + 1)), "vm_password"),
        ] {
            let mut body = old_tool_body();
            body[field] = value;
            let r: ServerRequest = serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
            let e = normalise(0, r, &[]).unwrap_err();
            assert!(matches!(&e, Error::Validation { field: Some(f), .. } if f.ends_with(expect)), "{field}: {e}");
        }
        let mut body = old_tool_body();
        body["ssh_keys"] = serde_json::json!([
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C7okWi4q5AJwWT0V a\nssh-rsa AAAA b"
        ]);
        let e = normalise(0, serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}")), &[]).unwrap_err();
        assert!(matches!(&e, Error::Validation { field: Some(f), .. } if f.ends_with("ssh_keys[0]")), "{e}");
    }
}
