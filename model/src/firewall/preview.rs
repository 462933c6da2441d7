//! What a firewall change would do, before it is made (`dry_run: true` on attaching groups,
//! on setting a group's rule list and on a server's options): per server, the rules Proxmox
//! would enforce before and after — groups and macros expanded, the policy last, each rule
//! saying where it comes from — the difference, and warnings an operator should read first.

use serde::{Deserialize, Serialize};

use super::RuleType;

/// One rule as the VM's firewall evaluates it: a group's rules in the group's place, a macro
/// as the protocol and ports it stands for, the policy as the last rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveRule {
    /// `in` or `out`.
    #[serde(rename = "type")]
    pub kind: RuleType,
    /// `ACCEPT`, `DROP` or `REJECT`.
    pub action: String,
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
    /// Where it comes from: `group web, rule 2 (SSH)`, `server rule 5`, `policy`.
    pub origin: String,
}

impl EffectiveRule {
    /// The rule in one line, without its origin (two rules that read the same are the same
    /// rule to the firewall, wherever they come from).
    pub fn text(&self) -> String {
        let mut s = format!("{} {}", self.kind.as_str(), self.action);
        let mut part = |label: &str, v: &Option<String>| {
            if let Some(v) = v {
                s.push_str(&format!(" {label}{v}"));
            }
        };
        part("", &self.proto);
        part("dport ", &self.dport);
        part("sport ", &self.sport);
        part("from ", &self.source);
        part("to ", &self.dest);
        part("on ", &self.iface);
        s
    }

    /// The rule and where it comes from, as the pages list it.
    pub fn line(&self) -> String {
        format!("{}   ({})", self.text(), self.origin)
    }
}

/// A line of the difference between the rules before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// `+` (enforced after, not before) or `-` (enforced before, not after).
    pub op: char,
    pub rule: EffectiveRule,
}

/// What a warning is about (the message says it in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Inbound tcp/22 (SSH, Ansible) from the management sources is dropped, for some or all.
    SshDropped,
    /// Inbound tcp/9100 (node_exporter, scraped by Prometheus) is dropped, for some or all.
    ExporterDropped,
    /// The datacenter firewall is off: Proxmox enforces no rule on any VM.
    DatacenterOff,
    /// The VM's firewall is off: its rules and groups are not enforced.
    FirewallOff,
    /// A NIC's firewall flag is off: its traffic bypasses every rule.
    NicFlagOff,
    /// A group rule on the VM that proxfleet did not add (left as it is).
    GroupUnmanaged,
    /// A group the VM names does not exist (Proxmox skips the rule).
    GroupMissing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewWarning {
    pub kind: WarningKind,
    /// The server it concerns (empty for the datacenter).
    pub server: String,
    pub message: String,
    /// Already so before the change (the change does not cause it).
    #[serde(default)]
    pub already: bool,
}

/// One server's part of a preview.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerPreview {
    pub name: String,
    pub groups_before: Vec<String>,
    pub groups_after: Vec<String>,
    /// Whether the VM's firewall enforces its rules, before and after.
    pub enforced_before: bool,
    pub enforced_after: bool,
    pub before: Vec<EffectiveRule>,
    pub after: Vec<EffectiveRule>,
    pub diff: Vec<DiffLine>,
    pub warnings: Vec<PreviewWarning>,
}

impl ServerPreview {
    /// Whether the change alters what this server's firewall does.
    pub fn changes(&self) -> bool {
        !self.diff.is_empty() || self.enforced_before != self.enforced_after || self.groups_before != self.groups_after
    }
}

/// A whole preview: what the change does to each server it touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub servers: Vec<ServerPreview>,
    /// Servers whose firewall the change alters.
    pub affected: Vec<String>,
    /// Every server's warnings and the datacenter's, for a summary.
    pub warnings: Vec<PreviewWarning>,
}
