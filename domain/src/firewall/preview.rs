//! Previews (`dry_run`): what attaching groups, setting a group's rule list or changing a
//! server's options would do, per server, before anything is sent to Proxmox.
//!
//! Each server's VM is read as the change would read it (options, rules, config); the state
//! after is computed with the function the change itself uses (`assign::rules_after`, the
//! checked rule list, the checked options), and both sides are written out and walked by
//! `evaluate`. Warnings: inbound SSH (tcp/22, which Ansible also needs) or node_exporter
//! (tcp/9100, scraped by Prometheus) dropped for the management sources; the datacenter or VM
//! firewall off; a NIC's flag off; a group rule proxfleet does not manage; a group that does
//! not exist.

use std::collections::BTreeSet;
use std::sync::Arc;

use model::firewall::preview::{EffectiveRule, Preview, PreviewWarning, ServerPreview, WarningKind};
use model::firewall::{FirewallOptions, FirewallOptionsChange, Rule, RuleList, RuleType};
use serde_json::Value;

use super::assign::{managed_group, nics_without_flag, rules_after, AssignMode, AssignParams};
use super::evaluate::{self, Groups, Names, Net, Reach};
use super::groups::{to_rule, FirewallService};
use crate::auth::{Actor, Permission};
use crate::cluster::from_pve;
use crate::servers::store::FirewallRecord;
use crate::{Error, Result};

/// The setting holding the management sources: a JSON list of addresses, CIDRs or ranges
/// from which SSH and Prometheus reach the servers. Unset: any address.
pub const MANAGEMENT_SOURCES: &str = "firewall.management_sources";
const ANY: [&str; 2] = ["0.0.0.0/0", "::/0"];
/// Ports that must stay open to the management sources, and what needs them.
const WATCHED: [(u16, WarningKind, &str); 2] = [
    (22, WarningKind::SshDropped, "SSH (tcp/22, also Ansible)"),
    (9100, WarningKind::ExporterDropped, "node_exporter (tcp/9100, Prometheus)"),
];
/// VMs read at once (as the assign job changes them).
const IN_FLIGHT: usize = 4;

/// One side (before or after) of a VM's firewall.
#[derive(Debug, Clone)]
struct Side {
    rules: Vec<Rule>,
    enable: bool,
    policy_in: String,
    policy_out: String,
    nics_off: Vec<String>,
}

impl Side {
    fn of(rules: Vec<Rule>, o: &FirewallOptions, nics_off: Vec<String>) -> Side {
        Side { rules, enable: o.enable, policy_in: o.policy_in.clone(), policy_out: o.policy_out.clone(), nics_off }
    }

    /// The rules this side enforces (in `scene`'s groups).
    fn chain(&self, scene: &Scene) -> Vec<EffectiveRule> {
        evaluate::effective(&self.rules, &scene.groups, &self.policy_in, &self.policy_out)
    }
}

/// The groups the rules name (`type=group`).
fn named<'a>(rules: impl IntoIterator<Item = &'a Rule>) -> BTreeSet<String> {
    rules.into_iter().filter(|r| r.kind == RuleType::Group).map(|r| r.action.clone()).collect()
}

/// A VM as read: its side now, and what proxfleet recorded of it.
#[derive(Debug, Clone)]
struct Read {
    name: String,
    now: Side,
    record: FirewallRecord,
}

/// What every server's preview needs besides its VM.
#[derive(Clone)]
struct Scene {
    groups: Groups,
    names: Names,
    sources: Vec<Net>,
    datacenter_on: bool,
}

impl FirewallService {
    /// The management sources (see `MANAGEMENT_SOURCES`).
    pub async fn management_sources(&self, actor: &Actor) -> Result<Vec<String>> {
        actor.require_current()?;
        Ok(self.sources().await?.0)
    }

