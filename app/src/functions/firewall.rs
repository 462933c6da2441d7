//! Security groups for the pages: read, create and delete groups; the rule forms that work
//! without JavaScript (add, toggle, move, delete; each carries the digest it was rendered
//! with); the editor's whole-list Apply; attaching groups to servers. Each calls
//! `domain::firewall::FirewallService`, which checks permissions.
//!
//! A failed rule form keeps what was typed: its error's `details.input` holds the fields as
//! sent, which the page puts back in the form (with JavaScript or without, where the error
//! comes back in the URL).

// A server function behind an `ActionForm` takes one argument per form field.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use model::firewall::preview::Preview;
use model::firewall::{RuleList, SecurityGroup};
use model::AppError;

#[cfg(feature = "ssr")]
use crate::functions::door;

#[server(prefix = "/sfn", endpoint = "list_groups")]
pub async fn list_groups() -> Result<Vec<SecurityGroup>, AppError> {
    door::services()?.firewall.groups(&door::actor()?).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "firewall_status")]
pub async fn firewall_status() -> Result<model::firewall::FirewallStatus, AppError> {
    door::services()?.firewall.status(&door::actor()?).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "get_group")]
pub async fn get_group(name: String) -> Result<SecurityGroup, AppError> {
    door::services()?.firewall.group(&door::actor()?, &name).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "create_group")]
pub async fn create_group(name: String, description: String) -> Result<String, AppError> {
    door::services()?
        .firewall
        .create_group(&door::actor()?, &name, &description)
        .await
        .map(|g| g.name)
        .map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "delete_group")]
pub async fn delete_group(name: String) -> Result<(), AppError> {
    door::services()?.firewall.delete_group(&door::actor()?, &name, false).await.map_err(door::fail)
}

/// The error, with the fields as sent in `details.input` (so the form can show them again).
#[cfg(feature = "ssr")]
fn keep_input(e: domain::Error, input: &model::firewall::RuleInput) -> AppError {
    let mut err = door::fail(e);
    let mut details: leptos::serde_json::Value = err
        .details
        .as_ref()
        .and_then(|d| leptos::serde_json::from_str(d.get()).ok())
        .unwrap_or_else(|| leptos::serde_json::json!({}));
    if let Some(obj) = details.as_object_mut() {
        obj.insert("input".into(), leptos::serde_json::to_value(input).unwrap_or_default());
    }
    err.details = leptos::serde_json::value::to_raw_value(&details).ok();
    err
}

/// One rule's fields as the add and edit forms send them (`rule[proto]`…): text, empty when
/// left blank. The checkbox `enable` is present only when ticked.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RuleForm {
    pub direction: String,
    pub action: String,
    pub macro_name: String,
    pub proto: String,
    pub dport: String,
    pub sport: String,
    pub source: String,
    pub dest: String,
    pub iface: String,
    pub log: String,
    pub icmp_type: String,
    pub comment: String,
    pub enable: Option<String>,
}

impl RuleForm {
    /// The fields as a rule change. Blank is "none": for an add, not given; for an edit, cleared
    /// (the form shows every field, so a blank one is one the operator emptied).
    pub fn input(&self, digest: String) -> model::firewall::RuleInput {
        use model::firewall::{RuleInput, RuleType};
        let text = |s: &str| Some(s.trim().to_owned());
        let given = |s: &str| text(s).filter(|s| !s.is_empty());
        RuleInput {
            kind: Some(if self.direction == "out" { RuleType::Out } else { RuleType::In }),
            action: given(&self.action),
            enable: Some(self.enable.is_some()),
            macro_name: text(&self.macro_name),
            proto: text(&self.proto),
            dport: text(&self.dport),
            sport: text(&self.sport),
            source: text(&self.source),
            dest: text(&self.dest),
            iface: text(&self.iface),
            log: text(&self.log),
            icmp_type: text(&self.icmp_type),
            comment: text(&self.comment),
            digest: given(&digest),
            ..Default::default()
        }
    }
}

/// The add-rule form: `position` is where the rule ends (blank: at the top, as Proxmox adds).
#[server(prefix = "/sfn", endpoint = "add_rule")]
pub async fn add_rule(group: String, digest: String, position: String, rule: RuleForm) -> Result<(), AppError> {
    let mut input = rule.input(digest);
    match Some(position.trim()).filter(|p| !p.is_empty()).map(str::parse::<u32>) {
        Some(Ok(p)) => input.position = Some(p),
        Some(Err(_)) => {
            return Err(keep_input(
                domain::Error::validation("position", "position is a rule number (0 is the top)"),
                &input,
            ))
        }
        None => {}
    }
    let services = door::services()?;
    services.firewall.add_rule(&door::actor()?, &group, &input).await.map(|_| ()).map_err(|e| keep_input(e, &input))
}

