//! The fields of one rule (shared by the add form and the inline editor), the form that adds a
//! rule, and the editor row that changes one.
//!
//! Both forms post `rule[field]` (a `RuleForm`) and so work without JavaScript. Hydrated, the
//! add form still adds at once, while the editor row changes the page's draft.

use leptos::prelude::*;
use model::firewall::{macros::MACRO_DEFS, FirewallRef, Rule, RuleInput, RuleType, LOG_LEVELS, VERDICTS};

use crate::functions::firewall::{AddRule, RuleForm, UpdateRule};
use crate::i18n::{t, Key};

impl RuleForm {
    /// A rule as the form shows it.
    pub(super) fn of_rule(r: &Rule) -> RuleForm {
        RuleForm::of_input(&RuleInput::from_rule(r, None))
    }

    /// The fields of a refused change, as they were sent (so the form shows them again).
    pub(super) fn of_input(i: &RuleInput) -> RuleForm {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        RuleForm {
            direction: i.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
            action: text(&i.action),
            macro_name: text(&i.macro_name),
            proto: text(&i.proto),
            dport: text(&i.dport),
            sport: text(&i.sport),
            source: text(&i.source),
            dest: text(&i.dest),
            iface: text(&i.iface),
            log: text(&i.log),
            icmp_type: text(&i.icmp_type),
            comment: text(&i.comment),
            enable: (i.enable != Some(false)).then(|| "on".to_owned()),
        }
    }

    /// The draft's rule after an inline edit. Not checked here: Review asks the server, which
    /// checks the whole list as Apply will, and names the field it refuses.
    pub(super) fn edited(&self, was: &Rule) -> Rule {
        let given = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Rule {
            pos: was.pos,
            kind: if self.direction == "out" { RuleType::Out } else { RuleType::In },
            action: given(&self.action).map_or_else(|| was.action.clone(), |a| a.to_ascii_uppercase()),
            enable: self.enable.is_some(),
            macro_name: given(&self.macro_name),
            proto: given(&self.proto),
            dport: given(&self.dport),
            sport: given(&self.sport),
            source: given(&self.source),
            dest: given(&self.dest),
            iface: given(&self.iface),
            log: given(&self.log),
            icmp_type: given(&self.icmp_type),
            comment: given(&self.comment),
        }
    }
}

/// `PVE macro: what it opens` for the macro picker.
fn expansion_of(name: &str) -> Option<String> {
    MACRO_DEFS.iter().find(|d| d.name == name).map(|d| {
        let entries: Vec<String> = d
            .entries
            .iter()
            .map(|e| if e.dport.is_empty() { e.proto.to_owned() } else { format!("{} {}", e.proto, e.dport) })
            .collect();
        format!("{}: {}", d.description, entries.join(", "))
    })
}

/// The suggestions for a source or destination: every IP set and alias of the cluster.
#[component]
pub(super) fn RefSuggestions(id: &'static str, refs: Signal<Vec<FirewallRef>>) -> impl IntoView {
    view! {
        <datalist id=id>
            {move || {
                refs.get()
                    .into_iter()
                    .map(|r| {
                        let label = if r.comment.is_empty() {
                            r.kind.clone()
                        } else {
                            format!("{}: {}", r.kind, r.comment)
                        };
                        view! { <option value=r.reference>{label}</option> }
                    })
                    .collect_view()
            }}
        </datalist>
    }
}

