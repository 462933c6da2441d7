//! One server: overview with its actions, settings (and whether they need a reboot), disks, and
//! its log. Buttons follow the server's state and the user's permissions.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use model::auth::Permission;
use model::servers::{Action, ServerLogs};

use crate::components::confirm::ConfirmSubmit;
use crate::components::live::Live;
use crate::components::local_time::LocalTime;
use crate::components::log_modal::{LogModal, LogText};
use crate::functions::auth::CurrentUserResource;
use crate::functions::servers::{
    server_detail, server_logs, server_settings, server_task_log, ActOnServers, AddServerDisk, ChangeServerSettings,
    RemoveServerDisk,
};
use crate::i18n::{t, Key};
use crate::pages::servers::{status_badge, ActionOutcome};
use crate::url::percent_encode;
use crate::PageHeader;

#[component]
pub fn ServerDetailPage() -> impl IntoView {
    let live = expect_context::<Live>();
    let me = expect_context::<CurrentUserResource>().0;
    let params = use_params_map();
    let name = move || params.with(|p| p.get("name").unwrap_or_default());
    let act = ServerAction::<ActOnServers>::new();
    let change = ServerAction::<ChangeServerSettings>::new();
    let add_disk = ServerAction::<AddServerDisk>::new();
    let remove_disk = ServerAction::<RemoveServerDisk>::new();
    let server = Resource::new(
        move || (name(), live.tick.get(), act.version().get(), change.version().get()),
        |(n, _, _, _)| server_detail(n),
    );
    let settings = Resource::new(
        move || (name(), change.version().get(), add_disk.version().get(), remove_disk.version().get()),
        |(n, _, _, _)| server_settings(n),
    );
    // The history reads Proxmox's task list: reload it when a server changes or a job ends,
    // at most every 3 s, not on every progress event.
    let history_changes = live.changes(&["server_state", "job_finished"], std::time::Duration::from_secs(3));
    let logs = Resource::new(move || (name(), history_changes.get()), |(n, _)| server_logs(n));
    let open_log = RwSignal::new(None::<LogText>);
    let task_log_error = RwSignal::new(None::<String>);
    let run = move |action: Action| {
        act.dispatch(ActOnServers { names: vec![name()], action });
    };

    view! {
        <PageHeader title=Key::NavServers />
        <p>
            <a href="/servers">{t(Key::ServersBack)}</a>
        </p>
        <ActionOutcome act=act />
        <Transition fallback=|| {
            view! { <p class="muted">"…"</p> }
        }>
            {move || Suspend::new(async move {
                let user = me.await.ok().flatten();
                let can = move |p: Permission| user.as_ref().is_some_and(|u| u.can(p));
                let (can_start, can_stop, can_reboot, can_delete) = (
                    can(Permission::StartServer),
                    can(Permission::StopServer),
                    can(Permission::RebootServer),
                    can(Permission::DeleteServer),
                );
                match server.await {
                    Ok(s) => {
                        let status = s.status;
                        let confirm_delete = RwSignal::new(false);
                        view! {
                            <section class="card" data-testid="server-overview">
                                <h2>{s.name.clone()}" "{status_badge(s.status)}</h2>
                                <dl class="facts">
                                    <dt>{t(Key::ServersNode)}</dt>
                                    <dd>
                                        {s.node.clone().unwrap_or_default()}{s.vmid.map(|v| format!(" · vmid {v}"))}
                                    </dd>
                                    <dt>"CPU / RAM"</dt>
                                    <dd>{format!("{} × {} · {} MB", s.sockets, s.cores, s.memory_mb)}</dd>
                                    <dt>"IP"</dt>
                                    <dd>
                                        <code>{s.ips().join(", ")}</code>
                                    </dd>
                                    <dt>{t(Key::ServersRole)}</dt>
                                    <dd>
                                        {s.role.clone()}" "
                                        {(!s.security_group.is_empty()).then(|| format!("· {}", s.security_group))}
                                    </dd>
                                    <dt>{t(Key::ServersTag)}</dt>
                                    <dd>{s.tags.join(", ")}</dd>
                                </dl>
                                <div class="row-actions">
                                    <button
                                        type="button"
                                        class="button"
                                        data-testid="start"
                                        disabled=!can_start || !status.allows(Action::Start)
                                        on:click=move |_| run(Action::Start)
                                    >
                                        {t(Key::ServersStart)}
                                    </button>
                                    <button
                                        type="button"
                                        class="button"
                                        data-testid="stop"
                                        disabled=!can_stop || !status.allows(Action::Stop)
                                        on:click=move |_| run(Action::Stop)
                                    >
                                        {t(Key::ServersStop)}
                                    </button>
                                    <button
                                        type="button"
                                        class="button"
                                        data-testid="reboot"
                                        disabled=!can_reboot || !status.allows(Action::Reboot)
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
                                                    data-testid="delete"
                                                    disabled=!can_delete || !status.allows(Action::Delete)
                                                    on:click=move |_| confirm_delete.set(true)
                                                >
                                                    {t(Key::ActionDelete)}
                                                </button>
                                            }
                                        }
                                    >
                                        <span class="confirm" role="group">
                                            <span>{t(Key::ServersDeleteSure)}</span>
                                            <button
                                                type="button"
                                                class="button button-danger"
                                                data-testid="delete-confirm"
                                                on:click=move |_| {
                                                    run(Action::Delete);
                                                    confirm_delete.set(false);
                                                }
                                            >
                                                {t(Key::ServersDeleteYes)}
                                            </button>
                                            <button
                                                type="button"
                                                class="button"
                                                on:click=move |_| confirm_delete.set(false)
                                            >
                                                {t(Key::ConfirmCancel)}
                                            </button>
                                        </span>
                                    </Show>
                                </div>
                            </section>
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

        <h2 class="section-gap">{t(Key::ServersSettings)}</h2>
        {move || {
            change
                .value()
                .get()
                .map(|r| match r {
                    Ok(true) => {
                        view! {
                            <div class="alert alert-ok" role="status" data-testid="needs-reboot">
                                {t(Key::ServersNeedsReboot)}
                                " "
                                <button type="button" class="button" on:click=move |_| run(Action::Reboot)>
                                    {t(Key::ServersReboot)}
                                </button>
                            </div>
                        }
                            .into_any()
                    }
                    Ok(false) => {
                        view! {
                            <div class="alert alert-ok" role="status">
                                {t(Key::ServersSaved)}
                            </div>
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
                })
        }}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let user = me.await.ok().flatten();
                let manage = user.as_ref().is_some_and(|u| u.can(Permission::ManageServer));
                match settings.await {
                    Ok(c) => {
                        let next: Vec<(String, u32)> = c
                            .next_free
                            .iter()
                            .filter(|(b, _)| *b != "ide")
                            .map(|(b, i)| (b.clone(), *i))
                            .collect();
                        view! {
                            <ActionForm action=change attr:class="form-row card">
                                <input type="hidden" name="name" value=name() />
                                <label class="field">
                                    <span>{t(Key::ServersCores)}</span>
                                    <input name="cores" type="number" min="1" max="128" value=c.cores />
                                </label>
                                <label class="field">
                                    <span>"Sockets"</span>
                                    <input name="sockets" type="number" min="1" max="4" value=c.sockets />
                                </label>
                                <label class="field">
                                    <span>{t(Key::ServersMemory)}</span>
                                    <input name="memory" type="number" min="256" value=c.memory_mb />
                                </label>
                                <label class="field grow">
                                    <span>{t(Key::ServersDescription)}</span>
                                    <input name="description" value=c.description.clone() />
                                </label>
                                <label class="field">
                                    <span>{t(Key::ServersTagsField)}</span>
                                    <input name="tags" value=c.tags.join(", ") />
                                </label>
                                <button
                                    type="submit"
                                    class="button button-primary"
                                    disabled=!manage
                                    data-testid="save-settings"
                                >
                                    {t(Key::ServersSave)}
                                </button>
                            </ActionForm>
                            <h2 class="section-gap">{t(Key::ServersDisks)}</h2>
                            <table class="table" data-testid="disks">
                                <thead>
                                    <tr>
                                        <th>{t(Key::ServersDevice)}</th>
                                        <th>"GB"</th>
                                        <th>{t(Key::ServersDatastore)}</th>
                                        <th></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {c
                                        .disks
                                        .clone()
                                        .into_iter()
                                        .enumerate()
                                        .map(|(i, d)| {
                                            view! {
                                                <tr>
                                                    <td>
                                                        <code>{d.device.clone()}</code>
                                                    </td>
                                                    <td>{d.size_gb}</td>
                                                    <td>{d.storage.clone()}</td>
                                                    <td>
                                                        {(i > 0 && manage)
                                                            .then(|| {
                                                                view! {
                                                                    <ActionForm action=remove_disk attr:class="inline-form">
                                                                        <input type="hidden" name="name" value=name() />
                                                                        <input type="hidden" name="device" value=d.device.clone() />
                                                                        <ConfirmSubmit
                                                                            label=Key::ServersRemove
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
                            {manage
                                .then(|| {
                                    view! {
                                        <ActionForm action=add_disk attr:class="form-row">
                                            <input type="hidden" name="name" value=name() />
                                            <label class="field">
                                                <span>"Bus"</span>
                                                <select name="bus">
                                                    {next
                                                        .into_iter()
                                                        .map(|(b, i)| {
                                                            view! {
                                                                <option value=b
                                                                    .clone()>{format!("{b} (next: {b}{i})")}</option>
                                                            }
                                                        })
                                                        .collect_view()}
                                                </select>
                                            </label>
                                            <label class="field">
                                                <span>"GB"</span>
                                                <input name="size_gb" type="number" min="1" value="10" required />
                                            </label>
                                            <label class="field">
                                                <span>{t(Key::ServersDatastore)}</span>
                                                <input name="storage" placeholder="default" />
                                            </label>
                                            <button type="submit" class="button" data-testid="add-disk">
                                                {t(Key::ServersAddDisk)}
                                            </button>
                                        </ActionForm>
                                    }
                                })}
                            {move || {
                                add_disk
                                    .value()
                                    .get()
                                    .and_then(|r| r.err())
                                    .or_else(|| remove_disk.value().get().and_then(|r| r.err()))
                                    .map(|e| {
                                        view! {
                                            <div class="alert alert-error" role="alert">
                                                {e.to_string()}
                                            </div>
                                        }
                                    })
                            }}
                        }
                            .into_any()
                    }
                    Err(e) => view! { <p class="muted">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>

        <Transition fallback=|| ()>
            {move || {
                let server_name = name();
                Suspend::new(async move {
                    let may = me.await.ok().flatten().is_some_and(|u| u.can(Permission::BackupManagement));
                    may.then(|| view! { <crate::pages::backups::ServerBackups name=server_name /> })
                })
            }}
        </Transition>
        <h2 class="section-gap">{t(Key::ServersTasks)}</h2>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match logs.await {
                    Ok(history) => {
                        view! {
                            <History name=name() history=history open_log=open_log task_log_error=task_log_error />
                        }
                            .into_any()
                    }
                    Err(e) => {
                        view! {
                            <p class="alert alert-error" role="alert">
                                {e.to_string()}
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
        {move || {
            task_log_error
                .get()
                .map(|e| {
                    view! {
                        <div class="alert alert-error" role="alert">
                            {e}
                        </div>
                    }
                })
        }}
        <crate::pages::server_firewall::ServerFirewallSection name=Signal::derive(name) />
        <LogModal log=open_log />
    }
}

/// The Proxmox task history (each task's log opens in the viewer) and proxfleet's job lines.
#[component]
fn History(
    name: String,
    history: ServerLogs,
    open_log: RwSignal<Option<LogText>>,
    /// Why the last task log could not be opened (shown under the history).
    task_log_error: RwSignal<Option<String>>,
) -> impl IntoView {
    let tasks = history.tasks;
    let empty = tasks.is_empty() && history.tasks_error.is_none();
    view! {
        {history
            .tasks_error
            .map(|e| {
                view! {
                    <p class="muted" data-testid="tasks-error">
                        {t(Key::ServersTasksUnavailable)}
                        ": "
                        {e}
                    </p>
                }
            })}
        <Show when=move || empty>
            <p class="muted">{t(Key::ServersNoTasks)}</p>
        </Show>
        <Show when={
            let n = tasks.len();
            move || n > 0
        }>
            <table class="table" data-testid="server-tasks">
                <thead>
                    <tr>
                        <th>{t(Key::ServersTaskStarted)}</th>
                        <th>{t(Key::ServersTaskType)}</th>
                        <th>{t(Key::ServersNode)}</th>
                        <th>{t(Key::ServersTaskUser)}</th>
                        <th>{t(Key::ServersStatus)}</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {tasks
                        .clone()
                        .into_iter()
                        .map(|task| {
                            let badge = match task.ok {
                                Some(true) => "badge badge-ok",
                                Some(false) => "badge badge-fail",
                                None => "badge badge-muted",
                            };
                            let (name, upid, title) = (
                                name.clone(),
                                task.upid.clone(),
                                format!("{} · {}", task.kind, task.upid),
                            );
                            let href = format!(
                                "/api/server/logs/{}/task?format=text&upid={}",
                                percent_encode(&name),
                                percent_encode(&upid),
                            );
                            let open = move |e: leptos::ev::MouseEvent| {
                                e.prevent_default();
                                let (name, upid, title) = (name.clone(), upid.clone(), title.clone());
                                leptos::task::spawn_local(async move {
                                    match server_task_log(name, upid.clone()).await {
                                        Ok(lines) => {
                                            task_log_error.set(None);
                                            let file = format!("{}.log", upid.trim_end_matches(':').replace(':', "-"));
                                            open_log
                                                .set(
                                                    Some(LogText {
                                                        title,
                                                        text: lines.join("\n"),
                                                        file,
                                                    }),
                                                );
                                        }
                                        Err(e) => task_log_error.set(Some(e.to_string())),
                                    }
                                });
                            };
                            // Without JavaScript the link shows the log as plain text; with it, the viewer.
                            view! {
                                <tr data-testid="server-task">
                                    <td>
                                        <LocalTime ms=i64::try_from(task.starttime).unwrap_or(0).saturating_mul(1000) />
                                    </td>
                                    <td>
                                        <code>{task.kind.clone()}</code>
                                    </td>
                                    <td>{task.node.clone()}</td>
                                    <td class="muted">{task.user.clone()}</td>
                                    <td>
                                        <span class=badge>{task.status.clone()}</span>
                                    </td>
                                    <td>
                                        <a class="button" href=href data-testid="task-log" on:click=open>
                                            {t(Key::NotesLog)}
                                        </a>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </Show>
        <h3 class="section-gap">{t(Key::JobsLog)}</h3>
        <pre class="log" data-testid="server-log">
            {history
                .jobs
                .into_iter()
                .map(|l| format!("{} [{}] #{} {}\n", l.at, l.level, l.job_id, l.line))
                .collect::<String>()}
        </pre>
    }
}
