//! Datastores: what each node's storage holds and how full it is, and the default HDD and SSD
//! datastores new disks go to (`manage_storage`).

use leptos::prelude::*;
use model::auth::Permission;

use crate::components::gauge::{percent, size, Gauge};
use crate::functions::auth::CurrentUserResource;
use crate::functions::cluster::{storage_usage, DatastoreUsage, SetDefaultDatastores};
use crate::i18n::{t, Key};
use crate::PageHeader;

#[component]
pub fn DatastoresPage() -> impl IntoView {
    let me = expect_context::<CurrentUserResource>().0;
    let save = ServerAction::<SetDefaultDatastores>::new();
    let list = Resource::new(move || save.version().get(), |_| storage_usage());
    view! {
        <PageHeader title=Key::NavDatastores />
        <p>
            <a href="/servers">{t(Key::ServersBack)}</a>
        </p>
        <Transition fallback=|| {
            view! { <p class="muted">{t(Key::DashboardLoading)}</p> }
        }>
            {move || Suspend::new(async move {
                let can_manage = me.await.ok().flatten().is_some_and(|u| u.can(Permission::ManageStorage));
                match list.await {
                    Ok(list) if list.is_empty() => view! { <p class="muted">{t(Key::DatastoresEmpty)}</p> }.into_any(),
                    Ok(list) => {
                        view! {
                            <DatastoreTable list=list.clone() />
                            {can_manage.then(|| view! { <Defaults list=list save=save /> })}
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
        </Transition>
    }
}

#[component]
fn DatastoreTable(list: Vec<DatastoreUsage>) -> impl IntoView {
    view! {
        <table class="table" data-testid="datastores">
            <thead>
                <tr>
                    <th>{t(Key::ServersDatastore)}</th>
                    <th>{t(Key::ServersNode)}</th>
                    <th>{t(Key::DatastoresContent)}</th>
                    <th>{t(Key::DatastoresUsage)}</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                {list
                    .into_iter()
                    .map(|d| {
                        view! {
                            <tr data-testid="datastore-row">
                                <td>
                                    <strong>{d.id.clone()}</strong>
                                    {d
                                        .shared
                                        .then(|| {
                                            view! {
                                                " "
                                                <span class="badge badge-muted">{t(Key::DatastoresShared)}</span>
                                            }
                                        })}
                                </td>
                                <td>{d.nodes.join(", ")}</td>
                                <td>
                                    <code class="small">{d.content.join(", ")}</code>
                                </td>
                                <td class="wide">
                                    <Gauge
                                        label=d.id.clone()
                                        percent=percent(d.used, d.size)
                                        detail=format!("{} / {}", size(d.used), size(d.size))
                                    />
                                </td>
                                <td>
                                    {d
                                        .is_default_hdd
                                        .then(|| {
                                            view! {
                                                <span class="badge badge-ok" data-testid="default-hdd">
                                                    "HDD"
                                                </span>
                                            }
                                        })}" "
                                    {d
                                        .is_default_ssd
                                        .then(|| {
                                            view! {
                                                <span class="badge badge-ok" data-testid="default-ssd">
                                                    "SSD"
                                                </span>
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
}

/// The default HDD and SSD datastores: only those that hold VM disks are offered.
#[component]
fn Defaults(list: Vec<DatastoreUsage>, save: ServerAction<SetDefaultDatastores>) -> impl IntoView {
    // A default is a storage id; a node-local one (local-lvm) is listed once per node.
    let mut images: Vec<DatastoreUsage> = Vec::new();
    for d in list.into_iter().filter(|d| d.content.iter().any(|c| c == "images")) {
        if !images.iter().any(|seen| seen.id == d.id) {
            images.push(d);
        }
    }
    let options = move |default_of: fn(&DatastoreUsage) -> bool| {
        images
            .iter()
            .map(|d| {
                view! {
                    <option value=d.id.clone() selected=default_of(d)>
                        {d.id.clone()}
                    </option>
                }
            })
            .collect_view()
    };
    let hdd = options.clone()(|d| d.is_default_hdd);
    let ssd = options(|d| d.is_default_ssd);
    view! {
        <section class="card section-gap">
            <h2>{t(Key::DatastoresDefaults)}</h2>
            <p class="muted">{t(Key::DatastoresDefaultsHelp)}</p>
            {move || {
                save.value()
                    .get()
                    .map(|r| match r {
                        Ok(()) => {
                            view! {
                                <div class="alert alert-ok" role="status" data-testid="defaults-saved">
                                    {t(Key::ServersSaved)}
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
            <ActionForm action=save attr:class="form-grid">
                <label class="field">
                    <span>{t(Key::DatastoresDefaultHdd)}</span>
                    <select name="hdd" data-testid="default-hdd-select">
                        {hdd}
                    </select>
                </label>
                <label class="field">
                    <span>{t(Key::DatastoresDefaultSsd)}</span>
                    <select name="ssd" data-testid="default-ssd-select">
                        {ssd}
                    </select>
                </label>
                <button type="submit" class="button button-primary">
                    {t(Key::DatastoresSave)}
                </button>
            </ActionForm>
        </section>
    }
}
