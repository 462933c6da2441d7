//! The security groups page's IP sets and aliases: what a rule's source or destination may
//! name (`+set`, `alias`), with the groups whose rules name each; forms to create them, add
//! entries and delete (refused while a rule names one).

use leptos::prelude::*;

use crate::components::confirm::ConfirmSubmit;
use crate::functions::firewall::{
    list_aliases, list_ipsets, AddIpsetEntry, CreateAlias, CreateIpset, DeleteAlias, DeleteIpset,
};
use crate::i18n::{t, Key};

/// The last refusal of a form, if any.
fn refused(message: impl Fn() -> Option<String> + Send + Sync + 'static) -> impl IntoView {
    move || {
        message().map(|m| {
            view! {
                <div class="alert alert-error" role="alert" data-testid="sets-error">
                    {m}
                </div>
            }
        })
    }
}

/// The message of an action's last error.
macro_rules! error_of {
    ($action:expr) => {{
        let a = $action;
        move || a.value().get().and_then(|r| r.err()).map(|e| e.message)
    }};
}

#[component]
pub fn SetsAndAliases(can_manage: bool) -> impl IntoView {
    let create_set = ServerAction::<CreateIpset>::new();
    let delete_set = ServerAction::<DeleteIpset>::new();
    let add_entry = ServerAction::<AddIpsetEntry>::new();
    let create_alias = ServerAction::<CreateAlias>::new();
    let delete_alias = ServerAction::<DeleteAlias>::new();
    let sets = Resource::new(
        move || (create_set.version().get(), delete_set.version().get(), add_entry.version().get()),
        |_| list_ipsets(),
    );
    let aliases =
        Resource::new(move || (create_alias.version().get(), delete_alias.version().get()), |_| list_aliases());
    let used = |by: &[String]| {
        if by.is_empty() {
            t(Key::GroupsNotUsed)().to_owned()
        } else {
            by.join(", ")
        }
    };
    view! {
        <section class="card section-gap" data-testid="ipsets">
            <h2>{t(Key::SetsTitle)}</h2>
            {refused(error_of!(create_set))}
            {refused(error_of!(delete_set))}
            {refused(error_of!(add_entry))}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = sets.await.unwrap_or_default();
                    if list.is_empty() {
                        return view! { <p class="muted">{t(Key::SetsEmpty)}</p> }.into_any();
                    }
                    view! {
                        <table class="table">
                            <thead>
                                <tr>
                                    <th>{t(Key::ServersName)}</th>
                                    <th>{t(Key::SetsEntries)}</th>
                                    <th>{t(Key::GroupsUsedBy)}</th>
                                    <th></th>
                                </tr>
                            </thead>
                            <tbody>
                                {list
                                    .into_iter()
                                    .map(|s| {
                                        let (n1, n2) = (s.name.clone(), s.name.clone());
                                        let entries: Vec<String> = s
                                            .entries
                                            .iter()
                                            .map(|e| format!("{}{}", if e.nomatch { "!" } else { "" }, e.cidr))
                                            .collect();
                                        view! {
                                            <tr data-testid="ipset-row" data-name=s.name.clone()>
                                                <td>
                                                    <code>"+"{s.name.clone()}</code>
                                                    <div class="muted small">{s.comment.clone()}</div>
                                                </td>
                                                <td>
                                                    <code>{entries.join(", ")}</code>
                                                </td>
                                                <td>{used(&s.used_by)}</td>
                                                <td class="row-actions">
                                                    {can_manage
                                                        .then(|| {
                                                            view! {
                                                                <ActionForm action=add_entry attr:class="inline-form">
                                                                    <input type="hidden" name="name" value=n1 />
                                                                    <input
                                                                        name="cidr"
                                                                        required
                                                                        placeholder="10.0.0.0/24"
                                                                        aria-label=t(Key::SetsCidr)
                                                                    />
                                                                    <input type="hidden" name="comment" value="" />
                                                                    <button type="submit" class="button small">
                                                                        {t(Key::SetsAddEntry)}
                                                                    </button>
                                                                </ActionForm>
                                                                <ActionForm action=delete_set attr:class="inline-form">
                                                                    <input type="hidden" name="name" value=n2 />
                                                                    <ConfirmSubmit
                                                                        label=Key::ActionDelete
                                                                        confirm=Key::ServersDeleteYes
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
                })}
            </Suspense>
            {can_manage
                .then(|| {
                    view! {
                        <ActionForm action=create_set attr:class="form-grid">
                            <label class="field">
                                <span>{t(Key::SetsNew)}</span>
                                <input name="name" required maxlength="64" />
                            </label>
                            <label class="field">
                                <span>{t(Key::RulesComment)}</span>
                                <input name="comment" />
                            </label>
                            <button type="submit" class="button">
                                {t(Key::GroupsCreate)}
                            </button>
                        </ActionForm>
                    }
                })}
        </section>
        <section class="card section-gap" data-testid="aliases">
            <h2>{t(Key::AliasesTitle)}</h2>
            {refused(error_of!(create_alias))}
            {refused(error_of!(delete_alias))}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = aliases.await.unwrap_or_default();
                    if list.is_empty() {
                        return view! { <p class="muted">{t(Key::AliasesEmpty)}</p> }.into_any();
                    }
                    view! {
                        <table class="table">
                            <tbody>
                                {list
                                    .into_iter()
                                    .map(|a| {
                                        let name = a.name.clone();
                                        view! {
                                            <tr data-testid="alias-row" data-name=a.name.clone()>
                                                <td>
                                                    <code>{a.name.clone()}</code>
                                                    <div class="muted small">{a.comment.clone()}</div>
                                                </td>
                                                <td>
                                                    <code>{a.cidr.clone()}</code>
                                                </td>
                                                <td>{used(&a.used_by)}</td>
                                                <td>
                                                    {can_manage
                                                        .then(|| {
                                                            view! {
                                                                <ActionForm action=delete_alias attr:class="inline-form">
                                                                    <input type="hidden" name="name" value=name />
                                                                    <ConfirmSubmit
                                                                        label=Key::ActionDelete
                                                                        confirm=Key::ServersDeleteYes
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
                })}
            </Suspense>
            {can_manage
                .then(|| {
                    view! {
                        <ActionForm action=create_alias attr:class="form-grid">
                            <label class="field">
                                <span>{t(Key::AliasesNew)}</span>
                                <input name="name" required maxlength="64" />
                            </label>
                            <label class="field">
                                <span>{t(Key::SetsCidr)}</span>
                                <input name="cidr" required placeholder="192.168.10.0/24" />
                            </label>
                            <label class="field">
                                <span>{t(Key::RulesComment)}</span>
                                <input name="comment" />
                            </label>
                            <button type="submit" class="button">
                                {t(Key::GroupsCreate)}
                            </button>
                        </ActionForm>
                    }
                })}
        </section>
    }
}
