//! Security groups: the list (rules, servers using each, create, delete) and one group's rule
//! editor.
//!
//! The editor works two ways. Without JavaScript each row's buttons are small forms that
//! apply at once, each carrying the digest the page was rendered with (a stale one is refused
//! and the page says so), and Edit opens the rule's form on the page (`?edit=POS`). Hydrated,
//! the same buttons, drag and drop, Alt+↑/↓ and the inline editor (Enter on a row) change a
//! *draft* instead; Review shows what changes and the server's preview of it, Apply sends the
//! whole list at once (`save_rules`), and Undo steps back through the draft.

mod bulk;
mod editor;
mod rule_form;

pub use bulk::{BulkGroups, BulkGroupsState};
pub use editor::SecurityGroupPage;

use leptos::prelude::*;
use model::auth::Permission;

use crate::components::confirm::ConfirmSubmit;
use crate::functions::auth::CurrentUserResource;
use crate::functions::firewall::{firewall_status, list_groups, CreateGroup, DeleteGroup};
use crate::i18n::{t, Key};
use crate::url::percent_encode;
use crate::PageHeader;

fn error_box(message: String) -> impl IntoView {
    view! {
        <div class="alert alert-error" role="alert" data-testid="group-error">
            {message}
        </div>
    }
}

#[component]
pub fn SecurityGroupsPage() -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    let create = ServerAction::<CreateGroup>::new();
    let delete = ServerAction::<DeleteGroup>::new();
    let groups = Resource::new(move || (create.version().get(), delete.version().get()), |_| list_groups());
    let status = Resource::new(|| (), |_| firewall_status());
    view! {
        <PageHeader title=Key::NavSecurityGroups />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                status
                    .await
                    .ok()
                    .filter(|s| !s.datacenter_enabled)
                    .map(|_| {
                        view! {
                            <div class="alert alert-warning" role="status" data-testid="datacenter-off">
                                {t(Key::GroupsDatacenterOff)}
                            </div>
                        }
                    })
            })}
        </Suspense>
        {move || delete.value().get().and_then(|r| r.err()).map(|e| error_box(e.to_string()))}
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let can_manage = me.await.ok().flatten().is_some_and(|u| u.can(Permission::ManageFirewallGroups));
                match groups.await {
                    Ok(list) if list.is_empty() => {
                        view! {
                            <p class="muted" data-testid="groups-empty">
                                {t(Key::GroupsEmpty)}
                            </p>
                        }
                            .into_any()
                    }
                    Ok(list) => {
                        view! {
                            <table class="table" data-testid="groups">
                                <thead>
                                    <tr>
                                        <th>{t(Key::ServersName)}</th>
                                        <th>{t(Key::GroupsRules)}</th>
                                        <th>{t(Key::GroupsUsedBy)}</th>
                                        <th></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list
                                        .into_iter()
                                        .map(|g| {
                                            let name = g.name.clone();
                                            let used = if g.instance_count == 0 {
                                                view! { <span class="muted">{t(Key::GroupsNotUsed)}</span> }.into_any()
                                            } else {
                                                view! { <span>{g.used_by.join(", ")}</span> }.into_any()
                                            };
                                            view! {
                                                <tr data-testid="group-row" data-name=g.name.clone()>
                                                    <td>
                                                        <a href=format!("/security-groups/{}", percent_encode(&g.name))>
                                                            <strong>{g.name.clone()}</strong>
                                                        </a>
                                                        <div class="muted small">{g.description.clone()}</div>
                                                    </td>
                                                    <td data-testid="group-rules">{g.rules_count}</td>
                                                    <td>{used}</td>
                                                    <td>
                                                        {can_manage
                                                            .then(|| {
                                                                view! {
                                                                    <ActionForm action=delete attr:class="inline-form">
                                                                        <input type="hidden" name="name" value=name />
                                                                        <ConfirmSubmit
                                                                            label=Key::ActionDelete
                                                                            confirm=Key::GroupsDeleteYes
                                                                        />
                                                                    </ActionForm>
                                                                }
                                                            })}
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                    Err(e) => error_box(e.to_string()).into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let can_manage = me.await.ok().flatten().is_some_and(|u| u.can(Permission::ManageFirewallGroups));
                view! { <crate::pages::firewall_sets::SetsAndAliases can_manage=can_manage /> }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await
                    .ok()
                    .flatten()
                    .filter(|u| u.can(Permission::ManageFirewallGroups))
                    .map(|_| {
                        view! {
                            <section class="card section-gap">
                                <h2>{t(Key::GroupsNew)}</h2>
                                {move || create.value().get().and_then(|r| r.err()).map(|e| error_box(e.to_string()))}
                                <ActionForm action=create attr:class="form-grid">
                                    <label class="field">
                                        <span>{t(Key::ServersName)}</span>
                                        <input
                                            name="name"
                                            required
                                            maxlength="18"
                                            pattern="[A-Za-z][A-Za-z0-9_\\-]+"
                                            title=t(Key::GroupsNameHint)
                                            data-testid="new-group-name"
                                        />
                                    </label>
                                    <label class="field">
                                        <span>{t(Key::ServersDescription)}</span>
                                        <input name="description" />
                                    </label>
                                    <button type="submit" class="button button-primary">
                                        {t(Key::GroupsCreate)}
                                    </button>
                                </ActionForm>
                            </section>
                        }
                    })
            })}
        </Suspense>
    }
}
