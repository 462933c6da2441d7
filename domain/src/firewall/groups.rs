//! `FirewallService`: security groups and their rules on Proxmox VE, what both doors call.
//!
//! Every write is checked against the digest the caller read (Proxmox checks it on updates,
//! moves and deletes; proxfleet also checks it before adding, which Proxmox does not), so a
//! change made meanwhile by someone else is a 409 with the current list, never overwritten.
//! A change that takes several Proxmox calls (add = create, move, enable) puts the list back
//! as it was if a later call fails.

use std::collections::BTreeMap;

use serde_json::json;

use super::rules::{self, CheckedRule};
use crate::audit::AuditLog;
use crate::auth::{Actor, Permission};
use crate::cluster::{from_pve, ClusterService};
use crate::jobs::{Job, JobService};
use crate::servers::store::ServerStore;
use crate::servers::ServerStatus;
use crate::{Error, Result};
use model::firewall::{Rule, RuleInput, SecurityGroup};

/// Proxmox's digest of an empty list (SHA-1 of nothing): an empty group has no rule to carry it.
pub const EMPTY_DIGEST: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

#[derive(Debug, Clone)]
pub struct FirewallService {
    cluster: ClusterService,
    pub(super) servers: ServerStore,
    jobs: JobService,
    pub(super) audit: AuditLog,
    /// The management sources (`preview::MANAGEMENT_SOURCES`).
    pub(super) settings: crate::settings::SettingsStore,
}

/// A group's rules as Proxmox has them now.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    pub rules: Vec<Rule>,
    pub digest: String,
}

/// A list's digest: every entry carries it; an empty list has SHA-1 of nothing.
fn digest_of(rules: &[pve::FirewallRule]) -> String {
    rules.first().map_or_else(|| EMPTY_DIGEST.to_owned(), |r| r.digest.clone())
}

pub(super) fn to_rule(r: &pve::FirewallRule) -> Rule {
    let kind = match r.kind.as_str() {
        "out" => model::firewall::RuleType::Out,
        "forward" => model::firewall::RuleType::Forward,
        "group" => model::firewall::RuleType::Group,
        _ => model::firewall::RuleType::In,
    };
    Rule {
        pos: u32::try_from(r.pos).unwrap_or(u32::MAX),
        kind,
        action: r.action.clone(),
        enable: r.enable,
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
    }
}

/// A Proxmox refusal: its parameter errors are bad input (400 naming the field), the rest as
/// every other cluster call maps them.
pub(super) fn refused(e: pve::PveError) -> Error {
    match e.errors.iter().next() {
        Some((field, message)) if e.status == 400 => {
            Error::Validation { field: Some(field.clone()), message: format!("{field}: {message}"), details: None }
        }
        _ => from_pve(e),
    }
}

fn stale(listed: &Listed) -> Error {
    Error::Stale {
        message: "the group's rules changed since you read them; review the current list and try again".into(),
        details: json!({"field": "digest", "current_digest": listed.digest, "rules": listed.rules}),
    }
}

/// Refused unless `given` (when sent) is the current digest.
pub(super) fn fresh(given: Option<&str>, listed: &Listed) -> Result<()> {
    match given.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) if d != listed.digest => Err(stale(listed)),
        _ => Ok(()),
    }
}

impl FirewallService {
    pub fn new(
        cluster: ClusterService,
        servers: ServerStore,
        jobs: JobService,
        audit: AuditLog,
        settings: crate::settings::SettingsStore,
    ) -> Self {
        FirewallService { cluster, servers, jobs, audit, settings }
    }

    /// Registers the `firewall.assign` job (only when a cluster is configured).
    pub fn register_jobs(&self, runner: crate::jobs::JobRunner) -> crate::jobs::JobRunner {
        let Ok(client) = self.client() else { return runner };
        runner.register(super::assign::AssignHandler { store: self.servers.clone(), client: client.clone() })
    }

