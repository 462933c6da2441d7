//! Cluster security groups and their rules, and per-VM firewall options and rules. PVE puts
//! every new rule at position 0 and disables it unless `enable=1` is sent; lists carry a
//! `digest` that guards updates and deletes.

use serde::{Deserialize, Serialize};

use super::seg;
use crate::client::PveClient;
use crate::de;
use crate::error::PveError;
use crate::params::{Method, Params, Request};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub group: String,
    #[serde(default)]
    pub comment: Option<String>,
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirewallRule {
    #[serde(deserialize_with = "de::u64")]
    pub pos: u64,
    /// `in`, `out`, `forward` or (on VMs) `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// ACCEPT/DROP/REJECT, or the group's name for `type=group`.
    pub action: String,
    #[serde(default, deserialize_with = "de::bool")]
    pub enable: bool,
    #[serde(default, rename = "macro")]
    pub macro_name: Option<String>,
    #[serde(default)]
    pub proto: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub dport: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub sport: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub dest: Option<String>,
    #[serde(default)]
    pub iface: Option<String>,
    #[serde(default)]
    pub log: Option<String>,
    #[serde(default, rename = "icmp-type")]
    pub icmp_type: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    pub digest: String,
}

/// A rule to create, or the fields to change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSpec {
    pub kind: String,
    pub action: String,
    pub enable: bool,
    pub macro_name: Option<String>,
    pub proto: Option<String>,
    pub dport: Option<String>,
    pub sport: Option<String>,
    pub source: Option<String>,
    pub dest: Option<String>,
    pub iface: Option<String>,
    pub log: Option<String>,
    pub icmp_type: Option<String>,
    pub comment: Option<String>,
    /// Fields to clear (on an update).
    pub delete: Vec<String>,
}

