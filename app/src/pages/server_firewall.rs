//! The server page's Firewall section: its options (changed with the digest they were read
//! with), the security groups proxfleet attached, every rule on the VM, the rules it enforces
//! (groups and macros written out), warnings, and where the VM differs from what proxfleet
//! recorded.
//!
//! Options change in two steps, with or without JavaScript: the options form is a GET to this
//! page (`?fw=preview&…`), which shows the server's preview of them; its Apply posts them with
//! the digest read.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;
use model::auth::Permission;
use model::firewall::{LOG_LEVELS, VERDICTS};

use crate::functions::auth::CurrentUserResource;
use crate::functions::firewall::{
    preview_server_firewall_options, server_firewall, OptionsForm, SetServerFirewallOptions,
};
use crate::i18n::{t, Key};
use crate::pages::firewall_preview::PreviewOutcome;
use crate::url::percent_encode;

/// The options asked to preview, from the page's URL (`None`: no preview asked).
fn asked_of(q: &ParamsMap) -> Option<OptionsForm> {
    (q.get("fw").as_deref() == Some("preview")).then(|| {
        let on = |k: &str| q.get(k).map(|_| "on".to_owned());
        let text = |k: &str| q.get(k).unwrap_or_default();
        OptionsForm {
            enable: on("enable"),
            policy_in: text("policy_in"),
            policy_out: text("policy_out"),
            log_level_in: text("log_level_in"),
            log_level_out: text("log_level_out"),
            macfilter: on("macfilter"),
            ipfilter: on("ipfilter"),
            dhcp: on("dhcp"),
            ndp: on("ndp"),
        }
    })
}