/// A rule's fields, named `rule[…]`, shown as `values` holds them when rendered; hydrated,
/// `values` follows what is typed. `testid` prefixes each field's test id, so the add form and
/// an editor row can both be on the page.
#[component]
fn RuleFields(
    values: RwSignal<RuleForm>,
    testid: &'static str,
    /// The id of the page's `RefSuggestions`.
    refs: &'static str,
) -> impl IntoView {
    let set = move |f: fn(&mut RuleForm, String)| {
        move |e: leptos::ev::Event| {
            let value = event_target_value(&e);
            values.update(|form| f(form, value));
        }
    };
    let id = move |field: &str| format!("{testid}-{field}");
    let i = values.get_untracked();
    // A text field: `rule[name]`, test id `{testid}-name` (`_` written `-`); sources and
    // destinations get the page's suggestions.
    let text = move |name: &'static str,
                     label: Key,
                     placeholder: &'static str,
                     value: String,
                     f: fn(&mut RuleForm, String)| {
        let list = matches!(name, "source" | "dest").then_some(refs);
        view! {
            <label class="field">
                <span>{t(label)}</span>
                <input
                    name=format!("rule[{name}]")
                    list=list
                    placeholder=placeholder
                    value=value
                    data-testid=id(&name.replace('_', "-"))
                    on:input=set(f)
                />
            </label>
        }
    };
    let select = move |options: Vec<(&'static str, String)>, now: String| {
        options
            .into_iter()
            .map(|(value, label)| {
                let selected = value == now;
                view! {
                    <option value=value selected=selected>
                        {label}
                    </option>
                }
            })
            .collect_view()
    };
    view! {
        <label class="field">
            <span>{t(Key::RulesDirection)}</span>
            <select name="rule[direction]" data-testid=id("direction") on:change=set(|f, v| f.direction = v)>
                {select(vec![("in", "in".into()), ("out", "out".into())], i.direction.clone())}
            </select>
        </label>
        <label class="field">
            <span>{t(Key::RulesAction)}</span>
            <select name="rule[action]" data-testid=id("action") on:change=set(|f, v| f.action = v)>
                {select(VERDICTS.into_iter().map(|a| (a, a.to_owned())).collect(), i.action.to_ascii_uppercase())}
            </select>
        </label>
        <label class="field">
            <span>{t(Key::RulesMacro)}</span>
            <select name="rule[macro_name]" data-testid=id("macro") on:change=set(|f, v| f.macro_name = v)>
                <option value="">"—"</option>
                {MACRO_DEFS
                    .iter()
                    .map(|d| {
                        view! {
                            <option value=d.name title=d.description selected=d.name == i.macro_name>
                                {d.name}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <small class="muted" data-testid=id("macro-expansion")>
                {move || values.with(|v| expansion_of(&v.macro_name))}
            </small>
        </label>
        {text("proto", Key::RulesProto, "tcp", i.proto.clone(), |f, v| f.proto = v)}
        {text("dport", Key::RulesDport, "22, 80:90", i.dport.clone(), |f, v| f.dport = v)}
        {text("sport", Key::RulesSport, "", i.sport.clone(), |f, v| f.sport = v)}
        {text("source", Key::RulesSource, "10.0.0.0/8, +ipset, alias", i.source.clone(), |f, v| f.source = v)}
        {text("dest", Key::RulesDest, "", i.dest.clone(), |f, v| f.dest = v)}
        {text("iface", Key::RulesIface, "net0", i.iface.clone(), |f, v| f.iface = v)}
        {text("icmp_type", Key::RulesIcmpType, "echo-request", i.icmp_type.clone(), |f, v| f.icmp_type = v)}
        <label class="field">
            <span>{t(Key::RulesLog)}</span>
            <select name="rule[log]" data-testid=id("log") on:change=set(|f, v| f.log = v)>
                {select(
                    LOG_LEVELS.into_iter().map(|l| (if l == "nolog" { "" } else { l }, l.to_owned())).collect(),
                    i.log.clone(),
                )}
            </select>
        </label>
        {text("comment", Key::RulesComment, "", i.comment.clone(), |f, v| f.comment = v)}
        <label class="field checkbox">
            <input
                type="checkbox"
                name="rule[enable]"
                checked=i.enable.is_some()
                data-testid=id("enable")
                on:change=move |e| {
                    let on = event_target_checked(&e);
                    values.update(|f| f.enable = on.then(|| "on".to_owned()));
                }
            />
            <span>{t(Key::RulesEnabled)}</span>
        </label>
    }
}

/// Adds a rule at once (with or without JavaScript); what was typed stays when it is refused.
#[component]
pub(super) fn AddRuleForm(
    add: ServerAction<AddRule>,
    group: String,
    /// The digest and rule count of the group as last read (hydrated, they follow each read).
    digest: Signal<String>,
    count: Signal<usize>,
    dirty: Signal<bool>,
    /// The fields of a refused add, to show again.
    kept: Option<RuleInput>,
    refs: &'static str,
) -> impl IntoView {
    let values = RwSignal::new(kept.as_ref().map_or_else(
        || RuleForm { action: "ACCEPT".into(), enable: Some("on".into()), ..Default::default() },
        RuleForm::of_input,
    ));
    view! {
        <section class="card section-gap">
            <h2>{t(Key::RulesAdd)}</h2>
            <Show when=move || dirty.get()>
                <p class="muted">{t(Key::DraftFinishFirst)}</p>
            </Show>
            <ActionForm action=add attr:class="form-grid" attr:data-testid="add-rule">
                <input type="hidden" name="group" value=group />
                <input type="hidden" name="digest" value=digest.get_untracked() prop:value=digest />
                <RuleFields values=values testid="rule" refs=refs />
                <label class="field">
                    <span>{t(Key::RulesPosition)}</span>
                    <input
                        name="position"
                        inputmode="numeric"
                        value=count.get_untracked().to_string()
                        prop:value=move || count.get().to_string()
                        data-testid="rule-position"
                    />
                </label>
                <button type="submit" class="button button-primary" disabled=move || dirty.get() data-testid="rule-add">
                    {t(Key::RulesAdd)}
                </button>
            </ActionForm>
        </section>
    }
}

/// The row under a rule that edits it. Without JavaScript it posts the change at once (with
/// the digest the page was rendered with); hydrated, Done puts the change in the draft, and
/// Escape or Cancel closes it.
#[component]
pub(super) fn RuleEditor(
    update: ServerAction<UpdateRule>,
    group: String,
    pos: u32,
    digest: String,
    /// Its change was refused as stale (see `RuleRow`).
    stale: bool,
    initial: RuleForm,
    /// Where Cancel goes without JavaScript: the page without the editor open.
    page: String,
    done: Callback<RuleForm>,
    cancel: Callback<()>,
    refs: &'static str,
) -> impl IntoView {
    let values = RwSignal::new(initial);
    view! {
        <tr
            class="rule-editor"
            data-testid="rule-editor"
            on:keydown=move |e| {
                if e.key() == "Escape" {
                    e.prevent_default();
                    cancel.run(());
                }
            }
        >
            <td colspan="9">
                {stale
                    .then(|| {
                        view! {
                            <p class="alert alert-warning" role="status" data-testid="rule-edit-stale">
                                {t(Key::RulesEditStale)}
                            </p>
                        }
                    })} <ActionForm action=update attr:class="form-grid">
                    <input type="hidden" name="group" value=group />
                    <input type="hidden" name="pos" value=pos />
                    <input type="hidden" name="digest" value=digest />
                    <RuleFields values=values testid="edit" refs=refs />
                    <div class="toolbar">
                        <button
                            type="submit"
                            class="button button-primary"
                            data-testid="rule-edit-done"
                            on:click=move |e| {
                                e.prevent_default();
                                done.run(values.get_untracked());
                            }
                        >
                            {t(Key::RulesEditDone)}
                        </button>
                        <a
                            class="button"
                            href=page
                            data-testid="rule-edit-cancel"
                            on:click=move |e| {
                                e.prevent_default();
                                cancel.run(());
                            }
                        >
                            {t(Key::ConfirmCancel)}
                        </a>
                    </div>
                </ActionForm>
            </td>
        </tr>
    }
}
