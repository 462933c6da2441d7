//! The `firewall.assign` job: attach, detach or replace security groups on servers, one item
//! per server, at most four servers (so four Proxmox calls) at a time.
//!
//! Per VM: read its firewall options, rules and config (3 reads); turn the VM firewall on
//! and set `firewall=1` on its NICs when they are off (keeping each NIC's MAC and options);
//! change only proxfleet's own `type=group` rules (comment `proxfleet`; the old tool's
//! `Security Group: X` ones are adopted), which sit above the VM's own rules, never touched;
//! re-read and record. Applying what is already there writes nothing. Removing the last
//! group undoes only what proxfleet did (the firewall and NIC flags it turned on), unless
//! `keep_enabled`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::groups::to_rule;
use crate::jobs::{HandlerFuture, JobContext, JobHandler, StepOutcome, Stop};
use crate::servers::store::{FirewallRecord, ServerStore};
use model::firewall::{Rule, RuleType};

pub const ASSIGN: &str = "firewall.assign";
/// The comment on the group rules proxfleet manages on a VM.
pub const MANAGED: &str = "proxfleet";
/// How many servers one job changes at once (each makes one Proxmox call at a time):
/// pvedaemon has three workers, a fourth call waits in its queue rather than time out.
const IN_FLIGHT: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AssignMode {
    /// Add the groups after the server's others.
    Attach,
    /// Remove the groups (all of them when none are named).
    Detach,
    /// The server gets exactly these groups, in this order.
    Replace,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignParams {
    pub mode: AssignMode,
    pub groups: Vec<String>,
    /// Leave the VM firewall and NIC flags on when the last group goes.
    #[serde(default)]
    pub keep_enabled: bool,
}

impl AssignParams {
    /// The groups a server should have, given the ones it has.
    pub fn wanted(&self, has: &[String]) -> Vec<String> {
        match self.mode {
            AssignMode::Attach => {
                let mut out = has.to_vec();
                out.extend(self.groups.iter().filter(|g| !has.contains(g)).cloned());
                out
            }
            AssignMode::Detach if self.groups.is_empty() => Vec::new(),
            AssignMode::Detach => has.iter().filter(|g| !self.groups.contains(g)).cloned().collect(),
            AssignMode::Replace => self.groups.clone(),
        }
    }
}

/// The group a VM rule refers to if proxfleet manages it.
pub fn managed_group(r: &Rule) -> Option<&str> {
    if r.kind != RuleType::Group {
        return None;
    }
    let c = r.comment.as_deref().unwrap_or_default();
    (c == MANAGED || c.starts_with("Security Group: ")).then_some(r.action.as_str())
}

/// The VM's rules once `set_groups` has given it exactly the managed groups `wanted`: those at
/// the top in that order, enabled (a rule kept keeps its comment, a new one is commented
/// `proxfleet`), then every other rule in its order; other managed rules and second copies
/// are gone. The preview shows this; the job arrives at it in the fewest calls.
pub fn rules_after(rules: &[Rule], wanted: &[String]) -> Vec<Rule> {
    let mut out: Vec<Rule> = wanted
        .iter()
        .map(|g| {
            let kept = rules.iter().find(|r| managed_group(r) == Some(g.as_str()));
            Rule {
                kind: RuleType::Group,
                action: g.clone(),
                enable: true,
                comment: Some(kept.and_then(|r| r.comment.clone()).unwrap_or_else(|| MANAGED.into())),
                ..Default::default()
            }
        })
        .collect();
    out.extend(rules.iter().filter(|r| managed_group(r).is_none()).cloned());
    for (i, r) in out.iter_mut().enumerate() {
        r.pos = i as u32;
    }
    out
}

/// `netN` keys of a config whose NIC does not have the firewall flag on.
pub fn nics_without_flag(config: &pve::VmConfig) -> Vec<(String, String)> {
    config
        .values
        .iter()
        .filter(|(k, _)| k.strip_prefix("net").is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
        .filter(|(_, v)| !v.split(',').any(|o| o == "firewall=1"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A NIC's value with the firewall flag set to `on`, everything else kept.
pub fn with_flag(value: &str, on: bool) -> String {
    let mut parts: Vec<&str> = value.split(',').filter(|o| !o.starts_with("firewall=")).collect();
    if on {
        parts.push("firewall=1");
    }
    parts.join(",")
}

#[derive(Clone)]
pub struct AssignHandler {
    pub store: ServerStore,
    pub client: pve::PveClient,
}

impl JobHandler for AssignHandler {
    fn kind(&self) -> &'static str {
        ASSIGN
    }

    fn audit_action(&self, _job: &crate::jobs::Job) -> Option<String> {
        Some(ASSIGN.into())
    }

    fn run<'a>(&'a self, ctx: &'a mut JobContext) -> HandlerFuture<'a> {
        Box::pin(async move {
            let params: AssignParams = serde_json::from_value(ctx.job.params.clone())
                .map_err(|e| Stop::Failed(format!("bad parameters: {e}")))?;
            let items = ctx.items().await?;
            let recorder = ctx.item_recorder();
            let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
            let mut tasks = tokio::task::JoinSet::new();
            // Each server's change is computed from what its VM holds now, so a resumed job
            // runs its unfinished items again safely.
            for item in items.into_iter().filter(|i| i.status == "queued" || i.status == "running") {
                let (handler, rec, gate, params) = (self.clone(), recorder.clone(), gate.clone(), params.clone());
                tasks.spawn(async move {
                    let _turn = gate.acquire_owned().await;
                    let _ = rec.running(item.position, &Value::Null).await;
                    match handler.one(&params, &item.name).await {
                        Ok(result) => {
                            let _ = rec.log(&item.name, "info", &result.summary()).await;
                            let _ = rec.ok(item.position, &result.json()).await;
                        }
                        Err(e) => {
                            let _ = rec.failed(item.position, &item.name, &e).await;
                        }
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a server task of a firewall job panicked");
                }
            }
            ctx.tally_items().await?;
            Ok(StepOutcome::default())
        })
    }
}

/// What one server's change did.
#[derive(Debug, Default)]
pub struct Done {
    name: String,
    groups: Vec<String>,
    reads: u32,
    writes: u32,
}

impl Done {
    fn summary(&self) -> String {
        let groups = if self.groups.is_empty() { "no security groups".to_owned() } else { self.groups.join(", ") };
        match self.writes {
            0 => format!("already had {groups}; nothing to change"),
            n => format!("now has {groups} ({n} change(s) on Proxmox)"),
        }
    }

    fn json(&self) -> Value {
        json!({"name": self.name, "groups": self.groups, "reads": self.reads, "writes": self.writes})
    }
}

impl AssignHandler {
    async fn one(&self, params: &AssignParams, name: &str) -> Result<Done, String> {
        let server =
            self.store.by_name(name).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("no server {name}"))?;
        let (Some(vmid), Some(node)) = (server.vmid, server.node.clone()) else {
            return Err(format!("{name} has no VM recorded"));
        };
        set_groups(&self.store, &self.client, name, &node, vmid, params).await
    }
}

/// Gives the server's VM the groups `params` asks for (see the module's comment) and records
/// them; also what the create job calls for a new server's groups, before it starts.
pub async fn set_groups(
    store: &ServerStore,
    c: &pve::PveClient,
    name: &str,
    node: &str,
    vmid: u32,
    params: &AssignParams,
) -> Result<Done, String> {
    let e = |e: pve::PveError| e.message;
    let mut record = store.firewall(name).await.map_err(|e| e.to_string())?;
    let options = c.vm_firewall_options(node, vmid).await.map_err(e)?;
    let mut rules: Vec<Rule> = c.vm_firewall_rules(node, vmid).await.map_err(e)?.iter().map(to_rule).collect();
    let config = c.vm_config(node, vmid).await.map_err(e)?;
    let mut done = Done { name: name.to_owned(), reads: 3, ..Default::default() };

    let mut has: Vec<String> = Vec::new();
    for g in rules.iter().filter_map(managed_group) {
        if !has.iter().any(|h| h == g) {
            has.push(g.to_owned());
        }
    }
    let wanted = params.wanted(&has);

    // Managed rules that go (and second copies of one group, as the old tool left when a group
    // was applied twice): from the bottom, so the positions above stay put.
    let mut seen: Vec<&str> = Vec::new();
    let mut doomed: Vec<u32> = Vec::new();
    for r in &rules {
        if let Some(g) = managed_group(r) {
            if !wanted.iter().any(|w| w == g) || seen.contains(&g) {
                doomed.push(r.pos);
            }
            seen.push(g);
        }
    }
    doomed.reverse();
    for pos in doomed {
        c.delete_vm_firewall_rule(node, vmid, u64::from(pos), None).await.map_err(e)?;
        done.writes += 1;
        rules.remove(pos as usize);
    }
    // New ones: Proxmox adds at the top, enabled.
    let missing: Vec<String> =
        wanted.iter().filter(|g| !rules.iter().any(|r| managed_group(r) == Some(g.as_str()))).cloned().collect();
    for g in missing.iter().rev() {
        c.add_vm_security_group(node, vmid, g, Some(MANAGED)).await.map_err(e)?;
        done.writes += 1;
        let rule = Rule {
            kind: RuleType::Group,
            action: g.clone(),
            enable: true,
            comment: Some(MANAGED.into()),
            ..Default::default()
        };
        rules.insert(0, rule);
    }
    // Into order at the top, each enabled.
    for (i, g) in wanted.iter().enumerate() {
        let Some(j) = rules.iter().position(|r| managed_group(r) == Some(g.as_str())) else { continue };
        if j != i {
            let moveto = pve::api::firewall::moveto_for(j as u64, i as u64);
            c.move_vm_firewall_rule(node, vmid, j as u64, moveto, None).await.map_err(e)?;
            done.writes += 1;
            let r = rules.remove(j);
            rules.insert(i, r);
        }
        if !rules[i].enable {
            c.enable_vm_firewall_rule(node, vmid, i as u64, true, None).await.map_err(e)?;
            done.writes += 1;
            rules[i].enable = true;
        }
    }

    // Only now the VM firewall and the NIC flags: with the groups' rules already in place, a
    // VM never runs with the firewall's default DROP and none of its groups. Each is recorded
    // at once, so a later failure cannot make proxfleet forget it turned them on.
    if !wanted.is_empty() {
        if !options.enable {
            c.set_vm_firewall(node, vmid, true, None).await.map_err(e)?;
            done.writes += 1;
            record.enabled_by_us = true;
            store
                .set_firewall(name, &FirewallRecord { groups: wanted.clone(), ..record.clone() })
                .await
                .map_err(|e| e.to_string())?;
        }
        let off = nics_without_flag(&config);
        if !off.is_empty() {
            let mut update = pve::ConfigUpdate::new().digest(&config.digest);
            for (nic, value) in &off {
                update = update.set(nic, with_flag(value, true));
            }
            c.vm_update_config(node, vmid, &update).await.map_err(e)?;
            done.writes += 1;
            record.flagged_nics.extend(off.into_iter().map(|(k, _)| k));
            store
                .set_firewall(name, &FirewallRecord { groups: wanted.clone(), ..record.clone() })
                .await
                .map_err(|e| e.to_string())?;
        }
    }

    if wanted.is_empty() && !params.keep_enabled {
        // Undo what proxfleet turned on, nothing else.
        if record.enabled_by_us && options.enable {
            c.set_vm_firewall(node, vmid, false, None).await.map_err(e)?;
            done.writes += 1;
        }
        let flagged = |cfg: &pve::VmConfig| -> Vec<(String, String)> {
            cfg.values
                .iter()
                .filter(|(k, v)| record.flagged_nics.contains(k) && v.split(',').any(|o| o == "firewall=1"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        if !flagged(&config).is_empty() {
            // The values as they are now, sent with the digest they were read with.
            let current = c.vm_config(node, vmid).await.map_err(e)?;
            done.reads += 1;
            let flagged = flagged(&current);
            let mut update = pve::ConfigUpdate::new().digest(&current.digest);
            for (nic, value) in &flagged {
                update = update.set(nic, with_flag(value, false));
            }
            c.vm_update_config(node, vmid, &update).await.map_err(e)?;
            done.writes += 1;
        }
        record.enabled_by_us = false;
        record.flagged_nics.clear();
    }

    if done.writes > 0 {
        // What Proxmox holds now decides what is recorded.
        let now: Vec<Rule> = c.vm_firewall_rules(node, vmid).await.map_err(e)?.iter().map(to_rule).collect();
        done.reads += 1;
        let top: Vec<&str> = now.iter().take(wanted.len()).filter_map(managed_group).collect();
        if top != wanted.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(format!(
                    "the VM's rules changed while they were being set (its first rules are now {top:?}, wanted {wanted:?}); retry"
                ));
        }
    }
    record.groups = wanted.clone();
    store.set_firewall(name, &record).await.map_err(|e| e.to_string())?;
    done.groups = wanted;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(mode: AssignMode, groups: &[&str]) -> AssignParams {
        AssignParams { mode, groups: groups.iter().map(|g| (*g).to_owned()).collect(), keep_enabled: false }
    }

    #[test]
    fn attach_appends_detach_removes_replace_sets() {
        let has = vec!["web".to_owned(), "ssh".to_owned()];
        assert_eq!(params(AssignMode::Attach, &["db", "web"]).wanted(&has), ["web", "ssh", "db"]);
        assert_eq!(params(AssignMode::Detach, &["web"]).wanted(&has), ["ssh"]);
        assert!(params(AssignMode::Detach, &[]).wanted(&has).is_empty());
        assert_eq!(params(AssignMode::Replace, &["db"]).wanted(&has), ["db"]);
    }

    #[test]
    fn the_rules_after_put_the_wanted_groups_on_top_and_keep_the_vms_own() {
        let rule = |kind, action: &str, comment: Option<&str>, enable| Rule {
            kind,
            action: action.into(),
            comment: comment.map(Into::into),
            enable,
            ..Default::default()
        };
        let before = vec![
            rule(RuleType::In, "ACCEPT", None, true),
            rule(RuleType::Group, "db", Some("proxfleet"), true),
            rule(RuleType::Group, "web", Some("Security Group: web"), false),
            rule(RuleType::Group, "hand", Some("by hand"), true),
            rule(RuleType::Group, "db", Some("proxfleet"), true),
        ];
        let after = rules_after(&before, &["web".to_owned(), "ssh".to_owned()]);
        let got: Vec<(u32, &str, bool, &str)> =
            after.iter().map(|r| (r.pos, r.action.as_str(), r.enable, r.comment.as_deref().unwrap_or(""))).collect();
        assert_eq!(
            got,
            [
                (0, "web", true, "Security Group: web"),
                (1, "ssh", true, "proxfleet"),
                (2, "ACCEPT", true, ""),
                (3, "hand", true, "by hand"),
            ]
        );
    }

    #[test]
    fn a_nic_keeps_its_mac_and_options_when_the_flag_changes() {
        let v = "virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20";
        assert_eq!(with_flag(v, true), "virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20,firewall=1");
        assert_eq!(
            with_flag("virtio=BC:24:11:00:00:01,firewall=0,bridge=vmbr0", true),
            "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1"
        );
        assert_eq!(with_flag(&with_flag(v, true), false), v);
    }

    #[test]
    fn only_proxfleets_group_rules_and_the_old_tools_are_managed() {
        let rule = |kind, action: &str, comment: Option<&str>| Rule {
            kind,
            action: action.into(),
            comment: comment.map(Into::into),
            ..Default::default()
        };
        assert_eq!(managed_group(&rule(RuleType::Group, "web", Some("proxfleet"))), Some("web"));
        assert_eq!(managed_group(&rule(RuleType::Group, "web", Some("Security Group: web"))), Some("web"));
        assert_eq!(managed_group(&rule(RuleType::Group, "web", Some("by hand"))), None);
        assert_eq!(managed_group(&rule(RuleType::In, "ACCEPT", Some("proxfleet"))), None);
    }
}