impl RuleSpec {
    fn params(&self, p: Params) -> Params {
        p.str("type", self.kind.clone())
            .str("action", self.action.clone())
            .bool("enable", self.enable)
            .opt_str("macro", self.macro_name.clone())
            .opt_str("proto", self.proto.clone())
            .opt_str("dport", self.dport.clone())
            .opt_str("sport", self.sport.clone())
            .opt_str("source", self.source.clone())
            .opt_str("dest", self.dest.clone())
            .opt_str("iface", self.iface.clone())
            .opt_str("log", self.log.clone())
            .opt_str("icmp-type", self.icmp_type.clone())
            .opt_str("comment", self.comment.clone())
            .opt_str("delete", (!self.delete.is_empty()).then(|| self.delete.join(",")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmFirewallOptions {
    #[serde(default, deserialize_with = "de::bool")]
    pub enable: bool,
    #[serde(default)]
    pub policy_in: Option<String>,
    #[serde(default)]
    pub policy_out: Option<String>,
    #[serde(default)]
    pub log_level_in: Option<String>,
    #[serde(default)]
    pub log_level_out: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub macfilter: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub ipfilter: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub dhcp: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub ndp: Option<bool>,
    pub digest: String,
}

/// VM firewall options to change; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmOptionsUpdate {
    pub enable: Option<bool>,
    pub policy_in: Option<String>,
    pub policy_out: Option<String>,
    pub log_level_in: Option<String>,
    pub log_level_out: Option<String>,
    pub macfilter: Option<bool>,
    pub ipfilter: Option<bool>,
    pub dhcp: Option<bool>,
    pub ndp: Option<bool>,
}

/// The datacenter firewall's options (read only here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterFirewallOptions {
    #[serde(default, deserialize_with = "de::bool")]
    pub enable: bool,
    #[serde(default)]
    pub policy_in: Option<String>,
    #[serde(default)]
    pub policy_out: Option<String>,
    pub digest: String,
}

pub fn cluster_options() -> Request {
    Request::new(Method::Get, "/cluster/firewall/options", "/cluster/firewall/options".into())
}

fn group_path(group: &str) -> String {
    format!("/cluster/firewall/groups/{}", seg(group))
}

pub fn groups() -> Request {
    Request::new(Method::Get, "/cluster/firewall/groups", "/cluster/firewall/groups".into())
}

pub fn create_group(name: &str, comment: Option<&str>) -> Request {
    Request::new(Method::Post, "/cluster/firewall/groups", "/cluster/firewall/groups".into())
        .with(Params::new().str("group", name).opt_str("comment", comment))
}

/// Changes a group's comment (PVE: POST with `rename` equal to the name).
pub fn update_group_comment(name: &str, comment: &str, digest: Option<&str>) -> Request {
    Request::new(Method::Post, "/cluster/firewall/groups", "/cluster/firewall/groups".into())
        .with(Params::new().str("group", name).str("rename", name).str("comment", comment).opt_str("digest", digest))
}

/// Renames a group (PVE: POST with `rename` = the existing name, `group` = the new one); rules
/// of VMs that use it follow.
pub fn rename_group(old: &str, new: &str, digest: Option<&str>) -> Request {
    Request::new(Method::Post, "/cluster/firewall/groups", "/cluster/firewall/groups".into())
        .with(Params::new().str("group", new).str("rename", old).opt_str("digest", digest))
}

pub fn delete_group(name: &str) -> Request {
    Request::new(Method::Delete, "/cluster/firewall/groups/{group}", group_path(name))
        .with(Params::new().str("group", name))
}

pub fn group_rules(name: &str) -> Request {
    Request::new(Method::Get, "/cluster/firewall/groups/{group}", group_path(name))
        .with(Params::new().str("group", name))
}

pub fn group_rule(name: &str, pos: u64) -> Request {
    Request::new(Method::Get, "/cluster/firewall/groups/{group}/{pos}", format!("{}/{pos}", group_path(name)))
        .with(Params::new().str("group", name).int("pos", i64::try_from(pos).unwrap_or(0)))
}

pub fn add_group_rule(name: &str, rule: &RuleSpec) -> Request {
    Request::new(Method::Post, "/cluster/firewall/groups/{group}", group_path(name))
        .with(rule.params(Params::new().str("group", name)))
}

pub fn update_group_rule(name: &str, pos: u64, rule: &RuleSpec, digest: Option<&str>) -> Request {
    let p = rule
        .params(Params::new().str("group", name).int("pos", i64::try_from(pos).unwrap_or(0)))
        .opt_str("digest", digest);
    Request::new(Method::Put, "/cluster/firewall/groups/{group}/{pos}", format!("{}/{pos}", group_path(name))).with(p)
}

/// PVE's `moveto` for a rule at `pos` that should end at index `to`: `moveto` is a gap in
/// the list as it was (the rule goes in before the one now at `moveto`), so moving down
/// names the gap after the target.
pub fn moveto_for(pos: u64, to: u64) -> u64 {
    if to > pos {
        to + 1
    } else {
        to
    }
}

/// Moves the rule at `pos` with PVE's `moveto` (see [`moveto_for`]).
pub fn move_group_rule(name: &str, pos: u64, to: u64, digest: Option<&str>) -> Request {
    let p = Params::new()
        .str("group", name)
        .int("pos", i64::try_from(pos).unwrap_or(0))
        .int("moveto", i64::try_from(to).unwrap_or(0))
        .opt_str("digest", digest);
    Request::new(Method::Put, "/cluster/firewall/groups/{group}/{pos}", format!("{}/{pos}", group_path(name))).with(p)
}

pub fn delete_group_rule(name: &str, pos: u64, digest: Option<&str>) -> Request {
    let p = Params::new().str("group", name).int("pos", i64::try_from(pos).unwrap_or(0)).opt_str("digest", digest);
    Request::new(Method::Delete, "/cluster/firewall/groups/{group}/{pos}", format!("{}/{pos}", group_path(name)))
        .with(p)
}

fn vm_fw(node: &str, vmid: u32, rest: &str) -> String {
    format!("/nodes/{}/qemu/{vmid}/firewall{rest}", seg(node))
}

fn vm_params(node: &str, vmid: u32) -> Params {
    Params::new().str("node", node).int("vmid", i64::from(vmid))
}

pub fn vm_options(node: &str, vmid: u32) -> Request {
    Request::new(Method::Get, "/nodes/{node}/qemu/{vmid}/firewall/options", vm_fw(node, vmid, "/options"))
        .with(vm_params(node, vmid))
}

/// Turns the VM's firewall on or off, with the inbound policy (PVE's default is DROP).
pub fn set_vm_options(node: &str, vmid: u32, enable: bool, policy_in: Option<&str>) -> Request {
    Request::new(Method::Put, "/nodes/{node}/qemu/{vmid}/firewall/options", vm_fw(node, vmid, "/options"))
        .with(vm_params(node, vmid).bool("enable", enable).opt_str("policy_in", policy_in))
}

/// Changes the VM's firewall options, refused if they changed since `digest` was read.
pub fn update_vm_options(node: &str, vmid: u32, u: &VmOptionsUpdate, digest: Option<&str>) -> Request {
    let mut p = vm_params(node, vmid);
    for (k, v) in
        [("enable", u.enable), ("macfilter", u.macfilter), ("ipfilter", u.ipfilter), ("dhcp", u.dhcp), ("ndp", u.ndp)]
    {
        if let Some(v) = v {
            p = p.bool(k, v);
        }
    }
    let p = p
        .opt_str("policy_in", u.policy_in.clone())
        .opt_str("policy_out", u.policy_out.clone())
        .opt_str("log_level_in", u.log_level_in.clone())
        .opt_str("log_level_out", u.log_level_out.clone())
        .opt_str("digest", digest);
    Request::new(Method::Put, "/nodes/{node}/qemu/{vmid}/firewall/options", vm_fw(node, vmid, "/options")).with(p)
}

pub fn vm_rules(node: &str, vmid: u32) -> Request {
    Request::new(Method::Get, "/nodes/{node}/qemu/{vmid}/firewall/rules", vm_fw(node, vmid, "/rules"))
        .with(vm_params(node, vmid))
}

/// Applies a security group to a VM: a `type=group` rule, enabled.
pub fn add_vm_group_rule(node: &str, vmid: u32, group: &str, comment: Option<&str>) -> Request {
    let rule = RuleSpec {
        kind: "group".into(),
        action: group.into(),
        enable: true,
        comment: comment.map(Into::into),
        ..Default::default()
    };
    Request::new(Method::Post, "/nodes/{node}/qemu/{vmid}/firewall/rules", vm_fw(node, vmid, "/rules"))
        .with(rule.params(vm_params(node, vmid)))
}

fn vm_rule(node: &str, vmid: u32, pos: u64, fields: impl FnOnce(Params) -> Params) -> Request {
    let p = fields(vm_params(node, vmid).int("pos", i64::try_from(pos).unwrap_or(0)));
    Request::new(
        Method::Put,
        "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}",
        vm_fw(node, vmid, &format!("/rules/{pos}")),
    )
    .with(p)
}

/// Moves a VM's rule with PVE's `moveto` (see [`moveto_for`]).
pub fn move_vm_rule(node: &str, vmid: u32, pos: u64, moveto: u64, digest: Option<&str>) -> Request {
    vm_rule(node, vmid, pos, |p| p.int("moveto", i64::try_from(moveto).unwrap_or(0)).opt_str("digest", digest))
}

/// Turns a VM's rule on or off.
pub fn enable_vm_rule(node: &str, vmid: u32, pos: u64, enable: bool, digest: Option<&str>) -> Request {
    vm_rule(node, vmid, pos, |p| p.bool("enable", enable).opt_str("digest", digest))
}

pub fn delete_vm_rule(node: &str, vmid: u32, pos: u64, digest: Option<&str>) -> Request {
    let p = vm_params(node, vmid).int("pos", i64::try_from(pos).unwrap_or(0)).opt_str("digest", digest);
    Request::new(
        Method::Delete,
        "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}",
        vm_fw(node, vmid, &format!("/rules/{pos}")),
    )
    .with(p)
}

impl PveClient {
    pub async fn cluster_firewall_options(&self) -> Result<ClusterFirewallOptions, PveError> {
        self.call(&cluster_options()).await
    }

    pub async fn security_groups(&self) -> Result<Vec<SecurityGroup>, PveError> {
        self.call(&groups()).await
    }

    pub async fn create_security_group(&self, name: &str, comment: Option<&str>) -> Result<(), PveError> {
        self.call_value(&create_group(name, comment)).await.map(|_| ())
    }

    pub async fn update_security_group_comment(
        &self,
        name: &str,
        comment: &str,
        digest: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&update_group_comment(name, comment, digest)).await.map(|_| ())
    }

    pub async fn rename_security_group(&self, old: &str, new: &str, digest: Option<&str>) -> Result<(), PveError> {
        self.call_value(&rename_group(old, new, digest)).await.map(|_| ())
    }

    pub async fn delete_security_group(&self, name: &str) -> Result<(), PveError> {
        self.call_value(&delete_group(name)).await.map(|_| ())
    }

    pub async fn security_group_rules(&self, name: &str) -> Result<Vec<FirewallRule>, PveError> {
        self.call(&group_rules(name)).await
    }

    pub async fn security_group_rule(&self, name: &str, pos: u64) -> Result<FirewallRule, PveError> {
        self.call(&group_rule(name, pos)).await
    }

    /// Adds a rule at the top (position 0), as PVE does.
    pub async fn add_security_group_rule(&self, name: &str, rule: &RuleSpec) -> Result<(), PveError> {
        self.call_value(&add_group_rule(name, rule)).await.map(|_| ())
    }

    pub async fn update_security_group_rule(
        &self,
        name: &str,
        pos: u64,
        rule: &RuleSpec,
        digest: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&update_group_rule(name, pos, rule, digest)).await.map(|_| ())
    }