    /// Sets the management sources (`manage_firewall_groups`); `[]` means any address.
    pub async fn set_management_sources(&self, actor: &Actor, list: &[String]) -> Result<Vec<String>> {
        actor.require(Permission::ManageFirewallGroups)?;
        let mut clean: Vec<String> = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let s = s.trim();
            if evaluate::parse_net(s).is_none() {
                return Err(Error::validation(
                    format!("management_sources[{i}]"),
                    format!("{}: give an address, a CIDR network or a range a-b", crate::limits::shown(s)),
                ));
            }
            if !clean.iter().any(|c| c == s) {
                clean.push(s.to_owned());
            }
        }
        let result = async {
            if clean.is_empty() {
                self.settings.delete(MANAGEMENT_SOURCES).await?;
            } else {
                self.settings.set(MANAGEMENT_SOURCES, &serde_json::json!(clean)).await?;
            }
            Ok(self.sources().await?.0)
        }
        .await;
        self.audit.outcome(actor, "firewall.management_sources", "", &result, clean.join(", ")).await?;
        result
    }

    async fn sources(&self) -> Result<(Vec<String>, Vec<Net>)> {
        let list: Vec<String> = match self.settings.get(MANAGEMENT_SOURCES).await? {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        let effective: Vec<&str> =
            if list.is_empty() { ANY.to_vec() } else { list.iter().map(String::as_str).collect() };
        Ok((list.clone(), effective.into_iter().filter_map(evaluate::parse_net).collect()))
    }

    /// What `assign` would do (same permissions and checks), writing nothing.
    pub async fn preview_assign(
        &self,
        actor: &Actor,
        names: &[String],
        mode: AssignMode,
        groups: &[String],
        keep_enabled: bool,
    ) -> Result<Preview> {
        let (servers, groups) = self.checked_assign(actor, names, mode, groups).await?;
        let params = AssignParams { mode, groups, keep_enabled };
        let reads = self.read_vms(&servers).await?;
        let mut groups = named(reads.iter().flat_map(|r| &r.now.rules));
        groups.extend(params.groups.iter().cloned());
        let scene = self.scene(&groups, &[]).await?;
        let sides = reads
            .into_iter()
            .map(|r| {
                let has: Vec<String> = r.now.rules.iter().filter_map(managed_group).map(str::to_owned).collect();
                let wanted = params.wanted(&has);
                let mut after = r.now.clone();
                after.rules = rules_after(&r.now.rules, &wanted);
                if !wanted.is_empty() {
                    after.enable = true;
                    after.nics_off.clear();
                } else if !keep_enabled {
                    after.enable = r.now.enable && !r.record.enabled_by_us;
                    after
                        .nics_off
                        .extend(r.record.flagged_nics.iter().filter(|n| !r.now.nics_off.contains(n)).cloned());
                }
                (r.name, r.now, after)
            })
            .collect();
        Ok(assemble(sides, &scene, &scene))
    }

    /// What setting `group`'s whole list would do to the servers using it (same checks as
    /// `replace_rules`, the digest included), writing nothing.
    pub async fn preview_rules(&self, actor: &Actor, group: &str, list: &RuleList) -> Result<Preview> {
        actor.require(Permission::ManageFirewallGroups)?;
        let wanted = super::replace::check_all(&list.rules)?;
        let listed = self.listed(group).await?;
        super::groups::fresh(list.digest.as_deref(), &listed)?;
        let desired: Vec<Rule> = wanted.iter().enumerate().map(|(i, (_, r))| r.as_rule(i as u32)).collect();
        let users: Vec<String> = self
            .servers
            .firewall_attachments()
            .await?
            .into_iter()
            .filter(|(g, _, owner)| g == group && (actor.has(Permission::ViewAll) || *owner == Some(actor.user_id)))
            .map(|(_, server, _)| server)
            .collect();
        let reads = self.read_vms(&users).await?;
        let mut groups = named(reads.iter().flat_map(|r| &r.now.rules));
        groups.insert(group.to_owned());
        // One read of the cluster for both sides: the draft's sets and aliases resolved too.
        let before = self.scene(&groups, &desired).await?;
        let mut after = before.clone();
        after.groups.insert(group.to_owned(), desired);
        let sides = reads.into_iter().map(|r| (r.name, r.now.clone(), r.now)).collect();
        Ok(assemble(sides, &before, &after))
    }

    /// What changing `name`'s firewall options would do (same checks), writing nothing.
    pub async fn preview_options(&self, actor: &Actor, name: &str, change: &FirewallOptionsChange) -> Result<Preview> {
        actor.require(Permission::ManageFirewallGroups)?;
        let update = super::server::checked_options(change)?;
        self.located(actor, name).await?;
        let reads = self.read_vms(&[name.to_owned()]).await?;
        let scene = self.scene(&named(reads.iter().flat_map(|r| &r.now.rules)), &[]).await?;
        let sides = reads
            .into_iter()
            .map(|r| {
                let mut after = r.now.clone();
                after.enable = update.enable.unwrap_or(after.enable);
                after.policy_in = update.policy_in.clone().unwrap_or(after.policy_in);
                after.policy_out = update.policy_out.clone().unwrap_or(after.policy_out);
                (r.name, r.now, after)
            })
            .collect();
        Ok(assemble(sides, &scene, &scene))
    }

    /// The rules a VM enforces now and its warnings (the server page's Firewall section).
    pub(super) async fn enforced(
        &self,
        name: &str,
        rules: &[Rule],
        options: &FirewallOptions,
        nics_off: &[String],
    ) -> Result<(Vec<EffectiveRule>, Vec<PreviewWarning>)> {
        let scene = self.scene(&named(rules), &[]).await?;
        let side = Side::of(rules.to_vec(), options, nics_off.to_vec());
        let chain = side.chain(&scene);
        let mut out: Vec<PreviewWarning> = datacenter_warning(&scene, &scene).into_iter().collect();
        out.extend(warnings(name, &side, &chain, &scene));
        Ok((chain, out))
    }

    /// Each server's VM: options, rules and config, four VMs at a time, in the order given.
    async fn read_vms(&self, names: &[String]) -> Result<Vec<Read>> {
        let client = self.client()?.clone();
        let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, name) in names.iter().enumerate() {
            let server = self
                .servers
                .by_name(name)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no server {}", crate::limits::shown(name))))?;
            let (Some(node), Some(vmid)) = (server.node, server.vmid) else {
                return Err(Error::Conflict(format!("{name} has no VM on the cluster")));
            };
            let record = self.servers.firewall(name).await?;
            let (c, gate, name) = (client.clone(), gate.clone(), name.clone());
            tasks.spawn(async move {
                let _turn = gate.acquire_owned().await;
                let o = c.vm_firewall_options(&node, vmid).await.map_err(from_pve)?;
                let rules: Vec<Rule> =
                    c.vm_firewall_rules(&node, vmid).await.map_err(from_pve)?.iter().map(to_rule).collect();
                let config = c.vm_config(&node, vmid).await.map_err(from_pve)?;
                let nics_off = nics_without_flag(&config).into_iter().map(|(k, _)| k).collect();
                let now = Side::of(rules, &super::server::options_of(&o), nics_off);
                Ok::<_, Error>((i, Read { name, now, record }))
            });
        }
        let mut out: Vec<(usize, Read)> = Vec::new();
        while let Some(done) = tasks.join_next().await {
            out.push(done.map_err(|e| Error::Internal(format!("a firewall read failed: {e}")))??);
        }
        out.sort_by_key(|(i, _)| *i);
        Ok(out.into_iter().map(|(_, r)| r).collect())
    }

    /// The groups named that exist (their rules), the IP sets and aliases their rules and
    /// `more` (a draft's) name, the management sources and the datacenter switch.
    async fn scene(&self, named: &BTreeSet<String>, more: &[Rule]) -> Result<Scene> {
        let c = self.client()?;
        let existing: BTreeSet<String> =
            c.security_groups().await.map_err(from_pve)?.into_iter().map(|g| g.group).collect();
        let mut groups = Groups::new();
        for g in named.iter().filter(|g| existing.contains(*g)) {
            groups.insert(g.clone(), c.security_group_rules(g).await.map_err(from_pve)?.iter().map(to_rule).collect());
        }
        let mut names = Names::default();
        let fields: Vec<&str> = groups
            .values()
            .flatten()
            .chain(more)
            .flat_map(|r| [r.source.as_deref(), r.dest.as_deref()])
            .flatten()
            .collect();
        let sets: BTreeSet<String> = fields
            .iter()
            .flat_map(|f| f.split(','))
            .filter_map(|i| i.trim().strip_prefix('+'))
            .map(|s| s.trim_start_matches("dc/").to_owned())
            .collect();
        if fields.iter().flat_map(|f| f.split(',')).any(|i| {
            let i = i.trim();
            !i.starts_with('+') && evaluate::parse_net(i).is_none()
        }) {
            names.aliases = c.aliases().await.map_err(from_pve)?.into_iter().map(|a| (a.name, a.cidr)).collect();
        }
        let known: BTreeSet<String> = if sets.is_empty() {
            BTreeSet::new()
        } else {
            c.ipsets().await.map_err(from_pve)?.into_iter().map(|s| s.name).collect()
        };
        for s in sets.iter().filter(|s| known.contains(*s)) {
            let entries = c.ipset_entries(s).await.map_err(from_pve)?;
            names.ipsets.insert(s.clone(), entries.into_iter().map(|e| (e.cidr, e.nomatch)).collect());
        }
        let datacenter_on = c.cluster_firewall_options().await.map_err(from_pve)?.enable;
        Ok(Scene { groups, names, sources: self.sources().await?.1, datacenter_on })
    }
}

