//! Security groups: the list (rules, servers using each, create, delete) and one group's rule
//! editor.
//!
//! The editor works two ways. Without JavaScript each row's buttons are small forms that
//! apply at once, each carrying the digest the page was rendered with (a stale one is refused
//! and the page says so). Hydrated, the same buttons, drag and drop and Alt+↑/↓ change a
//! *draft* instead; Review shows what changes and which servers get it, Apply sends the whole
//! list at once (`save_rules`), and Undo steps back through the draft.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use model::auth::Permission;
use model::firewall::{macros::MACRO_DEFS, Rule, RuleInput, RuleList, SecurityGroup};

use crate::components::confirm::ConfirmSubmit;
use crate::functions::auth::CurrentUserResource;
use crate::functions::firewall::{
    firewall_status, get_group, list_groups, AddRule, CreateGroup, DeleteGroup, DeleteRule, MoveRule, PreviewRules,
    SaveRules, ToggleRule,
};
use crate::i18n::{t, Key};
use crate::pages::firewall_preview::PreviewOutcome;
use crate::url::percent_encode;
use crate::PageHeader;

fn error_box(message: String) -> impl IntoView {
    view! {
        <div class="alert alert-error" role="alert" data-testid="group-error">
            {message}
        </div>
    }
}

#[component]
pub fn SecurityGroupsPage() -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    let create = ServerAction::<CreateGroup>::new();
    let delete = ServerAction::<DeleteGroup>::new();
    let groups = Resource::new(move || (create.version().get(), delete.version().get()), |_| list_groups());
    let status = Resource::new(|| (), |_| firewall_status());
    view! {
        <PageHeader title=Key::NavSecurityGroups />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                status
                    .await
                    .ok()
                    .filter(|s| !s.datacenter_enabled)
                    .map(|_| {
                        view! {
                            <div class="alert alert-warning" role="status" data-testid="datacenter-off">
                                {t(Key::GroupsDatacenterOff)}
                            </div>
                        }
                    })
            })}
        </Suspense>
        {move || delete.value().get().and_then(|r| r.err()).map(|e| error_box(e.to_string()))}
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let can_manage = me.await.ok().flatten().is_some_and(|u| u.can(Permission::ManageFirewallGroups));
                match groups.await {
                    Ok(list) if list.is_empty() => {
                        view! {
                            <p class="muted" data-testid="groups-empty">
                                {t(Key::GroupsEmpty)}
                            </p>
                        }
                            .into_any()
                    }
                    Ok(list) => {
                        view! {
                            <table class="table" data-testid="groups">
                                <thead>
                                    <tr>
                                        <th>{t(Key::ServersName)}</th>
                                        <th>{t(Key::GroupsRules)}</th>
                                        <th>{t(Key::GroupsUsedBy)}</th>
                                        <th></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list
                                        .into_iter()
                                        .map(|g| {
                                            let name = g.name.clone();
                                            let used = if g.instance_count == 0 {
                                                view! { <span class="muted">{t(Key::GroupsNotUsed)}</span> }.into_any()
                                            } else {
                                                view! { <span>{g.used_by.join(", ")}</span> }.into_any()
                                            };
                                            view! {
                                                <tr data-testid="group-row" data-name=g.name.clone()>
                                                    <td>
                                                        <a href=format!("/security-groups/{}", percent_encode(&g.name))>
                                                            <strong>{g.name.clone()}</strong>
                                                        </a>
                                                        <div class="muted small">{g.description.clone()}</div>
                                                    </td>
                                                    <td data-testid="group-rules">{g.rules_count}</td>
                                                    <td>{used}</td>
                                                    <td>
                                                        {can_manage
                                                            .then(|| {
                                                                view! {
                                                                    <ActionForm action=delete attr:class="inline-form">
                                                                        <input type="hidden" name="name" value=name />
                                                                        <ConfirmSubmit
                                                                            label=Key::ActionDelete
                                                                            confirm=Key::GroupsDeleteYes
                                                                        />
                                                                    </ActionForm>
                                                                }
                                                            })}
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }
                    Err(e) => error_box(e.to_string()).into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let can_manage = me.await.ok().flatten().is_some_and(|u| u.can(Permission::ManageFirewallGroups));
                view! { <crate::pages::firewall_sets::SetsAndAliases can_manage=can_manage /> }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await
                    .ok()
                    .flatten()
                    .filter(|u| u.can(Permission::ManageFirewallGroups))
                    .map(|_| {
                        view! {
                            <section class="card section-gap">
                                <h2>{t(Key::GroupsNew)}</h2>
                                {move || create.value().get().and_then(|r| r.err()).map(|e| error_box(e.to_string()))}
                                <ActionForm action=create attr:class="form-grid">
                                    <label class="field">
                                        <span>{t(Key::ServersName)}</span>
                                        <input
                                            name="name"
                                            required
                                            maxlength="18"
                                            pattern="[A-Za-z][A-Za-z0-9_\\-]+"
                                            title=t(Key::GroupsNameHint)
                                            data-testid="new-group-name"
                                        />
                                    </label>
                                    <label class="field">
                                        <span>{t(Key::ServersDescription)}</span>
                                        <input name="description" />
                                    </label>
                                    <button type="submit" class="button button-primary">
                                        {t(Key::GroupsCreate)}
                                    </button>
                                </ActionForm>
                            </section>
                        }
                    })
            })}
        </Suspense>
    }
}

