//! Cluster security groups (ordered rules, `pos`, `digest`) and per-VM firewall options and
//! rules, with pve-firewall's rules: new rules go to the top, `enable` defaults to 0, a digest
//! mismatch is "detected modified configuration", unknown macros are refused.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use crate::error::SimError;
use crate::fw_sets::{check_refs, Known};
use crate::sim::{req, Sim};

/// A rule: its fields as PVE stores them (`type`, `action`, `enable`, `proto`, `dport`, …).
pub type Rule = BTreeMap<String, String>;

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub comment: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Default)]
pub struct VmFirewall {
    pub options: BTreeMap<String, String>,
    pub rules: Vec<Rule>,
}

const RULE_FIELDS: [&str; 13] = [
    "type",
    "action",
    "enable",
    "macro",
    "proto",
    "dport",
    "sport",
    "source",
    "dest",
    "iface",
    "log",
    "icmp-type",
    "comment",
];
/// Protocols that have ports (pve-firewall's `$proto_is_icmp` aside).
const PORT_PROTOS: [&str; 10] = ["tcp", "udp", "udplite", "dccp", "sctp", "6", "17", "136", "33", "132"];
const ICMP_PROTOS: [&str; 3] = ["icmp", "icmpv6", "ipv6-icmp"];
/// PVE's macro names (pve-firewall's `$pve_fw_macros` and IPv6 additions), one list shared
/// with the product's wire types: it is PVE's fact, written down once.
use model::firewall::MACROS;
const MODIFIED: &str = "detected modified configuration - file changed by other user? Try again.";

