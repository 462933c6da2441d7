//! The create wizard: one server or many (a name pattern and a count, then a review table where
//! each row can be edited), disks and NICs added and removed as rows, pool or static address.
//! Submitting starts one job and opens it.
//!
//! - `disks`, `nics`: the disk and NIC rows;
//! - `review`: the bulk review table;
//! - here: the page, the common fields, and the typed request it sends (`model::servers::BulkRequest`).

mod disks;
mod nics;
mod review;

use leptos::prelude::*;
use model::servers::{BulkRequest, DiskRequest, ServerRequest, TemplateRef};
use model::AppError;

use self::disks::{DiskForm, DiskRows};
use self::nics::{NicForm, NicRows};
use self::review::{ReviewRow, ReviewRows};
use crate::functions::servers::{create_choices, CreateServers};
use crate::i18n::{t, Key};
use crate::PageHeader;

/// Row keys: stable across removals, so each row keeps its own inputs.
static NEXT_ROW: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub(super) fn row_key() -> usize {
    NEXT_ROW.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A number typed into a field: empty is "not given"; anything else that is not a number is
/// sent as 0, which the server refuses naming the field (rather than silently using a default).
pub(super) fn number(text: &str) -> Option<u32> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.parse().unwrap_or(0))
}

fn field(label: Key, id: &'static str, value: RwSignal<String>, kind: &'static str) -> impl IntoView {
    checked_field(label, id, value, kind, Signal::derive(|| None))
}

/// A field that shows the server's complaint about it: marked invalid, with the message under it.
fn checked_field(
    label: Key,
    id: &'static str,
    value: RwSignal<String>,
    kind: &'static str,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <label class="field" class:invalid=move || error.get().is_some() for=id>
            <span>{t(label)}</span>
            <input
                id=id
                type=kind
                prop:value=move || value.get()
                on:input=move |e| value.set(event_target_value(&e))
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=move || error.get().is_some().then(|| error_id.clone())
            />
            {move || {
                error
                    .get()
                    .map(|m| {
                        view! {
                            <span class="field-error" id=format!("{id}-error") data-testid="field-error">
                                {m}
                            </span>
                        }
                    })
            }}
        </label>
    }
}

