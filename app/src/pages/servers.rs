//! The servers table: search and filters (a GET form, so the URL can be shared), live status,
//! selection with a bulk action bar, expandable rows with disks and NICs.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use model::auth::Permission;

use crate::components::live::Live;
use crate::functions::auth::CurrentUserResource;
use model::servers::{Action, Server, ServerListParams, ServerStatus};

use crate::functions::backups::BackUpServers;
use crate::functions::servers::{list_servers, ActOnServers};
use crate::i18n::{t, Key};
use crate::PageHeader;

/// A status in the reader's language (the wire word stays in `data-status`).
pub fn status_text(status: ServerStatus) -> Key {
    match status {
        ServerStatus::Running => Key::StatusRunning,
        ServerStatus::Stopped => Key::StatusStopped,
        ServerStatus::Creating => Key::StatusCreating,
        ServerStatus::Deleting => Key::StatusDeleting,
        ServerStatus::Missing => Key::StatusMissing,
        ServerStatus::Failed => Key::StatusFailed,
        ServerStatus::Paused => Key::StatusPaused,
        ServerStatus::Unknown => Key::StatusUnknown,
    }
}

pub fn status_badge(status: ServerStatus) -> impl IntoView {
    let class = match status {
        ServerStatus::Running => "badge badge-ok",
        ServerStatus::Stopped => "badge badge-muted",
        ServerStatus::Missing | ServerStatus::Failed => "badge badge-fail",
        _ => "badge badge-demo",
    };
    view! {
        <span class=class data-testid="server-status" data-status=status.as_str()>
            {t(status_text(status))}
        </span>
    }
}