    pub(super) fn client(&self) -> Result<&pve::PveClient> {
        self.cluster.client()
    }

    pub(super) async fn listed(&self, group: &str) -> Result<Listed> {
        // A name Proxmox's pattern refuses names no group (and would be a 400 from Proxmox).
        if rules::check_group_name("group", group).is_err() {
            return Err(Error::NotFound(format!("no security group {}", crate::limits::shown(group))));
        }
        let rules = self.client()?.security_group_rules(group).await.map_err(|e| match e.kind {
            pve::ErrorKind::NotFound => Error::NotFound(format!("no security group {}", crate::limits::shown(group))),
            _ => from_pve(e),
        })?;
        let digest = digest_of(&rules);
        Ok(Listed { rules: rules.iter().map(to_rule).collect(), digest })
    }

    /// Group name → servers the actor may see that have it attached, and how many servers in
    /// all have it.
    async fn attachments(&self, actor: &Actor) -> Result<BTreeMap<String, (Vec<String>, usize)>> {
        let mut out: BTreeMap<String, (Vec<String>, usize)> = BTreeMap::new();
        for (group, server, owner) in self.servers.firewall_attachments().await? {
            let entry = out.entry(group).or_default();
            entry.1 += 1;
            if actor.has(Permission::ViewAll) || owner == Some(actor.user_id) {
                entry.0.push(server);
            }
        }
        Ok(out)
    }

    /// Every security group with its rules and the servers using it.
    pub async fn groups(&self, actor: &Actor) -> Result<Vec<SecurityGroup>> {
        actor.require_current()?;
        let client = self.client()?;
        let list = client.security_groups().await.map_err(from_pve)?;
        let used = self.attachments(actor).await?;
        // One read per group, all at once.
        let mut reads = tokio::task::JoinSet::new();
        for (i, g) in list.iter().enumerate() {
            let (client, name) = (client.clone(), g.group.clone());
            reads.spawn(async move { (i, client.security_group_rules(&name).await) });
        }
        let mut rules: Vec<Option<Vec<pve::FirewallRule>>> = vec![None; list.len()];
        while let Some(done) = reads.join_next().await {
            let (i, read) = done.map_err(|e| Error::Internal(format!("group read task: {e}")))?;
            if let Some(slot) = rules.get_mut(i) {
                // A group deleted between the two reads is left out.
                *slot = match read {
                    Ok(r) => Some(r),
                    Err(e) if e.kind == pve::ErrorKind::NotFound => None,
                    Err(e) => return Err(from_pve(e)),
                };
            }
        }
        Ok(list
            .iter()
            .zip(rules)
            .filter_map(|(g, r)| {
                let r = r?;
                let (used_by, count) = used.get(&g.group).cloned().unwrap_or_default();
                Some(SecurityGroup {
                    name: g.group.clone(),
                    description: g.comment.clone().unwrap_or_default(),
                    rules_count: r.len(),
                    digest: digest_of(&r),
                    rules: r.iter().map(to_rule).collect(),
                    instance_count: count,
                    used_by,
                })
            })
            .collect())
    }

    /// The datacenter firewall's state (enforcement is off everywhere while it is off).
    pub async fn status(&self, actor: &Actor) -> Result<model::firewall::FirewallStatus> {
        actor.require_current()?;
        let o = self.client()?.cluster_firewall_options().await.map_err(from_pve)?;
        Ok(model::firewall::FirewallStatus {
            datacenter_enabled: o.enable,
            policy_in: o.policy_in.unwrap_or_else(|| "DROP".into()),
            policy_out: o.policy_out.unwrap_or_else(|| "ACCEPT".into()),
        })
    }

