//! One group's rule editor. Rows come from the list as read (server-rendered, and without
//! JavaScript) or from the draft (hydrated); Review shows the server's preview of the draft;
//! Apply sends the whole list.

use std::collections::HashMap;

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::auth::Permission;
use model::firewall::{Rule, RuleInput, RuleList, SecurityGroup};

use super::error_box;
use super::rule_form::{AddRuleForm, RefSuggestions, RuleEditor};
use crate::functions::auth::CurrentUserResource;
use crate::functions::firewall::{
    firewall_refs, get_group, AddRule, DeleteRule, MoveRule, PreviewRules, RuleForm, SaveRules, ToggleRule, UpdateRule,
};
use crate::i18n::{t, Key};
use crate::pages::firewall_preview::PreviewOutcome;
use crate::url::percent_encode;
use crate::PageHeader;

/// The id of the page's source/destination suggestions.
const REFS: &str = "rule-refs";

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

/// Refused because the list changed since it was read.
fn is_stale(e: &model::AppError) -> bool {
    e.status == 409 && e.field.as_deref() == Some("digest")
}

fn details_of(e: &model::AppError) -> RefusedDetails {
    e.details.as_ref().and_then(|d| leptos::serde_json::from_str(d.get()).ok()).unwrap_or_default()
}

/// A source or destination as the table shows it.
fn any(v: Option<String>) -> String {
    v.unwrap_or_else(|| t(Key::RulesAny)().to_owned())
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
        Some(b) if Rule { pos: b.pos, ..d.rule.clone() } != *b => Some(Key::DraftChanged),
        Some(b) if b.pos as usize != index => Some(Key::DraftMoved),
        Some(_) => None,
    }
}

/// The editor's state, shared by the page and its rows (all signals, so it is `Copy`).
#[derive(Clone, Copy)]
struct Editor {
    /// The rows shown (hydrated only; empty until the first read).
    draft: RwSignal<Vec<Draft>>,
    /// The list the draft started from.
    base: RwSignal<Option<SecurityGroup>>,
    /// The steps back (Undo).
    history: RwSignal<Vec<Vec<Draft>>>,
    dragging: RwSignal<Option<usize>>,
    reviewing: RwSignal<bool>,
    /// The draft row whose editor is open (server-rendered: `?edit=POS`).
    editing: RwSignal<Option<usize>>,
    /// Where each row (by id) is in the draft: one pass per change, which every row reads
    /// instead of searching the draft itself.
    at: Memo<HashMap<usize, usize>>,
    /// Whether the draft differs from the list read.
    dirty: Memo<bool>,
}

/// Whether `draft` is the list read, untouched (what `drafts_of(rules)` would give).
fn untouched(draft: &[Draft], rules: &[Rule]) -> bool {
    draft.len() == rules.len()
        && draft.iter().zip(rules).enumerate().all(|(i, (d, r))| d.id == i && d.origin == Some(r.pos) && d.rule == *r)
}

impl Editor {
    fn new(editing: Option<usize>) -> Editor {
        let draft = RwSignal::new(Vec::<Draft>::new());
        let base = RwSignal::new(None::<SecurityGroup>);
        Editor {
            draft,
            base,
            history: RwSignal::new(Vec::new()),
            dragging: RwSignal::new(None),
            reviewing: RwSignal::new(false),
            editing: RwSignal::new(editing),
            at: Memo::new(move |_| draft.with(|d| d.iter().enumerate().map(|(i, x)| (x.id, i)).collect())),
            dirty: Memo::new(move |_| {
                base.with(|b| b.as_ref().is_some_and(|g| draft.with(|d| !untouched(d, &g.rules))))
            }),
        }
    }

    /// `f` of the row `id` as the draft holds it (`read`: the row as read, before the draft).
    fn with_row<R>(self, id: usize, read: &Draft, f: impl FnOnce(&Draft) -> R) -> R {
        let i = self.at.with(|m| m.get(&id).copied());
        self.draft.with(|d| f(i.and_then(|i| d.get(i)).unwrap_or(read)))
    }

