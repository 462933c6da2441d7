//! The signed-in user's own page: details, permissions, password, API tokens.

use leptos::prelude::*;

use crate::components::async_list::AsyncList;
use crate::components::confirm::ConfirmSubmit;
use crate::components::local_time::LocalTime;
use crate::functions::auth::{my_tokens, CreateToken, CurrentUserResource, RevokeToken};
use crate::i18n::{t, Key};
use crate::pages::auth::ChangePasswordForm;
use crate::PageHeader;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    view! {
        <PageHeader title=Key::ProfileTitle />
        <div class="grid">
            <section class="card" aria-labelledby="profile-details">
                <h2 id="profile-details">{t(Key::ProfileDetails)}</h2>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        me.await
                            .ok()
                            .flatten()
                            .map(|u| {
                                view! {
                                    <dl class="facts" data-testid="profile">
                                        <dt>{t(Key::UsersUsername)}</dt>
                                        <dd>{u.username.clone()}</dd>
                                        <dt>{t(Key::UsersName)}</dt>
                                        <dd>{u.name.clone()}</dd>
                                        <dt>{t(Key::UsersEmail)}</dt>
                                        <dd>{u.email.clone()}</dd>
                                        <dt>{t(Key::UsersRole)}</dt>
                                        <dd>
                                            <span class="badge role-badge">{u.role.clone()}</span>
                                        </dd>
                                        <dt>{t(Key::UsersLastLogin)}</dt>
                                        <dd>{u.last_login.map(|ms| view! { <LocalTime ms /> })}</dd>
                                    </dl>
                                    <h3>{t(Key::ProfilePermissions)}</h3>
                                    <ul class="chips" data-testid="my-permissions">
                                        {u
                                            .permissions
                                            .iter()
                                            .map(|p| view! { <li class="chip">{p.as_str()}</li> })
                                            .collect_view()}
                                    </ul>
                                }
                            })
                    })}
                </Suspense>
            </section>
            <section class="card" aria-labelledby="profile-password">
                <h2 id="profile-password">{t(Key::PasswordTitle)}</h2>
                <p class="muted small">{t(Key::ProfilePasswordNote)}</p>
                <ChangePasswordForm />
            </section>
        </div>
        <Tokens />
    }
}

#[component]
fn Tokens() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| my_tokens());
    view! {
        <section class="card section-gap" aria-labelledby="tokens-heading">
            <h2 id="tokens-heading">{t(Key::TokensTitle)}</h2>
            <p class="muted small">{t(Key::TokensIntro)}</p>
            <ActionForm action=create attr:class="form-row">
                <label for="token-name">{t(Key::TokensName)}</label>
                <input id="token-name" name="name" required maxlength="64" />
                <label for="token-days">{t(Key::TokensDays)}</label>
                <input id="token-days" name="expires_in_days" type="number" min="1" max="3650" placeholder="∞" />
                <button type="submit" class="button button-primary">
                    {t(Key::TokensCreate)}
                </button>
            </ActionForm>
            {move || {
                create
                    .value()
                    .get()
                    .map(|r| match r {
                        Ok(secret) => {
                            view! {
                                <div class="alert alert-ok" role="status">
                                    <p>{t(Key::TokensShownOnce)}</p>
                                    <code class="secret" data-testid="new-token">
                                        {secret}
                                    </code>
                                </div>
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
                    })
            }}
            <AsyncList
                items=tokens
                empty=Key::TokensEmpty
                empty_testid="tokens-empty"
                list=move |list| {
                    view! {
                        <table class="table" data-testid="tokens">
                            <thead>
                                <tr>
                                    <th>{t(Key::TokensName)}</th>
                                    <th>{t(Key::TokensPrefix)}</th>
                                    <th>{t(Key::TokensCreated)}</th>
                                    <th>{t(Key::TokensExpires)}</th>
                                    <th>{t(Key::TokensLastUsed)}</th>
                                    <th>{t(Key::UsersStatus)}</th>
                                    <th></th>
                                </tr>
                            </thead>
                            <tbody>
                                {list
                                    .into_iter()
                                    .map(|tok| {
                                        view! {
                                            <tr>
                                                <td>{tok.name.clone()}</td>
                                                <td>
                                                    <code>{tok.prefix.clone()}"…"</code>
                                                </td>
                                                <td>
                                                    <LocalTime ms=tok.created_at />
                                                </td>
                                                <td>{tok.expires_at.map(|ms| view! { <LocalTime ms /> })}</td>
                                                <td>{tok.last_used_at.map(|ms| view! { <LocalTime ms /> })}</td>
                                                <td>
                                                    {if tok.active {
                                                        t(Key::TokensActive)()
                                                    } else {
                                                        t(Key::TokensRevoked)()
                                                    }}
                                                </td>
                                                <td>
                                                    <Show when=move || tok.active>
                                                        <ActionForm action=revoke attr:class="inline-form">
                                                            <input type="hidden" name="id" value=tok.id />
                                                            <ConfirmSubmit
                                                                label=Key::TokensRevoke
                                                                confirm=Key::TokensRevokeConfirm
                                                            />
                                                        </ActionForm>
                                                    </Show>
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                }
            />
        </section>
    }
}
