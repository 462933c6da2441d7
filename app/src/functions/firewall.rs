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

/// The add-rule form: empty fields are "not given".
#[server(prefix = "/sfn", endpoint = "add_rule")]
pub async fn add_rule(
    group: String,
    digest: String,
    direction: String,
    action: String,
    macro_name: String,
    proto: String,
    dport: String,
    source: String,
    dest: String,
    comment: String,
    position: String,
    enable: Option<String>,
) -> Result<(), AppError> {
    use model::firewall::{RuleInput, RuleType};
    let given = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = RuleInput {
        kind: Some(if direction == "out" { RuleType::Out } else { RuleType::In }),
        action: given(action),
        enable: Some(enable.is_some()),
        macro_name: given(macro_name),
        proto: given(proto),
        dport: given(dport),
        source: given(source),
        dest: given(dest),
        comment: given(comment),
        digest: given(digest),
        ..Default::default()
    };
    let mut input = input;
    match given(position).map(|p| p.parse::<u32>()) {
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

/// The server page's options form (`enable` is present when checked).
#[server(prefix = "/sfn", endpoint = "set_server_firewall_options")]
pub async fn set_server_firewall_options(
    name: String,
    digest: String,
    enable: Option<String>,
    policy_in: String,
    policy_out: String,
) -> Result<(), AppError> {
    let change = model::firewall::FirewallOptionsChange {
        enable: Some(enable.is_some()),
        policy_in: Some(policy_in),
        policy_out: Some(policy_out),
        digest: Some(digest).filter(|d| !d.is_empty()),
        ..Default::default()
    };
    door::services()?.firewall.set_server_options(&door::actor()?, &name, &change).await.map(|_| ()).map_err(door::fail)
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