    /// One step of the draft, undoable. A review (and its preview) is of the draft as it was:
    /// after a change, review again.
    fn change(self, f: impl FnOnce(&mut Vec<Draft>)) {
        self.reviewing.set(false);
        self.history.update(|h| h.push(self.draft.get_untracked()));
        self.draft.update(f);
    }

    fn move_row(self, from: usize, to: usize) {
        self.change(|d| {
            if from < d.len() && to < d.len() {
                let r = d.remove(from);
                d.insert(to, r);
            }
        })
    }

    fn dirty(self) -> bool {
        self.dirty.get()
    }

    /// The draft as the whole list Apply sends (and Review previews).
    fn list(self) -> Option<(String, RuleList)> {
        let g = self.base.get_untracked()?;
        let rules = self.draft.get_untracked().iter().map(|d| RuleInput::from_rule(&d.rule, d.origin)).collect();
        Some((g.name.clone(), RuleList { digest: Some(g.digest.clone()), rules, dry_run: false }))
    }
}

/// The forms each row's buttons post without JavaScript.
#[derive(Clone, Copy)]
struct RowForms {
    toggle: ServerAction<ToggleRule>,
    moved: ServerAction<MoveRule>,
    deleted: ServerAction<DeleteRule>,
    update: ServerAction<UpdateRule>,
}

