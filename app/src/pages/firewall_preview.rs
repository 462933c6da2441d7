//! A firewall preview as the pages show it (the bulk "Security groups…" dialog, the group
//! editor's Review): warnings first, then per server the rules that start or stop being
//! enforced, each with where it comes from.

use leptos::prelude::*;
use model::firewall::preview::{Preview, ServerPreview};
use model::AppError;

use crate::i18n::{t, Key};

/// A preview that came back, or why it did not (`error_id`: the error's test id).
#[component]
pub fn PreviewOutcome(result: Result<Preview, AppError>, error_id: &'static str) -> impl IntoView {
    match result {
        Ok(p) => view! { <PreviewPanel preview=p /> }.into_any(),
        Err(e) => view! {
            <p class="error" role="alert" data-testid=error_id>
                {e.message}
            </p>
        }
        .into_any(),
    }
}

#[component]
pub fn PreviewPanel(preview: Preview) -> impl IntoView {
    let Preview { servers, affected, warnings } = preview;
    let warnings_view = if warnings.is_empty() {
        view! {
            <p class="muted" data-testid="preview-no-warnings">
                {t(Key::PreviewNoWarnings)}
            </p>
        }
        .into_any()
    } else {
        view! {
            <ul class="preview-warnings">
                {warnings
                    .into_iter()
                    .map(|w| {
                        view! {
                            <li
                                class="warning"
                                role="alert"
                                data-testid="preview-warning"
                                data-kind=format!("{:?}", w.kind)
                            >
                                {w.message}
                                {w
                                    .already
                                    .then(|| {
                                        view! {
                                            " "
                                            <span class="badge badge-muted">{t(Key::PreviewAlready)}</span>
                                        }
                                    })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section class="preview" data-testid="preview" data-affected=affected.len()>
            <h4>{t(Key::PreviewWarnings)}</h4>
            {warnings_view}
            <h4>{t(Key::PreviewTitle)}</h4>
            {affected
                .is_empty()
                .then(|| {
                    view! {
                        <p class="muted" data-testid="preview-unchanged">
                            {t(Key::PreviewUnchanged)}
                        </p>
                    }
                })}
            <ul>{servers.into_iter().map(server_view).collect_view()}</ul>
        </section>
    }
}

fn server_view(s: ServerPreview) -> impl IntoView {
    let groups = |g: &[String]| if g.is_empty() { "—".to_owned() } else { g.join(", ") };
    let summary = format!("{}: {} → {}", s.name, groups(&s.groups_before), groups(&s.groups_after));
    let changed = s.changes();
    let lines = s.diff.iter().map(|l| format!("{} {}", l.op, l.rule.line())).collect::<Vec<_>>().join("\n");
    view! {
        <li data-testid="preview-server" data-server=s.name.clone() data-changes=changed.to_string()>
            <details>
                <summary>{summary}</summary>
                <pre class="preview-diff" data-testid="preview-diff">
                    {lines}
                </pre>
            </details>
        </li>
    }
}
