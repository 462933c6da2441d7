//! A group's whole rule list set at once (the editor's Apply): the fewest Proxmox calls that
//! turn the list as it is into the list wanted, and their application.
//!
//! Rules the caller kept carry their `origin` (their `pos` in the list read), so a reordered
//! or changed rule is moved or changed in place rather than deleted and made again. The plan:
//! delete the rules that go (bottom first, so positions above stay put); add the new ones at
//! the top *disabled*; move each rule to its index; then change what differs, which is also
//! when new rules are enabled — so no rule is ever active at a place it was not meant to be.
//! If a call fails, or the list read back is not the list wanted, the list as it was is put
//! back the same way.

use model::firewall::{Rule, RuleInput};

use super::groups::{refused, to_rule, FirewallService};
use super::rules::{self, CheckedRule};
use crate::{Error, Result};

/// One Proxmox call of a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Delete {
        pos: u32,
    },
    /// Added at the top, as Proxmox adds (disabled: `rule.enable` is false).
    Add {
        rule: CheckedRule,
    },
    /// PVE's `moveto` for the rule at `from` (see `pve::api::firewall::moveto_for`).
    Move {
        from: u32,
        moveto: u32,
    },
    Update {
        pos: u32,
        spec: pve::RuleSpec,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Old(u32),
    New(usize),
}

/// The calls that turn `old` into `wanted` (each wanted rule with the old `pos` it was, if any).
pub fn plan(old: &[Rule], wanted: &[(Option<u32>, CheckedRule)]) -> Vec<Op> {
    let mut ops = Vec::new();
    let kept: Vec<u32> = wanted.iter().filter_map(|(o, _)| *o).collect();
    let mut slots: Vec<Slot> = (0..old.len()).map(|i| Slot::Old(i as u32)).collect();
    for (i, _) in old.iter().enumerate().rev() {
        if !kept.contains(&(i as u32)) {
            ops.push(Op::Delete { pos: i as u32 });
            slots.remove(i);
        }
    }
    for (i, (origin, rule)) in wanted.iter().enumerate().rev() {
        if origin.is_none() {
            ops.push(Op::Add { rule: CheckedRule { enable: false, ..rule.clone() } });
            slots.insert(0, Slot::New(i));
        }
    }
    for (i, (origin, _)) in wanted.iter().enumerate() {
        let target = origin.map_or(Slot::New(i), Slot::Old);
        let Some(j) = slots.iter().position(|s| *s == target) else { continue };
        if j != i {
            let moveto = pve::api::firewall::moveto_for(j as u64, i as u64);
            ops.push(Op::Move { from: j as u32, moveto: u32::try_from(moveto).unwrap_or(u32::MAX) });
            let s = slots.remove(j);
            slots.insert(i, s);
        }
    }
    for (i, (origin, rule)) in wanted.iter().enumerate() {
        let current = match origin {
            Some(o) => old.get(*o as usize).cloned().map(|r| Rule { pos: i as u32, ..r }),
            None => Some(CheckedRule { enable: false, ..rule.clone() }.as_rule(i as u32)),
        };
        let desired = rule.as_rule(i as u32);
        if current.as_ref() != Some(&desired) {
            ops.push(Op::Update { pos: i as u32, spec: rule.spec(current.as_ref()) });
        }
    }
    ops
}

/// For each wanted rule, the `pos` of an equal rule in `current` (each used once): how to put a
/// list back when only its content is known.
fn by_content(current: &[Rule], wanted: &[Rule]) -> Vec<(Option<u32>, CheckedRule)> {
    let mut used = vec![false; current.len()];
    wanted
        .iter()
        .map(|w| {
            let checked = CheckedRule::read(w);
            let hit = current
                .iter()
                .enumerate()
                .find(|(i, c)| !used[*i] && Rule { pos: 0, ..(*c).clone() } == Rule { pos: 0, ..w.clone() })
                .map(|(i, _)| i);
            if let Some(i) = hit {
                used[i] = true;
            }
            (hit.map(|i| i as u32), checked)
        })
        .collect()
}

