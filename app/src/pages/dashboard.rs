//! The landing page. For now it shows this instance's details; fleet counts, node gauges and
//! recent jobs join as the servers and jobs features land.

use leptos::prelude::*;

use crate::components::local_time::LocalTime;
use crate::functions::system::SystemInfoResource;
use crate::i18n::{t, Key};
use crate::PageHeader;

#[component]
pub fn Dashboard() -> impl IntoView {
    let info = expect_context::<SystemInfoResource>().0;
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
            <section class="card" aria-labelledby="next-heading">
                <h2 id="next-heading">{t(Key::DashboardNext)}</h2>
                <p class="muted">{t(Key::DashboardNextBody)}</p>
            </section>
        </div>
    }
}