    /// One group with its rules and the servers using it.
    pub async fn group(&self, actor: &Actor, name: &str) -> Result<SecurityGroup> {
        actor.require_current()?;
        let client = self.client()?;
        let listed = self.listed(name).await?;
        let description = client
            .security_groups()
            .await
            .map_err(from_pve)?
            .into_iter()
            .find(|g| g.group == name)
            .and_then(|g| g.comment)
            .unwrap_or_default();
        let (used_by, count) = self.attachments(actor).await?.remove(name).unwrap_or_default();
        Ok(SecurityGroup {
            name: name.to_owned(),
            description,
            rules_count: listed.rules.len(),
            rules: listed.rules,
            instance_count: count,
            used_by,
            digest: listed.digest,
        })
    }

    async fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.client()?.security_groups().await.map_err(from_pve)?.iter().any(|g| g.group == name))
    }

    /// Creates an empty group (`manage_firewall_groups`).
    pub async fn create_group(&self, actor: &Actor, name: &str, description: &str) -> Result<SecurityGroup> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = self.create_group_checked(actor, name, description).await;
        let target = result.as_ref().map_or(name.to_owned(), |g| g.name.clone());
        self.audit.outcome(actor, "firewall.group_create", &target, &result, String::new()).await?;
        result
    }

    async fn create_group_checked(&self, actor: &Actor, name: &str, description: &str) -> Result<SecurityGroup> {
        let name = rules::check_group_name("name", name)?;
        rules::one_line("description", description)?;
        if self.exists(&name).await? {
            return Err(Error::Conflict(format!("security group {name} already exists")));
        }
        let comment = Some(description.trim()).filter(|d| !d.is_empty());
        self.client()?.create_security_group(&name, comment).await.map_err(refused)?;
        self.group(actor, &name).await
    }

    /// Changes a group's description and/or renames it (`manage_firewall_groups`). A rename
    /// follows on every VM that uses the group (Proxmox rewrites their rules) and in
    /// proxfleet's records.
    pub async fn update_group(
        &self,
        actor: &Actor,
        name: &str,
        description: Option<&str>,
        rename: Option<&str>,
    ) -> Result<SecurityGroup> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = self.update_group_checked(actor, name, description, rename).await;
        let detail = match rename {
            Some(new) => format!("renamed to {}", crate::limits::shown(new)),
            None => "description changed".into(),
        };
        self.audit.outcome(actor, "firewall.group_update", name, &result, detail).await?;
        result
    }

    async fn update_group_checked(
        &self,
        actor: &Actor,
        name: &str,
        description: Option<&str>,
        rename: Option<&str>,
    ) -> Result<SecurityGroup> {
        if !self.exists(name).await? {
            return Err(Error::NotFound(format!("no security group {}", crate::limits::shown(name))));
        }
        let client = self.client()?;
        let mut current = name.to_owned();
        if let Some(new) = rename.map(str::trim).filter(|n| !n.is_empty() && *n != name) {
            let new = rules::check_group_name("rename", new)?;
            if self.exists(&new).await? {
                return Err(Error::Conflict(format!("security group {new} already exists")));
            }
            client.rename_security_group(name, &new, None).await.map_err(refused)?;
            self.servers.rename_firewall_group(name, &new).await?;
            current = new;
        }
        if let Some(d) = description {
            rules::one_line("description", d)?;
            client.update_security_group_comment(&current, d.trim(), None).await.map_err(refused)?;
        }
        self.group(actor, &current).await
    }

    /// Makes `new` with the same description and rules, in order (`manage_firewall_groups`).
    pub async fn copy_group(&self, actor: &Actor, name: &str, new: &str) -> Result<SecurityGroup> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = self.copy_group_checked(actor, name, new).await;
        let detail = format!("copied to {}", crate::limits::shown(new));
        self.audit.outcome(actor, "firewall.group_copy", name, &result, detail).await?;
        result
    }

    async fn copy_group_checked(&self, actor: &Actor, name: &str, new: &str) -> Result<SecurityGroup> {
        let source = self.group(actor, name).await?;
        let made = self.create_group_checked(actor, new, &source.description).await?;
        let client = self.client()?;
        // Proxmox adds at the top: the last rule first keeps the order.
        for rule in source.rules.iter().rev() {
            if let Err(e) = client.add_security_group_rule(&made.name, &CheckedRule::read(rule).spec(None)).await {
                self.empty_and_delete(&made.name).await;
                return Err(refused(e));
            }
        }
        self.group(actor, &made.name).await
    }

    /// Best effort: a half-made copy goes away again.
    async fn empty_and_delete(&self, name: &str) {
        let Ok(client) = self.client() else { return };
        while let Ok(listed) = self.listed(name).await {
            if listed.rules.is_empty() || client.delete_security_group_rule(name, 0, None).await.is_err() {
                break;
            }
        }
        let _ = client.delete_security_group(name).await;
    }

    /// Deletes a group (`manage_firewall_groups`). One still attached to servers is refused
    /// (409 naming them). Its rules go first (Proxmox deletes only empty groups); if a
    /// deletion fails the rules already removed are put back.
    /// With `force`, a group in use is first detached from its servers (each as a detach
    /// would: what proxfleet turned on for it goes too), which needs `remove_firewall_groups`
    /// and every such server visible to the actor.
    pub async fn delete_group(&self, actor: &Actor, name: &str, force: bool) -> Result<()> {
        actor.require(Permission::ManageFirewallGroups)?;
        if force {
            actor.require(Permission::RemoveFirewallGroups)?;
        }
        let result = self.delete_group_checked(actor, name, force).await;
        let detail = match &result {
            Ok(rules) => {
                format!("with its {} rule(s): {}", rules.len(), serde_json::to_string(rules).unwrap_or_default())
            }
            Err(_) => String::new(),
        };
        self.audit.outcome(actor, "firewall.group_delete", name, &result, detail).await?;
        result.map(|_| ())
    }

    async fn delete_group_checked(&self, actor: &Actor, name: &str, force: bool) -> Result<Vec<Rule>> {
        let mut group = self.group(actor, name).await?;
        if group.instance_count > 0 && force {
            if group.used_by.len() < group.instance_count {
                return Err(Error::Forbidden(format!(
                    "security group {name} is attached to servers you cannot see; it cannot be forced"
                )));
            }
            self.detach_everywhere(name, &group.used_by).await?;
            group = self.group(actor, name).await?;
        }
        if group.instance_count > 0 {
            let shown = if group.used_by.is_empty() {
                format!("{} server(s)", group.instance_count)
            } else {
                group.used_by.join(", ")
            };
            return Err(Error::Conflict(format!("security group {name} is attached to {shown}; detach it first")));
        }
        let client = self.client()?;
        let mut removed = 0;
        let mut failure = None;
        // From the bottom, so positions above stay put.
        for rule in group.rules.iter().rev() {
            match client.delete_security_group_rule(name, u64::from(rule.pos), None).await {
                Ok(()) => removed += 1,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let failure = match failure {
            None => client.delete_security_group(name).await.err(),
            some => some,
        };
        if let Some(e) = failure {
            // Put back what was removed: the list's last `removed` rules, in their order,
            // below the rules still there.
            let gone = &group.rules[group.rules.len() - removed..];
            self.restore_tail(name, gone).await;
            return Err(refused(e));
        }
        Ok(group.rules)
    }

    /// Detaches the group from each of `servers`, one after the other.
    async fn detach_everywhere(&self, group: &str, servers: &[String]) -> Result<()> {
        let client = self.client()?;
        let params = super::AssignParams {
            mode: super::AssignMode::Detach,
            groups: vec![group.to_owned()],
            keep_enabled: false,
        };
        for name in servers {
            let s = self.servers.by_name(name).await?.ok_or_else(|| Error::NotFound(format!("no server {name}")))?;
            let (Some(node), Some(vmid)) = (s.node, s.vmid) else { continue };
            super::assign::set_groups(&self.servers, client, name, &node, vmid, &params)
                .await
                .map_err(|e| Error::Upstream(format!("detaching {group} from {name}: {e}")))?;
        }
        Ok(())
    }

    /// Re-adds `tail` (the list's last rules, in order) below what the group holds now.
    async fn restore_tail(&self, name: &str, tail: &[Rule]) {
        let Ok(now) = self.listed(name).await else { return };
        // As the editor's Apply does it: added disabled, moved, then enabled.
        let wanted: Vec<(Option<u32>, CheckedRule)> = now
            .rules
            .iter()
            .map(|r| (Some(r.pos), CheckedRule::read(r)))
            .chain(tail.iter().map(|r| (None, CheckedRule::read(r))))
            .collect();
        let desired: Vec<Rule> = wanted.iter().enumerate().map(|(i, (_, r))| r.as_rule(i as u32)).collect();
        if let Err(e) = self.carry_out(name, &super::replace::plan(&now.rules, &wanted), &desired).await {
            tracing::error!(group = name, error = %e, "could not put removed rules back");
        }
    }

    /// Adds a rule at `position` (its final index; default the top) (`manage_firewall_groups`).
    /// It is created disabled, moved into place, then enabled, so a half-done add never
    /// lets traffic through at the wrong place.
    pub async fn add_rule(&self, actor: &Actor, group: &str, input: &RuleInput) -> Result<SecurityGroup> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = self.add_rule_checked(actor, group, input).await;
        let detail = match &result {
            Ok(g) => {
                let at = input.position.unwrap_or(0) as usize;
                format!("added: {}", serde_json::to_string(&g.rules.get(at)).unwrap_or_default())
            }
            Err(_) => String::new(),
        };
        self.audit.outcome(actor, "firewall.rule_add", group, &result, detail).await?;
        result
    }

    async fn add_rule_checked(&self, actor: &Actor, group: &str, input: &RuleInput) -> Result<SecurityGroup> {
        let checked = rules::check(input, None)?;
        let listed = self.listed(group).await?;
        fresh(input.digest.as_deref(), &listed)?;
        let to = input.position.unwrap_or(0);
        if to as usize > listed.rules.len() {
            return Err(Error::validation(
                "position",
                format!("position {to} is past the end (the group has {} rules)", listed.rules.len()),
            ));
        }
        let client = self.client()?;
        let staged = CheckedRule { enable: false, ..checked.clone() };
        client.add_security_group_rule(group, &staged.spec(None)).await.map_err(refused)?;
        let finish = async {
            let mut now = self.listed(group).await?;
            // The list must be the one read with ours on top: another change in between (say,
            // another instance adding with the same digest) makes ours stale, and it goes.
            let strip = |r: &Rule| Rule { pos: 0, ..r.clone() };
            let expected: Vec<Rule> =
                std::iter::once(staged.as_rule(0)).chain(listed.rules.iter().map(strip)).collect();
            if now.rules.iter().map(strip).collect::<Vec<_>>() != expected {
                let mut others = now.clone();
                if let Some(at) = others.rules.iter().position(|r| strip(r) == staged.as_rule(0)) {
                    others.rules.remove(at);
                }
                return Err(stale(&others));
            }
            if to > 0 {
                client
                    .move_security_group_rule(
                        group,
                        0,
                        pve::api::firewall::moveto_for(0, u64::from(to)),
                        Some(&now.digest),
                    )
                    .await
                    .map_err(refused)?;
                now = self.listed(group).await?;
            }
            if checked.enable {
                client
                    .update_security_group_rule(
                        group,
                        u64::from(to),
                        &pve::RuleSpec {
                            kind: checked.kind.as_str().into(),
                            action: checked.action.clone(),
                            enable: true,
                            ..Default::default()
                        },
                        Some(&now.digest),
                    )
                    .await
                    .map_err(refused)?;
            }
            Ok::<(), Error>(())
        };
        if let Err(e) = finish.await {
            // Take the staged (disabled) rule out again, wherever it got to. The delete carries
            // the digest, so one that meets another change (another instance taking its own
            // staged rule back) is refused and tried again on a fresh read.
            let staged_rule = staged.as_rule(0);
            for _ in 0..5 {
                let Ok(now) = self.listed(group).await else { break };
                let Some(at) = now.rules.iter().position(|r| Rule { pos: 0, ..r.clone() } == staged_rule) else {
                    break;
                };
                if client.delete_security_group_rule(group, at as u64, Some(&now.digest)).await.is_ok() {
                    break;
                }
            }
            return Err(e);
        }
        self.group(actor, group).await
    }

    /// Changes the rule at `pos`: fields sent replace, fields sent empty are cleared
    /// (`manage_firewall_groups`).
    pub async fn update_rule(&self, actor: &Actor, group: &str, pos: u32, input: &RuleInput) -> Result<SecurityGroup> {
        actor.require(Permission::ManageFirewallGroups)?;
        let mut before = None;
        let result = async {
            let listed = self.listed(group).await?;
            fresh(input.digest.as_deref(), &listed)?;
            let was = listed.rules.get(pos as usize).cloned().ok_or_else(|| no_rule(group, pos))?;
            let checked = rules::check(input, Some(&was))?;
            before = Some(was.clone());
            self.client()?
                .update_security_group_rule(group, u64::from(pos), &checked.spec(Some(&was)), Some(&listed.digest))
                .await
                .map_err(|e| self.stale_or(e, &listed))?;
            self.group(actor, group).await
        }
        .await;
        let detail = match &result {
            Ok(g) => format!(
                "rule {pos}: {} -> {}",
                serde_json::to_string(&before).unwrap_or_default(),
                serde_json::to_string(&g.rules.get(pos as usize)).unwrap_or_default()
            ),
            Err(_) => String::new(),
        };
        self.audit.outcome(actor, "firewall.rule_update", group, &result, detail).await?;
        result
    }

    /// Moves the rule at `pos` so that it ends at index `to` (`manage_firewall_groups`).
    pub async fn move_rule(
        &self,
        actor: &Actor,
        group: &str,
        pos: u32,
        to: u32,
        digest: Option<&str>,
    ) -> Result<SecurityGroup> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = async {
            let listed = self.listed(group).await?;
            fresh(digest, &listed)?;
            let n = listed.rules.len();
            if pos as usize >= n {
                return Err(no_rule(group, pos));
            }
            if to as usize >= n {
                return Err(Error::validation("to", format!("to {to} is past the last rule ({})", n - 1)));
            }
            if pos != to {
                let moveto = pve::api::firewall::moveto_for(u64::from(pos), u64::from(to));
                self.client()?
                    .move_security_group_rule(group, u64::from(pos), moveto, Some(&listed.digest))
                    .await
                    .map_err(|e| self.stale_or(e, &listed))?;
            }
            self.group(actor, group).await
        }
        .await;
        self.audit.outcome(actor, "firewall.rule_move", group, &result, format!("rule {pos} to {to}")).await?;
        result
    }

    /// Deletes the rule at `pos` (`manage_firewall_groups`); the audit keeps the rule.
    pub async fn delete_rule(
        &self,
        actor: &Actor,
        group: &str,
        pos: u32,
        digest: Option<&str>,
    ) -> Result<SecurityGroup> {
        actor.require(Permission::ManageFirewallGroups)?;
        let mut gone = None;
        let result = async {
            let listed = self.listed(group).await?;
            fresh(digest, &listed)?;
            gone = Some(listed.rules.get(pos as usize).cloned().ok_or_else(|| no_rule(group, pos))?);
            self.client()?
                .delete_security_group_rule(group, u64::from(pos), Some(&listed.digest))
                .await
                .map_err(|e| self.stale_or(e, &listed))?;
            self.group(actor, group).await
        }
        .await;
        let detail = format!("deleted: {}", serde_json::to_string(&gone).unwrap_or_default());
        self.audit.outcome(actor, "firewall.rule_delete", group, &result, detail).await?;
        result
    }

    /// A digest refusal from Proxmox (someone changed the list between our read and write)
    /// is the same 409 as ours.
    fn stale_or(&self, e: pve::PveError, listed: &Listed) -> Error {
        if e.kind == pve::ErrorKind::Modified {
            stale(listed)
        } else {
            refused(e)
        }
    }

    /// Starts a `firewall.assign` job: attach, detach or replace `groups` on each server.
    /// Attaching and replacing need `assign_firewall_groups`, detaching (and replacing with
    /// nothing) `remove_firewall_groups`; every server must be visible and not busy, every
    /// group must exist.
    pub async fn assign(
        &self,
        actor: &Actor,
        names: &[String],
        mode: super::AssignMode,
        groups: &[String],
        keep_enabled: bool,
    ) -> Result<Job> {
        let (servers, groups) = self.checked_assign(actor, names, mode, groups).await?;
        let params = serde_json::to_value(super::AssignParams { mode, groups, keep_enabled })
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.jobs.enqueue(actor, super::ASSIGN, params, servers).await
    }

    /// The permission, servers and groups of an assignment checked (see `assign`): the
    /// servers once each, the groups in lower case once each.
    pub(super) async fn checked_assign(
        &self,
        actor: &Actor,
        names: &[String],
        mode: super::AssignMode,
        groups: &[String],
    ) -> Result<(Vec<String>, Vec<String>)> {
        use super::AssignMode as M;
        // Replacing may remove groups as well as attach them: it needs both permissions.
        match mode {
            M::Attach => actor.require(Permission::AssignFirewallGroups)?,
            M::Detach => actor.require(Permission::RemoveFirewallGroups)?,
            M::Replace if groups.is_empty() => actor.require(Permission::RemoveFirewallGroups)?,
            M::Replace => {
                actor.require(Permission::AssignFirewallGroups)?;
                actor.require(Permission::RemoveFirewallGroups)?;
            }
        }
        if names.is_empty() {
            return Err(Error::validation("server_names", "no servers given"));
        }
        if mode == M::Attach && groups.is_empty() {
            return Err(Error::validation("groups", "name the security group(s) to attach"));
        }
        let mut unique: Vec<String> = Vec::new();
        for n in names {
            let s = self
                .servers
                .by_name(n)
                .await?
                .filter(|s| actor.has(Permission::ViewAll) || s.owner_id == Some(actor.user_id))
                .ok_or_else(|| Error::NotFound(format!("no server {}", crate::limits::shown(n))))?;
            if s.status.is_busy() || s.status == ServerStatus::Missing || s.vmid.is_none() {
                return Err(Error::Conflict(format!("{n} is {} right now", s.status)));
            }
            if !unique.contains(n) {
                unique.push(n.clone());
            }
        }
        let existing: Vec<String> =
            self.client()?.security_groups().await.map_err(from_pve)?.into_iter().map(|g| g.group).collect();
        let mut wanted: Vec<String> = Vec::new();
        for g in groups {
            let g = g.trim().to_ascii_lowercase();
            if mode != M::Detach && !existing.contains(&g) {
                return Err(Error::NotFound(format!("no security group {}", crate::limits::shown(&g))));
            }
            if !wanted.contains(&g) {
                wanted.push(g);
            }
        }
        Ok((unique, wanted))
    }

    /// Waits (at most `timeout`) for a job, for the old tool's synchronous doors.
    pub async fn wait(&self, id: i64, timeout: std::time::Duration) -> Result<Option<Job>> {
        match crate::jobs::wait_finished(self.jobs.store(), id, timeout).await {
            Ok(job) => Ok(Some(job)),
            Err(Error::Unavailable(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The items of a finished job (for the old bulk answer's summary).
    pub async fn job_items(&self, id: i64) -> Result<Vec<model::jobs::JobItem>> {
        self.jobs.store().items(id).await
    }
}

fn no_rule(group: &str, pos: u32) -> Error {
    Error::NotFound(format!("security group {group} has no rule at position {pos}"))
}