/// pve-firewall's `copy_list_with_digest`: one SHA-1 over the list, for each entry in order
/// and each key in sorted order `key:value\n` (no separator between entries).
pub(crate) fn digest<'a>(entries: impl Iterator<Item = &'a Rule>) -> String {
    let mut h = Sha1::new();
    for e in entries {
        for (k, v) in e {
            h.update(k.as_bytes());
            h.update(b":");
            h.update(v.as_bytes());
            h.update(b"\n");
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn rule_json(pos: usize, rule: &Rule, digest: &str) -> Value {
    let mut v = json!({"pos": pos, "digest": digest});
    for (k, val) in rule {
        v[k] = if k == "enable" { json!(val.parse::<i64>().unwrap_or(0)) } else { json!(val) };
    }
    v
}

fn check_digest(p: &BTreeMap<String, String>, current: &str) -> Result<(), SimError> {
    match p.get("digest") {
        Some(d) if d != current => Err(SimError::die(MODIFIED)),
        _ => Ok(()),
    }
}

/// Validates and builds a rule from request parameters (create) or applies them (update).
fn apply_fields(rule: &mut Rule, p: &BTreeMap<String, String>, allowed_types: &[&str]) -> Result<(), SimError> {
    for f in RULE_FIELDS {
        if let Some(v) = p.get(f) {
            // '' or '-' deletes the field.
            if v.is_empty() || v == "-" {
                rule.remove(f);
            } else {
                rule.insert(f.to_owned(), v.clone());
            }
        }
    }
    if let Some(list) = p.get("delete") {
        for f in list.split([',', ';', ' ']).filter(|f| !f.is_empty()) {
            rule.remove(f);
        }
    }
    let ty = rule.get("type").cloned().unwrap_or_default();
    if !allowed_types.contains(&ty.as_str()) {
        return Err(SimError::param(
            "type",
            format!("value '{ty}' does not have a value in the enumeration '{}'", allowed_types.join(", ")),
        ));
    }
    if let Some(m) = rule.get("macro").cloned() {
        match MACROS.iter().find(|k| k.eq_ignore_ascii_case(&m)) {
            Some(known) => {
                rule.insert("macro".into(), (*known).to_owned());
            }
            None => return Err(SimError::param("macro", format!("unknown macro '{m}'"))),
        }
    }
    if ty != "group" {
        let action = rule.get("action").map(String::as_str).unwrap_or("");
        if !["ACCEPT", "DROP", "REJECT"].contains(&action) {
            return Err(SimError::param(
                "action",
                format!("value '{action}' does not have a value in the enumeration 'ACCEPT, DROP, REJECT'"),
            ));
        }
    }
    // Ports need a protocol that has ports, even with a macro (a dport of an icmp protocol
    // may name icmp types).
    for port in ["dport", "sport"] {
        if !rule.contains_key(port) {
            continue;
        }
        let Some(proto) = rule.get("proto").map(|p| p.to_ascii_lowercase()) else {
            return Err(SimError::param("proto", format!("missing property - '{port}' requires this property")));
        };
        let has_ports =
            PORT_PROTOS.contains(&proto.as_str()) || port == "dport" && ICMP_PROTOS.contains(&proto.as_str());
        if !has_ports {
            return Err(SimError::param(port, format!("protocol '{proto}' does not support ports")));
        }
    }
    if rule.contains_key("icmp-type") && !rule.get("proto").is_some_and(|p| ICMP_PROTOS.contains(&p.as_str())) {
        return Err(SimError::param("proto", "missing property - 'icmp-type' requires this property"));
    }
    Ok(())
}

/// pve-firewall's `pve-security-group-name`: `[A-Za-z][A-Za-z0-9\-\_]+`, 2 to 18 characters.
fn check_group_name(param: &str, name: &str) -> Result<(), SimError> {
    check_name(param, name, 18)
}

/// pve-firewall's name pattern (groups 18, IP sets and aliases 64 characters at most), with
/// the schema's messages.
pub(crate) fn check_name(param: &str, name: &str, max: usize) -> Result<(), SimError> {
    let mut chars = name.chars();
    let pattern = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if name.chars().count() > max {
        return Err(SimError::param(param, format!("value may only be {max} characters long")));
    }
    if name.chars().count() < 2 || !pattern {
        return Err(SimError::param(param, "value does not match the regex pattern"));
    }
    Ok(())
}

fn pos(p: &BTreeMap<String, String>) -> Result<usize, SimError> {
    let v = req(p, "pos")?;
    v.parse().map_err(|_| SimError::param("pos", format!("type check ('integer') failed - got '{v}'")))
}

impl Sim {
    pub fn fw_groups(&self) -> Value {
        let c = self.lock();
        let meta: Vec<Rule> = c
            .groups
            .iter()
            .map(|(name, g)| {
                [("group".to_owned(), name.clone()), ("comment".to_owned(), g.comment.clone().unwrap_or_default())]
                    .into()
            })
            .collect();
        let list_digest = digest(meta.iter());
        Value::Array(
            c.groups
                .iter()
                .map(|(name, g)| {
                    let mut v = json!({"group": name, "digest": list_digest});
                    if let Some(comment) = &g.comment {
                        v["comment"] = json!(comment);
                    }
                    v
                })
                .collect(),
        )
    }

    /// Create, or with `rename` (the existing name; `group` is the new one) rename / update the
    /// comment.
    pub fn fw_group_create(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "group")?;
        check_group_name("group", &name)?;
        if let Some(old) = p.get("rename") {
            check_group_name("rename", old)?;
        }
        let mut c = self.lock();
        match p.get("rename") {
            Some(old) => {
                let mut g = c
                    .groups
                    .remove(old)
                    .ok_or_else(|| SimError::param("group", format!("Security group '{old}' does not exist")))?;
                if old != &name && c.groups.contains_key(&name) {
                    c.groups.insert(old.clone(), g);
                    return Err(SimError::param("group", format!("Security group '{name}' does already exist")));
                }
                if let Some(comment) = p.get("comment") {
                    g.comment = Some(comment.clone()).filter(|c| !c.is_empty());
                }
                c.groups.insert(name.clone(), g);
                if old != &name {
                    // Rules referencing the group follow the rename.
                    for fw in c.vm_firewalls.values_mut() {
                        for r in fw.rules.iter_mut().filter(|r| r.get("type").is_some_and(|t| t == "group")) {
                            if r.get("action") == Some(old) {
                                r.insert("action".into(), name.clone());
                            }
                        }
                    }
                }
            }
            None => {
                if c.groups.contains_key(&name) {
                    return Err(SimError::param("group", format!("Security group '{name}' already exists")));
                }
                c.groups.insert(
                    name,
                    Group { comment: p.get("comment").cloned().filter(|c| !c.is_empty()), rules: Vec::new() },
                );
            }
        }
        Ok(Value::Null)
    }

    pub fn fw_group_delete(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "group")?;
        let mut c = self.lock();
        match c.groups.get(&name) {
            None => Err(SimError::die(format!("no such security group '{name}'"))),
            Some(g) if !g.rules.is_empty() => Err(SimError::die(format!("Security group '{name}' is not empty"))),
            Some(_) => {
                c.groups.remove(&name);
                Ok(Value::Null)
            }
        }
    }

    fn with_rules<T>(
        &self,
        p: &BTreeMap<String, String>,
        f: impl FnOnce(&mut Vec<Rule>, &[&str], &Known) -> Result<T, SimError>,
    ) -> Result<T, SimError> {
        let mut c = self.lock();
        let known = Known::of(&c);
        let f = |rules: &mut Vec<Rule>, types: &[&str]| f(rules, types, &known);
        if let Some(group) = p.get("group") {
            let g =
                c.groups.get_mut(group).ok_or_else(|| SimError::die(format!("no such security group '{group}'")))?;
            f(&mut g.rules, &["in", "out", "forward"])
        } else {
            let node = req(p, "node")?;
            let vmid = crate::sim::int(p, "vmid")?;
            c.vm(&node, vmid)?;
            f(&mut c.vm_firewalls.entry(vmid).or_default().rules, &["in", "out", "group"])
        }
    }

    pub fn fw_rules(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        self.with_rules(p, |rules, _, _| {
            let d = digest(rules.iter());
            Ok(Value::Array(rules.iter().enumerate().map(|(i, r)| rule_json(i, r, &d)).collect()))
        })
    }

    pub fn fw_rule(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let at = pos(p)?;
        self.with_rules(p, |rules, _, _| {
            let d = digest(rules.iter());
            rules
                .get(at)
                .map(|r| rule_json(at, r, &d))
                .ok_or_else(|| SimError::die(format!("no rule at position {at}")))
        })
    }

    /// New rules go to the top (position 0) with `enable` 0 unless given; the digest is not
    /// checked on create.
    pub fn fw_rule_add(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        self.with_rules(p, |rules, types, known| {
            let mut rule = Rule::new();
            apply_fields(&mut rule, p, types)?;
            check_refs(known, &rule)?;
            rule.entry("enable".into()).or_insert_with(|| "0".into());
            rules.insert(0, rule);
            Ok(Value::Null)
        })
    }

    pub fn fw_rule_update(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let at = pos(p)?;
        self.with_rules(p, |rules, types, known| {
            check_digest(p, &digest(rules.iter()))?;
            if at >= rules.len() {
                return Err(SimError::die(format!("no rule at position {at}")));
            }
            let moveto =
                match p.get("moveto") {
                    Some(to) => Some(to.parse::<usize>().map_err(|_| {
                        SimError::param("moveto", format!("type check ('integer') failed - got '{to}'"))
                    })?),
                    None => None,
                };
            // `moveto` is a gap in the list as it was: the rule goes in before the one now at
            // `moveto` (so moving down lands at `moveto - 1`, and past the end is last);
            // `moveto == pos` is an ordinary update.
            if let Some(to) = moveto.filter(|to| *to != at) {
                let rule = rules.remove(at);
                let index = if to > at { to - 1 } else { to };
                rules.insert(index.min(rules.len()), rule);
                return Ok(Value::Null);
            }
            let mut rule = rules[at].clone();
            apply_fields(&mut rule, p, types)?;
            check_refs(known, &rule)?;
            rules[at] = rule;
            Ok(Value::Null)
        })
    }

    pub fn fw_rule_delete(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let at = pos(p)?;
        self.with_rules(p, |rules, _, _| {
            check_digest(p, &digest(rules.iter()))?;
            if at >= rules.len() {
                return Err(SimError::die(format!("no rule at position {at}")));
            }
            rules.remove(at);
            Ok(Value::Null)
        })
    }

    /// The datacenter firewall's options: `enable` 0 unless set, policies DROP/ACCEPT.
    pub fn fw_cluster_options(&self) -> Value {
        let c = self.lock();
        let o = &c.cluster_firewall;
        let mut v = json!({"digest": digest(std::iter::once(o))});
        v["enable"] = json!(o.get("enable").and_then(|e| e.parse::<i64>().ok()).unwrap_or(0));
        for (k, val) in o.iter().filter(|(k, _)| k.as_str() != "enable") {
            v[k] = json!(val);
        }
        v
    }

    pub fn fw_options(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let vmid = crate::sim::int(p, "vmid")?;
        let mut c = self.lock();
        c.vm(&node, vmid)?;
        let fw = c.vm_firewalls.entry(vmid).or_default();
        let mut v = json!({"digest": digest(std::iter::once(&fw.options))});
        for (k, val) in &fw.options {
            v[k] = match k.as_str() {
                "enable" | "dhcp" | "macfilter" | "ipfilter" | "ndp" | "radv" => json!(val.parse::<i64>().unwrap_or(0)),
                _ => json!(val),
            };
        }
        Ok(v)
    }

    pub fn fw_options_set(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let vmid = crate::sim::int(p, "vmid")?;
        let mut c = self.lock();
        c.vm(&node, vmid)?;
        let fw = c.vm_firewalls.entry(vmid).or_default();
        check_digest(p, &digest(std::iter::once(&fw.options)))?;
        for k in [
            "enable",
            "policy_in",
            "policy_out",
            "dhcp",
            "macfilter",
            "ipfilter",
            "ndp",
            "radv",
            "log_level_in",
            "log_level_out",
        ] {
            if let Some(v) = p.get(k) {
                fw.options.insert(k.to_owned(), v.clone());
            }
        }
        if let Some(list) = p.get("delete") {
            for k in list.split([',', ';', ' ']).filter(|f| !f.is_empty()) {
                fw.options.remove(k);
            }
        }
        Ok(Value::Null)
    }
}