/// The edit form without JavaScript: changes the rule at `pos` at once, then shows the group
/// without the form open. (Hydrated, an edit changes the draft instead.)
#[server(prefix = "/sfn", endpoint = "update_rule")]
pub async fn update_rule(group: String, pos: u32, digest: String, rule: RuleForm) -> Result<(), AppError> {
    let input = rule.input(digest);
    let services = door::services()?;
    services.firewall.update_rule(&door::actor()?, &group, pos, &input).await.map_err(|e| keep_input(e, &input))?;
    leptos_axum::redirect(&format!("/security-groups/{}", crate::url::percent_encode(&group)));
    Ok(())
}

/// The cluster IP sets and aliases a rule may name (the editor's suggestions).
#[server(prefix = "/sfn", endpoint = "firewall_refs")]
pub async fn firewall_refs() -> Result<Vec<model::firewall::FirewallRef>, AppError> {
    door::services()?.firewall.refs(&door::actor()?).await.map_err(door::fail)
}

/// Turns the rule at `pos` on or off (`enable` is "1" or "0").
#[server(prefix = "/sfn", endpoint = "toggle_rule")]
pub async fn toggle_rule(group: String, pos: u32, digest: String, enable: String) -> Result<(), AppError> {
    let input = model::firewall::RuleInput {
        enable: Some(enable == "1"),
        digest: Some(digest).filter(|d| !d.is_empty()),
        ..Default::default()
    };
    door::services()?.firewall.update_rule(&door::actor()?, &group, pos, &input).await.map(|_| ()).map_err(door::fail)
}

/// Moves the rule at `pos` to index `to`.
#[server(prefix = "/sfn", endpoint = "move_rule")]
pub async fn move_rule(group: String, pos: u32, to: u32, digest: String) -> Result<(), AppError> {
    let digest = Some(digest).filter(|d| !d.is_empty());
    door::services()?
        .firewall
        .move_rule(&door::actor()?, &group, pos, to, digest.as_deref())
        .await
        .map(|_| ())
        .map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "delete_rule")]
pub async fn delete_rule(group: String, pos: u32, digest: String) -> Result<(), AppError> {
    let digest = Some(digest).filter(|d| !d.is_empty());
    door::services()?
        .firewall
        .delete_rule(&door::actor()?, &group, pos, digest.as_deref())
        .await
        .map(|_| ())
        .map_err(door::fail)
}

/// The editor's Apply: the whole list after review.
#[server(prefix = "/sfn", endpoint = "save_rules", input = Json)]
pub async fn save_rules(group: String, list: RuleList) -> Result<SecurityGroup, AppError> {
    door::services()?.firewall.replace_rules(&door::actor()?, &group, &list).await.map_err(door::fail)
}

/// What the editor's draft would do to the servers using the group (nothing is changed).
#[server(prefix = "/sfn", endpoint = "preview_rules", input = Json)]
pub async fn preview_rules(group: String, list: RuleList) -> Result<Preview, AppError> {
    door::services()?.firewall.preview_rules(&door::actor()?, &group, &list).await.map_err(door::fail)
}

#[cfg(feature = "ssr")]
fn assign_mode(mode: &str) -> Result<domain::firewall::AssignMode, AppError> {
    use domain::firewall::AssignMode;
    match mode {
        "attach" => Ok(AssignMode::Attach),
        "detach" => Ok(AssignMode::Detach),
        "replace" => Ok(AssignMode::Replace),
        _ => Err(door::fail(domain::Error::validation("mode", "attach, detach or replace"))),
    }
}

/// Attaches (`attach`), detaches (`detach`) or sets (`replace`) groups on servers; returns the
/// job id.
#[server(prefix = "/sfn", endpoint = "assign_groups", input = Json)]
pub async fn assign_groups(names: Vec<String>, mode: String, groups: Vec<String>) -> Result<i64, AppError> {
    door::services()?
        .firewall
        .assign(&door::actor()?, &names, assign_mode(&mode)?, &groups, false)
        .await
        .map(|j| j.id)
        .map_err(door::fail)
}

/// What `assign_groups` would do to each server (nothing is changed).
#[server(prefix = "/sfn", endpoint = "preview_assign", input = Json)]
pub async fn preview_assign(names: Vec<String>, mode: String, groups: Vec<String>) -> Result<Preview, AppError> {
    door::services()?
        .firewall
        .preview_assign(&door::actor()?, &names, assign_mode(&mode)?, &groups, false)
        .await
        .map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "server_firewall")]