/// One rule of the draft: where it came from in the list read (`None`: new) and what it is.
#[derive(Debug, Clone, PartialEq)]
struct Draft {
    /// Stable across reorders, so a moved row keeps its DOM node (and the keyboard focus).
    id: usize,
    origin: Option<u32>,
    rule: Rule,
}

fn drafts_of(rules: &[Rule]) -> Vec<Draft> {
    rules.iter().enumerate().map(|(i, r)| Draft { id: i, origin: Some(r.pos), rule: r.clone() }).collect()
}

/// What a refused rule change carries: the fields as sent, and (stale digest) the current list.
#[derive(Debug, Default, serde::Deserialize)]
struct RefusedDetails {
    #[serde(default)]
    input: Option<RuleInput>,
    #[serde(default)]
    rules: Vec<Rule>,
}

fn details_of(e: &model::AppError) -> RefusedDetails {
    e.details.as_ref().and_then(|d| leptos::serde_json::from_str(d.get()).ok()).unwrap_or_default()
}

/// What a rule matches, in one line: the macro or protocol and port.
fn service_of(r: &Rule) -> String {
    let mut out = r.macro_name.clone().unwrap_or_default();
    if let Some(p) = &r.proto {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(p);
    }
    if let Some(d) = &r.dport {
        out.push_str(&format!(" {d}"));
    }
    out
}

/// How the draft differs from the list read, row by row (`None`: unchanged).
fn change_of(d: &Draft, index: usize, base: &[Rule]) -> Option<Key> {
    match d.origin.and_then(|o| base.get(o as usize)) {
        None => Some(Key::DraftAdded),
        Some(b) if Rule { pos: 0, ..b.clone() } != Rule { pos: 0, ..d.rule.clone() } => Some(Key::DraftChanged),
        Some(b) if b.pos as usize != index => Some(Key::DraftMoved),
        Some(_) => None,
    }
}