/// The previews of every server (`sides`: name, before, after) and the warnings.
fn assemble(sides: Vec<(String, Side, Side)>, before: &Scene, after: &Scene) -> Preview {
    let mut preview = Preview::default();
    preview.warnings.extend(datacenter_warning(before, after));
    for (name, was, will) in sides {
        let b = was.chain(before);
        let a = will.chain(after);
        let old = warnings(&name, &was, &b, before);
        let mut new = warnings(&name, &will, &a, after);
        for w in &mut new {
            w.already = old.iter().any(|o| o.kind == w.kind && o.message == w.message);
        }
        let managed = |s: &Side| s.rules.iter().filter_map(managed_group).map(str::to_owned).collect::<Vec<_>>();
        let p = ServerPreview {
            groups_before: managed(&was),
            groups_after: managed(&will),
            enforced_before: was.enable && before.datacenter_on,
            enforced_after: will.enable && after.datacenter_on,
            diff: evaluate::diff(&b, &a),
            before: b,
            after: a,
            warnings: new.clone(),
            name: name.clone(),
        };
        if p.changes() {
            preview.affected.push(name);
        }
        preview.warnings.extend(new);
        preview.servers.push(p);
    }
    preview
}

fn datacenter_warning(before: &Scene, after: &Scene) -> Option<PreviewWarning> {
    (!after.datacenter_on).then(|| PreviewWarning {
        kind: WarningKind::DatacenterOff,
        server: String::new(),
        message: "the datacenter firewall is off: Proxmox enforces no rule on any server until it is on".into(),
        already: !before.datacenter_on,
    })
}

