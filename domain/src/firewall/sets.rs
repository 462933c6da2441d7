//! Cluster IP sets and aliases: the names a rule's source or destination may use (`+set`,
//! `alias`). Proxmox deletes them even while rules still name them (those rules then stop
//! working); proxfleet refuses that (409 naming the groups).

use model::firewall::{Alias, FirewallRef, IpSet, IpSetEntry, Rule};

use super::groups::{refused, to_rule, FirewallService};
use super::rules;
use crate::auth::{Actor, Permission};
use crate::cluster::from_pve;
use crate::limits::shown;
use crate::{Error, Result};

/// Whether a rule's source or destination names `+set` (`reference` = "+set") or the alias.
fn names(rule: &Rule, reference: &str) -> bool {
    let bare = |v: &str| -> String {
        let (plus, rest) = v.strip_prefix('+').map_or(("", v), |r| ("+", r));
        let rest = rest.strip_prefix("dc/").unwrap_or(rest);
        format!("{plus}{rest}").to_ascii_lowercase()
    };
    [&rule.source, &rule.dest].into_iter().flatten().any(|v| bare(v) == reference.to_ascii_lowercase())
}

impl FirewallService {
    /// Group name → its rules, for "who names this set or alias".
    async fn all_rules(&self) -> Result<Vec<(String, Vec<Rule>)>> {
        let c = self.client()?;
        let mut out = Vec::new();
        for g in c.security_groups().await.map_err(from_pve)? {
            let rules = c.security_group_rules(&g.group).await.map_err(from_pve)?;
            out.push((g.group, rules.iter().map(to_rule).collect()));
        }
        Ok(out)
    }

    fn users(all: &[(String, Vec<Rule>)], reference: &str) -> Vec<String> {
        all.iter().filter(|(_, rules)| rules.iter().any(|r| names(r, reference))).map(|(g, _)| g.clone()).collect()
    }

    /// What a rule's source or destination may name, in one read (the editor's suggestions).
    pub async fn refs(&self, actor: &Actor) -> Result<Vec<FirewallRef>> {
        actor.require_current()?;
        let refs = self.client()?.firewall_refs().await.map_err(from_pve)?;
        let mut out: Vec<FirewallRef> = refs
            .into_iter()
            .map(|r| FirewallRef {
                kind: r.kind,
                name: r.name,
                reference: r.reference,
                comment: r.comment.unwrap_or_default(),
            })
            .collect();
        out.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        Ok(out)
    }

    pub async fn ipsets(&self, actor: &Actor) -> Result<Vec<IpSet>> {
        actor.require_current()?;
        let c = self.client()?;
        let all = self.all_rules().await?;
        let mut out = Vec::new();
        for s in c.ipsets().await.map_err(from_pve)? {
            let entries = c.ipset_entries(&s.name).await.map_err(from_pve)?;
            out.push(IpSet {
                used_by: Self::users(&all, &format!("+{}", s.name)),
                entries: entries
                    .into_iter()
                    .map(|e| IpSetEntry { cidr: e.cidr, nomatch: e.nomatch, comment: e.comment.unwrap_or_default() })
                    .collect(),
                comment: s.comment.unwrap_or_default(),
                name: s.name,
            });
        }
        Ok(out)
    }

