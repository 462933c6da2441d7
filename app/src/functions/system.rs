//! Instance details: version, database, schema, start time, demo mode.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::i18n::{t, Key};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemInfoView {
    pub version: String,
    pub database: String,
    pub schema_version: i64,
    /// UTC unix milliseconds.
    pub started_at: i64,
    pub simulated_cluster: bool,
}

#[server(prefix = "/sfn", endpoint = "system_info")]
pub async fn system_info() -> Result<SystemInfoView, ServerFnError> {
    let services = use_context::<domain::Services>().ok_or_else(|| ServerFnError::new("services are not available"))?;
    let info = services.system_info();
    Ok(SystemInfoView {
        version: info.version.to_owned(),
        database: info.database.as_str().to_owned(),
        schema_version: info.schema_version,
        started_at: info.started_at,
        simulated_cluster: info.simulated_cluster,
    })
}

/// Loaded once per page load and shared through context.
#[derive(Clone, Copy)]
pub struct SystemInfoResource(pub Resource<Result<SystemInfoView, ServerFnError>>);

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
                    Ok(i) if i.simulated_cluster => Some(view! {
                        <span class="badge badge-demo" data-testid="simulated-badge" title=t(Key::BadgeSimulatedHint)>
                            <span class="badge-dot" aria-hidden="true"></span>
                            {t(Key::BadgeSimulated)}
                        </span>
                    }),
                    _ => None,
                }
            })}
        </Suspense>
    }
}
