//! The wizard's disk rows: the first is the template's boot disk (grown if larger), the others
//! are new; each on a datastore of the template's node.

use leptos::prelude::*;
use model::servers::CreateOptions;

use super::row_key;
use crate::i18n::{t, Key};

#[derive(Clone, Copy)]
pub struct DiskForm {
    pub key: usize,
    pub interface: RwSignal<String>,
    pub size: RwSignal<String>,
    pub datastore: RwSignal<String>,
}

impl DiskForm {
    pub fn new(interface: String, size: &str, datastore: String) -> Self {
        DiskForm {
            key: row_key(),
            interface: RwSignal::new(interface),
            size: RwSignal::new(size.into()),
            datastore: RwSignal::new(datastore),
        }
    }
}

#[component]
pub fn DiskRows(
    disks: RwSignal<Vec<DiskForm>>,
    choices: StoredValue<CreateOptions>,
    /// The node of the chosen template: only its datastores are offered.
    #[prop(into)]
    template_node: Signal<String>,
) -> impl IntoView {
    let c = choices;
    let template_node = move || template_node.get();
    view! {
        <h2>{t(Key::ServersDisks)}</h2>
        <table class="table" data-testid="disk-rows">
            <thead>
                <tr>
                    <th>{t(Key::ServersDevice)}</th>
                    <th>"GB"</th>
                    <th>{t(Key::ServersDatastore)}</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                <For each=move || disks.get() key=|d| d.key let:d>
                    {
                        let first = disks.get_untracked().first().map(|x| x.key) == Some(d.key);
                        view! {
                            <tr>
                                <td>
                                    <input
                                        aria-label="device"
                                        size="8"
                                        prop:value=move || d.interface.get()
                                        on:input=move |e| d.interface.set(event_target_value(&e))
                                    />
                                </td>
                                <td>
                                    <input
                                        aria-label="size GB"
                                        type="number"
                                        min="1"
                                        prop:value=move || d.size.get()
                                        on:input=move |e| d.size.set(event_target_value(&e))
                                    />
                                </td>
                                <td>
                                    <select
                                        aria-label="datastore"
                                        on:change=move |e| d.datastore.set(event_target_value(&e))
                                    >
                                        {move || {
                                            c.with_value(|c| c.datastores.clone())
                                                .into_iter()
                                                .filter(|s| s.node == template_node())
                                                .map(|ds| {
                                                    let v = ds.storage.clone();
                                                    view! {
                                                        <option
                                                            value=ds.storage.clone()
                                                            selected=move || d.datastore.get() == v
                                                        >
                                                            {format!(
                                                                "{}{} · {} GB free",
                                                                ds.storage,
                                                                if ds.shared { " (shared)" } else { "" },
                                                                ds.free_bytes / (1 << 30),
                                                            )}
                                                        </option>
                                                    }
                                                })
                                                .collect_view()
                                        }}
                                    </select>
                                </td>
                                <td>
                                    {(!first)
                                        .then(|| {
                                            view! {
                                                <button
                                                    type="button"
                                                    class="button"
                                                    on:click=move |_| disks.update(|v| v.retain(|x| x.key != d.key))
                                                >
                                                    {t(Key::ServersRemove)}
                                                </button>
                                            }
                                        })}
                                </td>
                            </tr>
                        }
                    }
                </For>
            </tbody>
        </table>
        <button
            type="button"
            class="button"
            data-testid="add-disk"
            on:click=move |_| {
                disks
                    .update(|v| {
                        let next = (1..=30)
                            .find(|n| !v.iter().any(|d| d.interface.get_untracked() == format!("scsi{n}")))
                            .unwrap_or(1);
                        let store = c.with_value(|c| c.default_hdd.clone());
                        v.push(DiskForm::new(format!("scsi{next}"), "10", store));
                    })
            }
        >
            {t(Key::ServersAddDisk)}
        </button>
    }
}