pub async fn server_firewall(name: String) -> Result<model::firewall::ServerFirewall, AppError> {
    door::services()?.firewall.server_firewall(&door::actor()?, &name).await.map_err(door::fail)
}

/// The server page's firewall options as its forms send them: a GET for the preview (the page
/// reads them from its URL), a POST (`options[…]`) to apply. A checkbox is present when ticked.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OptionsForm {
    pub enable: Option<String>,
    pub policy_in: String,
    pub policy_out: String,
    pub log_level_in: String,
    pub log_level_out: String,
    pub macfilter: Option<String>,
    pub ipfilter: Option<String>,
    pub dhcp: Option<String>,
    pub ndp: Option<String>,
}

impl OptionsForm {
    /// The options as read, as the form shows them.
    pub fn of(o: &model::firewall::FirewallOptions) -> OptionsForm {
        let on = |b: bool| b.then(|| "on".to_owned());
        OptionsForm {
            enable: on(o.enable),
            policy_in: o.policy_in.clone(),
            policy_out: o.policy_out.clone(),
            log_level_in: o.log_level_in.clone(),
            log_level_out: o.log_level_out.clone(),
            macfilter: on(o.macfilter),
            ipfilter: on(o.ipfilter),
            dhcp: on(o.dhcp),
            ndp: on(o.ndp),
        }
    }

    /// Every option, as a change (the form shows them all).
    pub fn change(&self, digest: String, dry_run: bool) -> model::firewall::FirewallOptionsChange {
        let text = |s: &str| Some(s.trim().to_owned());
        model::firewall::FirewallOptionsChange {
            enable: Some(self.enable.is_some()),
            policy_in: text(&self.policy_in),
            policy_out: text(&self.policy_out),
            log_level_in: text(&self.log_level_in),
            log_level_out: text(&self.log_level_out),
            macfilter: Some(self.macfilter.is_some()),
            ipfilter: Some(self.ipfilter.is_some()),
            dhcp: Some(self.dhcp.is_some()),
            ndp: Some(self.ndp.is_some()),
            digest: Some(digest).filter(|d| !d.is_empty()),
            dry_run,
        }
    }
}

/// What the options would change on the server (nothing is written).
#[server(prefix = "/sfn", endpoint = "preview_server_firewall_options", input = Json)]
pub async fn preview_server_firewall_options(name: String, options: OptionsForm) -> Result<Preview, AppError> {
    let change = options.change(String::new(), true);
    door::services()?.firewall.preview_options(&door::actor()?, &name, &change).await.map_err(door::fail)
}

/// Applies the options previewed, then shows the server page without the preview.
#[server(prefix = "/sfn", endpoint = "set_server_firewall_options")]
pub async fn set_server_firewall_options(name: String, digest: String, options: OptionsForm) -> Result<(), AppError> {
    let change = options.change(digest, false);
    door::services()?.firewall.set_server_options(&door::actor()?, &name, &change).await.map_err(door::fail)?;
    leptos_axum::redirect(&format!("/servers/{}", crate::url::percent_encode(&name)));
    Ok(())
}

#[server(prefix = "/sfn", endpoint = "list_ipsets")]
pub async fn list_ipsets() -> Result<Vec<model::firewall::IpSet>, AppError> {
    door::services()?.firewall.ipsets(&door::actor()?).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "list_aliases")]
pub async fn list_aliases() -> Result<Vec<model::firewall::Alias>, AppError> {
    door::services()?.firewall.aliases(&door::actor()?).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "create_ipset")]
pub async fn create_ipset(name: String, comment: String) -> Result<(), AppError> {
    door::services()?.firewall.create_ipset(&door::actor()?, &name, &comment).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "delete_ipset")]
pub async fn delete_ipset(name: String) -> Result<(), AppError> {
    door::services()?.firewall.delete_ipset(&door::actor()?, &name).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "add_ipset_entry")]
pub async fn add_ipset_entry(name: String, cidr: String, comment: String) -> Result<(), AppError> {
    let entry = model::firewall::IpSetEntry { cidr, nomatch: false, comment };
    door::services()?.firewall.add_ipset_entry(&door::actor()?, &name, &entry).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "create_alias")]
pub async fn create_alias(name: String, cidr: String, comment: String) -> Result<(), AppError> {
    door::services()?
        .firewall
        .put_alias(&door::actor()?, &name, &cidr, &comment, true)
        .await
        .map(|_| ())
        .map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "delete_alias")]
pub async fn delete_alias(name: String) -> Result<(), AppError> {
    door::services()?.firewall.delete_alias(&door::actor()?, &name).await.map_err(door::fail)
}
