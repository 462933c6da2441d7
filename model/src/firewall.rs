//! Security groups as they cross the wire: a group with its rules and the servers that use it,
//! one rule as Proxmox VE keeps it, the rule a caller sends (our field names and the old
//! tool's), and PVE's firewall macros.
//!
//! A rule's `pos` is its index in the group's list; the `digest` of a group is Proxmox's SHA-1
//! of that list, and a write that carries an older one is refused (409) instead of changing a
//! list the caller has not seen.

pub mod macros;
pub mod preview;

use serde::{Deserialize, Deserializer, Serialize};

/// Which traffic a rule matches: inbound or outbound, or (on a server) a security group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RuleType {
    #[default]
    In,
    Out,
    /// Routed traffic (PVE 8+), read and kept as it is.
    Forward,
    /// A server's reference to a security group (its `action` is the group's name).
    Group,
}

impl RuleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::In => "in",
            RuleType::Out => "out",
            RuleType::Forward => "forward",
            RuleType::Group => "group",
        }
    }
}

/// One firewall rule, as Proxmox VE keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Its index in the list (0 is evaluated first).
    pub pos: u32,
    #[serde(rename = "type")]
    pub kind: RuleType,
    /// `ACCEPT`, `DROP` or `REJECT`; for `type: group`, the group's name.
    pub action: String,
    pub enable: bool,
    #[serde(rename = "macro", default, skip_serializing_if = "Option::is_none")]
    pub macro_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(rename = "icmp-type", default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A security group with its rules and the servers that use it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub name: String,
    /// Proxmox's `comment` on the group.
    pub description: String,
    pub rules: Vec<Rule>,
    pub rules_count: usize,
    /// Servers proxfleet manages that have the group attached.
    pub instance_count: usize,
    pub used_by: Vec<String>,
    /// Proxmox's digest of the rule list; send it back with a change.
    pub digest: String,
}

/// The datacenter firewall (read only): while it is off, Proxmox enforces no rule anywhere.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FirewallStatus {
    pub datacenter_enabled: bool,
    /// Inbound and outbound policy of the datacenter level (PVE's defaults: DROP, ACCEPT).
    pub policy_in: String,
    pub policy_out: String,
}

/// A server's own firewall options (Proxmox's VM firewall options), with PVE's defaults
/// filled in where the VM has none set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FirewallOptions {
    pub enable: bool,
    /// `ACCEPT`, `DROP` (default) or `REJECT`.
    pub policy_in: String,
    /// `ACCEPT` (default), `DROP` or `REJECT`.
    pub policy_out: String,
    /// `nolog` (default) or a syslog level.
    pub log_level_in: String,
    pub log_level_out: String,
    /// Drop packets whose source MAC is not the NIC's (default on).
    pub macfilter: bool,
    /// Drop packets whose source IP is not the VM's (default off).
    pub ipfilter: bool,
    pub dhcp: bool,
    pub ndp: bool,
}

/// Server firewall options to change (absent: unchanged), with the digest they were read with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FirewallOptionsChange {
    #[serde(default)]
    pub enable: Option<bool>,
    #[serde(default)]
    pub policy_in: Option<String>,
    #[serde(default)]
    pub policy_out: Option<String>,
    #[serde(default)]
    pub log_level_in: Option<String>,
    #[serde(default)]
    pub log_level_out: Option<String>,
    #[serde(default)]
    pub macfilter: Option<bool>,
    #[serde(default)]
    pub ipfilter: Option<bool>,
    #[serde(default)]
    pub dhcp: Option<bool>,
    #[serde(default)]
    pub ndp: Option<bool>,
    #[serde(default)]
    pub digest: Option<String>,
    /// Change nothing; answer what the change would do (`preview::Preview`).
    #[serde(default)]
    pub dry_run: bool,
}

/// One server's firewall: its options, the groups proxfleet attached, every rule on its VM, and
/// where the VM differs from what proxfleet recorded (`drift`, in words).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFirewall {
    pub name: String,
    pub options: FirewallOptions,
    /// The options' digest, for a change.
    pub digest: String,
    /// Attached by proxfleet, in order.
    pub groups: Vec<String>,
    /// The VM's rules as Proxmox has them (proxfleet's group rules and the VM's own).
    pub rules: Vec<Rule>,
    /// NICs whose firewall flag is off (their traffic bypasses every rule).
    pub nics_without_flag: Vec<String>,
    pub drift: Vec<String>,
    /// The rules the VM's firewall enforces: groups and macros written out, each direction's
    /// policy last.
    #[serde(default)]
    pub effective: Vec<preview::EffectiveRule>,
    /// What an operator should know: SSH or the exporter dropped, the firewall off…
    #[serde(default)]
    pub warnings: Vec<preview::PreviewWarning>,
}

