//! Backups: every backup of the cluster grouped by server, with filters (text, node, storage,
//! server, days), totals per node, and per backup protect/unprotect and delete (asking first,
//! naming the server and the time). The filters are a GET form and the actions plain forms,
//! so the page works without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use model::backups::{BackupList, BackupQuery, BackupVolume};

use crate::components::confirm::ConfirmSubmit;
use crate::components::gauge::size;
use crate::components::live::Live;
use crate::components::local_time::LocalTime;
use crate::functions::backups::{list_backups, DeleteBackup, ProtectBackup};
use crate::i18n::{t, Key};
use crate::time_fmt::utc_minutes;
use crate::url::percent_encode;
use crate::PageHeader;

#[component]
pub fn BackupsPage() -> impl IntoView {
    let live = expect_context::<Live>();
    let query = use_query_map();
    let param = move |name: &'static str| move || query.with(|q| q.get(name).unwrap_or_default());
    let (search, node, storage, server, from, to) =
        (param("search"), param("node"), param("storage"), param("server"), param("from"), param("to"));
    let page = move || query.with(|q| q.get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1));
    let given = |v: String| (!v.is_empty()).then_some(v);
    let filter = move || BackupQuery {
        search: given(search()),
        node: given(node()),
        storage: given(storage()),
        server: given(server()),
        from: given(from()),
        to: given(to()),
        // Grouped by server: the groups follow each other, newest first inside each.
        sort: Some("server".into()),
    };
    let protect = ServerAction::<ProtectBackup>::new();
    let delete = ServerAction::<DeleteBackup>::new();
    let backups_changed = live.changes(&["job_finished"], std::time::Duration::from_secs(2));
    let list = Resource::new(
        move || (filter(), page(), protect.version().get(), delete.version().get(), backups_changed.get()),
        |(q, page, _, _, _)| list_backups(q, page),
    );
    let refused = move || {
        protect.value().get().and_then(|r| r.err()).or_else(|| delete.value().get().and_then(|r| r.err())).map(|e| {
            view! {
                <div class="alert alert-error" role="alert" data-testid="backup-error">
                    {e.message}
                </div>
            }
        })
    };
    view! {
        <PageHeader title=Key::NavBackups />
        {refused}
        <form method="get" action="/backups" class="form-row filters" data-testid="backup-filter">
            <input
                type="search"
                name="search"
                aria-label=t(Key::ServersSearch)
                placeholder=t(Key::ServersSearch)
                value=search
            />
            <input name="server" aria-label=t(Key::BackupsServer) placeholder=t(Key::BackupsServer) value=server />
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let l = list.await.unwrap_or_default();
                    view! {
                        {choice(Key::ServersNode, "node", l.nodes.clone(), node())}
                        {choice(Key::BackupsStorage, "storage", l.storages.clone(), storage())}
                    }
                })}
            </Transition>
            <label class="inline">{t(Key::BackupsFrom)}" "<input type="date" name="from" value=from /></label>
            <label class="inline">{t(Key::BackupsTo)}" "<input type="date" name="to" value=to /></label>
            <button type="submit" class="button">
                {t(Key::AuditFilter)}
            </button>
        </form>
        <Transition fallback=|| {
            view! { <p class="muted">{t(Key::DashboardLoading)}</p> }
        }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(l) if l.total_count == 0 => {
                        view! {
                            <section class="card empty-state">
                                <p data-testid="backups-empty">{t(Key::BackupsEmpty)}</p>
                            </section>
                        }
                            .into_any()
                    }
                    Ok(l) => {
                        view! { <Listing list=l protect=protect delete=delete page=page() query=filter() /> }.into_any()
                    }
                    Err(e) => {
                        view! {
                            <div class="alert alert-error" role="alert">
                                {e.message}
                            </div>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

fn choice(label: Key, name: &'static str, values: Vec<String>, current: String) -> impl IntoView {
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
}

#[component]
fn Listing(
    list: BackupList,
    protect: ServerAction<ProtectBackup>,
    delete: ServerAction<DeleteBackup>,
    page: u32,
    query: BackupQuery,
) -> impl IntoView {
    let pages = u32::try_from(list.total_count.div_ceil(50)).unwrap_or(1);
    let totals = list
        .node_stats
        .iter()
        .map(|(n, s)| {
            view! {
                <span class="badge badge-muted" data-testid="node-total">
                    {format!("{n}: {} · {}", s.backup_count, size(s.total_size))}
                </span>
                " "
            }
        })
        .collect_view();
    let mut rows = Vec::new();
    let mut last: Option<Option<String>> = None;
    for b in list.backups {
        let group = b.server.clone();
        if last.as_ref() != Some(&group) {
            let title = group.clone().unwrap_or_else(|| b.vmid.map(|v| format!("VM {v}")).unwrap_or_default());
            let known = group.is_some();
            rows.push(
                view! {
                    <tr class="group-row" data-testid="backup-group">
                        <th colspan="7" scope="rowgroup">
                            {if known {
                                view! { <a href=format!("/servers/{}", percent_encode(&title))>{title.clone()}</a> }
                                    .into_any()
                            } else {
                                view! {
                                    <span>
                                        {title.clone()}" "
                                        <span class="badge badge-muted">{t(Key::BackupsUnmanaged)}</span>
                                    </span>
                                }
                                    .into_any()
                            }}
                        </th>
                    </tr>
                }
                .into_any(),
            );
            last = Some(group);
        }
        rows.push(view! { <Row b=b protect=protect delete=delete /> }.into_any());
    }
    view! {
        <p data-testid="backup-totals">
            <strong>{list.total_count}</strong>
            " "
            {t(Key::BackupsCount)}
            " · "
            {size(list.total_size)}
            " "
            {totals}
        </p>
        <table class="table" data-testid="backups">
            <thead>
                <tr>
                    <th>{t(Key::BackupsTime)}</th>
                    <th>{t(Key::ServersNode)}</th>
                    <th>{t(Key::BackupsStorage)}</th>
                    <th>{t(Key::BackupsSize)}</th>
                    <th>{t(Key::BackupsNotes)}</th>
                    <th>{t(Key::BackupsProtected)}</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        {pager(&query, page, pages)}
    }
}

#[component]
fn Row(b: BackupVolume, protect: ServerAction<ProtectBackup>, delete: ServerAction<DeleteBackup>) -> impl IntoView {
    let who = b.server.clone().unwrap_or_else(|| b.vmid.map(|v| format!("VM {v}")).unwrap_or_default());
    let when = format!("{who} · {} UTC", utc_minutes(b.ctime * 1000));
    let (node1, node2, vol1, vol2) = (b.node.clone(), b.node.clone(), b.volid.clone(), b.volid.clone());
    let protected = b.protected;
    view! {
        <tr data-testid="backup-row" data-volid=b.volid.clone()>
            <td>
                <LocalTime ms=b.ctime * 1000 />
            </td>
            <td>{b.node.clone()}</td>
            <td>{b.storage.clone()}" "<span class="muted small">{b.format.clone()}</span></td>
            <td>{size(b.size)}</td>
            <td>{b.notes.clone().unwrap_or_default()}</td>
            <td>
                {protected
                    .then(|| {
                        view! {
                            <span class="badge" data-testid="backup-protected">
                                {t(Key::BackupsProtected)}
                            </span>
                        }
                    })}
            </td>
            <td class="row-actions">
                <ActionForm action=protect attr:class="inline-form">
                    <input type="hidden" name="node" value=node1 />
                    <input type="hidden" name="volid" value=vol1 />
                    <input type="hidden" name="protected" value=(!protected).to_string() />
                    <button type="submit" class="button small" data-testid="backup-protect">
                        {if protected { t(Key::BackupsUnprotect) } else { t(Key::BackupsProtect) }}
                    </button>
                </ActionForm>
                {(!protected)
                    .then(|| {
                        view! {
                            <ActionForm action=delete attr:class="inline-form">
                                <input type="hidden" name="node" value=node2 />
                                <input type="hidden" name="volid" value=vol2 />
                                <ConfirmSubmit label=Key::ActionDelete confirm=Key::BackupsDeleteYes what=when />
                            </ActionForm>
                        }
                    })}
            </td>
        </tr>
    }
}

/// The page links, keeping the filters.
fn pager(q: &BackupQuery, page: u32, pages: u32) -> impl IntoView {
    let filters = [
        ("search", &q.search),
        ("node", &q.node),
        ("storage", &q.storage),
        ("server", &q.server),
        ("from", &q.from),
        ("to", &q.to),
    ];
    crate::components::pager::pager("/backups", &filters, page, pages)
}

/// The server page's backups: the one running (with its progress, live), "back up now", and
/// the server's backups.
#[component]
pub fn ServerBackups(name: String) -> impl IntoView {
    use crate::functions::backups::{backup_storages, server_backup_status, BackUpServer};
    let live = expect_context::<Live>();
    let start = ServerAction::<BackUpServer>::new();
    let n = StoredValue::new(name);
    let storages = Resource::new(move || n.get_value(), backup_storages);
    let status = Resource::new(
        move || (n.get_value(), live.tick.get(), start.version().get()),
        |(n, _, _)| server_backup_status(n),
    );
    let finished = live.changes(&["job_finished"], std::time::Duration::from_secs(1));
    let list = Resource::new(
        move || (n.get_value(), start.version().get(), finished.get()),
        |(n, _, _)| list_backups(BackupQuery { server: Some(n), ..Default::default() }, 1),
    );
    view! {
        <h2 class="section-gap">{t(Key::BackupsTitle)}</h2>
        <section class="card" data-testid="server-backups">
            {move || {
                start
                    .value()
                    .get()
                    .map(|r| match r {
                        Ok(id) => {
                            view! {
                                <div class="alert alert-ok" role="status" data-testid="backup-started">
                                    <a href=format!("/jobs/{id}")>{t(Key::BackupsStarted)}" #"{id}</a>
                                </div>
                            }
                                .into_any()
                        }
                        Err(e) => {
                            view! {
                                <div class="alert alert-error" role="alert" data-testid="backup-error">
                                    {e.message}
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    status
                        .await
                        .ok()
                        .flatten()
                        .map(|(job, progress, state, message)| {
                            let running = state == "running";
                            view! {
                                <div
                                    class="backup-status"
                                    data-testid="backup-status"
                                    data-state=state.clone()
                                    data-progress=progress
                                >
                                    <span>
                                        {if running { t(Key::BackupsRunning) } else { t(Key::BackupsLast) }}": "
                                    </span>
                                    {running
                                        .then(|| {
                                            view! {
                                                <progress
                                                    max="100"
                                                    value=progress
                                                    aria-label=t(Key::BackupsRunning)
                                                ></progress>
                                                " "
                                                {format!("{progress}%")}
                                                " "
                                            }
                                        })}
                                    <a href=format!("/jobs/{job}")>{message}</a>
                                </div>
                            }
                        })
                })}
            </Transition>
            <ActionForm action=start attr:class="form-grid" attr:data-testid="backup-form">
                <input type="hidden" name="name" value=move || n.get_value() />
                <label class="field">
                    <span>{t(Key::BackupsStorage)}</span>
                    <select name="storage" data-testid="backup-storage">
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                storages
                                    .await
                                    .unwrap_or_default()
                                    .into_iter()
                                    .map(|s| view! { <option value=s.clone()>{s.clone()}</option> })
                                    .collect_view()
                            })}
                        </Transition>
                    </select>
                </label>
                <label class="field">
                    <span>{t(Key::BackupsMode)}</span>
                    <select name="mode">
                        <option value="snapshot">{t(Key::BackupsModeSnapshot)}</option>
                        <option value="suspend">{t(Key::BackupsModeSuspend)}</option>
                        <option value="stop">{t(Key::BackupsModeStop)}</option>
                    </select>
                </label>
                <label class="field">
                    <span>{t(Key::BackupsCompress)}</span>
                    <select name="compress">
                        <option value="zstd">"zstd"</option>
                        <option value="gzip">"gzip"</option>
                        <option value="lzo">"lzo"</option>
                        <option value="0">{t(Key::BackupsCompressNone)}</option>
                    </select>
                </label>
                <label class="field">
                    <span>{t(Key::BackupsDescription)}</span>
                    <input name="description" maxlength="1000" />
                </label>
                <label class="checkbox">
                    <input type="checkbox" name="protected" value="on" />
                    " "
                    {t(Key::BackupsProtectNew)}
                </label>
                <button type="submit" class="button button-primary" data-testid="backup-now">
                    {t(Key::BackupsBackUp)}
                </button>
            </ActionForm>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(l) if l.backups.is_empty() => {
                            view! { <p class="muted">{t(Key::BackupsNoneForServer)}</p> }.into_any()
                        }
                        Ok(l) => {
                            view! {
                                <table class="table" data-testid="server-backup-list">
                                    <thead>
                                        <tr>
                                            <th>{t(Key::BackupsTime)}</th>
                                            <th>{t(Key::BackupsStorage)}</th>
                                            <th>{t(Key::BackupsSize)}</th>
                                            <th>{t(Key::BackupsNotes)}</th>
                                            <th>{t(Key::BackupsProtected)}</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {l
                                            .backups
                                            .into_iter()
                                            .map(|b| {
                                                view! {
                                                    <tr data-testid="server-backup-row" data-volid=b.volid.clone()>
                                                        <td>
                                                            <LocalTime ms=b.ctime * 1000 />
                                                        </td>
                                                        <td>
                                                            {b.storage.clone()}" "
                                                            <span class="muted small">{b.format.clone()}</span>
                                                        </td>
                                                        <td>{size(b.size)}</td>
                                                        <td>{b.notes.clone().unwrap_or_default()}</td>
                                                        <td>{b.protected.then(|| t(Key::BackupsProtected))}</td>
                                                    </tr>
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
                                    {e.message}
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
            <p>
                <a href=move || {
                    format!("/backups?server={}", percent_encode(&n.get_value()))
                }>{t(Key::BackupsSeeAll)}</a>
            </p>
        </section>
    }
}
