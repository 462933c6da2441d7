//! Cluster IP sets and aliases, as pve-firewall keeps them: names with the group-name pattern
//! (2–64 characters), entries normalised and sorted, `nomatch`, no reference checks on delete
//! (PVE lets rules dangle), a non-empty set deleted only with `force`, and `refs` listing what
//! a rule's source or destination may name.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Value};

use crate::error::SimError;
use crate::firewall::{check_name, digest, Rule};
use crate::sim::{req, Sim};

#[derive(Debug, Clone, Default)]
pub struct IpSet {
    pub comment: Option<String>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub cidr: String,
    pub nomatch: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Alias {
    /// As typed (the map is keyed by the lower-case name).
    pub name: String,
    pub cidr: String,
    pub comment: Option<String>,
}

/// An address or CIDR, host bits zeroed, `/32` and `/128` dropped (`clean_cidr`).
fn clean_cidr(param: &str, cidr: &str) -> Result<(String, u8), SimError> {
    let bad = || SimError::param(param, "value does not look like a valid IP address or CIDR network");
    let (ip, prefix) = match cidr.split_once('/') {
        Some((ip, p)) => (ip.parse::<IpAddr>().map_err(|_| bad())?, Some(p.parse::<u8>().map_err(|_| bad())?)),
        None => (cidr.parse::<IpAddr>().map_err(|_| bad())?, None),
    };
    let (bits, version) = if ip.is_ipv4() { (32u8, 4) } else { (128u8, 6) };
    let prefix = prefix.unwrap_or(bits);
    if prefix > bits {
        return Err(bad());
    }
    let ip = match ip {
        IpAddr::V4(v4) => {
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::from((u32::from(v4) & mask).to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::from((u128::from(v6) & mask).to_be_bytes())
        }
    };
    Ok((if prefix == bits { ip.to_string() } else { format!("{ip}/{prefix}") }, version))
}

fn no_ipset(name: &str) -> SimError {
    SimError::die(format!("no such IPSet '{name}'"))
}

impl Sim {
    pub fn ipsets(&self) -> Value {
        let c = self.lock();
        let meta: Vec<Rule> = c
            .ipsets
            .iter()
            .map(|(n, s)| {
                let mut r = Rule::from([("name".to_owned(), n.clone())]);
                if let Some(comment) = &s.comment {
                    r.insert("comment".into(), comment.clone());
                }
                r
            })
            .collect();
        let d = digest(meta.iter());
        Value::Array(
            meta.into_iter()
                .map(|m| {
                    let mut v = json!({"digest": d});
                    for (k, val) in m {
                        v[k] = json!(val);
                    }
                    v
                })
                .collect(),
        )
    }

    /// Create, or with `rename` (the existing name; `name` is the new one) rename.
    pub fn ipset_create(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "name")?;
        check_name("name", &name, 64)?;
        let mut c = self.lock();
        let comment = p.get("comment").cloned().filter(|c| !c.is_empty());
        match p.get("rename") {
            Some(old) => {
                let mut set = c
                    .ipsets
                    .remove(old)
                    .ok_or_else(|| SimError::param("name", format!("IPSet '{old}' does not exist")))?;
                if old != &name && c.ipsets.contains_key(&name) {
                    c.ipsets.insert(old.clone(), set);
                    return Err(SimError::param("name", format!("IPSet '{name}' does already exist")));
                }
                if p.contains_key("comment") {
                    set.comment = comment;
                }
                c.ipsets.insert(name, set);
            }
            None => {
                if c.ipsets.contains_key(&name) {
                    return Err(SimError::param("name", format!("IPSet '{name}' already exists")));
                }
                c.ipsets.insert(name, IpSet { comment, entries: Vec::new() });
            }
        }
        Ok(Value::Null)
    }

    pub fn ipset_delete(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "name")?;
        let force = p.get("force").is_some_and(|f| f == "1");
        let mut c = self.lock();
        let set = c.ipsets.get(&name).ok_or_else(|| no_ipset(&name))?;
        if !set.entries.is_empty() && !force {
            return Err(SimError::die(format!("IPSet '{name}' is not empty")));
        }
        c.ipsets.remove(&name);
        Ok(Value::Null)
    }

