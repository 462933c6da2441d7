//! The frame around every page: sidebar navigation, top bar, main content.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::components::icons::{Icon, NavIcon};
use crate::components::language::LanguageSwitch;
use crate::components::theme::ThemeToggle;
use crate::functions::auth::CurrentUserResource;
use crate::functions::system::SimulatedClusterBadge;
use crate::i18n::{t, Key};
use model::auth::Permission;

/// Every area the product has, in navigation order, with the permission it needs to be
/// shown (`None`: every signed-in user).
pub const NAV: &[(&str, Key, Icon, Option<Permission>)] = &[
    ("/", Key::NavDashboard, Icon::Dashboard, None),
    ("/servers", Key::NavServers, Icon::Servers, None),
    ("/security-groups", Key::NavSecurityGroups, Icon::Shield, None),
    ("/backups", Key::NavBackups, Icon::Archive, None),
    ("/roles", Key::NavRoles, Icon::Layers, None),
    ("/monitoring", Key::NavMonitoring, Icon::Activity, None),
    ("/jobs", Key::NavJobs, Icon::Queue, None),
    ("/notifications", Key::NavNotifications, Icon::Bell, None),
    ("/admin", Key::NavAdmin, Icon::Users, Some(Permission::ManageUsers)),
];

/// Pages shown without the navigation frame: nobody is signed in there yet (or they must
/// change their password before going anywhere).
const BARE_PAGES: [&str; 2] = ["/login", "/change-password"];

#[component]
pub fn Layout(children: ChildrenFn) -> impl IntoView {
    let location = use_location();
    let bare = move || BARE_PAGES.contains(&location.pathname.get().as_str());
    view! {
        <Show
            when=bare
            fallback={
                let children = children.clone();
                move || view! { <Frame children=children.clone() /> }
            }
        >
            <div class="bare">
                <header class="bare-top">
                    <span class="brand-name">{t(Key::AppName)}</span>
                    <div class="topbar-spacer"></div>
                    <LanguageSwitch />
                    <ThemeToggle />
                </header>
                <main id="main" tabindex="-1" class="bare-main">
                    {children()}
                </main>
            </div>
        </Show>
    }
}

/// The signed-in frame: sidebar, top bar with the user menu, content.
#[component]
fn Frame(children: ChildrenFn) -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    // Signed-in pages get live events (notifications, job progress and results).
    let live = expect_context::<crate::components::live::Live>();
    Effect::new(move |_| live.connect());
    view! {
        <a class="skip-link" href="#main">
            {t(Key::A11ySkipToContent)}
        </a>
        <div class="layout">
            <aside class="sidebar">
                <a class="brand" href="/">
                    <svg class="brand-mark" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
                        <rect x="2" y="2" width="28" height="28" rx="7" fill="var(--accent)" />
                        <path
                            d="M9 11h14M9 16h14M9 21h9"
                            stroke="var(--accent-contrast)"
                            stroke-width="2.6"
                            stroke-linecap="round"
                        />
                    </svg>
                    <span class="brand-text">
                        <span class="brand-name">{t(Key::AppName)}</span>
                        <span class="brand-tagline">{t(Key::AppTagline)}</span>
                    </span>
                </a>
                <nav aria-label=t(Key::NavMain) class="nav">
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            let user = me.await.ok().flatten();
                            view! {
                                <ul>
                                    {NAV
                                        .iter()
                                        .filter(|(_, _, _, need)| {
                                            need.is_none_or(|p| user.as_ref().is_some_and(|u| u.can(p)))
                                        })
                                        .map(|(href, key, icon, _)| {
                                            view! {
                                                <li>
                                                    <A href=*href exact=*href == "/">
                                                        <NavIcon icon=*icon />
                                                        <span>{t(*key)}</span>
                                                    </A>
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                        })}
                    </Suspense>
                    <ul class="nav-secondary">
                        <li>
                            <a href="/api/docs" rel="external">
                                <NavIcon icon=Icon::Book />
                                <span>{t(Key::NavApiDocs)}</span>
                            </a>
                        </li>
                    </ul>
                </nav>
            </aside>
            <div class="main-column">
                <header class="topbar">
                    <SimulatedClusterBadge />
                    <div class="topbar-spacer"></div>
                    <LanguageSwitch />
                    <ThemeToggle />
                    <crate::components::notifications::NotificationBell />
                    <UserMenu />
                </header>
                <main id="main" tabindex="-1" class="content">
                    {children()}
                </main>
                <crate::components::live::JobToast />
            </div>
        </div>
    }
}

/// The signed-in user's name and role, their profile, and logout.
#[component]
fn UserMenu() -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await
                    .ok()
                    .flatten()
                    .map(|u| {
                        view! {
                            <div class="user-menu" data-testid="user-menu">
                                <A href="/profile" attr:class="user-name">
                                    <span>{u.username.clone()}</span>
                                    <span class=format!("badge role-badge role-{}", u.role)>{u.role.clone()}</span>
                                </A>
                                // A POST (not a link): another site cannot log anyone out.
                                <form method="post" action="/logout" class="inline-form">
                                    <button type="submit" class="button" data-testid="logout">
                                        {t(Key::UserLogout)}
                                    </button>
                                </form>
                            </div>
                        }
                    })
            })}
        </Suspense>
    }
}
