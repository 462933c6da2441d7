//! The landing page. For now it shows this instance's details; fleet counts, node gauges and
//! recent jobs join as the servers and jobs features land.

use leptos::prelude::*;

use crate::components::local_time::LocalTime;
use crate::functions::cluster::cluster_overview;
use crate::functions::system::SystemInfoResource;
use crate::i18n::{t, Key};
use crate::PageHeader;

#[component]
pub fn Dashboard() -> impl IntoView {
    let info = expect_context::<SystemInfoResource>().0;
    let cluster = Resource::new(|| (), |_| cluster_overview());
    view! {
        <PageHeader title=Key::DashboardTitle/>
        <p class="lead">{t(Key::DashboardIntro)}</p>
        <div class="grid">
            <section class="card" aria-labelledby="system-heading">
                <h2 id="system-heading">{t(Key::DashboardSystem)}</h2>
                <Suspense fallback=|| view! { <p class="muted">{t(Key::DashboardLoading)}</p> }>
                    {move || Suspend::new(async move {
                        match info.await {
                            Ok(i) => view! {
                                <dl class="facts" data-testid="system-info">
                                    <dt>{t(Key::DashboardVersion)}</dt>
                                    <dd>{i.version.clone()}</dd>
                                    <dt>{t(Key::DashboardDatabase)}</dt>
                                    <dd>{i.database.clone()}</dd>
                                    <dt>{t(Key::DashboardSchema)}</dt>
                                    <dd>{i.schema_version}</dd>
                                    <dt>{t(Key::DashboardStarted)}</dt>
                                    <dd><LocalTime ms=i.started_at/></dd>
                                    <dt>{t(Key::DashboardCluster)}</dt>
                                    <dd>
                                        {if i.simulated_cluster { t(Key::DashboardClusterSim)() } else { t(Key::DashboardClusterReal)() }}
                                    </dd>
                                </dl>
                            }
                            .into_any(),
                            Err(_) => view! {
                                <div class="alert alert-error" role="alert">
                                    <p>{t(Key::DashboardError)}</p>
                                    <button class="button" on:click=move |_| info.refetch()>{t(Key::DashboardRetry)}</button>
                                </div>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            </section>
            <section class="card" aria-labelledby="cluster-heading">
                <h2 id="cluster-heading">{t(Key::DashboardClusterTitle)}</h2>
                <Suspense fallback=|| view! { <p class="muted">{t(Key::DashboardLoading)}</p> }>
                    {move || Suspend::new(async move {
                        match cluster.await {
                            Ok(c) => view! {
                                <dl class="facts" data-testid="cluster-overview">
                                    <dt>{t(Key::DashboardNodes)}</dt>
                                    <dd>{c.nodes_online}" / "{c.nodes_total}" "{t(Key::DashboardOnline)}</dd>
                                    <dt>{t(Key::DashboardVms)}</dt>
                                    <dd>{c.vms_running}" / "{c.vms_total}" "{t(Key::DashboardRunning)}</dd>
                                    <dt>{t(Key::DashboardTemplates)}</dt>
                                    <dd>{c.templates}</dd>
                                    <dt>{t(Key::DashboardCapacity)}</dt>
                                    <dd>{c.cpu_cores}" vCPU · "{format!("{:.0}", c.memory_used_bytes as f64 / c.memory_bytes.max(1) as f64 * 100.0)}"% "{t(Key::DashboardMemoryUsed)}</dd>
                                </dl>
                            }
                            .into_any(),
                            Err(e) => view! {
                                <div class="alert alert-error" role="alert">
                                    <p>{t(Key::DashboardClusterError)}" "{e.to_string().replace("error running server function: ", "")}</p>
                                    <button class="button" on:click=move |_| cluster.refetch()>{t(Key::DashboardRetry)}</button>
                                </div>
                            }
                            .into_any(),
                        }
                    })}
                </Suspense>
            </section>
            <section class="card" aria-labelledby="next-heading">
                <h2 id="next-heading">{t(Key::DashboardNext)}</h2>
                <p class="muted">{t(Key::DashboardNextBody)}</p>
            </section>
        </div>
    }
}
