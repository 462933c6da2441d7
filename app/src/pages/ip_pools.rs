//! IP pools: usage of each, create (manage_network), delete when no address is in use.

use leptos::prelude::*;
use model::auth::Permission;

use crate::components::confirm::ConfirmSubmit;
use crate::functions::auth::CurrentUserResource;
use crate::functions::servers::{list_pools, CreatePool, DeletePool};
use crate::i18n::{t, Key};
use crate::PageHeader;

#[component]
pub fn IpPoolsPage() -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    let create = ServerAction::<CreatePool>::new();
    let delete = ServerAction::<DeletePool>::new();
    let pools = Resource::new(move || (create.version().get(), delete.version().get()), |_| list_pools());
    view! {
        <PageHeader title=Key::NavIpPools />
        {move || {
            delete
                .value()
                .get()
                .and_then(|r| r.err())
                .map(|e| {
                    view! {
                        <div class="alert alert-error" role="alert">
                            {e.to_string()}
                        </div>
                    }
                })
        }}
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let can_manage = me.await.ok().flatten().is_some_and(|u| u.can(Permission::ManageNetwork));
                match pools.await {
                    Ok(list) if list.is_empty() => {
                        view! {
                            <p class="muted" data-testid="pools-empty">
                                {t(Key::PoolsEmpty)}
                            </p>
                        }
                            .into_any()
                    }
                    Ok(list) => {
                        view! {
                            <table class="table" data-testid="pools">
                                <thead>
                                    <tr>
                                        <th>{t(Key::ServersName)}</th>
                                        <th>"CIDR"</th>
                                        <th>{t(Key::PoolsGateway)}</th>
                                        <th>{t(Key::ServersBridge)}</th>
                                        <th>{t(Key::PoolsUsage)}</th>
                                        <th>{t(Key::PoolsReserved)}</th>
                                        <th></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list
                                        .into_iter()
                                        .map(|p| {
                                            let name = p.name.clone();
                                            view! {
                                                <tr data-testid="pool-row">
                                                    <td>
                                                        <strong>{p.name.clone()}</strong>
                                                        <div class="muted small">{p.description.clone()}</div>
                                                    </td>
                                                    <td>
                                                        <code>{p.cidr.clone()}</code>
                                                    </td>
                                                    <td>
                                                        {p.gateway.clone()}
                                                        <div class="muted small">{p.dns.join(", ")}</div>
                                                    </td>
                                                    <td>{p.bridge.clone()}{p.vlan.map(|v| format!(" · VLAN {v}"))}</td>
                                                    <td>
                                                        <progress max=p.size value=p.used></progress>
                                                        " "
                                                        {format!("{} / {}", p.used, p.size)}
                                                    </td>
                                                    <td>
                                                        <code class="small">{p.reserved.clone()}</code>
                                                    </td>
                                                    <td>
                                                        {can_manage
                                                            .then(|| {
                                                                view! {
                                                                    <ActionForm action=delete attr:class="inline-form">
                                                                        <input type="hidden" name="name" value=name />
                                                                        <ConfirmSubmit
                                                                            label=Key::ActionDelete
                                                                            confirm=Key::ServersDeleteYes
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
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                me.await
                    .ok()
                    .flatten()
                    .filter(|u| u.can(Permission::ManageNetwork))
                    .map(|_| {
                        view! {
                            <section class="card section-gap">
                                <h2>{t(Key::PoolsNew)}</h2>
                                {move || {
                                    create
                                        .value()
                                        .get()
                                        .and_then(|r| r.err())
                                        .map(|e| {
                                            view! {
                                                <div class="alert alert-error" role="alert" data-testid="pool-error">
                                                    {e.to_string()}
                                                </div>
                                            }
                                        })
                                }}
                                <ActionForm action=create attr:class="form-grid">
                                    <label class="field">
                                        <span>{t(Key::ServersName)}</span>
                                        <input name="name" required />
                                    </label>
                                    <label class="field">
                                        <span>"CIDR"</span>
                                        <input name="cidr" placeholder="10.20.0.0/24" required />
                                    </label>
                                    <label class="field">
                                        <span>{t(Key::PoolsGateway)}</span>
                                        <input name="gateway" placeholder="10.20.0.1" />
                                    </label>
                                    <label class="field">
                                        <span>"DNS"</span>
                                        <input name="dns" placeholder="10.20.0.1, 1.1.1.1" />
                                    </label>
                                    <label class="field">
                                        <span>{t(Key::ServersBridge)}</span>
                                        <input name="bridge" value="vmbr0" required />
                                    </label>
                                    <label class="field">
                                        <span>"VLAN"</span>
                                        <input name="vlan" inputmode="numeric" />
                                    </label>
                                    <label class="field">
                                        <span>{t(Key::PoolsReserved)}</span>
                                        <input name="reserved" placeholder="10.20.0.1-10.20.0.20" />
                                    </label>
                                    <label class="field">
                                        <span>{t(Key::ServersDescription)}</span>
                                        <input name="description" />
                                    </label>
                                    <button type="submit" class="button button-primary">
                                        {t(Key::PoolsCreate)}
                                    </button>
                                </ActionForm>
                            </section>
                        }
                    })
            })}
        </Suspense>
    }
}
