//! Jobs (list and detail, live) and notifications.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::auth::Permission;

use crate::components::async_list::AsyncList;
use crate::components::confirm::ConfirmSubmit;
use crate::components::live::Live;
use crate::components::local_time::LocalTime;
use crate::components::log_modal::LogModal;
use crate::components::notifications::{NoteActions, NoteItem};
use crate::functions::auth::CurrentUserResource;
use crate::functions::jobs::{job_kinds, list_jobs, list_notifications, load_job, CancelJob, RetryJob, StartTestJob};
use crate::i18n::{t, Key};
use crate::PageHeader;
use model::jobs::JobStatus;

pub fn status_badge(status: JobStatus) -> impl IntoView {
    let class = match status {
        JobStatus::Succeeded => "badge badge-ok",
        JobStatus::Failed | JobStatus::PartiallyFailed => "badge badge-fail",
        JobStatus::Running | JobStatus::Queued => "badge badge-demo",
        JobStatus::Cancelled => "badge badge-muted",
    };
    view! {
        <span class=class data-testid="job-status">
            {status.as_str().replace('_', " ")}
        </span>
    }
}

#[component]
pub fn JobsPage() -> impl IntoView {
    let live = expect_context::<Live>();
    let me = expect_context::<CurrentUserResource>().0;
    let query = use_query_map();
    let param = move |name: &'static str| move || query.with(|q| q.get(name).unwrap_or_default());
    let (status, kind, owner) = (param("status"), param("kind"), param("owner"));
    let start = ServerAction::<StartTestJob>::new();
    let jobs = Resource::new(
        move || (status(), kind(), owner(), live.tick.get(), start.version().get()),
        |(s, k, o, _, _)| list_jobs(s, k, o),
    );
    let kinds = Resource::new(|| (), |_| job_kinds());
    view! {
        <PageHeader title=Key::NavJobs />
        <div class="form-row">
            // A GET form: filtering works without JavaScript and the URL can be shared.
            <form method="get" action="/jobs" class="form-row" data-testid="job-filter">
                <label for="job-status">{t(Key::JobsStatus)}</label>
                <select id="job-status" name="status">
                    <option value="">{t(Key::JobsAll)}</option>
                    {JobStatus::ALL
                        .iter()
                        .map(|s| {
                            view! {
                                <option value=s.as_str() selected=move || status() == s.as_str()>
                                    {s.as_str().replace('_', " ")}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <label for="job-kind">{t(Key::JobsKind)}</label>
                <select id="job-kind" name="kind">
                    <option value="">{t(Key::JobsAll)}</option>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            kinds
                                .await
                                .unwrap_or_default()
                                .into_iter()
                                .map(|k| {
                                    let selected = k == kind();
                                    view! {
                                        <option value=k.clone() selected=selected>
                                            {k.clone()}
                                        </option>
                                    }
                                })
                                .collect_view()
                        })}
                    </Transition>
                </select>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.await
                            .ok()
                            .flatten()
                            .filter(|u| u.can(Permission::ViewAll))
                            .map(|_| {
                                // Only those who see everyone's jobs can ask for someone's.
                                view! {
                                    <label for="job-owner">{t(Key::JobsOwner)}</label>
                                    <input id="job-owner" name="owner" size="12" value=owner() />
                                }
                            })
                    })}
                </Transition>
                <button type="submit" class="button">
                    {t(Key::AuditFilter)}
                </button>
            </form>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    me.await
                        .ok()
                        .flatten()
                        .filter(|u| u.can(Permission::ManageUsers))
                        .map(|_| {
                            view! {
                                <ActionForm action=start attr:class="inline-form">
                                    <input type="hidden" name="fail" value="false" />
                                    <button type="submit" class="button button-primary" data-testid="run-test-job">
                                        {t(Key::JobsRunTest)}
                                    </button>
                                </ActionForm>
                            }
                        })
                })}
            </Transition>
        </div>
        <AsyncList
            items=jobs
            empty=Key::JobsEmpty
            empty_testid="jobs-empty"
            list=|list| {
                view! {
                    <table class="table section-gap" data-testid="jobs">
                        <thead>
                            <tr>
                                <th>"#"</th>
                                <th>{t(Key::JobsKind)}</th>
                                <th>{t(Key::JobsStatus)}</th>
                                <th>{t(Key::JobsProgress)}</th>
                                <th>{t(Key::JobsOwner)}</th>
                                <th>{t(Key::JobsCreated)}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {list
                                .into_iter()
                                .map(|j| {
                                    view! {
                                        <tr>
                                            <td>
                                                <a href=format!("/jobs/{}", j.id)>{j.id}</a>
                                            </td>
                                            <td>
                                                <code>{j.kind.clone()}</code>
                                            </td>
                                            <td>{status_badge(j.status)}</td>
                                            <td>
                                                <progress max="100" value=j.progress>
                                                    {j.progress}
                                                    "%"
                                                </progress>
                                            </td>
                                            <td>{j.owner.clone()}</td>
                                            <td>
                                                <LocalTime ms=j.created_at />
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
            }
        />
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let live = expect_context::<Live>();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0));
    let cancel = ServerAction::<CancelJob>::new();
    let retry = ServerAction::<RetryJob>::new();
    let job = Resource::new(move || (id(), live.tick.get(), cancel.version().get()), |(id, _, _)| load_job(id));
    view! {
        <PageHeader title=Key::NavJobs />
        <p>
            <a href="/jobs">{t(Key::JobsBack)}</a>
        </p>
        {move || {
            retry
                .value()
                .get()
                .and_then(|r| r.ok())
                .map(|new_id| {
                    view! {
                        <div class="alert alert-ok" role="status">
                            <a href=format!("/jobs/{new_id}")>{t(Key::JobsRetried)}" #"{new_id}</a>
                        </div>
                    }
                })
        }}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match job.await {
                    Ok(v) => {
                        let j = v.job.clone();
                        view! {
                            <section class="card" data-testid="job-detail">
                                <h2>"#"{j.id}" "<code>{j.kind.clone()}</code>" "{status_badge(j.status)}</h2>
                                <progress class="job-progress" max="100" value=j.progress data-testid="job-progress">
                                    {j.progress}
                                    "%"
                                </progress>
                                <p class="muted">{j.step.clone()}</p>
                                {j
                                    .error
                                    .clone()
                                    .map(|e| {
                                        view! {
                                            <div class="alert alert-error" role="alert">
                                                {e}
                                            </div>
                                        }
                                    })}
                                <div class="row-actions">
                                    <Show when=move || v.can_cancel>
                                        <ActionForm action=cancel attr:class="inline-form">
                                            <input type="hidden" name="id" value=j.id />
                                            <ConfirmSubmit label=Key::JobsCancel confirm=Key::JobsCancelConfirm />
                                        </ActionForm>
                                    </Show>
                                    <Show when=move || v.can_retry>
                                        <ActionForm action=retry attr:class="inline-form">
                                            <input type="hidden" name="id" value=j.id />
                                            <button type="submit" class="button">
                                                {t(Key::JobsRetry)}
                                            </button>
                                        </ActionForm>
                                    </Show>
                                </div>
                            </section>
                            {(!v.items.is_empty())
                                .then(|| {
                                    view! {
                                        <table class="table section-gap" data-testid="job-items">
                                            <thead>
                                                <tr>
                                                    <th>{t(Key::JobsItem)}</th>
                                                    <th>{t(Key::JobsStatus)}</th>
                                                    <th>{t(Key::AuditDetail)}</th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {v
                                                    .items
                                                    .iter()
                                                    .map(|i| {
                                                        view! {
                                                            <tr>
                                                                <td>{i.name.clone()}</td>
                                                                <td>{i.state().map(status_badge)}</td>
                                                                <td>{i.error.clone().unwrap_or_default()}</td>
                                                            </tr>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </tbody>
                                        </table>
                                    }
                                })}
                            <h2 class="section-gap">{t(Key::JobsLog)}</h2>
                            <pre class="log" data-testid="job-log">
                                {v.log.iter().map(|l| format!("[{}] {}\n", l.level, l.line)).collect::<String>()}
                            </pre>
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

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let live = expect_context::<Live>();
    let actions = NoteActions::new();
    let notes = Resource::new(move || (live.tick.get(), actions.version()), |_| list_notifications(100));
    view! {
        <PageHeader title=Key::NavNotifications />
        <ActionForm action=actions.clear attr:class="form-row">
            <ConfirmSubmit label=Key::NotesClear confirm=Key::NotesClearConfirm />
        </ActionForm>
        <AsyncList
            items=notes
            empty=Key::NotesEmpty
            empty_testid="notes-empty"
            list=move |list| {
                view! {
                    <ul class="notes" data-testid="notifications">
                        {list.into_iter().map(|n| view! { <NoteItem note=n actions=actions /> }).collect_view()}
                    </ul>
                }
            }
        />
        <LogModal log=actions.log />
    }
}