#[component]
pub fn ServersPage() -> impl IntoView {
    let live = expect_context::<Live>();
    let me = expect_context::<CurrentUserResource>().0;
    let query = use_query_map();
    let param = move |name: &'static str| move || query.with(|q| q.get(name).unwrap_or_default());
    let (search, status, role, node, tag, sort) =
        (param("search"), param("status"), param("role"), param("node"), param("tag"), param("sort"));
    let page = move || query.with(|q| q.get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1));
    let given = |v: String| (!v.is_empty()).then_some(v);
    let filter = move || ServerListParams {
        search: given(search()),
        status: given(status()),
        role: given(role()),
        node: given(node()),
        tag: given(tag()),
        sort: given(sort()),
        order: None,
    };
    let act = ServerAction::<ActOnServers>::new();
    let list = Resource::new(
        move || (filter(), page(), live.tick.get(), act.version().get()),
        |(params, page, _, _)| list_servers(params, page),
    );
    let selected = RwSignal::new(BTreeSet::<String>::new());
    let expanded = RwSignal::new(BTreeSet::<String>::new());
    let confirm_delete = RwSignal::new(false);
    let groups_dialog = crate::pages::security_groups::BulkGroupsState::new();
    // Page-level: the bulk bar is rebuilt with every refresh of the list.
    let backup = ServerAction::<BackUpServers>::new();

    view! {
        <PageHeader title=Key::NavServers>
            // The user is read inside Transition (a Suspense that keeps what it showed while
            // reloading), so the server and the browser render the same.
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    me.await
                        .ok()
                        .flatten()
                        .filter(|u| u.can(Permission::CreateServer))
                        .map(|_| {
                            view! {
                                <a class="button button-primary" href="/servers/new" data-testid="create-server">
                                    {t(Key::ServersCreate)}
                                </a>
                            }
                        })
                })}
            </Transition>
            <a class="button" href="/ip-pools">
                {t(Key::NavIpPools)}
            </a>
            <a class="button" href="/datastores">
                {t(Key::NavDatastores)}
            </a>
        </PageHeader>
        <form method="get" action="/servers" class="form-row filters" data-testid="server-filter">
            <input
                type="search"
                name="search"
                aria-label=t(Key::ServersSearch)
                placeholder=t(Key::ServersSearch)
                value=search
            />
            <select name="status" aria-label=t(Key::ServersStatus)>
                <option value="">{t(Key::ServersAnyStatus)}</option>
                {ServerStatus::ALL
                    .iter()
                    .filter(|s| **s != ServerStatus::Unknown)
                    .map(|s| {
                        view! {
                            <option value=s.as_str() selected=move || status() == s.as_str()>
                                {t(status_text(*s))}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let l = list.await.ok();
                    let choices = |label: Key, name: &'static str, values: Vec<String>, current: String| {
                        view! {
                            <select name=name aria-label=t(label)>
                                <option value="">{t(label)}</option>
                                {values
                                    .into_iter()
                                    .map(|v| {
                                        let sel = v == current;
                                        view! {
                                            <option value=v.clone() selected=sel>
                                                {v.clone()}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </select>
                        }
                    };
                    l.map(|l| {
                        view! {
                            {choices(Key::ServersRole, "role", l.roles, role())}
                            {choices(Key::ServersNode, "node", l.nodes, node())}
                            {choices(Key::ServersTag, "tag", l.tags, tag())}
                        }
                    })
                })}
            </Transition>
            <select name="sort" aria-label=t(Key::ServersSort)>
                {["name", "status", "node", "cores", "memory", "created"]
                    .iter()
                    .map(|s| {
                        view! {
                            <option value=*s selected=move || sort() == *s>
                                {format!("↕ {s}")}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <button type="submit" class="button">
                {t(Key::AuditFilter)}
            </button>
        </form>

        <ActionOutcome act=act />

        <Transition fallback=|| {
            view! { <p class="muted">"…"</p> }
        }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(l) if l.servers.total == 0 && filter() == ServerListParams::default() => {
                        view! {
                            <section class="card empty-state" data-testid="servers-empty">
                                <p class="lead">{t(Key::ServersEmpty)}</p>
                                <a class="button button-primary" href="/servers/new">
                                    {t(Key::ServersCreate)}
                                </a>
                            </section>
                        }
                            .into_any()
                    }
                    Ok(l) => {
                        let rows = l.servers.items.clone();
                        let mut groups = l.groups.clone();
                        let statuses: Vec<(String, ServerStatus)> = rows
                            .iter()
                            .map(|s| (s.name.clone(), s.status))
                            .collect();
                        let all_names: Vec<String> = rows.iter().map(|s| s.name.clone()).collect();
                        let all_for_toggle = all_names.clone();
                        view! {
                            <BulkBar
                                selected=selected
                                statuses=statuses
                                act=act
                                confirm_delete=confirm_delete
                                groups_dialog=groups_dialog
                                backup=backup
                            />
                            <p class="muted small">{l.servers.total}" "{t(Key::ServersCount)}</p>
                            {pager(&filter(), l.servers.page, l.servers.pages)}
                            <table class="table" data-testid="servers">
                                <thead>
                                    <tr>
                                        <th>
                                            <input
                                                type="checkbox"
                                                aria-label=t(Key::ServersSelectAll)
                                                data-testid="select-all"
                                                prop:checked=move || {
                                                    !all_names.is_empty()
                                                        && all_names.iter().all(|n| selected.get().contains(n))
                                                }
                                                on:change=move |e| {
                                                    let on = event_target_checked(&e);
                                                    selected
                                                        .update(|s| {
                                                            for n in &all_for_toggle {
                                                                if on {
                                                                    s.insert(n.clone());
                                                                } else {
                                                                    s.remove(n);
                                                                }
                                                            }
                                                        });
                                                }
                                            />
                                        </th>
                                        <th>{t(Key::ServersName)}</th>
                                        <th>{t(Key::ServersStatus)}</th>
                                        <th>{t(Key::ServersNode)}</th>
                                        <th>"CPU / RAM"</th>
                                        <th>"IP"</th>
                                        <th>{t(Key::ServersRole)}</th>
                                        <th>{t(Key::ServersTag)}</th>
                                        <th>{t(Key::NavSecurityGroups)}</th>
                                        <th></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .map(|s| {
                                            let g = groups.remove(&s.name).unwrap_or_default();
                                            view! {
                                                <ServerRow server=s groups=g selected=selected expanded=expanded />
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                    Err(e) => {
                        view! {
                            <div class="alert alert-error" role="alert">
                                {e.to_string()}
                            </div>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// What became of the last lifecycle action: a link to its job, or why it was refused.
#[component]
pub fn ActionOutcome(act: ServerAction<ActOnServers>) -> impl IntoView {
    move || {
        act.value().get().map(|r| match r {
            Ok(id) => view! {
                <div class="alert alert-ok" role="status" data-testid="action-started">
                    <a href=format!("/jobs/{id}")>{t(Key::ServersJobStarted)}" #"{id}</a>
                </div>
            }
            .into_any(),
            Err(e) => view! {
                <div class="alert alert-error" role="alert">
                    {e.message}
                </div>
            }
            .into_any(),
        })
    }
}

/// The actions on the selected servers: each button is enabled when the user may do it and at
/// least one selected server is in a state that allows it (only those are sent); delete asks
/// first, naming the servers.
#[component]
fn BulkBar(
    selected: RwSignal<BTreeSet<String>>,
    /// The page's servers and their states.
    statuses: Vec<(String, ServerStatus)>,
    act: ServerAction<ActOnServers>,
    /// Kept by the page, so a live refresh of the list does not close an open confirmation.
    confirm_delete: RwSignal<bool>,
    /// Kept by the page too, for the same reason.
    groups_dialog: crate::pages::security_groups::BulkGroupsState,
    /// Kept by the page too: its outcome stays shown across refreshes.
    backup: ServerAction<BackUpServers>,
) -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    let can = move |p: Permission| me.get().and_then(|r| r.ok().flatten()).is_some_and(|u| u.can(p));
    let picked = move |action: Action| {
        let sel = selected.get();
        statuses.iter().filter(|(n, s)| sel.contains(n) && s.allows(action)).map(|(n, _)| n.clone()).collect::<Vec<_>>()
    };
    let picked = StoredValue::new(picked);
    let run = move |action: Action| {
        let names = picked.with_value(|p| p(action));
        if !names.is_empty() {
            act.dispatch(ActOnServers { names, action });
            confirm_delete.set(false);
        }
    };
    view! {
        <Show when=move || !selected.get().is_empty()>
            <div class="bulk-bar" role="toolbar" aria-label=t(Key::ServersBulk) data-testid="bulk-bar">
                <span>{move || selected.get().len()}" "{t(Key::ServersSelected)}</span>
                <button
                    type="button"
                    class="button"
                    data-testid="bulk-start"
                    disabled=move || !can(Permission::StartServer) || picked.with_value(|p| p(Action::Start)).is_empty()
                    on:click=move |_| run(Action::Start)
                >
                    {t(Key::ServersStart)}
                </button>
                <button
                    type="button"
                    class="button"
                    data-testid="bulk-stop"
                    disabled=move || !can(Permission::StopServer) || picked.with_value(|p| p(Action::Stop)).is_empty()
                    on:click=move |_| run(Action::Stop)
                >
                    {t(Key::ServersStop)}
                </button>
                <button
                    type="button"
                    class="button"
                    data-testid="bulk-reboot"
                    disabled=move || {
                        !can(Permission::RebootServer) || picked.with_value(|p| p(Action::Reboot)).is_empty()
                    }
                    on:click=move |_| run(Action::Reboot)
                >
                    {t(Key::ServersReboot)}
                </button>
                <Show
                    when=move || confirm_delete.get()
                    fallback=move || {
                        view! {
                            <button
                                type="button"
                                class="button button-danger"
                                data-testid="bulk-delete"
                                disabled=move || {
                                    !can(Permission::DeleteServer)
                                        || picked.with_value(|p| p(Action::Delete)).is_empty()
                                }
                                on:click=move |_| confirm_delete.set(true)
                            >
                                {t(Key::ActionDelete)}
                            </button>
                        }
                    }
                >
                    <span class="confirm" role="group">
                        <span>
                            {move || {
                                format!(
                                    "{} ({})",
                                    t(Key::ServersDeleteSure)(),
                                    picked.with_value(|p| p(Action::Delete)).join(", "),
                                )
                            }}
                        </span>
                        <button
                            type="button"
                            class="button button-danger"
                            data-testid="bulk-delete-confirm"
                            on:click=move |_| run(Action::Delete)
                        >
                            {t(Key::ServersDeleteYes)}
                        </button>
                        <button type="button" class="button" on:click=move |_| confirm_delete.set(false)>
                            {t(Key::ConfirmCancel)}
                        </button>
                    </span>
                </Show>
                <button
                    type="button"
                    class="button"
                    data-testid="bulk-backup"
                    disabled=move || !can(Permission::BackupManagement)
                    on:click=move |_| {
                        backup
                            .dispatch(BackUpServers {
                                names: selected.get().into_iter().collect(),
                            });
                    }
                >
                    {t(Key::BackupsBackUp)}
                </button>
                {move || {
                    backup
                        .value()
                        .get()
                        .map(|r| match r {
                            Ok(id) => {
                                view! {
                                    <a href=format!("/jobs/{id}") data-testid="bulk-backup-started">
                                        {t(Key::BackupsStarted)}
                                        " #"
                                        {id}
                                    </a>
                                }
                                    .into_any()
                            }
                            Err(e) => {
                                view! {
                                    <span class="alert-error" role="alert">
                                        {e.message}
                                    </span>
                                }
                                    .into_any()
                            }
                        })
                }}
                {move || {
                    (can(Permission::AssignFirewallGroups) || can(Permission::RemoveFirewallGroups))
                        .then(|| {
                            view! {
                                <crate::pages::security_groups::BulkGroups selected=selected state=groups_dialog />
                            }
                        })
                }}
                <button type="button" class="button" on:click=move |_| selected.set(BTreeSet::new())>
                    {t(Key::ServersClearSelection)}
                </button>
            </div>
        </Show>
    }
}

/// The page links, keeping the filters.
fn pager(f: &ServerListParams, page: u32, pages: u32) -> impl IntoView {
    let filters = [
        ("search", &f.search),
        ("status", &f.status),
        ("role", &f.role),
        ("node", &f.node),
        ("tag", &f.tag),
        ("sort", &f.sort),
    ];
    crate::components::pager::pager("/servers", &filters, page, pages)
}

/// One server: selection, name (with drift), status, where, size, addresses, role, tags, and
/// a toggle for its disks and NICs.
#[component]
fn ServerRow(
    server: Server,
    /// The security groups proxfleet attached, in order.
    groups: Vec<String>,
    selected: RwSignal<BTreeSet<String>>,
    expanded: RwSignal<BTreeSet<String>>,
) -> impl IntoView {
    let s = server;
    let name = s.name.clone();
    let (n1, n2) = (name.clone(), name.clone());
    let key = StoredValue::new(name.clone());
    let open = move || key.with_value(|n| expanded.get().contains(n));
    let details = s.clone();
    view! {
        <tr data-testid="server-row" data-name=name.clone()>
            <td>
                <input
                    type="checkbox"
                    aria-label=format!("select {name}")
                    prop:checked=move || selected.get().contains(&n1)
                    on:change=move |e| {
                        let on = event_target_checked(&e);
                        selected
                            .update(|set| {
                                if on {
                                    set.insert(n2.clone());
                                } else {
                                    set.remove(&n2);
                                }
                            });
                    }
                />
            </td>
            <td>
                <a href=format!("/servers/{}", s.name)>
                    <strong>{s.name.clone()}</strong>
                </a>
                {(!s.drifted().is_empty())
                    .then(|| {
                        view! {
                            <span class="badge badge-fail small" title=s.drifted().join(", ")>
                                "drift"
                            </span>
                        }
                    })}
            </td>
            <td>{status_badge(s.status)}</td>
            <td>{s.node.clone().unwrap_or_default()}{s.vmid.map(|v| format!(" · {v}"))}</td>
            <td>{format!("{} × {} · {} MB", s.sockets, s.cores, s.memory_mb)}</td>
            <td>
                <code>{s.ips().join(", ")}</code>
            </td>
            <td>{s.role.clone()}</td>
            <td>
                {s
                    .tags
                    .iter()
                    .map(|t| {
                        view! {
                            <span class="badge badge-muted">{t.clone()}</span>
                            " "
                        }
                    })
                    .collect_view()}
            </td>
            <td data-testid="server-groups">
                {groups
                    .into_iter()
                    .map(|g| {
                        view! {
                            <a class="badge badge-muted" href=format!("/security-groups/{g}")>
                                {g.clone()}
                            </a>
                            " "
                        }
                    })
                    .collect_view()}
            </td>
            <td>
                <button
                    type="button"
                    class="icon-button"
                    aria-expanded=move || open().to_string()
                    aria-label="details"
                    on:click={
                        let n = name.clone();
                        move |_| {
                            expanded
                                .update(|e| {
                                    if !e.remove(&n) {
                                        e.insert(n.clone());
                                    }
                                })
                        }
                    }
                >
                    {move || if open() { "▾" } else { "▸" }}
                </button>
            </td>
        </tr>
        <Show when=open>
            <tr class="row-details" data-testid="server-details">
                <td></td>
                <td colspan="9">
                    <div class="detail-grid">
                        <div>
                            <strong>{t(Key::ServersDisks)}</strong>
                            <ul>
                                {details
                                    .disks
                                    .iter()
                                    .map(|d| {
                                        view! {
                                            <li>
                                                <code>{d.device.clone()}</code>
                                                " "
                                                {d.size_gb}
                                                " GB · "
                                                {d.storage.clone()}
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        </div>
                        <div>
                            <strong>{t(Key::ServersNics)}</strong>
                            <ul>
                                {details
                                    .nics
                                    .iter()
                                    .map(|n| {
                                        view! {
                                            <li>
                                                <code>{format!("net{}", n.index)}</code>
                                                " "
                                                {n.bridge.clone()}
                                                {n.vlan.map(|v| format!(" · VLAN {v}"))}
                                                " · "
                                                {n
                                                    .ip
                                                    .clone()
                                                    .map(|ip| format!("{ip}/{}", n.prefix.unwrap_or(24)))
                                                    .unwrap_or_else(|| "dhcp".into())}
                                                {n.mac.clone().map(|m| format!(" · {m}"))}
                                                {n.pool.clone().map(|p| format!(" · pool {p}"))}
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                        </div>
                    </div>
                </td>
            </tr>
        </Show>
    }
}