    pub async fn move_security_group_rule(
        &self,
        name: &str,
        pos: u64,
        to: u64,
        digest: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&move_group_rule(name, pos, to, digest)).await.map(|_| ())
    }

    pub async fn delete_security_group_rule(&self, name: &str, pos: u64, digest: Option<&str>) -> Result<(), PveError> {
        self.call_value(&delete_group_rule(name, pos, digest)).await.map(|_| ())
    }

    pub async fn vm_firewall_options(&self, node: &str, vmid: u32) -> Result<VmFirewallOptions, PveError> {
        self.call(&vm_options(node, vmid)).await
    }

    pub async fn set_vm_firewall(
        &self,
        node: &str,
        vmid: u32,
        enable: bool,
        policy_in: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&set_vm_options(node, vmid, enable, policy_in)).await.map(|_| ())
    }

    pub async fn update_vm_firewall_options(
        &self,
        node: &str,
        vmid: u32,
        update: &VmOptionsUpdate,
        digest: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&update_vm_options(node, vmid, update, digest)).await.map(|_| ())
    }

    pub async fn vm_firewall_rules(&self, node: &str, vmid: u32) -> Result<Vec<FirewallRule>, PveError> {
        self.call(&vm_rules(node, vmid)).await
    }

    pub async fn add_vm_security_group(
        &self,
        node: &str,
        vmid: u32,
        group: &str,
        comment: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&add_vm_group_rule(node, vmid, group, comment)).await.map(|_| ())
    }

    pub async fn move_vm_firewall_rule(
        &self,
        node: &str,
        vmid: u32,
        pos: u64,
        moveto: u64,
        digest: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&move_vm_rule(node, vmid, pos, moveto, digest)).await.map(|_| ())
    }

    pub async fn enable_vm_firewall_rule(
        &self,
        node: &str,
        vmid: u32,
        pos: u64,
        enable: bool,
        digest: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&enable_vm_rule(node, vmid, pos, enable, digest)).await.map(|_| ())
    }

    pub async fn delete_vm_firewall_rule(
        &self,
        node: &str,
        vmid: u32,
        pos: u64,
        digest: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&delete_vm_rule(node, vmid, pos, digest)).await.map(|_| ())
    }
}

