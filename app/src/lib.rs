//! proxfleet's user interface: one Leptos app, rendered on the server (`ssr`) and hydrated in
//! the browser (`hydrate`). Server-only code sits behind `#[cfg(feature = "ssr")]`; the browser
//! build never compiles `domain`, sqlx, tokio or reqwest.

#![recursion_limit = "256"]

pub mod components;
pub mod functions;
pub mod i18n;
pub mod pages;
pub mod prefs;
pub mod time_fmt;
pub mod url;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::layout::Layout;
use crate::i18n::{t, I18n, Key};
use crate::pages::admin::{AdminAuditPage, AdminIamPage, AdminUsersPage};
use crate::pages::auth::{ChangePasswordPage, LoginPage};
use crate::pages::profile::ProfilePage;
use crate::pages::{coming_soon::ComingSoon, dashboard::Dashboard, not_found::NotFound};
use crate::prefs::Prefs;

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let prefs = Prefs::current();
    let theme = prefs.theme.map(|t| t.code());
    view! {
        <!DOCTYPE html>
        <html lang=prefs.locale.code() data-theme=theme>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="stylesheet" href="/pkg/proxfleet.css" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let prefs = Prefs::current();
    provide_context(I18n(ArcRwSignal::new(prefs.locale)));
    provide_context(components::theme::ThemeState::new(prefs.theme));
    // One read of the instance details, shared by the top bar's badge and the dashboard.
    provide_context(functions::system::SystemInfoResource::new());
    // Who is signed in: the navigation hides what they may not do (the server refuses it anyway).
    provide_context(functions::auth::CurrentUserResource::new());
    provide_context(components::live::Live::new());

    // A marker for end-to-end tests and people debugging: set once the WASM has taken over.
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Title formatter=|text: String| {
            if text.is_empty() { "proxfleet".to_owned() } else { format!("{text} · proxfleet") }
        } />
        // The server renders pages with async SSR (server/src/site.rs): it waits for the data
        // before sending the page, so every page is complete without JavaScript.
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=Dashboard />
                    <Route path=path!("/servers") view=pages::servers::ServersPage />
                    <Route path=path!("/servers/new") view=pages::server_create::ServerCreatePage />
                    <Route path=path!("/servers/:name") view=pages::server_detail::ServerDetailPage />
                    <Route path=path!("/ip-pools") view=pages::ip_pools::IpPoolsPage />
                    <Route path=path!("/datastores") view=pages::datastores::DatastoresPage />
                    <Route path=path!("/security-groups") view=pages::security_groups::SecurityGroupsPage />
                    <Route path=path!("/security-groups/:name") view=pages::security_groups::SecurityGroupPage />
                    <Route path=path!("/backups") view=pages::backups::BackupsPage />
                    <Route
                        path=path!("/roles")
                        view=|| view! { <ComingSoon title=Key::NavRoles body=Key::PageRoles /> }
                    />
                    <Route
                        path=path!("/monitoring")
                        view=|| view! { <ComingSoon title=Key::NavMonitoring body=Key::PageMonitoring /> }
                    />
                    <Route path=path!("/jobs") view=pages::jobs::JobsPage />
                    <Route path=path!("/jobs/:id") view=pages::jobs::JobPage />
                    <Route path=path!("/notifications") view=pages::jobs::NotificationsPage />
                    <Route path=path!("/admin") view=AdminUsersPage />
                    <Route path=path!("/admin/iam") view=AdminIamPage />
                    <Route path=path!("/admin/audit") view=AdminAuditPage />
                    <Route path=path!("/profile") view=ProfilePage />
                    <Route path=path!("/login") view=LoginPage />
                    <Route path=path!("/change-password") view=ChangePasswordPage />
                </Routes>
            </Layout>
        </Router>
    }
}

/// A page's `<title>` and `<h1>`, in the active language.
#[component]
pub fn PageHeader(title: Key, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <Title text=t(title) />
        <header class="page-header">
            <h1>{t(title)}</h1>
            {children.map(|c| c())}
        </header>
    }
}