/// A cluster IP set: named addresses and networks a rule names as `+name`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IpSet {
    pub name: String,
    pub comment: String,
    pub entries: Vec<IpSetEntry>,
    /// Security groups whose rules name it.
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IpSetEntry {
    /// An address, a CIDR network or an alias.
    pub cidr: String,
    /// Excluded from the set (matched as "not").
    #[serde(default)]
    pub nomatch: bool,
    #[serde(default)]
    pub comment: String,
}

/// A cluster alias: a name for an address or network, used in rules as the bare name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    pub cidr: String,
    pub comment: String,
    /// Security groups whose rules name it.
    pub used_by: Vec<String>,
}

/// A name a rule's source or destination may use, as the editor suggests it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FirewallRef {
    /// `ipset` or `alias`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// What a rule writes to use it (`+name` for an IP set, the bare name for an alias).
    #[serde(rename = "ref")]
    pub reference: String,
    pub comment: String,
}

/// A rule to add or the new fields of one, in our names or the old tool's (`protocol`, `port`,
/// `source_ip`, `dest_ip`, `description`). Ports may be numbers or text (`22`, `"80,443"`,
/// `"8000:8100"`). Checked by the domain, which names the field as it was sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// `in` (default) or `out` (also as `direction`).
    #[serde(default, rename = "type", alias = "direction")]
    pub kind: Option<RuleType>,
    /// `ACCEPT`, `DROP` or `REJECT` (any case; the old UI's `DENY` is `DROP`).
    #[serde(default)]
    pub action: Option<String>,
    /// Default: enabled.
    #[serde(default, deserialize_with = "opt_flag")]
    pub enable: Option<bool>,
    /// One of PVE's macros (`GET /api/firewall/macros`), any case.
    #[serde(default, rename = "macro")]
    pub macro_name: Option<String>,
    #[serde(default)]
    pub proto: Option<String>,
    /// The old tool's name for `proto`.
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub dport: Option<String>,
    /// The old tool's name for `dport`.
    #[serde(default, deserialize_with = "opt_text")]
    pub port: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub sport: Option<String>,
    /// An address, CIDR, range `a-b`, list, `+ipset` or alias.
    #[serde(default)]
    pub source: Option<String>,
    /// The old tool's name for `source`.
    #[serde(default)]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub dest: Option<String>,
    /// The old tool's name for `dest`.
    #[serde(default)]
    pub dest_ip: Option<String>,
    #[serde(default)]
    pub iface: Option<String>,
    /// `emerg alert crit err warning notice info debug nolog`.
    #[serde(default)]
    pub log: Option<String>,
    #[serde(default, rename = "icmp-type", alias = "icmp_type")]
    pub icmp_type: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    /// The old tool's name for `comment`.
    #[serde(default)]
    pub description: Option<String>,
    /// Where the new rule goes (its final index; default 0, the top, as Proxmox puts it).
    #[serde(default)]
    pub position: Option<u32>,
    /// In a whole list sent at once: the `pos` this rule had in the list as read (absent for
    /// a new rule), so a moved or changed rule is moved or changed, not deleted and re-made.
    #[serde(default)]
    pub origin: Option<u32>,
    /// The group's digest as the caller last read it.
    #[serde(default)]
    pub digest: Option<String>,
}

impl RuleInput {
    /// A rule as read, sent back as it is (to copy it, put it back, or keep it in a whole
    /// list, where `origin` says which rule of the list read it is).
    pub fn from_rule(r: &Rule, origin: Option<u32>) -> RuleInput {
        RuleInput {
            kind: Some(r.kind),
            action: Some(r.action.clone()),
            enable: Some(r.enable),
            macro_name: r.macro_name.clone(),
            proto: r.proto.clone(),
            dport: r.dport.clone(),
            sport: r.sport.clone(),
            source: r.source.clone(),
            dest: r.dest.clone(),
            iface: r.iface.clone(),
            log: r.log.clone(),
            icmp_type: r.icmp_type.clone(),
            comment: r.comment.clone(),
            origin,
            ..Default::default()
        }
    }
}