    pub fn ipset_entries(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "name")?;
        let c = self.lock();
        let set = c.ipsets.get(&name).ok_or_else(|| no_ipset(&name))?;
        let rows: Vec<Rule> = set
            .entries
            .iter()
            .map(|e| {
                let mut r = Rule::from([("cidr".to_owned(), e.cidr.clone())]);
                if e.nomatch {
                    r.insert("nomatch".into(), "1".into());
                }
                if let Some(comment) = &e.comment {
                    r.insert("comment".into(), comment.clone());
                }
                r
            })
            .collect();
        let d = digest(rows.iter());
        Ok(Value::Array(
            rows.into_iter()
                .map(|r| {
                    let mut v = json!({"digest": d});
                    for (k, val) in r {
                        v[k] = if k == "nomatch" { json!(1) } else { json!(val) };
                    }
                    v
                })
                .collect(),
        ))
    }

    pub fn ipset_add(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "name")?;
        let raw = req(p, "cidr")?;
        let mut c = self.lock();
        let cidr = if raw.starts_with(|ch: char| ch.is_ascii_alphabetic()) && !raw.contains(':') {
            // An alias: it must resolve.
            let key = raw.strip_prefix("dc/").unwrap_or(&raw).to_ascii_lowercase();
            if !c.aliases.contains_key(&key) {
                return Err(SimError::die(format!("no such alias '{raw}'")));
            }
            raw.clone()
        } else {
            let (cidr, _) = clean_cidr("cidr", &raw)?;
            if cidr.ends_with("/0") {
                return Err(SimError::param("cidr", "a zero prefix is not allowed in ipset entries"));
            }
            cidr
        };
        let set = c.ipsets.get_mut(&name).ok_or_else(|| no_ipset(&name))?;
        if set.entries.iter().any(|e| e.cidr == cidr) {
            return Err(SimError::param("cidr", format!("address '{cidr}' already exists")));
        }
        set.entries.push(Entry {
            cidr,
            nomatch: p.get("nomatch").is_some_and(|n| n == "1"),
            comment: p.get("comment").cloned().filter(|c| !c.is_empty()),
        });
        set.entries.sort_by(|a, b| a.cidr.cmp(&b.cidr));
        Ok(Value::Null)
    }

    pub fn ipset_remove(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "name")?;
        let cidr = req(p, "cidr")?;
        let mut c = self.lock();
        let set = c.ipsets.get_mut(&name).ok_or_else(|| no_ipset(&name))?;
        set.entries.retain(|e| e.cidr != cidr);
        Ok(Value::Null)
    }

    pub fn aliases(&self) -> Value {
        let c = self.lock();
        let rows: Vec<Rule> = c
            .aliases
            .values()
            .map(|a| {
                let mut r = Rule::from([("name".to_owned(), a.name.clone()), ("cidr".to_owned(), a.cidr.clone())]);
                let version = if a.cidr.contains(':') { "6" } else { "4" };
                r.insert("ipversion".into(), version.into());
                if let Some(comment) = &a.comment {
                    r.insert("comment".into(), comment.clone());
                }
                r
            })
            .collect();
        let d = digest(rows.iter());
        Value::Array(
            rows.into_iter()
                .map(|r| {
                    let mut v = json!({"digest": d});
                    for (k, val) in r {
                        v[k] = if k == "ipversion" { json!(val.parse::<i64>().unwrap_or(4)) } else { json!(val) };
                    }
                    v
                })
                .collect(),
        )
    }

    pub fn alias_create(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "name")?;
        check_name("name", &name, 64)?;
        let (cidr, _) = clean_cidr("cidr", &req(p, "cidr")?)?;
        let mut c = self.lock();
        let key = name.to_ascii_lowercase();
        if c.aliases.contains_key(&key) {
            return Err(SimError::param("name", format!("alias '{name}' already exists")));
        }
        c.aliases.insert(key, Alias { name, cidr, comment: p.get("comment").cloned().filter(|c| !c.is_empty()) });
        Ok(Value::Null)
    }

    /// `rename` is the *new* name here (the opposite of groups and IP sets).
    pub fn alias_update(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "name")?;
        let (cidr, _) = clean_cidr("cidr", &req(p, "cidr")?)?;
        let mut c = self.lock();
        let key = name.to_ascii_lowercase();
        let mut alias = c.aliases.remove(&key).ok_or_else(|| SimError::param("name", "no such alias"))?;
        let new = p.get("rename").cloned().unwrap_or_else(|| alias.name.clone());
        if let Err(e) = check_name("rename", &new, 64) {
            c.aliases.insert(key, alias);
            return Err(e);
        }
        if new.to_ascii_lowercase() != key && c.aliases.contains_key(&new.to_ascii_lowercase()) {
            c.aliases.insert(key, alias);
            return Err(SimError::param("name", format!("alias '{new}' already exists")));
        }
        alias.cidr = cidr;
        alias.comment = p.get("comment").cloned().filter(|c| !c.is_empty());
        alias.name = new.clone();
        c.aliases.insert(new.to_ascii_lowercase(), alias);
        Ok(Value::Null)
    }

    pub fn alias_delete(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let name = req(p, "name")?;
        self.lock().aliases.remove(&name.to_ascii_lowercase());
        Ok(Value::Null)
    }

    /// What a rule's source or destination may name (`type` = ipset or alias narrows it).
    pub fn fw_refs(&self, p: &BTreeMap<String, String>) -> Value {
        let c = self.lock();
        let want = p.get("type").cloned();
        let mut out = Vec::new();
        if want.as_deref() != Some("alias") {
            for (n, s) in &c.ipsets {
                let mut v = json!({"type": "ipset", "name": n, "ref": format!("+{n}"), "scope": "dc"});
                if let Some(comment) = &s.comment {
                    v["comment"] = json!(comment);
                }
                out.push(v);
            }
        }
        if want.as_deref() != Some("ipset") {
            for a in c.aliases.values() {
                let mut v = json!({"type": "alias", "name": a.name, "ref": a.name, "scope": "dc"});
                if let Some(comment) = &a.comment {
                    v["comment"] = json!(comment);
                }
                out.push(v);
            }
        }
        Value::Array(out)
    }
}