impl FirewallService {
    /// Sets the group's whole list (`manage_firewall_groups`): each rule checked first, all
    /// errors at once (`rules[3].dport`), nothing sent unless all are good; the digest the
    /// draft started from must still be current.
    pub async fn replace_rules(
        &self,
        actor: &crate::auth::Actor,
        group: &str,
        list: &model::firewall::RuleList,
    ) -> Result<model::firewall::SecurityGroup> {
        actor.require(crate::auth::Permission::ManageFirewallGroups)?;
        let mut before = Vec::new();
        let result = async {
            let wanted = check_all(&list.rules)?;
            let listed = self.listed(group).await?;
            super::groups::fresh(list.digest.as_deref(), &listed)?;
            if let Some(bad) = wanted.iter().filter_map(|(o, _)| *o).find(|o| *o as usize >= listed.rules.len()) {
                return Err(Error::validation("origin", format!("no rule {bad} in the list as read")));
            }
            let mut origins: Vec<u32> = wanted.iter().filter_map(|(o, _)| *o).collect();
            origins.sort_unstable();
            if origins.windows(2).any(|w| w[0] == w[1]) {
                return Err(Error::validation("origin", "a rule of the list read appears twice"));
            }
            before = listed.rules.clone();
            let desired: Vec<Rule> = wanted.iter().enumerate().map(|(i, (_, r))| r.as_rule(i as u32)).collect();
            if let Err(e) = self.carry_out(group, &plan(&listed.rules, &wanted), &desired).await {
                // Put the list back as it was.
                if let Ok(now) = self.listed(group).await {
                    let back = by_content(&now.rules, &listed.rules);
                    if let Err(again) = self.carry_out(group, &plan(&now.rules, &back), &listed.rules).await {
                        tracing::error!(group, error = %again, "could not put a group's rules back after a failed change");
                    }
                }
                return Err(e);
            }
            self.group(actor, group).await
        }
        .await;
        let detail = match &result {
            Ok(g) => format!(
                "{} -> {}",
                serde_json::to_string(&before).unwrap_or_default(),
                serde_json::to_string(&g.rules).unwrap_or_default()
            ),
            Err(_) => String::new(),
        };
        self.audit.outcome(actor, "firewall.rules_replace", group, &result, detail).await?;
        result
    }

    /// Sends the plan's calls, then checks the list read back is `desired`.
    pub(super) async fn carry_out(&self, group: &str, ops: &[Op], desired: &[Rule]) -> Result<()> {
        let c = self.client()?;
        for op in ops {
            match op {
                Op::Delete { pos } => c.delete_security_group_rule(group, u64::from(*pos), None).await,
                Op::Add { rule } => c.add_security_group_rule(group, &rule.spec(None)).await,
                Op::Move { from, moveto } => {
                    c.move_security_group_rule(group, u64::from(*from), u64::from(*moveto), None).await
                }
                Op::Update { pos, spec } => c.update_security_group_rule(group, u64::from(*pos), spec, None).await,
            }
            .map_err(refused)?;
        }
        let now: Vec<Rule> = c.security_group_rules(group).await.map_err(refused)?.iter().map(to_rule).collect();
        if now != desired {
            return Err(Error::Conflict(format!(
                "the rules of {group} changed while they were being set; the list was put back, review it and try again"
            )));
        }
        Ok(())
    }
}