#[component]
pub fn SecurityGroupPage() -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    let params = use_params_map();
    let name = move || params.with(|p| p.get("name").unwrap_or_default());
    // The rule whose editor the page opens with (the no-JS Edit link).
    let asked: Option<usize> = use_query_map().with_untracked(|q| q.get("edit")).and_then(|e| e.parse().ok());
    let add = ServerAction::<AddRule>::new();
    let forms = RowForms {
        toggle: ServerAction::new(),
        moved: ServerAction::new(),
        deleted: ServerAction::new(),
        update: ServerAction::new(),
    };
    let saved = ServerAction::<SaveRules>::new();
    let previewed = ServerAction::<PreviewRules>::new();
    let group = Resource::new(
        move || {
            (
                name(),
                add.version().get(),
                forms.toggle.version().get(),
                forms.moved.version().get(),
                forms.deleted.version().get(),
                forms.update.version().get(),
                saved.version().get(),
            )
        },
        |(n, ..)| get_group(n),
    );
    let refs = Resource::new(|| (), |_| firewall_refs());
    let ed = Editor::new(asked);
    // What the add form sends and shows, as of the latest read (page-level: the form is
    // rendered again on every read, and must never hold on to a signal of an earlier render).
    let latest = move || ed.base.with(|b| b.clone()).or_else(|| group.get().and_then(Result::ok));
    let digest_now = Signal::derive(move || latest().map(|g| g.digest).unwrap_or_default());
    let count_now = Signal::derive(move || latest().map_or(0, |g| g.rules.len()));
    let dirty_now: Signal<bool> = ed.dirty.into();
    // Each read of the group starts a fresh draft, and (after the first) closes an open editor.
    Effect::new(move |seen: Option<bool>| {
        let Some(Ok(g)) = group.get() else { return seen.unwrap_or(false) };
        ed.draft.set(drafts_of(&g.rules));
        ed.history.set(Vec::new());
        ed.base.set(Some(g));
        ed.reviewing.set(false);
        if seen == Some(true) {
            ed.editing.set(None);
        }
        true
    });
    let apply = move |_| {
        if let Some((group, list)) = ed.list() {
            saved.dispatch(SaveRules { group, list });
        }
    };
    let review = move |_| {
        ed.reviewing.set(true);
        if let Some((group, list)) = ed.list() {
            previewed.dispatch(PreviewRules { group, list: RuleList { dry_run: true, ..list } });
        }
    };
    let last_error = move || {
        [
            add.value().get().and_then(|r| r.err()),
            forms.toggle.value().get().and_then(|r| r.err()),
            forms.moved.value().get().and_then(|r| r.err()),
            forms.deleted.value().get().and_then(|r| r.err()),
            forms.update.value().get().and_then(|r| r.err()),
            saved.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .next()
    };

    view! {
        <PageHeader title=Key::NavSecurityGroups />
        <p>
            <a href="/security-groups">{t(Key::GroupsBack)}</a>
        </p>
        {move || {
            last_error()
                .map(|e| {
                    let stale = is_stale(&e);
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
                let suggestions = Signal::stored(refs.await.unwrap_or_default());
                match group.await {
                    Err(e) => error_box(e.to_string()).into_any(),
                    Ok(g) => {
                        let count = g.rules.len();
                        let base_rules = g.rules.clone();
                        let rows = move || {
                            let d = ed.draft.get();
                            if d.is_empty() && ed.base.with(Option::is_none) { drafts_of(&base_rules) } else { d }
                        };
                        let refused = forms.update.value().get_untracked().and_then(|r| r.err());
                        let stale = refused.as_ref().is_some_and(is_stale);
                        let kept_edit = refused.and_then(|e| details_of(&e).input);
                        let kept_add = add
                            .value()
                            .get_untracked()
                            .and_then(|r| r.err())
                            .and_then(|e| details_of(&e).input);
                        let (gname, digest) = (g.name.clone(), g.digest.clone());
                        // Suggestions are a help: without them the fields still take any source.
                        // The fields of a refused no-JS edit, for the rule it was of.
                        view! {
                            <RefSuggestions id=REFS refs=suggestions />
                            <section class="card" data-testid="group-detail">
                                <h2 data-testid="group-name">{g.name.clone()}</h2>
                                <p class="muted">{g.description.clone()}</p>
                                <p class="small">
                                    {t(Key::GroupsUsedBy)}": "
                                    {if g.used_by.is_empty() {
                                        t(Key::GroupsNotUsed)().to_owned()
                                    } else {
                                        g.used_by.join(", ")
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
                                                let kept = kept_edit
                                                    .clone()
                                                    .filter(|_| d.origin.map(|o| o as usize) == asked);
                                                view! {
                                                    <RuleRow
                                                        ed=ed
                                                        forms=forms
                                                        d=d
                                                        group=gname.clone()
                                                        digest=digest.clone()
                                                        can_manage=can_manage
                                                        count=count
                                                        kept=kept
                                                        stale=stale
                                                    />
                                                }
                                            }
                                        />
                                    </tbody>
                                </table>
                                {can_manage
                                    .then(|| {
                                        view! {
                                            <DraftBar ed=ed saved=saved previewed=previewed review=review apply=apply />
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
                                            kept=kept_add
                                            refs=REFS
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

/// Undo, Discard, Review and (after a review) Apply.
#[component]
fn DraftBar(
    ed: Editor,
    saved: ServerAction<SaveRules>,
    previewed: ServerAction<PreviewRules>,
    review: impl Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
    apply: impl Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let dirty = move || ed.dirty();
    view! {
        <div class="toolbar" data-testid="draft-bar">
            <Show when=dirty>
                <strong data-testid="draft-unsaved">{t(Key::DraftUnsaved)}</strong>
            </Show>
            <button
                type="button"
                class="button"
                data-testid="draft-undo"
                disabled=move || ed.history.with(Vec::is_empty)
                on:click=move |_| {
                    if let Some(prev) = ed.history.try_update(|h| h.pop()).flatten() {
                        ed.draft.set(prev);
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
                    if let Some(g) = ed.base.get_untracked() {
                        ed.change(|d| *d = drafts_of(&g.rules));
                    }
                    ed.reviewing.set(false);
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
        <Show when=move || ed.reviewing.get() && dirty()>
            <Review draft=ed.draft base=ed.base preview=previewed />
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
}

/// One rule. Without JavaScript its buttons are small forms that apply at once with the
/// digest the page was rendered with; hydrated they change the draft, and the row shows the
/// draft's rule (what changed is badged).
#[component]
fn RuleRow(
    ed: Editor,
    forms: RowForms,
    d: Draft,
    group: String,
    digest: String,
    can_manage: bool,
    /// The rules read (a row is last when the draft is no longer).
    count: usize,
    /// The fields of this rule's refused edit, to show again.
    kept: Option<RuleInput>,
    /// That edit was refused because the list changed: the row at its `pos` may now be another
    /// rule, so its form keeps the digest it was sent with (and is refused again) until the
    /// operator opens Edit afresh on the rule meant.
    stale: bool,
) -> impl IntoView {
    let id = d.id;
    let pos = d.origin.unwrap_or(0);
    let fallback = pos as usize;
    // Where the row is now, and what it holds, in the draft (the list as read before hydration).
    // Plain closures over the page's signals and memos, never a memo or signal of the row's
    // own: the table's attribute effects may still run once after a re-read has disposed the
    // row. Each closure looks its row up (`Editor::at`), so a change costs each row O(1).
    let index = move || ed.at.with(|m| m.get(&id).copied()).unwrap_or(fallback);
    let field = |f: fn(&Rule) -> String| {
        let read = d.clone();
        move || ed.with_row(id, &read, |x| f(&x.rule))
    };
    let enabled = || {
        let read = d.clone();
        move || ed.with_row(id, &read, |x| x.rule.enable)
    };
    let mark = || {
        let read = d.clone();
        move || ed.with_row(id, &read, |x| ed.base.with(|b| b.as_ref().and_then(|b| change_of(x, index(), &b.rules))))
    };
    let last = move || index() + 1 >= ed.draft.with(Vec::len).max(count);
    let page = format!("/security-groups/{}", percent_encode(&group));
    let hidden = {
        let (group, digest) = (group.clone(), digest.clone());
        move || {
            view! {
                <input type="hidden" name="group" value=group.clone() />
                <input type="hidden" name="pos" value=pos />
                <input type="hidden" name="digest" value=digest.clone() />
            }
        }
    };
    let editor = {
        let (group, digest, page) = (group.clone(), digest.clone(), page.clone());
        let read = d.clone();
        move || {
            (ed.editing.get() == Some(id)).then(|| {
                // Untracked: the form opens with the rule as it is now and is not built again
                // (losing what was typed) when another row of the draft changes.
                let initial = kept.as_ref().map_or_else(
                    || untrack(|| ed.with_row(id, &read, |x| RuleForm::of_rule(&x.rule))),
                    RuleForm::of_input,
                );
                let stale = stale && kept.is_some();
                let digest = if stale {
                    kept.as_ref().and_then(|k| k.digest.clone()).unwrap_or_default()
                } else {
                    digest.clone()
                };
                let done = Callback::new(move |f: RuleForm| {
                    ed.change(|d| {
                        if let Some(x) = d.iter_mut().find(|x| x.id == id) {
                            x.rule = f.edited(&x.rule);
                        }
                    });
                    ed.editing.set(None);
                });
                view! {
                    <RuleEditor
                        update=forms.update
                        group=group.clone()
                        pos=pos
                        digest=digest
                        stale=stale
                        initial=initial
                        page=page.clone()
                        done=done
                        cancel=Callback::new(move |_| ed.editing.set(None))
                        refs=REFS
                    />
                }
            })
        }
    };
    let toggle = if can_manage {
        let hidden = hidden.clone();
        let (pressed, labelled) = (enabled(), enabled());
        view! {
            <ActionForm action=forms.toggle attr:class="inline-form">
                {hidden()}
                <input type="hidden" name="enable" value=if d.rule.enable { "0" } else { "1" } />
                <button
                    type="submit"
                    class="button small"
                    data-testid="rule-toggle"
                    aria-pressed=move || if pressed() { "true" } else { "false" }
                    on:click=move |e| {
                        e.prevent_default();
                        let i = index();
                        ed.change(|d| {
                            if let Some(x) = d.get_mut(i) {
                                x.rule.enable = !x.rule.enable;
                            }
                        });
                    }
                >
                    {move || if labelled() { t(Key::RulesOn)() } else { t(Key::RulesOff)() }}
                </button>
            </ActionForm>
        }
        .into_any()
    } else {
        let on = enabled();
        view! { <span>{move || if on() { t(Key::RulesOn)() } else { t(Key::RulesOff)() }}</span> }.into_any()
    };
    let actions = can_manage.then(|| {
        let (up, down, delete) = (hidden.clone(), hidden.clone(), hidden);
        view! {
            <a
                class="button small"
                href=format!("{page}?edit={pos}")
                data-testid="rule-edit"
                on:click=move |e| {
                    e.prevent_default();
                    ed.editing.set(Some(id));
                }
            >
                {t(Key::RulesEdit)}
            </a>
            <ActionForm action=forms.moved attr:class="inline-form">
                {up()}
                <input type="hidden" name="to" value=pos.saturating_sub(1) />
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
                            ed.move_row(i, i - 1);
                        }
                    }
                >
                    "↑"
                </button>
            </ActionForm>
            <ActionForm action=forms.moved attr:class="inline-form">
                {down()}
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
                        ed.move_row(i, i + 1);
                    }
                >
                    "↓"
                </button>
            </ActionForm>
            <ActionForm action=forms.deleted attr:class="inline-form">
                {delete()}
                <button
                    type="submit"
                    class="button button-danger small"
                    data-testid="rule-delete"
                    on:click=move |e| {
                        e.prevent_default();
                        let i = index();
                        ed.change(|d| {
                            if i < d.len() {
                                d.remove(i);
                            }
                        });
                    }
                >
                    {t(Key::ActionDelete)}
                </button>
            </ActionForm>
        }
    });
    view! {
        <tr
            data-testid="rule-row"
            data-port=field(service_of)
            data-change={
                let mark = mark();
                move || mark().map(|k| t(k)())
            }
            class:rule-off={
                let on = enabled();
                move || !on()
            }
            class:dragging=move || ed.dragging.get() == Some(index())
            tabindex="0"
            draggable=can_manage.then_some("true")
            on:dragstart=move |_| ed.dragging.set(Some(index()))
            on:dragover=move |e| e.prevent_default()
            on:drop=move |e| {
                e.prevent_default();
                if let Some(from) = ed.dragging.get_untracked() {
                    ed.move_row(from, index());
                }
                ed.dragging.set(None);
            }
            on:dragend=move |_| ed.dragging.set(None)
            on:keydown=move |e| {
                if !can_manage {
                    return;
                }
                let i = index();
                match (e.alt_key(), e.key().as_str()) {
                    (true, "ArrowUp") if i > 0 => {
                        e.prevent_default();
                        ed.move_row(i, i - 1);
                    }
                    (true, "ArrowDown") => {
                        e.prevent_default();
                        ed.move_row(i, i + 1);
                    }
                    (false, "Enter") if e.target() == e.current_target() => {
                        e.prevent_default();
                        ed.editing.set(Some(id));
                    }
                    _ => {}
                }
            }
        >
            <td data-testid="rule-index">{index}</td>
            <td>{toggle}</td>
            <td>{field(|r| r.kind.as_str().to_owned())}</td>
            <td>{field(|r| r.action.clone())}</td>
            <td>
                <code>{field(service_of)}</code>
            </td>
            <td>{field(|r| any(r.source.clone()))}</td>
            <td>{field(|r| any(r.dest.clone()))}</td>
            <td>
                {field(|r| r.comment.clone().unwrap_or_default())} " "
                {
                    let mark = mark();
                    move || mark().map(|k| view! { <span class="badge small">{t(k)}</span> })
                }
            </td>
            <td class="row-actions">{actions}</td>
        </tr>
        {editor}
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
