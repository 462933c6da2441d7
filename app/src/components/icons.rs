//! Small line icons for the navigation, drawn inline so no icon font is downloaded.

use leptos::prelude::*;

#[derive(Clone, Copy)]
pub enum Icon {
    Dashboard,
    Servers,
    Shield,
    Archive,
    Layers,
    Activity,
    Queue,
    Bell,
    Users,
    Book,
}

impl Icon {
    fn path(self) -> &'static str {
        match self {
            Icon::Dashboard => "M3 3h7v9H3zM14 3h7v5h-7zM14 12h7v9h-7zM3 16h7v5H3z",
            Icon::Servers => "M3 4h18v6H3zM3 14h18v6H3zM7 7h.01M7 17h.01",
            Icon::Shield => "M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z",
            Icon::Archive => "M3 4h18v4H3zM5 8v12h14V8M10 12h4",
            Icon::Layers => "M12 3l9 5-9 5-9-5zM3 13l9 5 9-5",
            Icon::Activity => "M3 12h4l3-8 4 16 3-8h4",
            Icon::Queue => "M4 6h16M4 12h16M4 18h10",
            Icon::Bell => "M6 16V11a6 6 0 1 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0",
            Icon::Users => {
                "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21c0-4 3-6 7-6s7 2 7 6M17 11a3 3 0 1 0 0-6M22 21c0-3-2-5-4-5.5"
            }
            Icon::Book => "M4 4h7a3 3 0 0 1 3 3v13a2 2 0 0 0-2-2H4zM20 4h-5a3 3 0 0 0-3 3",
        }
    }
}

#[component]
pub fn NavIcon(icon: Icon) -> impl IntoView {
    view! {
        <svg
            class="nav-icon"
            viewBox="0 0 24 24"
            width="18"
            height="18"
            aria-hidden="true"
            fill="none"
            stroke="currentColor"
            stroke-width="1.8"
            stroke-linecap="round"
            stroke-linejoin="round"
        >
            <path d=icon.path() />
        </svg>
    }
}
