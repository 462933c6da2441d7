//! A percentage as a bar (node CPU/memory, allocation, storage use). The bar stops at 100 %,
//! the number does not: an overcommitted node shows 140 %. Amber from 80 %, red from 95 %.

use leptos::prelude::*;

#[component]
pub fn Gauge(
    /// What is measured ("CPU allocated").
    #[prop(into)]
    label: String,
    percent: f64,
    /// Absolute figures beside the percentage ("24 of 32 vCPU").
    #[prop(optional, into)]
    detail: String,
) -> impl IntoView {
    let level = if percent >= 95.0 {
        "gauge gauge-danger"
    } else if percent >= 80.0 {
        "gauge gauge-warn"
    } else {
        "gauge"
    };
    let shown = format!("{percent:.0}%");
    // The bar's length is an SVG attribute, not a `style`: the Content-Security-Policy allows
    // no inline styles (server/src/security_headers.rs).
    let width = format!("{:.1}", percent.clamp(0.0, 100.0));
    let (aria_label, now, text) =
        (label.clone(), format!("{:.0}", percent.clamp(0.0, 100.0)), format!("{shown} {detail}"));
    view! {
        <div
            class=level
            role="meter"
            aria-label=aria_label
            aria-valuemin="0"
            aria-valuemax="100"
            aria-valuenow=now
            aria-valuetext=text
        >
            <span class="gauge-label">{label}</span>
            <span class="gauge-value">{shown}" "<span class="muted">{detail}</span></span>
            <svg class="gauge-track" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true">
                <rect class="gauge-fill" width=width height="1"></rect>
            </svg>
        </div>
    }
}

/// Bytes as GiB or TiB with one decimal.
pub fn size(bytes: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let gib = bytes as f64 / GIB;
    if gib >= 1024.0 {
        format!("{:.1} TiB", gib / 1024.0)
    } else {
        format!("{gib:.1} GiB")
    }
}

/// `part` of `whole` in percent (0 when there is no whole).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}
