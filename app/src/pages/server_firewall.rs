//! The server page's Firewall section: its options (changed with the digest they were read
//! with), the security groups proxfleet attached, every rule on the VM, the rules it enforces
//! (groups and macros written out), warnings, and where the VM differs from what proxfleet
//! recorded.

use leptos::prelude::*;
use model::auth::Permission;

use crate::functions::auth::CurrentUserResource;
use crate::functions::firewall::{server_firewall, SetServerFirewallOptions};
use crate::i18n::{t, Key};
use crate::url::percent_encode;

#[component]
pub fn ServerFirewallSection(name: Signal<String>) -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    let set = ServerAction::<SetServerFirewallOptions>::new();
    let fw = Resource::new(move || (name.get(), set.version().get()), |(n, _)| server_firewall(n));
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
                            let o = f.options.clone();
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
                                <ActionForm action=set attr:class="form-grid">
                                    <input type="hidden" name="name" value=f.name.clone() />
                                    <input type="hidden" name="digest" value=f.digest.clone() />
                                    <label class="field checkbox">
                                        <input type="checkbox" name="enable" checked=o.enable disabled=!can_manage />
                                        <span>{t(Key::RulesEnabled)}</span>
                                    </label>
                                    <label class="field">
                                        <span>"policy in"</span>
                                        <select name="policy_in" disabled=!can_manage>
                                            {["DROP", "REJECT", "ACCEPT"]
                                                .into_iter()
                                                .map(|p| {
                                                    view! {
                                                        <option value=p selected=o.policy_in == p>
                                                            {p}
                                                        </option>
                                                    }
                                                })
                                                .collect_view()}
                                        </select>
                                    </label>
                                    <label class="field">
                                        <span>"policy out"</span>
                                        <select name="policy_out" disabled=!can_manage>
                                            {["ACCEPT", "DROP", "REJECT"]
                                                .into_iter()
                                                .map(|p| {
                                                    view! {
                                                        <option value=p selected=o.policy_out == p>
                                                            {p}
                                                        </option>
                                                    }
                                                })
                                                .collect_view()}
                                        </select>
                                    </label>
                                    {can_manage
                                        .then(|| {
                                            view! {
                                                <button
                                                    type="submit"
                                                    class="button"
                                                    data-testid="save-firewall-options"
                                                >
                                                    {t(Key::DraftApply)}
                                                </button>
                                            }
                                        })}
                                </ActionForm>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
