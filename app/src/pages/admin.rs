//! Admin: users, IAM (roles and permissions) and the audit log. Visible to holders of
//! `manage_users`; the server functions refuse everyone else whatever the page shows.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;
use model::auth::{Permission, Role};
use model::AppError;

use crate::components::confirm::ConfirmSubmit;
use crate::components::local_time::LocalTime;
use crate::functions::auth::{
    list_users, load_audit, load_iam, CreateUser, CurrentUserResource, DeleteUser, ResetUserPassword, SetUserActive,
    SetUserPermissions, SetUserRole,
};
use crate::i18n::{t, Key};
use crate::PageHeader;

const ROLES: [&str; 4] =
    [Role::Admin.as_str(), Role::Developer.as_str(), Role::Operator.as_str(), Role::Viewer.as_str()];

/// The tabs above every admin page; shows a refusal instead of the page for non-admins.
#[component]
fn AdminFrame(title: Key, children: ChildrenFn) -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    view! {
        <PageHeader title=title />
        <nav class="tabs" aria-label=t(Key::NavAdmin)>
            <A href="/admin" exact=true>
                {t(Key::AdminUsers)}
            </A>
            <A href="/admin/iam">{t(Key::AdminIam)}</A>
            <A href="/admin/audit">{t(Key::AdminAudit)}</A>
        </nav>
        <Suspense fallback=|| ()>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    let allowed = me.await.ok().flatten().is_some_and(|u| u.can(Permission::ManageUsers));
                    if allowed {
                        children().into_any()
                    } else {
                        view! {
                            <div class="alert alert-error" role="alert" data-testid="admin-refused">
                                {t(Key::AdminRefused)}
                            </div>
                        }
                            .into_any()
                    }
                })
            }}
        </Suspense>
    }
}

