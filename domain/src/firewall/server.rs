//! One server's firewall: its options, groups and rules as Proxmox has them, where that differs
//! from what proxfleet recorded (drift), and changing its options.

use model::firewall::{FirewallOptions, FirewallOptionsChange, Rule, ServerFirewall};

use super::assign::managed_group;
use super::groups::{refused, to_rule, FirewallService};
use crate::auth::{Actor, Permission};
use crate::cluster::from_pve;
use crate::limits::shown;
use crate::{Error, Result};
use model::firewall::{LOG_LEVELS, VERDICTS};

pub(super) fn options_of(o: &pve::VmFirewallOptions) -> FirewallOptions {
    FirewallOptions {
        enable: o.enable,
        policy_in: o.policy_in.clone().unwrap_or_else(|| "DROP".into()),
        policy_out: o.policy_out.clone().unwrap_or_else(|| "ACCEPT".into()),
        log_level_in: o.log_level_in.clone().unwrap_or_else(|| "nolog".into()),
        log_level_out: o.log_level_out.clone().unwrap_or_else(|| "nolog".into()),
        macfilter: o.macfilter.unwrap_or(true),
        ipfilter: o.ipfilter.unwrap_or(false),
        dhcp: o.dhcp.unwrap_or(true),
        ndp: o.ndp.unwrap_or(true),
    }
}

/// What differs between the VM and what proxfleet recorded, in words.
fn drift(recorded: &[String], rules: &[Rule], options: &FirewallOptions, nics_off: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let on_vm: Vec<&str> = rules.iter().filter_map(managed_group).collect();
    let recorded: Vec<&str> = recorded.iter().map(String::as_str).collect();
    if on_vm != recorded {
        out.push(format!("groups on the VM {on_vm:?}, recorded {recorded:?}"));
    }
    for r in rules.iter().filter(|r| managed_group(r).is_some() && !r.enable) {
        out.push(format!("group {} is disabled on the VM", r.action));
    }
    if !recorded.is_empty() && !options.enable {
        out.push("the VM firewall is off: its groups are not enforced".into());
    }
    if !recorded.is_empty() && !nics_off.is_empty() {
        out.push(format!("firewall flag off on {}: their traffic bypasses the rules", nics_off.join(", ")));
    }
    out
}

impl FirewallService {
    pub(super) async fn located(&self, actor: &Actor, name: &str) -> Result<(String, u32)> {
        actor.require_current()?;
        let s = self
            .servers
            .by_name(name)
            .await?
            .filter(|s| actor.has(Permission::ViewAll) || s.owner_id == Some(actor.user_id))
            .ok_or_else(|| Error::NotFound(format!("no server {}", shown(name))))?;
        match (s.node, s.vmid) {
            (Some(node), Some(vmid)) => Ok((node, vmid)),
            _ => Err(Error::Conflict(format!("{name} has no VM on the cluster"))),
        }
    }

    /// The server's firewall as Proxmox has it, beside what proxfleet recorded.
    pub async fn server_firewall(&self, actor: &Actor, name: &str) -> Result<ServerFirewall> {
        let (node, vmid) = self.located(actor, name).await?;
        let c = self.client()?;
        let o = c.vm_firewall_options(&node, vmid).await.map_err(from_pve)?;
        let rules: Vec<Rule> = c.vm_firewall_rules(&node, vmid).await.map_err(from_pve)?.iter().map(to_rule).collect();
        let config = c.vm_config(&node, vmid).await.map_err(from_pve)?;
        let nics_without_flag: Vec<String> =
            super::assign::nics_without_flag(&config).into_iter().map(|(k, _)| k).collect();
        let groups = self.servers.firewall(name).await?.groups;
        let options = options_of(&o);
        let (effective, warnings) = self.enforced(name, &rules, &options, &nics_without_flag).await?;
        Ok(ServerFirewall {
            name: name.to_owned(),
            effective,
            warnings,
            drift: drift(&groups, &rules, &options, &nics_without_flag),
            options,
            digest: o.digest,
            groups,
            rules,
            nics_without_flag,
        })
    }

    /// Changes the server's firewall options (`manage_firewall_groups`), refused (409) if they
    /// changed since `digest` was read.
    pub async fn set_server_options(
        &self,
        actor: &Actor,
        name: &str,
        change: &FirewallOptionsChange,
    ) -> Result<ServerFirewall> {
        actor.require(Permission::ManageFirewallGroups)?;
        let result = async {
            let update = checked_options(change)?;
            let (node, vmid) = self.located(actor, name).await?;
            let c = self.client()?;
            let digest = match change.digest.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
                Some(d) => d.to_owned(),
                None => c.vm_firewall_options(&node, vmid).await.map_err(from_pve)?.digest,
            };
            c.update_vm_firewall_options(&node, vmid, &update, Some(&digest)).await.map_err(|e| {
                if e.kind == pve::ErrorKind::Modified {
                    Error::Conflict(format!(
                        "the firewall options of {name} changed since you read them; reload and try again"
                    ))
                } else {
                    refused(e)
                }
            })?;
            self.server_firewall(actor, name).await
        }
        .await;
        let detail = format!("{change:?}");
        self.audit.outcome(actor, "firewall.options", name, &result, detail).await?;
        result
    }
}

/// The options to change, each checked (policies in upper case, log levels in lower).
pub(super) fn checked_options(change: &FirewallOptionsChange) -> Result<pve::VmOptionsUpdate> {
    let check = |field: &str, v: &Option<String>, allowed: &[&str]| -> Result<Option<String>> {
        match v.as_deref().map(str::trim) {
            None => Ok(None),
            Some(x) => {
                let norm = if field.starts_with("policy") { x.to_ascii_uppercase() } else { x.to_ascii_lowercase() };
                if allowed.contains(&norm.as_str()) {
                    Ok(Some(norm))
                } else {
                    Err(Error::validation(field, format!("{}: use one of {}", shown(x), allowed.join(", "))))
                }
            }
        }
    };
    Ok(pve::VmOptionsUpdate {
        enable: change.enable,
        policy_in: check("policy_in", &change.policy_in, &VERDICTS)?,
        policy_out: check("policy_out", &change.policy_out, &VERDICTS)?,
        log_level_in: check("log_level_in", &change.log_level_in, &LOG_LEVELS)?,
        log_level_out: check("log_level_out", &change.log_level_out, &LOG_LEVELS)?,
        macfilter: change.macfilter,
        ipfilter: change.ipfilter,
        dhcp: change.dhcp,
        ndp: change.ndp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::firewall::RuleType;

    #[test]
    fn drift_names_what_differs() {
        let rule = |g: &str, enable: bool| Rule {
            kind: RuleType::Group,
            action: g.into(),
            enable,
            comment: Some("proxfleet".into()),
            ..Default::default()
        };
        let on = FirewallOptions {
            enable: true,
            policy_in: "DROP".into(),
            policy_out: "ACCEPT".into(),
            log_level_in: "nolog".into(),
            log_level_out: "nolog".into(),
            macfilter: true,
            ipfilter: false,
            dhcp: true,
            ndp: true,
        };
        let web = vec!["web".to_owned()];
        assert!(drift(&web, &[rule("web", true)], &on, &[]).is_empty());
        assert_eq!(drift(&web, &[rule("db", true)], &on, &[]).len(), 1);
        assert_eq!(drift(&web, &[rule("web", false)], &on, &["net1".into()]).len(), 2);
        let off = FirewallOptions { enable: false, ..on };
        assert_eq!(drift(&web, &[rule("web", true)], &off, &[]).len(), 1);
    }
}