/// A group's whole rule list, as the editor sends it after review.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleList {
    /// The digest of the list the draft started from.
    #[serde(default)]
    pub digest: Option<String>,
    pub rules: Vec<RuleInput>,
    /// Change nothing; answer what the list would do on the servers using the group
    /// (`preview::Preview`).
    #[serde(default)]
    pub dry_run: bool,
}

/// Accepts `true`/`false` and the `1`/`0` Proxmox and the old tool use.
fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(Option::<Flag>::deserialize(d)?.map(|f| match f {
        Flag::Bool(b) => b,
        Flag::Int(i) => i != 0,
    }))
}

/// Accepts a port as text or as a number.
fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Str(String),
        Num(u64),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| match t {
        Text::Str(s) => s,
        Text::Num(n) => n.to_string(),
    }))
}

/// pve-firewall's log levels (rules and VM options); `nolog` is none.
pub const LOG_LEVELS: [&str; 9] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"];
/// A rule's verdict, and a VM's policies.
pub const VERDICTS: [&str; 3] = ["ACCEPT", "DROP", "REJECT"];

/// Proxmox VE 9's firewall macros (pve-firewall's `$pve_fw_macros` and its IPv6 additions),
/// in their canonical spelling. Names are matched without regard to case.
pub const MACROS: [&str; 86] = [
    "Amanda",
    "Auth",
    "BGP",
    "BitTorrent",
    "BitTorrent32",
    "CVS",
    "Ceph",
    "Citrix",
    "DAAP",
    "DCC",
    "DHCPfwd",
    "DHCPv6",
    "DNS",
    "Distcc",
    "FTP",
    "Finger",
    "GNUnet",
    "GRE",
    "Git",
    "HKP",
    "HTTP",
    "HTTPS",
    "ICPV2",
    "ICQ",
    "IMAP",
    "IMAPS",
    "IPIP",
    "IPsec",
    "IPsecah",
    "IPsecnat",
    "IRC",
    "Jetdirect",
    "L2TP",
    "LDAP",
    "LDAPS",
    "MDNS",
    "MSNP",
    "MSSQL",
    "Mail",
    "Munin",
    "MySQL",
    "NNTP",
    "NNTPS",
    "NTP",
    "NeighborDiscovery",
    "OSPF",
    "OpenVPN",
    "PCA",
    "PMG",
    "POP3",
    "POP3S",
    "PPtP",
    "Ping",
    "PostgreSQL",
    "Printer",
    "RDP",
    "RIP",
    "RNDC",
    "Razor",
    "Rdate",
    "Rsync",
    "SANE",
    "SMB",
    "SMBswat",
    "SMTP",
    "SMTPS",
    "SNMP",
    "SPAMD",
    "SPICEproxy",
    "SSH",
    "SVN",
    "SixXS",
    "Squid",
    "Submission",
    "Syslog",
    "TFTP",
    "Telnet",
    "Telnets",
    "Time",
    "Trcrt",
    "VNC",
    "VNCL",
    "Web",
    "Webcache",
    "Webmin",
    "Whois",
];

/// The canonical spelling of a macro name given in any case.
pub fn macro_named(name: &str) -> Option<&'static str> {
    MACROS.iter().copied().find(|m| m.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_tools_rule_body_parses_with_numbers_and_flags() {
        let r: RuleInput = serde_json::from_str(
            r#"{"action":"ACCEPT","protocol":"tcp","port":22,"source_ip":"10.0.0.0/8","description":"ssh","enable":1}"#,
        )
        .unwrap();
        assert_eq!(
            (r.port.as_deref(), r.protocol.as_deref(), r.enable, r.description.as_deref()),
            (Some("22"), Some("tcp"), Some(true), Some("ssh"))
        );
        assert!(serde_json::from_str::<RuleInput>(r#"{"action":"ACCEPT","bogus":1}"#).is_err());
    }

    #[test]
    fn macros_are_found_in_any_case() {
        assert_eq!(macro_named("ssh"), Some("SSH"));
        assert_eq!(macro_named("postgresql"), Some("PostgreSQL"));
        assert_eq!(macro_named("Redis"), None);
        let mut sorted: Vec<String> = MACROS.iter().map(|m| m.to_lowercase()).collect();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 86);
    }
}