/// A cluster IP set (its entries come from [`ipset_entries`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpSetInfo {
    pub name: String,
    #[serde(default)]
    pub comment: Option<String>,
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpSetEntry {
    pub cidr: String,
    #[serde(default, deserialize_with = "de::bool")]
    pub nomatch: bool,
    #[serde(default)]
    pub comment: Option<String>,
    pub digest: String,
}

/// A cluster alias: a name for an address or network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasInfo {
    pub name: String,
    pub cidr: String,
    #[serde(default)]
    pub comment: Option<String>,
    pub digest: String,
}

/// A name a rule's `source` or `dest` may use: a cluster IP set (`ref` `+name`) or alias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirewallRef {
    /// `ipset` or `alias`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// What a rule writes to use it.
    #[serde(rename = "ref")]
    pub reference: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

const REFS: &str = "/cluster/firewall/refs";

/// Every IP set and alias a rule may name (`kind`: only `ipset` or only `alias`).
pub fn refs(kind: Option<&str>) -> Request {
    Request::new(Method::Get, REFS, REFS.into()).with(Params::new().opt_str("type", kind))
}

const IPSETS: &str = "/cluster/firewall/ipset";
const ALIASES: &str = "/cluster/firewall/aliases";

pub fn ipsets() -> Request {
    Request::new(Method::Get, IPSETS, IPSETS.into())
}

/// Creates a set, or renames `rename` (the existing name) to `name`.
pub fn create_ipset(name: &str, comment: Option<&str>, rename: Option<&str>) -> Request {
    Request::new(Method::Post, IPSETS, IPSETS.into())
        .with(Params::new().str("name", name).opt_str("comment", comment).opt_str("rename", rename))
}