/// Every rule checked; the errors of all of them at once, each field named `rules[i].field`.
pub(super) fn check_all(list: &[RuleInput]) -> Result<Vec<(Option<u32>, CheckedRule)>> {
    let mut out = Vec::new();
    let mut errors: Vec<serde_json::Value> = Vec::new();
    for (i, input) in list.iter().enumerate() {
        match rules::check(input, None) {
            Ok(r) => out.push((input.origin, r)),
            Err(Error::Validation { field, message, details }) => {
                let fields: Vec<(String, String)> = details
                    .and_then(|d| d["errors"].as_array().cloned())
                    .map(|list| {
                        list.iter()
                            .map(|e| {
                                (
                                    e["field"].as_str().unwrap_or("").to_owned(),
                                    e["message"].as_str().unwrap_or("").to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_else(|| vec![(field.unwrap_or_default(), message)]);
                for (f, m) in fields {
                    errors.push(serde_json::json!({"field": format!("rules[{i}].{f}"), "message": format!("rule {}: {m}", i + 1)}));
                }
            }
            Err(other) => return Err(other),
        }
    }
    if let Some(first) = errors.first().cloned() {
        return Err(Error::Validation {
            field: first["field"].as_str().map(str::to_owned),
            message: first["message"].as_str().unwrap_or("invalid rule").to_owned(),
            details: Some(serde_json::json!({ "errors": errors })),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(dport: &str) -> CheckedRule {
        let input: RuleInput = serde_json::from_value(json!({"action": "ACCEPT", "dport": dport})).unwrap();
        rules::check(&input, None).unwrap()
    }

    /// Plays a plan on a list the way Proxmox would.
    fn play(old: &[Rule], ops: &[Op]) -> Vec<Rule> {
        let mut list: Vec<Rule> = old.to_vec();
        for op in ops {
            match op {
                Op::Delete { pos } => {
                    list.remove(*pos as usize);
                }
                Op::Add { rule } => list.insert(0, rule.as_rule(0)),
                Op::Move { from, moveto } => {
                    let r = list.remove(*from as usize);
                    let at = if moveto > from { moveto - 1 } else { *moveto };
                    list.insert((at as usize).min(list.len()), r);
                }
                Op::Update { pos, spec } => {
                    let r = &mut list[*pos as usize];
                    r.enable = spec.enable;
                    r.dport = spec.dport.clone();
                    r.comment = spec.comment.clone();
                }
            }
        }
        list.iter().enumerate().map(|(i, r)| Rule { pos: i as u32, ..r.clone() }).collect()
    }

    fn old(ports: &[&str]) -> Vec<Rule> {
        ports.iter().enumerate().map(|(i, p)| rule(p).as_rule(i as u32)).collect()
    }

    #[test]
    fn a_reorder_is_one_move_and_nothing_else() {
        let before = old(&["22", "80", "443"]);
        let wanted = vec![(Some(2), rule("443")), (Some(0), rule("22")), (Some(1), rule("80"))];
        let ops = plan(&before, &wanted);
        assert_eq!(ops.len(), 1, "{ops:?}");
        let after: Vec<Rule> = wanted.iter().enumerate().map(|(i, (_, r))| r.as_rule(i as u32)).collect();
        assert_eq!(play(&before, &ops), after);
    }

    #[test]
    fn adds_deletes_moves_and_changes_land_exactly_and_new_rules_are_enabled_last() {
        let before = old(&["1", "2", "3", "4", "5"]);
        let mut changed = rule("4");
        changed.comment = Some("four".into());
        let mut off = rule("1");
        off.enable = false;
        let wanted =
            vec![(None, rule("9")), (Some(3), changed), (Some(0), off), (None, rule("8")), (Some(4), rule("5"))];
        let ops = plan(&before, &wanted);
        let after: Vec<Rule> = wanted.iter().enumerate().map(|(i, (_, r))| r.as_rule(i as u32)).collect();
        assert_eq!(play(&before, &ops), after, "{ops:?}");
        let first_update = ops.iter().position(|o| matches!(o, Op::Update { .. })).unwrap();
        assert!(ops[..first_update].iter().all(|o| !matches!(o, Op::Update { .. })));
        assert!(ops.iter().all(|o| !matches!(o, Op::Add { rule } if rule.enable)), "added disabled");
        assert_eq!(ops.iter().filter(|o| matches!(o, Op::Delete { .. })).count(), 2);
    }

    #[test]
    fn every_rule_error_is_named_by_its_index() {
        let list: Vec<RuleInput> = serde_json::from_value(json!([
            {"action": "ACCEPT", "dport": "22"},
            {"action": "ACCEPT", "dport": "99999"},
            {"action": "NOPE"}
        ]))
        .unwrap();
        let Err(Error::Validation { field, details, .. }) = check_all(&list) else { panic!() };
        assert_eq!(field.as_deref(), Some("rules[1].dport"));
        assert_eq!(details.unwrap()["errors"].as_array().unwrap().len(), 2);
    }
}