/// The options form's fields (the GET form's names), showing `o`.
fn option_fields(o: &OptionsForm, can_manage: bool) -> impl IntoView {
    let choice = |name: &'static str, label: &'static str, options: &[&'static str], now: &str| {
        let now = now.to_owned();
        view! {
            <label class="field">
                <span>{label}</span>
                <select name=name disabled=!can_manage data-testid=format!("fw-{name}")>
                    {options
                        .iter()
                        .map(|v| {
                            view! {
                                <option value=*v selected=*v == now>
                                    {*v}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
        }
    };
    let flag = |name: &'static str, label: &'static str, on: bool| {
        view! {
            <label class="field checkbox">
                <input type="checkbox" name=name checked=on disabled=!can_manage data-testid=format!("fw-{name}") />
                <span>{label}</span>
            </label>
        }
    };
    view! {
        {flag("enable", t(Key::RulesEnabled)(), o.enable.is_some())}
        {choice("policy_in", "policy in", &VERDICTS, &o.policy_in)}
        {choice("policy_out", "policy out", &VERDICTS, &o.policy_out)}
        {choice("log_level_in", "log in", &LOG_LEVELS, &o.log_level_in)}
        {choice("log_level_out", "log out", &LOG_LEVELS, &o.log_level_out)}
        {flag("macfilter", "MAC filter", o.macfilter.is_some())}
        {flag("ipfilter", "IP filter", o.ipfilter.is_some())}
        {flag("dhcp", "DHCP", o.dhcp.is_some())}
        {flag("ndp", "NDP", o.ndp.is_some())}
    }
}

/// The options previewed, as the Apply form posts them.
fn hidden_options(o: &OptionsForm) -> impl IntoView {
    let fields = [
        ("enable", o.enable.clone()),
        ("policy_in", Some(o.policy_in.clone())),
        ("policy_out", Some(o.policy_out.clone())),
        ("log_level_in", Some(o.log_level_in.clone())),
        ("log_level_out", Some(o.log_level_out.clone())),
        ("macfilter", o.macfilter.clone()),
        ("ipfilter", o.ipfilter.clone()),
        ("dhcp", o.dhcp.clone()),
        ("ndp", o.ndp.clone()),
    ];
    fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| view! { <input type="hidden" name=format!("options[{k}]") value=v /> }))
        .collect_view()
}

#[component]
pub fn ServerFirewallSection(name: Signal<String>) -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    let set = ServerAction::<SetServerFirewallOptions>::new();
    let fw = Resource::new(move || (name.get(), set.version().get()), |(n, _)| server_firewall(n));
    let query = use_query_map();
    let asked = move || query.with(asked_of);
    let preview = Resource::new(
        move || (name.get(), asked()),
        |(n, asked)| async move {
            match asked {
                Some(o) => Some(preview_server_firewall_options(n, o).await),
                None => None,
            }
        },
    );
    view! {
        <section class="card section-gap" data-testid="server-firewall">
            <h2>{t(Key::NavSecurityGroups)}</h2>
            {move || {
                set.value()
                    .get()
                    .and_then(|r| r.err())
                    .map(|e| {
                        view! {
                            <div class="alert alert-error" role="alert">
                                {e.message}
                            </div>
                        }
                    })
            }}
            <Transition fallback=|| {
                view! { <p class="muted">"…"</p> }
            }>
                {move || Suspend::new(async move {
                    let can_manage = me.await.ok().flatten().is_some_and(|u| u.can(Permission::ManageFirewallGroups));
                    match fw.await {
                        Err(e) => view! { <p class="muted">{e.message}</p> }.into_any(),
                        Ok(f) => {
                            let asked = asked();
                            let shown = asked.clone().unwrap_or_else(|| OptionsForm::of(&f.options));
                            let previewed = preview.await;
                            // The form shows the options asked to preview, else as read.
                            view! {
                                {f
                                    .drift
                                    .iter()
                                    .map(|d| {
                                        view! {
                                            <div class="alert alert-warning" role="status" data-testid="firewall-drift">
                                                {d.clone()}
                                            </div>
                                        }
                                    })
                                    .collect_view()}
                                <p data-testid="server-groups">
                                    {if f.groups.is_empty() {
                                        view! { <span class="muted">{t(Key::GroupsNotUsed)}</span> }.into_any()
                                    } else {
                                        f.groups
                                            .iter()
                                            .map(|g| {
                                                view! {
                                                    <a href=format!(
                                                        "/security-groups/{}",
                                                        percent_encode(g),
                                                    )>{g.clone()}</a>
                                                    " "
                                                }
                                            })
                                            .collect_view()
                                            .into_any()
                                    }}
                                </p>
                                <table class="table">
                                    <thead>
                                        <tr>
                                            <th>{t(Key::RulesEnabled)}</th>
                                            <th>{t(Key::RulesDirection)}</th>
                                            <th>{t(Key::RulesAction)}</th>
                                            <th>{t(Key::RulesMacro)}</th>
                                            <th>{t(Key::RulesComment)}</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {f
                                            .rules
                                            .iter()
                                            .map(|r| {
                                                view! {
                                                    <tr data-testid="server-fw-rule">
                                                        <td>
                                                            {if r.enable {
                                                                t(Key::RulesOn)()
                                                            } else {
                                                                t(Key::RulesOff)()
                                                            }}
                                                        </td>
                                                        <td>{r.kind.as_str()}</td>
                                                        <td>{r.action.clone()}</td>
                                                        <td>
                                                            <code>
                                                                {r
                                                                    .macro_name
                                                                    .clone()
                                                                    .or(r.proto.clone())
                                                                    .unwrap_or_default()} " "
                                                                {r.dport.clone().unwrap_or_default()}
                                                            </code>
                                                        </td>
                                                        <td>{r.comment.clone()}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                                {f
                                    .warnings
                                    .iter()
                                    .map(|w| {
                                        view! {
                                            <div
                                                class="alert alert-warning"
                                                role="status"
                                                data-testid="firewall-warning"
                                                data-kind=format!("{:?}", w.kind)
                                            >
                                                {w.message.clone()}
                                            </div>
                                        }
                                    })
                                    .collect_view()}
                                <details data-testid="firewall-effective">
                                    <summary>{t(Key::FirewallEffective)}</summary>
                                    <pre class="preview-diff">
                                        {f
                                            .effective
                                            .iter()
                                            .map(model::firewall::preview::EffectiveRule::line)
                                            .collect::<Vec<_>>()
                                            .join("\n")}
                                    </pre>
                                </details>
                                <h3>{t(Key::FirewallOptions)}</h3>
                                <form
                                    method="get"
                                    action=format!("/servers/{}", percent_encode(&f.name))
                                    class="form-grid"
                                    data-testid="fw-options"
                                >
                                    <input type="hidden" name="fw" value="preview" />
                                    {option_fields(&shown, can_manage)}
                                    {can_manage
                                        .then(|| {
                                            view! {
                                                <button type="submit" class="button" data-testid="fw-options-preview">
                                                    {t(Key::DraftReview)}
                                                </button>
                                            }
                                        })}
                                </form>
                                {match (asked, previewed) {
                                    (Some(o), Some(result)) if can_manage => {
                                        let ok = result.is_ok();
                                        view! {
                                            <section class="card section-gap" data-testid="fw-options-review">
                                                <PreviewOutcome result=result error_id="fw-options-error" />
                                                <ActionForm action=set attr:class="toolbar">
                                                    <input type="hidden" name="name" value=f.name.clone() />
                                                    <input type="hidden" name="digest" value=f.digest.clone() />
                                                    {hidden_options(&o)}
                                                    <button
                                                        type="submit"
                                                        class="button button-primary"
                                                        disabled=!ok
                                                        data-testid="fw-options-apply"
                                                    >
                                                        {t(Key::DraftApply)}
                                                    </button>
                                                    <a
                                                        class="button"
                                                        href=format!("/servers/{}", percent_encode(&f.name))
                                                    >
                                                        {t(Key::ConfirmCancel)}
                                                    </a>
                                                </ActionForm>
                                            </section>
                                        }
                                            .into_any()
                                    }
                                    _ => ().into_any(),
                                }}
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
