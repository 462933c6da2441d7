//! The proxfleet server: REST under `/api`, server functions under `/sfn`, SSR pages and the
//! static site, on one axum router. Everything here is an adapter over `domain::Services`.

pub mod api;
pub mod cli;
pub mod config;
pub mod http_metrics;
pub mod identity;
pub mod logging;
pub mod prefs;
pub mod redirect;
pub mod render_pool;
pub mod seat;
pub mod security_headers;
pub mod site;
pub mod startup;
pub mod state;

pub use startup::{build_router, build_router_with, serve, Instance};
pub use state::AppState;
