//! The frame around every page: sidebar navigation, top bar, main content.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::icons::{Icon, NavIcon};
use crate::components::language::LanguageSwitch;
use crate::components::theme::ThemeToggle;
use crate::functions::system::SimulatedClusterBadge;
use crate::i18n::{t, Key};

/// Every area the product has, in navigation order.
pub const NAV: &[(&str, Key, Icon)] = &[
    ("/", Key::NavDashboard, Icon::Dashboard),
    ("/servers", Key::NavServers, Icon::Servers),
    ("/security-groups", Key::NavSecurityGroups, Icon::Shield),
    ("/backups", Key::NavBackups, Icon::Archive),
    ("/roles", Key::NavRoles, Icon::Layers),
    ("/monitoring", Key::NavMonitoring, Icon::Activity),
    ("/jobs", Key::NavJobs, Icon::Queue),
    ("/notifications", Key::NavNotifications, Icon::Bell),
    ("/admin", Key::NavAdmin, Icon::Users),
];

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">{t(Key::A11ySkipToContent)}</a>
        <div class="layout">
            <aside class="sidebar">
                <a class="brand" href="/">
                    <svg class="brand-mark" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
                        <rect x="2" y="2" width="28" height="28" rx="7" fill="var(--accent)"/>
                        <path d="M9 11h14M9 16h14M9 21h9" stroke="var(--accent-contrast)" stroke-width="2.6" stroke-linecap="round"/>
                    </svg>
                    <span class="brand-text">
                        <span class="brand-name">{t(Key::AppName)}</span>
                        <span class="brand-tagline">{t(Key::AppTagline)}</span>
                    </span>
                </a>
                <nav aria-label=t(Key::NavMain) class="nav">
                    <ul>
                        {NAV
                            .iter()
                            .map(|(href, key, icon)| {
                                view! {
                                    <li>
                                        <A href=*href exact=true>
                                            <NavIcon icon=*icon/>
                                            <span>{t(*key)}</span>
                                        </A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                    <ul class="nav-secondary">
                        <li>
                            <a href="/api/docs" rel="external">
                                <NavIcon icon=Icon::Book/>
                                <span>{t(Key::NavApiDocs)}</span>
                            </a>
                        </li>
                    </ul>
                </nav>
            </aside>
            <div class="main-column">
                <header class="topbar">
                    <SimulatedClusterBadge/>
                    <div class="topbar-spacer"></div>
                    <LanguageSwitch/>
                    <ThemeToggle/>
                </header>
                <main id="main" tabindex="-1" class="content">{children()}</main>
            </div>
        </div>
    }
}