/// What an operator should know about one side of a VM's firewall (`chain`: its rules as
/// enforced, `side.chain(scene)`).
fn warnings(name: &str, side: &Side, chain: &[EffectiveRule], scene: &Scene) -> Vec<PreviewWarning> {
    let w = |kind, message: String| PreviewWarning { kind, server: name.to_owned(), message, already: false };
    let mut out = Vec::new();
    let group_rules: Vec<&Rule> = side.rules.iter().filter(|r| r.enable && r.kind == RuleType::Group).collect();
    for r in &group_rules {
        if !scene.groups.contains_key(&r.action) {
            out.push(w(
                WarningKind::GroupMissing,
                format!("{name} names security group {}, which does not exist: Proxmox skips it", r.action),
            ));
        }
        if managed_group(r).is_none() {
            out.push(w(
                WarningKind::GroupUnmanaged,
                format!("{name} has security group {} attached by hand; proxfleet leaves it as it is", r.action),
            ));
        }
    }
    if !side.enable {
        if side.rules.iter().any(|r| r.enable) {
            out.push(w(WarningKind::FirewallOff, format!("the firewall of {name} is off: its rules are not enforced")));
        }
        return out;
    }
    if !side.nics_off.is_empty() {
        out.push(w(
            WarningKind::NicFlagOff,
            format!("firewall flag off on {} of {name}: that traffic bypasses every rule", side.nics_off.join(", ")),
        ));
    }
    for (port, kind, what) in WATCHED {
        match evaluate::reach(chain, port, &scene.sources, &scene.names) {
            Reach::Accepted => {}
            Reach::Partly(by) => {
                out.push(w(kind, format!("{what} to {name} is dropped for some management sources (first by {by})")))
            }
            Reach::Dropped(by) => {
                out.push(w(kind, format!("{what} to {name} is dropped from the management sources (by {by})")))
            }
        }
    }
    out
}