#[component]
pub fn ServerCreatePage() -> impl IntoView {
    let choices = Resource::new(|| (), |_| create_choices());
    let create = ServerAction::<CreateServers>::new();
    let bulk = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let pattern = RwSignal::new("web-{n}".to_owned());
    let count = RwSignal::new("3".to_owned());
    let template = RwSignal::new(String::new());
    let cores = RwSignal::new("2".to_owned());
    let memory = RwSignal::new("2048".to_owned());
    let ssh_key = RwSignal::new(String::new());
    let ci_user = RwSignal::new(String::new());
    let linked = RwSignal::new(false);
    let role = RwSignal::new(String::new());
    let group = RwSignal::new(String::new());
    // The security groups to pick from (attached before the new server first starts).
    let groups = Resource::new(|| (), |_| crate::functions::firewall::list_groups());
    let tags = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let disks = RwSignal::new(vec![DiskForm::new("scsi0".into(), "20", String::new())]);
    let nics = RwSignal::new(vec![NicForm::new("default")]);
    let review = RwSignal::new(Vec::<ReviewRow>::new());

    // Fill in defaults once the choices arrive: first template, default datastore.
    Effect::new(move |_| {
        if let Some(Ok(c)) = choices.get() {
            if template.get_untracked().is_empty() {
                if let Some(first) = c.templates.first() {
                    template.set(first.vmid.to_string());
                }
            }
            for d in disks.get_untracked() {
                if d.datastore.get_untracked().is_empty() {
                    d.datastore.set(c.default_hdd.clone());
                }
            }
            if let Some(first) = c.pools.first() {
                for n in nics.get_untracked() {
                    if !c.pools.iter().any(|p| p.name == n.pool.get_untracked()) {
                        n.pool.set(first.name.clone());
                    }
                }
            }
        }
    });

    let make_review = move |_| {
        let n: usize = count.get().trim().parse().unwrap_or(0).min(200);
        review.set(
            (1..=n)
                .map(|i| ReviewRow {
                    key: row_key(),
                    name: RwSignal::new(pattern.get().replace("{n}", &i.to_string())),
                    cores: RwSignal::new(cores.get()),
                    memory: RwSignal::new(memory.get()),
                })
                .collect(),
        );
    };

    let spec = move |name: String, cores: String, memory: String| -> ServerRequest {
        let given = |text: String| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        ServerRequest {
            name: Some(name),
            template: Some(TemplateRef::Id(template.get_untracked().parse().unwrap_or(0))),
            cores: Some(number(&cores).unwrap_or(0)),
            memory: Some(number(&memory).map_or(0, u64::from)),
            disks: Some(
                disks
                    .get_untracked()
                    .iter()
                    .map(|d| DiskRequest {
                        interface: Some(d.interface.get_untracked()),
                        size_gb: Some(number(&d.size.get_untracked()).map_or(0, u64::from)),
                        storage: Some(d.datastore.get_untracked()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            nics: Some(nics.get_untracked().into_iter().map(NicForm::request).collect()),
            clone: Some(if linked.get_untracked() { "linked" } else { "full" }.into()),
            role: Some(role.get_untracked()),
            security_group: given(group.get_untracked()),
            description: Some(description.get_untracked()),
            tags: Some(
                tags.get_untracked().split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
            ),
            ssh_keys: given(ssh_key.get_untracked()).map(|k| vec![k]),
            ci_user: given(ci_user.get_untracked()),
            ..Default::default()
        }
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let servers: Vec<ServerRequest> = if bulk.get_untracked() {
            if review.get_untracked().is_empty() {
                make_review(());
            }
            review
                .get_untracked()
                .iter()
                .map(|r| spec(r.name.get_untracked(), r.cores.get_untracked(), r.memory.get_untracked()))
                .collect()
        } else {
            vec![spec(name.get_untracked(), cores.get_untracked(), memory.get_untracked())]
        };
        create.dispatch(CreateServers { request: BulkRequest { servers: Some(servers), ..Default::default() } });
    };

    // The server's complaint about one field, shown at that field.
    let error_about = move |field: &'static str| {
        Signal::derive(move || {
            create.value().get().and_then(|r| r.err()).filter(|e: &AppError| e.is_about(field)).map(|e| e.message)
        })
    };

    // A created job: open it.
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            let navigate = leptos_router::hooks::use_navigate();
            navigate(&format!("/jobs/{id}"), Default::default());
        }
    });

    view! {
        <PageHeader title=Key::ServersCreate />
        <p>
            <a href="/servers">{t(Key::ServersBack)}</a>
        </p>
        <noscript>
            <div class="alert alert-error">{t(Key::ServersNeedsJs)}</div>
        </noscript>
        {move || {
            create
                .value()
                .get()
                .and_then(|r| r.err())
                .map(|e| {
                    view! {
                        <div class="alert alert-error" role="alert" data-testid="create-error">
                            {e.message}
                        </div>
                    }
                })
        }}
        <Suspense fallback=|| {
            view! { <p class="muted">"…"</p> }
        }>
            {move || Suspend::new(async move {
                let c = match choices.await {
                    Ok(c) => c,
                    Err(e) => {
                        return view! {
                            <div class="alert alert-error" role="alert">
                                {e.to_string()}
                            </div>
                        }
                            .into_any();
                    }
                };
                let c = StoredValue::new(c);
                let template_node = move || {
                    c.with_value(|c| {
                        c.templates
                            .iter()
                            .find(|t| t.vmid.to_string() == template.get())
                            .map(|t| t.node.clone())
                            .unwrap_or_default()
                    })
                };
                view! {
                    <form class="card wizard" on:submit=submit data-testid="create-form">
                        <fieldset class="form-row">
                            <legend>{t(Key::ServersHowMany)}</legend>
                            <label>
                                <input
                                    type="radio"
                                    name="mode"
                                    prop:checked=move || !bulk.get()
                                    on:change=move |_| bulk.set(false)
                                />
                                " "
                                {t(Key::ServersOne)}
                            </label>
                            <label>
                                <input
                                    type="radio"
                                    name="mode"
                                    data-testid="mode-bulk"
                                    prop:checked=move || bulk.get()
                                    on:change=move |_| bulk.set(true)
                                />
                                " "
                                {t(Key::ServersMany)}
                            </label>
                        </fieldset>
                        <Show when=move || {
                            !bulk.get()
                        }>{checked_field(Key::ServersName, "srv-name", name, "text", error_about("name"))}</Show>
                        <Show when=move || bulk.get()>
                            <div class="form-row">
                                {field(Key::ServersPattern, "srv-pattern", pattern, "text")}
                                {field(Key::ServersCountField, "srv-count", count, "number")}
                                <button
                                    type="button"
                                    class="button"
                                    data-testid="make-review"
                                    on:click=move |_| make_review(())
                                >
                                    {t(Key::ServersReview)}
                                </button>
                            </div>
                        </Show>
                        <div class="form-row">
                            <label class="field" for="srv-template">
                                <span>{t(Key::ServersTemplate)}</span>
                                <select id="srv-template" on:change=move |e| template.set(event_target_value(&e))>
                                    {c
                                        .with_value(|c| c.templates.clone())
                                        .into_iter()
                                        .map(|tpl| {
                                            let v = tpl.vmid.to_string();
                                            view! {
                                                <option value=v.clone() selected=move || template.get() == v>
                                                    {format!("{} · {} ({})", tpl.vmid, tpl.name, tpl.node)}
                                                </option>
                                            }
                                        })
                                        .collect_view()}
                                </select>
                            </label>
                            {checked_field(Key::ServersCores, "srv-cores", cores, "number", error_about("cores"))}
                            {checked_field(Key::ServersMemory, "srv-memory", memory, "number", error_about("memory"))}
                            <label class="field">
                                <span>{t(Key::ServersClone)}</span>
                                <select on:change=move |e| linked.set(event_target_value(&e) == "linked")>
                                    <option value="full">{t(Key::ServersCloneFull)}</option>
                                    <option value="linked">{t(Key::ServersCloneLinked)}</option>
                                </select>
                            </label>
                        </div>

                        <DiskRows disks=disks choices=c template_node=Signal::derive(template_node) />

                        <NicRows nics=nics choices=c />

                        <h2>{t(Key::ServersAccess)}</h2>
                        <div class="form-row">
                            {field(Key::ServersCiUser, "srv-ciuser", ci_user, "text")}
                            <label class="field grow" for="srv-key">
                                <span>{t(Key::ServersSshKey)}</span>
                                <input
                                    id="srv-key"
                                    placeholder="ssh-ed25519 AAAA… you@host"
                                    prop:value=move || ssh_key.get()
                                    on:input=move |e| ssh_key.set(event_target_value(&e))
                                />
                            </label>
                        </div>
                        <div class="form-row">
                            <label class="field" for="srv-role">
                                <span>{t(Key::ServersRole)}</span>
                                <select id="srv-role" on:change=move |e| role.set(event_target_value(&e))>
                                    <option value="">"—"</option>
                                    {["web", "was", "java", "search", "ftp", "db"]
                                        .into_iter()
                                        .map(|r| view! { <option value=r>{r}</option> })
                                        .collect_view()}
                                </select>
                            </label>
                            <label class="field" for="srv-group">
                                <span>{t(Key::NavSecurityGroups)}</span>
                                <select
                                    id="srv-group"
                                    data-testid="create-group"
                                    on:change=move |e| group.set(event_target_value(&e))
                                >
                                    <option value="">"—"</option>
                                    <Suspense fallback=|| ()>
                                        {move || Suspend::new(async move {
                                            groups
                                                .await
                                                .unwrap_or_default()
                                                .into_iter()
                                                .map(|g| {
                                                    let selected = group.get_untracked() == g.name;
                                                    view! {
                                                        <option value=g.name.clone() selected=selected>
                                                            {g.name.clone()}
                                                        </option>
                                                    }
                                                })
                                                .collect_view()
                                        })}
                                    </Suspense>
                                </select>
                            </label>
                            {field(Key::ServersTagsField, "srv-tags", tags, "text")}
                            {field(Key::ServersDescription, "srv-desc", description, "text")}
                        </div>

                        <ReviewRows review=review bulk=bulk />
                        <div class="row-actions">
                            <button
                                type="submit"
                                class="button button-primary"
                                data-testid="submit-create"
                                disabled=move || create.pending().get()
                            >
                                {move || {
                                    if create.pending().get() {
                                        t(Key::ServersCreating)()
                                    } else {
                                        t(Key::ServersCreate)()
                                    }
                                }}
                            </button>
                        </div>
                    </form>
                }
                    .into_any()
            })}
        </Suspense>
    }
}