/// An action's error, shown under its form.
fn action_error<T>(value: impl Fn() -> Option<Result<T, AppError>> + Send + Sync + 'static) -> impl IntoView {
    move || {
        value().and_then(|r| r.err()).map(|e| {
            let msg = e.to_string();
            let msg = msg.strip_prefix("error running server function: ").unwrap_or(&msg).to_owned();
            view! {
                <div class="alert alert-error" role="alert">
                    {msg}
                </div>
            }
        })
    }
}

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let delete = ServerAction::<DeleteUser>::new();
    let reset = ServerAction::<ResetUserPassword>::new();
    let active = ServerAction::<SetUserActive>::new();
    let users = Resource::new(
        move || (create.version().get(), delete.version().get(), reset.version().get(), active.version().get()),
        |_| list_users(),
    );
    view! {
        <AdminFrame title=Key::AdminUsers>
            <section class="card" aria-labelledby="new-user">
                <h2 id="new-user">{t(Key::UsersCreate)}</h2>
                <ActionForm action=create attr:class="form-grid">
                    <label for="nu-username">{t(Key::UsersUsername)}</label>
                    <input id="nu-username" name="username" required maxlength="64" autocomplete="off" />
                    <label for="nu-password">{t(Key::LoginPassword)}</label>
                    <input
                        id="nu-password"
                        name="password"
                        type="password"
                        required
                        minlength="10"
                        autocomplete="new-password"
                    />
                    <label for="nu-role">{t(Key::UsersRole)}</label>
                    <select id="nu-role" name="role">
                        {ROLES
                            .iter()
                            .map(|r| {
                                view! {
                                    <option value=*r selected=*r == "viewer">
                                        {*r}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    <label for="nu-name">{t(Key::UsersName)}</label>
                    <input id="nu-name" name="name" maxlength="128" />
                    <label for="nu-email">{t(Key::UsersEmail)}</label>
                    <input id="nu-email" name="email" type="email" maxlength="254" />
                    <div></div>
                    <button type="submit" class="button button-primary">
                        {t(Key::UsersCreate)}
                    </button>
                </ActionForm>
                {action_error(move || create.value().get())}
                {move || {
                    create
                        .value()
                        .get()
                        .and_then(|r| r.ok())
                        .map(|name| {
                            view! {
                                <div class="alert alert-ok" role="status">
                                    {t(Key::UsersCreated)}
                                    " "
                                    {name}
                                </div>
                            }
                        })
                }}
            </section>
            {action_error(move || delete.value().get())}
            {action_error(move || reset.value().get())}
            {action_error(move || active.value().get())}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! { <UsersTable list delete reset active /> }.into_any(),
                        Err(e) => {
                            view! {
                                <div class="alert alert-error" role="alert">
                                    {e.to_string()}
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}

#[component]
fn UsersTable(
    list: Vec<model::auth::UserView>,
    delete: ServerAction<DeleteUser>,
    reset: ServerAction<ResetUserPassword>,
    active: ServerAction<SetUserActive>,
) -> impl IntoView {
    let counts = ROLES
        .iter()
        .map(|r| (*r, list.iter().filter(|u| u.role == *r).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| view! { <span class=format!("badge role-badge role-{r}")>{r}": "{n}</span> })
        .collect_view();
    let total = list.len();
    view! {
        <section class="card section-gap" aria-labelledby="users-heading">
            <h2 id="users-heading">{t(Key::AdminUsers)}" ("{total}")"</h2>
            <p class="badges" data-testid="role-counts">
                {counts}
            </p>
            <table class="table" data-testid="users">
                <thead>
                    <tr>
                        <th>{t(Key::UsersUsername)}</th>
                        <th>{t(Key::UsersRole)}</th>
                        <th>{t(Key::UsersStatus)}</th>
                        <th>{t(Key::UsersPermissionCount)}</th>
                        <th>{t(Key::UsersLastLogin)}</th>
                        <th>{t(Key::UsersActions)}</th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|u| {
                            let name = u.username.clone();
                            let (n1, n2, n3, n4) = (name.clone(), name.clone(), name.clone(), format!("reset-{name}"));
                            view! {
                                <tr data-testid=format!("user-{}", u.username)>
                                    <td>
                                        <strong>{u.username.clone()}</strong>
                                        <div class="muted small">{u.name.clone()}" "{u.email.clone()}</div>
                                    </td>
                                    <td>
                                        <span class=format!("badge role-badge role-{}", u.role)>{u.role.clone()}</span>
                                    </td>
                                    <td>
                                        {if u.active { t(Key::UsersActive)() } else { t(Key::UsersInactive)() }}
                                        {u
                                            .must_change_password
                                            .then(|| {
                                                view! { <div class="muted small">{t(Key::UsersMustChange)}</div> }
                                            })}
                                    </td>
                                    <td>{u.permissions.len()}</td>
                                    <td>{u.last_login.map(|ms| view! { <LocalTime ms /> })}</td>
                                    <td class="row-actions">
                                        <ActionForm action=active attr:class="inline-form">
                                            <input type="hidden" name="username" value=n1 />
                                            <input
                                                type="hidden"
                                                name="active"
                                                value=if u.active { "false" } else { "true" }
                                            />
                                            <button type="submit" class="button">
                                                {if u.active {
                                                    t(Key::UsersDeactivate)()
                                                } else {
                                                    t(Key::UsersActivate)()
                                                }}
                                            </button>
                                        </ActionForm>
                                        <details class="inline-details">
                                            <summary class="button">{t(Key::UsersResetPassword)}</summary>
                                            <ActionForm action=reset attr:class="form-row">
                                                <input type="hidden" name="username" value=n2 />
                                                <label for=n4.clone()>{t(Key::PasswordNew)}</label>
                                                <input
                                                    id=n4
                                                    name="new_password"
                                                    type="password"
                                                    minlength="10"
                                                    required
                                                    autocomplete="new-password"
                                                />
                                                <button type="submit" class="button button-primary">
                                                    {t(Key::UsersResetSubmit)}
                                                </button>
                                            </ActionForm>
                                        </details>
                                        <ActionForm action=delete attr:class="inline-form">
                                            <input type="hidden" name="username" value=n3 />
                                            <ConfirmSubmit label=Key::UsersDelete confirm=Key::UsersDeleteConfirm />
                                        </ActionForm>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
pub fn AdminIamPage() -> impl IntoView {
    let set_role = ServerAction::<SetUserRole>::new();
    let set_perms = ServerAction::<SetUserPermissions>::new();
    let data = Resource::new(move || (set_role.version().get(), set_perms.version().get()), |_| load_iam());
    view! {
        <AdminFrame title=Key::AdminIam>
            <p class="muted">{t(Key::IamIntro)}</p>
            {action_error(move || set_role.value().get())}
            {action_error(move || set_perms.value().get())}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(view_data) => {
                            view_data
                                .users
                                .into_iter()
                                .map(|u| {
                                    let username = u.username.clone();
                                    let checked = RwSignal::new(
                                        u
                                            .permissions
                                            .iter()
                                            .map(|p| p.as_str().to_owned())
                                            .collect::<BTreeSet<String>>(),
                                    );
                                    let role = RwSignal::new(u.role.clone());
                                    let perms = view_data.permissions.clone();
                                    let (u1, u2) = (username.clone(), username.clone());
                                    view! {
                                        <section class="card section-gap" data-testid=format!("iam-{username}")>
                                            <h2>
                                                {username.clone()}" "
                                                <span class=format!(
                                                    "badge role-badge role-{}",
                                                    u.role,
                                                )>{u.role.clone()}</span>
                                            </h2>
                                            <div class="form-row">
                                                <label for=format!("role-{username}")>{t(Key::UsersRole)}</label>
                                                <select
                                                    id=format!("role-{username}")
                                                    on:change=move |ev| role.set(event_target_value(&ev))
                                                >
                                                    {ROLES
                                                        .iter()
                                                        .map(|r| {
                                                            view! {
                                                                <option value=*r selected=*r == u.role>
                                                                    {*r}
                                                                </option>
                                                            }
                                                        })
                                                        .collect_view()}
                                                </select>
                                                <button
                                                    type="button"
                                                    class="button"
                                                    on:click=move |_| {
                                                        set_role
                                                            .dispatch(SetUserRole {
                                                                username: u1.clone(),
                                                                role: role.get_untracked(),
                                                            });
                                                    }
                                                >
                                                    {t(Key::IamApplyRole)}
                                                </button>
                                                <span class="muted small">{t(Key::IamRoleNote)}</span>
                                            </div>
                                            <fieldset class="perm-grid">
                                                <legend>{t(Key::ProfilePermissions)}</legend>
                                                {perms
                                                    .into_iter()
                                                    .map(|p| {
                                                        let name = p.name.clone();
                                                        let id = format!("perm-{username}-{name}");
                                                        let (n1, n2) = (name.clone(), name.clone());
                                                        view! {
                                                            <div class="perm">
                                                                <input
                                                                    type="checkbox"
                                                                    id=id.clone()
                                                                    prop:checked=move || checked.with(|c| c.contains(&n1))
                                                                    on:change=move |ev| {
                                                                        let on = event_target_checked(&ev);
                                                                        checked
                                                                            .update(|c| {
                                                                                if on {
                                                                                    c.insert(n2.clone());
                                                                                } else {
                                                                                    c.remove(&n2);
                                                                                }
                                                                            });
                                                                    }
                                                                />
                                                                <label for=id>
                                                                    <code>{name.clone()}</code>
                                                                    <span class="muted small">{p.description.clone()}</span>
                                                                </label>
                                                            </div>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </fieldset>
                                            <button
                                                type="button"
                                                class="button button-primary"
                                                on:click=move |_| {
                                                    set_perms
                                                        .dispatch(SetUserPermissions {
                                                            username: u2.clone(),
                                                            permissions: checked.get_untracked().into_iter().collect(),
                                                        });
                                                }
                                            >
                                                {t(Key::IamSavePermissions)}
                                            </button>
                                        </section>
                                    }
                                })
                                .collect_view()
                                .into_any()
                        }
                        Err(e) => {
                            view! {
                                <div class="alert alert-error" role="alert">
                                    {e.to_string()}
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let query = use_query_map();
    let params = move || {
        query.with(|q| {
            (
                q.get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1),
                q.get("user").unwrap_or_default(),
                q.get("action").unwrap_or_default(),
            )
        })
    };
    let entries = Resource::new(params, |(page, user, action)| load_audit(page, user, action));
    view! {
        <AdminFrame title=Key::AdminAudit>
            // A GET form: filtering works without JavaScript and the URL can be shared.
            <form method="get" action="/admin/audit" class="form-row card">
                <label for="audit-user">{t(Key::AuditUser)}</label>
                <input id="audit-user" name="user" value=move || params().1 />
                <label for="audit-action">{t(Key::AuditAction)}</label>
                <input id="audit-action" name="action" placeholder="login, user., token." value=move || params().2 />
                <button type="submit" class="button">
                    {t(Key::AuditFilter)}
                </button>
            </form>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match entries.await {
                        Ok(page) if page.items.is_empty() => {
                            view! { <p class="muted section-gap">{t(Key::AuditEmpty)}</p> }.into_any()
                        }
                        Ok(page) => {
                            let (_, user, action) = params();
                            let link = move |p: u32| {
                                format!("/admin/audit?page={p}&user={}&action={}", urlencode(&user), urlencode(&action))
                            };
                            view! {
                                <table class="table section-gap" data-testid="audit">
                                    <thead>
                                        <tr>
                                            <th>{t(Key::AuditWhen)}</th>
                                            <th>{t(Key::AuditUser)}</th>
                                            <th>{t(Key::AuditAction)}</th>
                                            <th>{t(Key::AuditTarget)}</th>
                                            <th>{t(Key::AuditSource)}</th>
                                            <th>{t(Key::AuditResult)}</th>
                                            <th>{t(Key::AuditDetail)}</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {page
                                            .items
                                            .into_iter()
                                            .map(|e| {
                                                view! {
                                                    <tr>
                                                        <td>
                                                            <LocalTime ms=e.at />
                                                        </td>
                                                        <td>{e.actor.unwrap_or_else(|| "—".into())}</td>
                                                        <td>
                                                            <code>{e.action}</code>
                                                        </td>
                                                        <td>{e.target.unwrap_or_default()}</td>
                                                        <td>{e.source_ip.unwrap_or_default()}</td>
                                                        <td>
                                                            {if e.success {
                                                                view! {
                                                                    <span class="badge badge-ok">{t(Key::AuditOk)}</span>
                                                                }
                                                                    .into_any()
                                                            } else {
                                                                view! {
                                                                    <span class="badge badge-fail">{t(Key::AuditFailed)}</span>
                                                                }
                                                                    .into_any()
                                                            }}
                                                        </td>
                                                        <td class="small">{e.detail}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </tbody>
                                </table>
                                <nav class="pager" aria-label=t(Key::AuditPages)>
                                    {(page.page > 1)
                                        .then(|| {
                                            view! {
                                                <a class="button" href=link(page.page - 1)>
                                                    {t(Key::AuditPrev)}
                                                </a>
                                            }
                                        })}
                                    <span class="muted">{page.page}" / "{page.pages.max(1)}" · "{page.total}</span>
                                    {(page.page < page.pages)
                                        .then(|| {
                                            view! {
                                                <a class="button" href=link(page.page + 1)>
                                                    {t(Key::AuditNext)}
                                                </a>
                                            }
                                        })}
                                </nav>
                            }
                                .into_any()
                        }
                        Err(e) => {
                            view! {
                                <div class="alert alert-error" role="alert">
                                    {e.to_string()}
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