    pub async fn ipset(&self, actor: &Actor, name: &str) -> Result<IpSet> {
        self.ipsets(actor)
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::NotFound(format!("no IP set {}", shown(name))))
    }

    /// Creates an empty set (`manage_firewall_groups`).
    pub async fn create_ipset(&self, actor: &Actor, name: &str, comment: &str) -> Result<IpSet> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = async {
            let name = rules::check_name("name", name, 64)?;
            rules::one_line("comment", comment)?;
            let c = self.client()?;
            if c.ipsets().await.map_err(from_pve)?.iter().any(|s| s.name == name) {
                return Err(Error::Conflict(format!("IP set {name} already exists")));
            }
            c.create_ipset(&name, Some(comment.trim()).filter(|c| !c.is_empty())).await.map_err(refused)?;
            self.ipset(actor, &name).await
        }
        .await;
        self.audit.outcome(actor, "firewall.ipset_create", name, &result, String::new()).await?;
        result
    }

    /// Deletes a set no rule names, with its entries (`manage_firewall_groups`).
    pub async fn delete_ipset(&self, actor: &Actor, name: &str) -> Result<()> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = async {
            let set = self.ipset(actor, name).await?;
            if !set.used_by.is_empty() {
                return Err(Error::Conflict(format!(
                    "IP set {name} is named by the rules of {}; change those rules first",
                    set.used_by.join(", ")
                )));
            }
            self.client()?.delete_ipset(name, true).await.map_err(refused)?;
            Ok(set)
        }
        .await;
        let detail = match &result {
            Ok(set) => serde_json::to_string(&set.entries).unwrap_or_default(),
            Err(_) => String::new(),
        };
        self.audit.outcome(actor, "firewall.ipset_delete", name, &result, detail).await?;
        result.map(|_| ())
    }

    /// Adds an address, network or alias to a set (`manage_firewall_groups`).
    pub async fn add_ipset_entry(&self, actor: &Actor, name: &str, entry: &IpSetEntry) -> Result<IpSet> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = async {
            let cidr = entry.cidr.trim();
            // An alias, or one address or network (no lists or ranges in a set).
            if cidr.contains([',', '-']) && !cidr.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return Err(Error::validation("cidr", format!("{}: one address or network per entry", shown(cidr))));
            }
            rules::check_address(cidr).map_err(|m| Error::validation("cidr", m))?;
            rules::one_line("comment", &entry.comment)?;
            self.ipset(actor, name).await?;
            let comment = Some(entry.comment.trim()).filter(|c| !c.is_empty());
            self.client()?.add_ipset_entry(name, cidr, entry.nomatch, comment).await.map_err(refused)?;
            self.ipset(actor, name).await
        }
        .await;
        self.audit.outcome(actor, "firewall.ipset_add", name, &result, shown(&entry.cidr)).await?;
        result
    }

    pub async fn remove_ipset_entry(&self, actor: &Actor, name: &str, cidr: &str) -> Result<IpSet> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = async {
            let set = self.ipset(actor, name).await?;
            if !set.entries.iter().any(|e| e.cidr == cidr) {
                return Err(Error::NotFound(format!("IP set {name} has no entry {}", shown(cidr))));
            }
            self.client()?.remove_ipset_entry(name, cidr).await.map_err(refused)?;
            self.ipset(actor, name).await
        }
        .await;
        self.audit.outcome(actor, "firewall.ipset_remove", name, &result, shown(cidr)).await?;
        result
    }

    pub async fn aliases(&self, actor: &Actor) -> Result<Vec<Alias>> {
        actor.require_current()?;
        let all = self.all_rules().await?;
        Ok(self
            .client()?
            .aliases()
            .await
            .map_err(from_pve)?
            .into_iter()
            .map(|a| Alias {
                used_by: Self::users(&all, &a.name),
                name: a.name,
                cidr: a.cidr,
                comment: a.comment.unwrap_or_default(),
            })
            .collect())
    }

    /// Creates or changes an alias (`manage_firewall_groups`): one address or network.
    pub async fn put_alias(&self, actor: &Actor, name: &str, cidr: &str, comment: &str, create: bool) -> Result<Alias> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = async {
            let name = rules::check_name("name", name, 64)?;
            let cidr = cidr.trim();
            if cidr.is_empty() || cidr.contains([',', '-', '+']) || cidr.starts_with(|c: char| c.is_ascii_alphabetic())
            {
                return Err(Error::validation("cidr", format!("{}: one address or network", shown(cidr))));
            }
            rules::check_address(cidr).map_err(|m| Error::validation("cidr", m))?;
            rules::one_line("comment", comment)?;
            let c = self.client()?;
            let exists = c.aliases().await.map_err(from_pve)?.iter().any(|a| a.name.eq_ignore_ascii_case(&name));
            let comment = Some(comment.trim()).filter(|c| !c.is_empty());
            match (create, exists) {
                (true, true) => return Err(Error::Conflict(format!("alias {name} already exists"))),
                (false, false) => return Err(Error::NotFound(format!("no alias {name}"))),
                (true, false) => c.create_alias(&name, cidr, comment).await.map_err(refused)?,
                (false, true) => c.update_alias(&name, cidr, comment, None).await.map_err(refused)?,
            }
            self.aliases(actor)
                .await?
                .into_iter()
                .find(|a| a.name.eq_ignore_ascii_case(&name))
                .ok_or_else(|| Error::NotFound(format!("no alias {name}")))
        }
        .await;
        let action = if create { "firewall.alias_create" } else { "firewall.alias_update" };
        self.audit.outcome(actor, action, name, &result, shown(cidr)).await?;
        result
    }

    /// Deletes an alias no rule names (`manage_firewall_groups`).
    pub async fn delete_alias(&self, actor: &Actor, name: &str) -> Result<()> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = async {
            let alias = self
                .aliases(actor)
                .await?
                .into_iter()
                .find(|a| a.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| Error::NotFound(format!("no alias {}", shown(name))))?;
            if !alias.used_by.is_empty() {
                return Err(Error::Conflict(format!(
                    "alias {} is named by the rules of {}; change those rules first",
                    alias.name,
                    alias.used_by.join(", ")
                )));
            }
            self.client()?.delete_alias(&alias.name).await.map_err(refused)
        }
        .await;
        self.audit.outcome(actor, "firewall.alias_delete", name, &result, String::new()).await?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_names_a_set_or_alias_with_or_without_its_scope() {
        let rule = |source: &str| Rule { source: Some(source.into()), ..Default::default() };
        assert!(names(&rule("+mgmt"), "+mgmt"));
        assert!(names(&rule("+dc/mgmt"), "+mgmt"));
        assert!(names(&rule("Office"), "office"));
        assert!(!names(&rule("+mgmt"), "mgmt"));
        assert!(!names(&rule("10.0.0.1"), "+mgmt"));
    }
}
