//! Instance details: version, database, schema, start time, demo mode.

use leptos::prelude::*;
use model::AppError;

use crate::i18n::{t, Key};

#[server(prefix = "/sfn", endpoint = "system_info")]
pub async fn system_info() -> Result<model::system::SystemInfo, AppError> {
    Ok(crate::functions::door::services()?.system_info())
}

/// Loaded once per page load and shared through context.
#[derive(Clone, Copy)]
pub struct SystemInfoResource(pub Resource<Result<model::system::SystemInfo, AppError>>);

impl SystemInfoResource {
    pub fn new() -> Self {
        SystemInfoResource(Resource::new(|| (), |_| system_info()))
    }
}

impl Default for SystemInfoResource {
    fn default() -> Self {
        Self::new()
    }
}

/// "Simulated cluster" in the top bar whenever proxfleet runs against its built-in simulator.
#[component]
pub fn SimulatedClusterBadge() -> impl IntoView {
    let info = expect_context::<SystemInfoResource>().0;
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(i) if i.simulated_cluster => {
                        Some(
                            view! {
                                <span
                                    class="badge badge-demo"
                                    data-testid="simulated-badge"
                                    title=t(Key::BadgeSimulatedHint)
                                >
                                    <span class="badge-dot" aria-hidden="true"></span>
                                    {t(Key::BadgeSimulated)}
                                </span>
                            },
                        )
                    }
                    _ => None,
                }
            })}
        </Suspense>
    }
}