pub fn delete_ipset(name: &str, force: bool) -> Request {
    Request::new(Method::Delete, "/cluster/firewall/ipset/{name}", format!("{IPSETS}/{}", seg(name)))
        .with(Params::new().str("name", name).bool("force", force))
}

pub fn ipset_entries(name: &str) -> Request {
    Request::new(Method::Get, "/cluster/firewall/ipset/{name}", format!("{IPSETS}/{}", seg(name)))
        .with(Params::new().str("name", name))
}

pub fn add_ipset_entry(name: &str, cidr: &str, nomatch: bool, comment: Option<&str>) -> Request {
    Request::new(Method::Post, "/cluster/firewall/ipset/{name}", format!("{IPSETS}/{}", seg(name)))
        .with(Params::new().str("name", name).str("cidr", cidr).bool("nomatch", nomatch).opt_str("comment", comment))
}

pub fn remove_ipset_entry(name: &str, cidr: &str) -> Request {
    Request::new(
        Method::Delete,
        "/cluster/firewall/ipset/{name}/{cidr}",
        format!("{IPSETS}/{}/{}", seg(name), seg(cidr)),
    )
    .with(Params::new().str("name", name).str("cidr", cidr))
}

pub fn aliases() -> Request {
    Request::new(Method::Get, ALIASES, ALIASES.into())
}

pub fn create_alias(name: &str, cidr: &str, comment: Option<&str>) -> Request {
    Request::new(Method::Post, ALIASES, ALIASES.into())
        .with(Params::new().str("name", name).str("cidr", cidr).opt_str("comment", comment))
}

/// Changes an alias; `rename` is its *new* name (PVE's aliases differ from groups here).
pub fn update_alias(name: &str, cidr: &str, comment: Option<&str>, rename: Option<&str>) -> Request {
    Request::new(Method::Put, "/cluster/firewall/aliases/{name}", format!("{ALIASES}/{}", seg(name)))
        .with(Params::new().str("name", name).str("cidr", cidr).opt_str("comment", comment).opt_str("rename", rename))
}

pub fn delete_alias(name: &str) -> Request {
    Request::new(Method::Delete, "/cluster/firewall/aliases/{name}", format!("{ALIASES}/{}", seg(name)))
        .with(Params::new().str("name", name))
}

impl PveClient {
    pub async fn firewall_refs(&self) -> Result<Vec<FirewallRef>, PveError> {
        self.call(&refs(None)).await
    }

    pub async fn ipsets(&self) -> Result<Vec<IpSetInfo>, PveError> {
        self.call(&ipsets()).await
    }

    pub async fn create_ipset(&self, name: &str, comment: Option<&str>) -> Result<(), PveError> {
        self.call_value(&create_ipset(name, comment, None)).await.map(|_| ())
    }

    pub async fn delete_ipset(&self, name: &str, force: bool) -> Result<(), PveError> {
        self.call_value(&delete_ipset(name, force)).await.map(|_| ())
    }

    pub async fn ipset_entries(&self, name: &str) -> Result<Vec<IpSetEntry>, PveError> {
        self.call(&ipset_entries(name)).await
    }

    pub async fn add_ipset_entry(
        &self,
        name: &str,
        cidr: &str,
        nomatch: bool,
        comment: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&add_ipset_entry(name, cidr, nomatch, comment)).await.map(|_| ())
    }

    pub async fn remove_ipset_entry(&self, name: &str, cidr: &str) -> Result<(), PveError> {
        self.call_value(&remove_ipset_entry(name, cidr)).await.map(|_| ())
    }

    pub async fn aliases(&self) -> Result<Vec<AliasInfo>, PveError> {
        self.call(&aliases()).await
    }

    pub async fn create_alias(&self, name: &str, cidr: &str, comment: Option<&str>) -> Result<(), PveError> {
        self.call_value(&create_alias(name, cidr, comment)).await.map(|_| ())
    }

    pub async fn update_alias(
        &self,
        name: &str,
        cidr: &str,
        comment: Option<&str>,
        rename: Option<&str>,
    ) -> Result<(), PveError> {
        self.call_value(&update_alias(name, cidr, comment, rename)).await.map(|_| ())
    }

    pub async fn delete_alias(&self, name: &str) -> Result<(), PveError> {
        self.call_value(&delete_alias(name)).await.map(|_| ())
    }
}