/// The IP sets and aliases that exist, for checking rules.
#[derive(Debug, Clone, Default)]
pub struct Known {
    ipsets: Vec<String>,
    aliases: Vec<String>,
}

impl Known {
    pub fn of(c: &crate::state::Cluster) -> Known {
        Known { ipsets: c.ipsets.keys().cloned().collect(), aliases: c.aliases.keys().cloned().collect() }
    }
}

/// A rule's `source`/`dest` naming an IP set or alias must name one that exists.
pub fn check_refs(c: &Known, rule: &Rule) -> Result<(), SimError> {
    for field in ["source", "dest"] {
        let Some(v) = rule.get(field) else { continue };
        let bare = |s: &str| s.strip_prefix("dc/").or_else(|| s.strip_prefix("guest/")).unwrap_or(s).to_owned();
        if let Some(set) = v.strip_prefix('+') {
            if !c.ipsets.contains(&bare(set)) {
                return Err(SimError::param(field, format!("no such ipset '{}'", bare(set))));
            }
        } else if v.starts_with(|ch: char| ch.is_ascii_alphabetic())
            && !v.contains([',', ':', '.'])
            && !c.aliases.contains(&bare(v).to_ascii_lowercase())
        {
            return Err(SimError::param(field, format!("no such alias '{v}'")));
        }
    }
    Ok(())
}