#[component]
pub fn SecurityGroupPage() -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    let params = use_params_map();
    let name = move || params.with(|p| p.get("name").unwrap_or_default());
    let add = ServerAction::<AddRule>::new();
    let toggle = ServerAction::<ToggleRule>::new();
    let moved = ServerAction::<MoveRule>::new();
    let deleted = ServerAction::<DeleteRule>::new();
    let saved = ServerAction::<SaveRules>::new();
    let previewed = ServerAction::<PreviewRules>::new();
    let group = Resource::new(
        move || {
            (
                name(),
                add.version().get(),
                toggle.version().get(),
                moved.version().get(),
                deleted.version().get(),
                saved.version().get(),
            )
        },
        |(n, ..)| get_group(n),
    );
    // The draft (hydrated only): the rows shown, the list read, and the steps back.
    let draft = RwSignal::new(Vec::<Draft>::new());
    let base = RwSignal::new(None::<SecurityGroup>);
    let history = RwSignal::new(Vec::<Vec<Draft>>::new());
    let dragging = RwSignal::new(None::<usize>);
    let reviewing = RwSignal::new(false);
    let dirty = move || {
        base.with(|b| b.as_ref().map(|g| drafts_of(&g.rules))) != Some(draft.get()) && base.with(Option::is_some)
    };
    let change = move |f: &dyn Fn(&mut Vec<Draft>)| {
        // A review (and its preview) is of the draft as it was: edit, then review again.
        reviewing.set(false);
        history.update(|h| h.push(draft.get_untracked()));
        draft.update(|d| f(d));
    };
    // What the add form sends and shows, as of the latest read (page-level: the form is
    // rendered again on every read, and must never hold on to a signal of an earlier render).
    let latest = move || base.with(|b| b.clone()).or_else(|| group.get().and_then(Result::ok));
    let digest_now = Signal::derive(move || latest().map(|g| g.digest).unwrap_or_default());
    let count_now = Signal::derive(move || latest().map_or(0, |g| g.rules.len()));
    let dirty_now = Signal::derive(dirty);
    // Each read of the group starts a fresh draft.
    Effect::new(move |_| {
        if let Some(Ok(g)) = group.get() {
            draft.set(drafts_of(&g.rules));
            history.set(Vec::new());
            base.set(Some(g));
            reviewing.set(false);
        }
    });
    let move_row = move |from: usize, to: usize| {
        change(&|d: &mut Vec<Draft>| {
            if from < d.len() && to < d.len() {
                let r = d.remove(from);
                d.insert(to, r);
            }
        })
    };
    // The draft as the whole list Apply sends (and Review previews).
    let draft_list = move || {
        let g = base.get_untracked()?;
        let rules = draft.get_untracked().iter().map(|d| RuleInput::from_rule(&d.rule, d.origin)).collect();
        Some((g.name.clone(), RuleList { digest: Some(g.digest.clone()), rules, dry_run: false }))
    };
    let apply = move |_| {
        if let Some((group, list)) = draft_list() {
            saved.dispatch(SaveRules { group, list });
        }
    };
    let review = move |_| {
        reviewing.set(true);
        if let Some((group, list)) = draft_list() {
            previewed.dispatch(PreviewRules { group, list: RuleList { dry_run: true, ..list } });
        }
    };
    let last_error = move || {
        [
            add.value().get().and_then(|r| r.err()),
            toggle.value().get().and_then(|r| r.err()),
            moved.value().get().and_then(|r| r.err()),
            deleted.value().get().and_then(|r| r.err()),
            saved.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    // The fields of a failed add, to show again.
    let kept = move |field: &'static str| -> String {
        let input = add.value().get().and_then(|r| r.err()).and_then(|e| details_of(&e).input).unwrap_or_default();
        match field {
            "type" => input.kind.map(|k| k.as_str().to_owned()),
            "action" => input.action,
            "macro" => input.macro_name,
            "proto" => input.proto,
            "dport" => input.dport,
            "source" => input.source,
            "dest" => input.dest,
            "comment" => input.comment,
            _ => None,
        }
        .unwrap_or_default()
    };

    view! {
        <PageHeader title=Key::NavSecurityGroups />
        <p>
            <a href="/security-groups">{t(Key::GroupsBack)}</a>
        </p>
        {move || {
            last_error()
                .map(|e| {
                    let stale = e.status == 409 && e.field.as_deref() == Some("digest");
                    let current: Vec<Rule> = details_of(&e).rules;
                    view! {
                        <div class="alert alert-error" role="alert" data-testid="group-error">
                            {if stale { t(Key::DraftStale)().to_owned() } else { e.to_string() }}
                        </div>
                        {(stale && !current.is_empty())
                            .then(|| {
                                view! {
                                    <section class="card" data-testid="current-rules">
                                        <h3>{t(Key::DraftCurrent)}</h3>
                                        <ol>
                                            {current
                                                .iter()
                                                .map(|r| {
                                                    view! {
                                                        <li>
                                                            {format!(
                                                                "{} {} {}",
                                                                r.kind.as_str(),
                                                                r.action,
                                                                service_of(r),
                                                            )}
                                                        </li>
                                                    }
                                                })
                                                .collect_view()}
                                        </ol>
                                    </section>
                                }
                            })}
                    }
                })
        }}
        <Transition fallback=|| {
            view! { <p class="muted">"…"</p> }
        }>
            {move || Suspend::new(async move {
                let can_manage = me.await.ok().flatten().is_some_and(|u| u.can(Permission::ManageFirewallGroups));
                match group.await {
                    Err(e) => error_box(e.to_string()).into_any(),
                    Ok(g) => {
                        let gname = g.name.clone();
                        let digest = g.digest.clone();
                        let base_rules = g.rules.clone();
                        let count = g.rules.len();
                        let used_by = g.used_by.clone();
                        let rows = move || {
                            let d = draft.get();
                            if d.is_empty() && base.with(Option::is_none) { drafts_of(&base_rules) } else { d }
                        };
                        // Server-rendered rows come from the group as read; hydrated, from the draft.
                        view! {
                            <section class="card" data-testid="group-detail">
                                <h2 data-testid="group-name">{g.name.clone()}</h2>
                                <p class="muted">{g.description.clone()}</p>
                                <p class="small">
                                    {t(Key::GroupsUsedBy)}": "
                                    {if used_by.is_empty() {
                                        t(Key::GroupsNotUsed)().to_owned()
                                    } else {
                                        used_by.join(", ")
                                    }}
                                </p>
                                {(count > 0 && can_manage)
                                    .then(|| view! { <p class="muted small">{t(Key::RulesHint)}</p> })}
                                {(count == 0)
                                    .then(|| {
                                        view! {
                                            <p class="muted" data-testid="rules-empty">
                                                {t(Key::RulesEmpty)}
                                            </p>
                                        }
                                    })}
                                <table class="table" data-testid="rules">
                                    <thead>
                                        <tr>
                                            <th>"#"</th>
                                            <th>{t(Key::RulesEnabled)}</th>
                                            <th>{t(Key::RulesDirection)}</th>
                                            <th>{t(Key::RulesAction)}</th>
                                            <th>{t(Key::RulesMacro)}</th>
                                            <th>{t(Key::RulesSource)}</th>
                                            <th>{t(Key::RulesDest)}</th>
                                            <th>{t(Key::RulesComment)}</th>
                                            <th></th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        <For
                                            each=rows
                                            key=|d| d.id
                                            children=move |d| {
                                                let id = d.id;
                                                let fallback = d.origin.unwrap_or(0) as usize;
                                                let index = move || {
                                                    draft
                                                        .with(|v| v.iter().position(|x| x.id == id))
                                                        .unwrap_or(fallback)
                                                };
                                                let now = {
                                                    let read = d.clone();
                                                    move || {
                                                        draft
                                                            .with(|v| v.iter().find(|x| x.id == id).cloned())
                                                            .unwrap_or_else(|| read.clone())
                                                    }
                                                };
                                                let r = d.rule.clone();
                                                let pos = d.origin.unwrap_or(0);
                                                let (gname, digest) = (gname.clone(), digest.clone());
                                                let (now_a, now_b, now_c, now_d, now_e) = (
                                                    now.clone(),
                                                    now.clone(),
                                                    now.clone(),
                                                    now.clone(),
                                                    now,
                                                );
                                                let mark_attr = move || {
                                                    base.with(|b| {
                                                            b.as_ref()
                                                                .and_then(|b| change_of(&now_a(), index(), &b.rules))
                                                        })
                                                        .map(|k| t(k)())
                                                };
                                                let mark_badge = move || {
                                                    base.with(|b| {
                                                            b.as_ref()
                                                                .and_then(|b| change_of(&now_b(), index(), &b.rules))
                                                        })
                                                        .map(|k| {
                                                            // Where the row is now, and what it holds, in the draft (the list
                                                            // as read before hydration). Plain closures over the page's
                                                            // signals: nothing here may be disposed while a row still shows.
                                                            view! { <span class="badge small">{t(k)}</span> }
                                                        })
                                                };
                                                let off = move || !now_c().rule.enable;
                                                let pressed = move || {
                                                    if now_d().rule.enable { "true" } else { "false" }
                                                };
                                                let label = move || {
                                                    if now_e().rule.enable {
                                                        t(Key::RulesOn)()
                                                    } else {
                                                        t(Key::RulesOff)()
                                                    }
                                                };
                                                let last = move || index() + 1 >= draft.with(Vec::len).max(count);
                                                let hidden = move || {
                                                    // Where the row is now, and what it holds, in the draft (the list
                                                    // as read before hydration).
                                                    // A kept rule's buttons work on the list as read (no JS);
                                                    // hydrated they change the draft instead.
                                                    view! {
                                                        <input type="hidden" name="group" value=gname.clone() />
                                                        <input type="hidden" name="pos" value=pos />
                                                        <input type="hidden" name="digest" value=digest.clone() />
                                                    }
                                                };
                                                let hidden2 = hidden.clone();
                                                let hidden3 = hidden.clone();
                                                let hidden4 = hidden.clone();
                                                view! {
                                                    <tr
                                                        data-testid="rule-row"
                                                        data-port=service_of(&r)
                                                        data-change=mark_attr
                                                        class:rule-off=off
                                                        class:dragging=move || dragging.get() == Some(index())
                                                        tabindex="0"
                                                        draggable=can_manage.then_some("true")
                                                        on:dragstart=move |_| dragging.set(Some(index()))
                                                        on:dragover=move |e| e.prevent_default()
                                                        on:drop=move |e| {
                                                            e.prevent_default();
                                                            if let Some(from) = dragging.get_untracked() {
                                                                move_row(from, index());
                                                            }
                                                            dragging.set(None);
                                                        }
                                                        on:dragend=move |_| dragging.set(None)
                                                        on:keydown=move |e| {
                                                            if !can_manage || !e.alt_key() {
                                                                return;
                                                            }
                                                            let i = index();
                                                            match e.key().as_str() {
                                                                "ArrowUp" if i > 0 => {
                                                                    e.prevent_default();
                                                                    move_row(i, i - 1);
                                                                }
                                                                "ArrowDown" => {
                                                                    e.prevent_default();
                                                                    move_row(i, i + 1);
                                                                }
                                                                _ => {}
                                                            }
                                                        }
                                                    >
                                                        <td data-testid="rule-index">{move || index()}</td>
                                                        <td>
                                                            {if can_manage {
                                                                view! {
                                                                    <ActionForm action=toggle attr:class="inline-form">
                                                                        {hidden()}
                                                                        <input
                                                                            type="hidden"
                                                                            name="enable"
                                                                            value=if r.enable { "0" } else { "1" }
                                                                        />
                                                                        <button
                                                                            type="submit"
                                                                            class="button small"
                                                                            data-testid="rule-toggle"
                                                                            aria-pressed=pressed
                                                                            on:click=move |e| {
                                                                                e.prevent_default();
                                                                                let i = index();
                                                                                change(
                                                                                    &|d: &mut Vec<Draft>| {
                                                                                        if let Some(x) = d.get_mut(i) {
                                                                                            x.rule.enable = !x.rule.enable;
                                                                                        }
                                                                                    },
                                                                                );
                                                                            }
                                                                        >
                                                                            {label}
                                                                        </button>
                                                                    </ActionForm>
                                                                }
                                                                    .into_any()
                                                            } else {
                                                                view! {
                                                                    <span>
                                                                        {if r.enable { t(Key::RulesOn) } else { t(Key::RulesOff) }}
                                                                    </span>
                                                                }
                                                                    .into_any()
                                                            }}
                                                        </td>
                                                        <td>{r.kind.as_str()}</td>
                                                        <td>{r.action.clone()}</td>
                                                        <td>
                                                            <code>{service_of(&r)}</code>
                                                        </td>
                                                        <td>
                                                            {r
                                                                .source
                                                                .clone()
                                                                .unwrap_or_else(|| t(Key::RulesAny)().to_owned())}
                                                        </td>
                                                        <td>
                                                            {r
                                                                .dest
                                                                .clone()
                                                                .unwrap_or_else(|| t(Key::RulesAny)().to_owned())}
                                                        </td>
                                                        <td>{r.comment.clone()} {mark_badge}</td>
                                                        <td class="row-actions">
                                                            {can_manage
                                                                .then(|| {
                                                                    view! {
                                                                        <ActionForm action=moved attr:class="inline-form">
                                                                            {hidden2()}
                                                                            <input
                                                                                type="hidden"
                                                                                name="to"
                                                                                value=pos.saturating_sub(1)
                                                                            />
                                                                            <button
                                                                                type="submit"
                                                                                class="icon-button"
                                                                                aria-label=t(Key::RulesUp)
                                                                                title=t(Key::RulesUp)
                                                                                disabled=move || index() == 0
                                                                                data-testid="rule-up"
                                                                                on:click=move |e| {
                                                                                    e.prevent_default();
                                                                                    let i = index();
                                                                                    if i > 0 {
                                                                                        move_row(i, i - 1);
                                                                                    }
                                                                                }
                                                                            >
                                                                                "↑"
                                                                            </button>
                                                                        </ActionForm>
                                                                        <ActionForm action=moved attr:class="inline-form">
                                                                            {hidden3()}
                                                                            <input type="hidden" name="to" value=pos + 1 />
                                                                            <button
                                                                                type="submit"
                                                                                class="icon-button"
                                                                                aria-label=t(Key::RulesDown)
                                                                                title=t(Key::RulesDown)
                                                                                disabled=last
                                                                                data-testid="rule-down"
                                                                                on:click=move |e| {
                                                                                    e.prevent_default();
                                                                                    let i = index();
                                                                                    move_row(i, i + 1);
                                                                                }
                                                                            >
                                                                                "↓"
                                                                            </button>
                                                                        </ActionForm>
                                                                        <ActionForm action=deleted attr:class="inline-form">
                                                                            {hidden4()}
                                                                            <button
                                                                                type="submit"
                                                                                class="button button-danger small"
                                                                                data-testid="rule-delete"
                                                                                on:click=move |e| {
                                                                                    e.prevent_default();
                                                                                    let i = index();
                                                                                    change(
                                                                                        &|d: &mut Vec<Draft>| {
                                                                                            if i < d.len() {
                                                                                                d.remove(i);
                                                                                            }
                                                                                        },
                                                                                    );
                                                                                }
                                                                            >
                                                                                {t(Key::ActionDelete)}
                                                                            </button>
                                                                        </ActionForm>
                                                                    }
                                                                })}
                                                        </td>
                                                    </tr>
                                                }
                                            }
                                        />
                                    </tbody>
                                </table>
                                {can_manage
                                    .then(|| {
                                        view! {
                                            <div class="toolbar" data-testid="draft-bar">
                                                <Show when=dirty>
                                                    <strong data-testid="draft-unsaved">{t(Key::DraftUnsaved)}</strong>
                                                </Show>
                                                <button
                                                    type="button"
                                                    class="button"
                                                    data-testid="draft-undo"
                                                    disabled=move || history.with(Vec::is_empty)
                                                    on:click=move |_| {
                                                        if let Some(prev) = history.try_update(|h| h.pop()).flatten() {
                                                            draft.set(prev);
                                                        }
                                                    }
                                                >
                                                    {t(Key::DraftUndo)}
                                                </button>
                                                <button
                                                    type="button"
                                                    class="button"
                                                    disabled=move || !dirty()
                                                    data-testid="draft-discard"
                                                    on:click=move |_| {
                                                        if let Some(g) = base.get_untracked() {
                                                            change(&|d: &mut Vec<Draft>| *d = drafts_of(&g.rules));
                                                        }
                                                        reviewing.set(false);
                                                    }
                                                >
                                                    {t(Key::DraftDiscard)}
                                                </button>
                                                <button
                                                    type="button"
                                                    class="button button-primary"
                                                    disabled=move || !dirty()
                                                    data-testid="draft-review"
                                                    on:click=review
                                                >
                                                    {t(Key::DraftReview)}
                                                </button>
                                            </div>
                                            <Show when=move || reviewing.get() && dirty()>
                                                <Review draft=draft base=base preview=previewed />
                                                <button
                                                    type="button"
                                                    class="button button-primary"
                                                    data-testid="draft-apply"
                                                    disabled=move || saved.pending().get()
                                                    on:click=apply
                                                >
                                                    {t(Key::DraftApply)}
                                                </button>
                                            </Show>
                                        }
                                    })}
                            </section>
                            {can_manage
                                .then(|| {
                                    view! {
                                        <AddRuleForm
                                            add=add
                                            group=g.name.clone()
                                            digest=digest_now
                                            count=count_now
                                            dirty=dirty_now
                                            kept=kept
                                        />
                                    }
                                })}
                        }
                            .into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// What Apply will do: rows added, removed, moved or changed, the servers that get it and, from
/// the server's preview of the draft, what changes on each of them and what to watch out for.
#[component]
fn Review(
    draft: RwSignal<Vec<Draft>>,
    base: RwSignal<Option<SecurityGroup>>,
    preview: ServerAction<PreviewRules>,
) -> impl IntoView {
    move || {
        let Some(g) = base.get() else { return ().into_any() };
        let d = draft.get();
        let kept: Vec<u32> = d.iter().filter_map(|x| x.origin).collect();
        let removed: Vec<&Rule> = g.rules.iter().filter(|r| !kept.contains(&r.pos)).collect();
        let lines: Vec<(Key, String)> = d
            .iter()
            .enumerate()
            .filter_map(|(i, x)| {
                change_of(x, i, &g.rules)
                    .map(|k| (k, format!("#{i} {} {} {}", x.rule.kind.as_str(), x.rule.action, service_of(&x.rule))))
            })
            .chain(
                removed
                    .iter()
                    .map(|r| (Key::DraftRemoved, format!("{} {} {}", r.kind.as_str(), r.action, service_of(r)))),
            )
            .collect();
        view! {
            <section class="card section-gap" data-testid="draft-review-panel">
                <h3>{t(Key::DraftReview)}</h3>
                <ul>
                    {lines
                        .into_iter()
                        .map(|(k, text)| {
                            view! {
                                <li data-testid="draft-line">
                                    <span class="badge small">{t(k)}</span>
                                    " "
                                    {text}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
                <h4>{t(Key::DraftAffects)}</h4>
                <p data-testid="draft-servers">
                    {if g.used_by.is_empty() { t(Key::DraftNoneAffected)().to_owned() } else { g.used_by.join(", ") }}
                </p>
                {move || {
                    if preview.pending().get() {
                        return None;
                    }
                    preview.value().get().map(|r| view! { <PreviewOutcome result=r error_id="draft-preview-error" /> })
                }}
            </section>
        }
        .into_any()
    }
}

/// Adds a rule at once (with or without JavaScript); what was typed stays when it is refused.
#[component]
fn AddRuleForm(
    add: ServerAction<AddRule>,
    group: String,
    /// The digest and rule count of the group as last read (hydrated, they follow each read).
    digest: Signal<String>,
    count: Signal<usize>,
    dirty: Signal<bool>,
    kept: impl Fn(&'static str) -> String + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let chosen = RwSignal::new(String::new());
    let expansion = move || {
        let m = chosen.get();
        MACRO_DEFS.iter().find(|d| d.name == m).map(|d| {
            let entries: Vec<String> = d
                .entries
                .iter()
                .map(|e| if e.dport.is_empty() { e.proto.to_owned() } else { format!("{} {}", e.proto, e.dport) })
                .collect();
            format!("{}: {}", d.description, entries.join(", "))
        })
    };
    view! {
        <section class="card section-gap">
            <h2>{t(Key::RulesAdd)}</h2>
            <Show when=move || dirty.get()>
                <p class="muted">{t(Key::DraftFinishFirst)}</p>
            </Show>
            <ActionForm action=add attr:class="form-grid" attr:data-testid="add-rule">
                <input type="hidden" name="group" value=group />
                <input type="hidden" name="digest" value=digest.get_untracked() prop:value=digest />
                <label class="field">
                    <span>{t(Key::RulesDirection)}</span>
                    <select name="direction">
                        <option value="in">"in"</option>
                        <option value="out" selected=move || kept("type") == "out">
                            "out"
                        </option>
                    </select>
                </label>
                <label class="field">
                    <span>{t(Key::RulesAction)}</span>
                    <select name="action">
                        {["ACCEPT", "DROP", "REJECT"]
                            .into_iter()
                            .map(|a| {
                                view! {
                                    <option value=a selected=move || kept("action") == a>
                                        {a}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span>{t(Key::RulesMacro)}</span>
                    <select
                        name="macro_name"
                        data-testid="rule-macro"
                        on:change=move |e| chosen.set(event_target_value(&e))
                    >
                        <option value="">"—"</option>
                        {MACRO_DEFS
                            .iter()
                            .map(|d| {
                                view! {
                                    <option value=d.name title=d.description selected=move || kept("macro") == d.name>
                                        {d.name}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    <small class="muted" data-testid="macro-expansion">
                        {expansion}
                    </small>
                </label>
                <label class="field">
                    <span>{t(Key::RulesProto)}</span>
                    <input name="proto" placeholder="tcp" value=move || kept("proto") />
                </label>
                <label class="field">
                    <span>{t(Key::RulesDport)}</span>
                    <input name="dport" placeholder="22, 80:90" value=move || kept("dport") data-testid="rule-dport" />
                </label>
                <label class="field">
                    <span>{t(Key::RulesSource)}</span>
                    <input name="source" placeholder="10.0.0.0/8, +ipset, alias" value=move || kept("source") />
                </label>
                <label class="field">
                    <span>{t(Key::RulesDest)}</span>
                    <input name="dest" value=move || kept("dest") />
                </label>
                <label class="field">
                    <span>{t(Key::RulesComment)}</span>
                    <input name="comment" value=move || kept("comment") data-testid="rule-comment" />
                </label>
                <label class="field">
                    <span>{t(Key::RulesPosition)}</span>
                    <input
                        name="position"
                        inputmode="numeric"
                        value=count.get_untracked().to_string()
                        prop:value=move || count.get().to_string()
                        data-testid="rule-position"
                    />
                </label>
                <label class="field checkbox">
                    <input type="checkbox" name="enable" checked=true />
                    <span>{t(Key::RulesEnabled)}</span>
                </label>
                <button type="submit" class="button button-primary" disabled=move || dirty.get() data-testid="rule-add">
                    {t(Key::RulesAdd)}
                </button>
            </ActionForm>
        </section>
    }
}

/// The bulk dialog's state, kept by the servers page so that a live refresh of the list (which
/// renders the bar again) neither closes the dialog nor loses the job it started.
#[derive(Clone, Copy)]
pub struct BulkGroupsState {
    open: RwSignal<bool>,
    mode: RwSignal<String>,
    chosen: RwSignal<String>,
    assign: ServerAction<crate::functions::firewall::AssignGroups>,
    preview: ServerAction<crate::functions::firewall::PreviewAssign>,
    /// What the preview shown was asked for: mode, group, servers.
    asked: RwSignal<Option<(String, String, Vec<String>)>>,
}

impl Default for BulkGroupsState {
    fn default() -> Self {
        Self::new()
    }
}

impl BulkGroupsState {
    pub fn new() -> Self {
        BulkGroupsState {
            open: RwSignal::new(false),
            mode: RwSignal::new("attach".to_owned()),
            chosen: RwSignal::new(String::new()),
            assign: ServerAction::new(),
            preview: ServerAction::new(),
            asked: RwSignal::new(None),
        }
    }
}

/// The servers page's bulk "Security groups…": attach, detach or set one group on the selected
/// servers. Preview first (per server: what changes, and warnings such as SSH being dropped),
/// then Apply starts one job and links to it.
#[component]
pub fn BulkGroups(selected: RwSignal<std::collections::BTreeSet<String>>, state: BulkGroupsState) -> impl IntoView {
    use crate::functions::firewall::{AssignGroups, PreviewAssign};
    let BulkGroupsState { open, mode, chosen, assign, preview, asked } = state;
    let groups = Resource::new(
        move || open.get(),
        |o| async move {
            if o {
                list_groups().await
            } else {
                Ok(Vec::new())
            }
        },
    );
    let current = move || {
        let g = chosen.get();
        (mode.get(), g, selected.get().into_iter().collect::<Vec<String>>())
    };
    // The preview shown is for what is chosen now, and came back.
    let previewed = move || {
        asked.get().as_ref() == Some(&current())
            && !preview.pending().get()
            && preview.value().with(|v| matches!(v, Some(Ok(_))))
    };
    let ask = move |_| {
        let (m, g, names) = current();
        let groups = if g.is_empty() { Vec::new() } else { vec![g.clone()] };
        asked.set(Some((m.clone(), g, names.clone())));
        preview.dispatch(PreviewAssign { names, mode: m, groups });
    };
    let run = move |_| {
        let (m, g, names) = current();
        let groups = if g.is_empty() { Vec::new() } else { vec![g] };
        assign.dispatch(AssignGroups { names, mode: m, groups });
        open.set(false);
        asked.set(None);
    };
    view! {
        <button type="button" class="button" data-testid="bulk-groups" on:click=move |_| open.update(|o| *o = !*o)>
            {t(Key::NavSecurityGroups)}
            "…"
        </button>
        {move || {
            assign
                .value()
                .get()
                .map(|r| match r {
                    Ok(id) => {
                        view! {
                            <a href=format!("/jobs/{id}") data-testid="groups-job">
                                {t(Key::ServersJobStarted)}
                                " #"
                                {id}
                            </a>
                        }
                            .into_any()
                    }
                    Err(e) => {
                        view! {
                            <span class="error" role="alert" data-testid="groups-error">
                                {e.message}
                            </span>
                        }
                            .into_any()
                    }
                })
        }}
        <Show when=move || open.get()>
            <div class="card section-gap" role="group" data-testid="bulk-groups-panel">
                <div class="toolbar">
                    <select
                        aria-label=t(Key::RulesAction)
                        data-testid="bulk-groups-mode"
                        on:change=move |e| mode.set(event_target_value(&e))
                    >
                        <option value="attach">"attach"</option>
                        <option value="detach">"detach"</option>
                        <option value="replace">"replace"</option>
                    </select>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            let list = groups.await.unwrap_or_default();
                            if let Some(first) = list.first() {
                                if chosen.get_untracked().is_empty() {
                                    chosen.set(first.name.clone());
                                }
                            }
                            view! {
                                <select
                                    aria-label=t(Key::NavSecurityGroups)
                                    data-testid="bulk-groups-group"
                                    on:change=move |e| chosen.set(event_target_value(&e))
                                >
                                    {list
                                        .into_iter()
                                        .map(|g| view! { <option value=g.name.clone()>{g.name.clone()}</option> })
                                        .collect_view()}
                                </select>
                            }
                        })}
                    </Suspense>
                    <span data-testid="bulk-groups-summary">
                        {move || {
                            format!(
                                "{} {} → {}",
                                mode.get(),
                                chosen.get(),
                                selected.get().into_iter().collect::<Vec<_>>().join(", "),
                            )
                        }}
                    </span>
                    <button
                        type="button"
                        class="button"
                        data-testid="bulk-groups-preview"
                        disabled=move || preview.pending().get()
                        on:click=ask
                    >
                        {t(Key::PreviewRun)}
                    </button>
                    <button
                        type="button"
                        class="button button-primary"
                        data-testid="bulk-groups-confirm"
                        disabled=move || !previewed()
                        title=t(Key::PreviewFirst)
                        on:click=run
                    >
                        {t(Key::DraftApply)}
                    </button>
                    <button type="button" class="button" on:click=move |_| open.set(false)>
                        {t(Key::ConfirmCancel)}
                    </button>
                </div>
                {move || {
                    if asked.get().as_ref() != Some(&current()) {
                        return None;
                    }
                    preview
                        .value()
                        .get()
                        .map(|r| view! { <PreviewOutcome result=r error_id="bulk-groups-preview-error" /> })
                }}
            </div>
        </Show>
    }
}
