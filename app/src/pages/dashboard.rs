//! The landing page: the fleet's counts, each node's load and allocation, storage use and the
//! latest jobs (all kept live by the event stream), the cluster and this instance.

use std::time::Duration;

use leptos::prelude::*;
use model::AppError;

use crate::components::gauge::{percent, size, Gauge};
use crate::components::live::Live;
use crate::components::local_time::LocalTime;
use crate::functions::cluster::{cluster_overview, fleet_overview, storage_usage, DatastoreUsage};
use crate::functions::jobs::recent_jobs;
use crate::functions::system::SystemInfoResource;
use crate::i18n::{t, Key};
use crate::pages::jobs::status_badge as job_badge;
use crate::PageHeader;
use model::jobs::Job;
use model::servers::FleetStats;

#[component]
pub fn Dashboard() -> impl IntoView {
    let info = expect_context::<SystemInfoResource>().0;
    let live = expect_context::<Live>();
    // Fleet and node figures follow server changes and finished jobs, storage finished jobs,
    // the job list every job event; each at most every few seconds (they read Proxmox).
    let servers_changed = live.changes(&["server_state", "job_finished"], Duration::from_secs(3));
    let jobs_ended = live.changes(&["job_finished"], Duration::from_secs(3));
    let jobs_changed = live.changes(&["job_progress", "job_finished"], Duration::from_secs(1));
    let cluster = Resource::new(move || servers_changed.get(), |_| cluster_overview());
    let fleet = Resource::new(move || servers_changed.get(), |_| fleet_overview());
    let storage = Resource::new(move || jobs_ended.get(), |_| storage_usage());
    let jobs = Resource::new(move || jobs_changed.get(), |_| recent_jobs(RECENT_JOBS));
    view! {
        <PageHeader title=Key::DashboardTitle />
        <p class="lead">{t(Key::DashboardIntro)}</p>
        <div class="grid">
            <section class="card" aria-labelledby="fleet-heading">
                <h2 id="fleet-heading">{t(Key::NavServers)}</h2>
                <Transition fallback=|| {
                    view! { <p class="muted">{t(Key::DashboardLoading)}</p> }
                }>
                    {move || Suspend::new(async move {
                        match fleet.await {
                            Ok(f) => view! { <FleetCounts fleet=f /> }.into_any(),
                            Err(e) => failed(e, move || fleet.refetch()),
                        }
                    })}
                </Transition>
            </section>
            <section class="card" aria-labelledby="jobs-heading">
                <h2 id="jobs-heading">{t(Key::DashboardRecentJobs)}</h2>
                <Transition fallback=|| {
                    view! { <p class="muted">{t(Key::DashboardLoading)}</p> }
                }>
                    {move || Suspend::new(async move {
                        match jobs.await {
                            Ok(list) => view! { <RecentJobs jobs=list /> }.into_any(),
                            Err(e) => failed(e, move || jobs.refetch()),
                        }
                    })}
                </Transition>
            </section>
            <section class="card" aria-labelledby="system-heading">
                <h2 id="system-heading">{t(Key::DashboardSystem)}</h2>
                <Suspense fallback=|| {
                    view! { <p class="muted">{t(Key::DashboardLoading)}</p> }
                }>
                    {move || Suspend::new(async move {
                        match info.await {
                            Ok(i) => {
                                view! {
                                    <dl class="facts" data-testid="system-info">
                                        <dt>{t(Key::DashboardVersion)}</dt>
                                        <dd>{i.version.clone()}</dd>
                                        <dt>{t(Key::DashboardDatabase)}</dt>
                                        <dd>{i.database.as_str()}</dd>
                                        <dt>{t(Key::DashboardSchema)}</dt>
                                        <dd>{i.schema_version}</dd>
                                        <dt>{t(Key::DashboardStarted)}</dt>
                                        <dd>
                                            <LocalTime ms=i.started_at />
                                        </dd>
                                        <dt>{t(Key::DashboardCluster)}</dt>
                                        <dd>
                                            {if i.simulated_cluster {
                                                t(Key::DashboardClusterSim)()
                                            } else {
                                                t(Key::DashboardClusterReal)()
                                            }}
                                        </dd>
                                    </dl>
                                }
                                    .into_any()
                            }
                            Err(_) => {
                                view! {
                                    <div class="alert alert-error" role="alert">
                                        <p>{t(Key::DashboardError)}</p>
                                        <button class="button" on:click=move |_| info.refetch()>
                                            {t(Key::DashboardRetry)}
                                        </button>
                                    </div>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Suspense>
            </section>
            <section class="card" aria-labelledby="cluster-heading">
                <h2 id="cluster-heading">{t(Key::DashboardClusterTitle)}</h2>
                <Transition fallback=|| {
                    view! { <p class="muted">{t(Key::DashboardLoading)}</p> }
                }>
                    {move || Suspend::new(async move {
                        match cluster.await {
                            Ok(c) => {
                                view! {
                                    <dl class="facts" data-testid="cluster-overview">
                                        <dt>{t(Key::DashboardNodes)}</dt>
                                        <dd>{c.nodes_online}" / "{c.nodes_total}" "{t(Key::DashboardOnline)}</dd>
                                        <dt>{t(Key::DashboardVms)}</dt>
                                        <dd>{c.vms_running}" / "{c.vms_total}" "{t(Key::DashboardRunning)}</dd>
                                        <dt>{t(Key::DashboardTemplates)}</dt>
                                        <dd>{c.templates}</dd>
                                        <dt>{t(Key::DashboardCapacity)}</dt>
                                        <dd>
                                            {c.cpu_cores}" vCPU · "
                                            {format!(
                                                "{:.0}",
                                                c.memory_used_bytes as f64 / c.memory_bytes.max(1) as f64 * 100.0,
                                            )}"% "{t(Key::DashboardMemoryUsed)}
                                        </dd>
                                    </dl>
                                }
                                    .into_any()
                            }
                            Err(e) => {
                                view! {
                                    <div class="alert alert-error" role="alert">
                                        <p>
                                            {t(Key::DashboardClusterError)}" "
                                            {e.to_string().replace("error running server function: ", "")}
                                        </p>
                                        <button class="button" on:click=move |_| cluster.refetch()>
                                            {t(Key::DashboardRetry)}
                                        </button>
                                    </div>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </section>
        </div>
        <h2 class="section-gap">{t(Key::DashboardNodesTitle)}</h2>
        <Transition fallback=|| {
            view! { <p class="muted">{t(Key::DashboardLoading)}</p> }
        }>
            {move || Suspend::new(async move {
                match fleet.await {
                    Ok(f) => view! { <NodeGauges fleet=f /> }.into_any(),
                    Err(_) => ().into_any(),
                }
            })}
        </Transition>
        <h2 class="section-gap">{t(Key::DashboardStorage)}</h2>
        <Transition fallback=|| {
            view! { <p class="muted">{t(Key::DashboardLoading)}</p> }
        }>
            {move || Suspend::new(async move {
                match storage.await {
                    Ok(list) => view! { <StorageGauges list=list /> }.into_any(),
                    Err(e) => failed(e, move || storage.refetch()),
                }
            })}
        </Transition>
    }
}

/// How many jobs the dashboard lists.
const RECENT_JOBS: u32 = 6;

fn failed(e: AppError, retry: impl Fn() + Copy + Send + Sync + 'static) -> AnyView {
    view! {
        <div class="alert alert-error" role="alert">
            <p>{e.to_string()}</p>
            <button class="button" on:click=move |_| retry()>
                {t(Key::DashboardRetry)}
            </button>
        </div>
    }
    .into_any()
}

/// Counts of managed servers, each a link to the list filtered by it.
#[component]
fn FleetCounts(fleet: FleetStats) -> impl IntoView {
    let other = fleet.total_servers.saturating_sub(fleet.running_servers + fleet.stopped_servers);
    if fleet.total_servers == 0 {
        return view! {
            <p class="muted" data-testid="fleet-empty">
                {t(Key::ServersEmpty)}
            </p>
            <a class="button button-primary" href="/servers/new">
                {t(Key::ServersCreate)}
            </a>
        }
        .into_any();
    }
    view! {
        <div class="stat-row" data-testid="fleet-counts">
            <a class="stat" href="/servers" data-testid="count-total">
                <strong>{fleet.total_servers}</strong>
                <span class="muted">{t(Key::DashboardTotal)}</span>
            </a>
            <a class="stat" href="/servers?status=running" data-testid="count-running">
                <strong>{fleet.running_servers}</strong>
                <span class="muted">{t(Key::DashboardRunning)}</span>
            </a>
            <a class="stat" href="/servers?status=stopped" data-testid="count-stopped">
                <strong>{fleet.stopped_servers}</strong>
                <span class="muted">{t(Key::DashboardStopped)}</span>
            </a>
            <a class="stat" href="/servers" data-testid="count-other">
                <strong>{other}</strong>
                <span class="muted">{t(Key::DashboardOther)}</span>
            </a>
        </div>
    }
    .into_any()
}

/// Per node: CPU and memory in use, and given to managed servers, against its capacity.
#[component]
fn NodeGauges(fleet: FleetStats) -> impl IntoView {
    view! {
        <div class="grid" data-testid="node-gauges">
            {fleet
                .nodes
                .into_iter()
                .map(|n| {
                    let cpus = n.cpus;
                    let allocated = (n.cpu_allocation_percent / 100.0 * cpus as f64).round();
                    let mem_alloc = n.memory_allocation_percent / 100.0 * n.memory_gb;
                    view! {
                        <section class="card node-card" data-testid="node-card">
                            <h3>
                                {n.node.clone()}" "
                                {if n.online {
                                    view! { <span class="badge badge-ok">{t(Key::DashboardOnline)}</span> }.into_any()
                                } else {
                                    view! { <span class="badge badge-fail">{t(Key::DashboardOffline)}</span> }
                                        .into_any()
                                }}
                            </h3>
                            <Gauge
                                label=t(Key::DashboardCpuUsed)()
                                percent=n.cpu_usage_percent
                                detail=format!("{cpus} vCPU")
                            />
                            <Gauge
                                label=t(Key::DashboardCpuAllocated)()
                                percent=n.cpu_allocation_percent
                                detail=format!("{allocated:.0} / {cpus} vCPU")
                            />
                            <Gauge
                                label=t(Key::DashboardMemoryUsedLabel)()
                                percent=n.memory_usage_percent
                                detail=format!("{:.0} GiB", n.memory_gb)
                            />
                            <Gauge
                                label=t(Key::DashboardMemoryAllocated)()
                                percent=n.memory_allocation_percent
                                detail=format!("{mem_alloc:.0} / {:.0} GiB", n.memory_gb)
                            />
                        </section>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// Every datastore's use; shared ones once.
#[component]
fn StorageGauges(list: Vec<DatastoreUsage>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted">{t(Key::DatastoresEmpty)}</p> }.into_any();
    }
    view! {
        <section class="card" data-testid="storage-usage">
            {list
                .into_iter()
                .map(|d| {
                    let where_ = if d.shared {
                        format!("{} ({})", t(Key::DatastoresShared)(), d.nodes.join(", "))
                    } else {
                        d.nodes.join(", ")
                    };
                    view! {
                        <Gauge
                            label=format!("{} · {where_}", d.id)
                            percent=percent(d.used, d.size)
                            detail=format!("{} / {}", size(d.used), size(d.size))
                        />
                    }
                })
                .collect_view()}
            <p>
                <a href="/datastores">{t(Key::DatastoresManage)}</a>
            </p>
        </section>
    }
    .into_any()
}

/// The newest jobs, each a link to its page.
#[component]
fn RecentJobs(jobs: Vec<Job>) -> impl IntoView {
    if jobs.is_empty() {
        return view! {
            <p class="muted" data-testid="recent-jobs-empty">
                {t(Key::DashboardNoJobs)}
            </p>
        }
        .into_any();
    }
    view! {
        <ul class="plain-list" data-testid="recent-jobs">
            {jobs
                .into_iter()
                .map(|j| {
                    view! {
                        <li data-testid="recent-job">
                            <a href=format!("/jobs/{}", j.id)>"#"{j.id}" "{j.kind.clone()}</a>
                            " "
                            {job_badge(j.status)}
                            " "
                            <span class="muted small">
                                <LocalTime ms=j.created_at />
                            </span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        <p>
            <a href="/jobs">{t(Key::DashboardAllJobs)}</a>
        </p>
    }
    .into_any()
}
