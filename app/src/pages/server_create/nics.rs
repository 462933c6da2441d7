//! The wizard's NIC rows: an address from a pool (the default), a static one, or DHCP.

use leptos::prelude::*;
use model::servers::{CreateOptions, NicRequest};

use super::{number, row_key};
use crate::i18n::{t, Key};

#[derive(Clone, Copy)]
pub struct NicForm {
    key: usize,
    /// pool, static or dhcp
    mode: RwSignal<String>,
    pub pool: RwSignal<String>,
    ip: RwSignal<String>,
    prefix: RwSignal<String>,
    gateway: RwSignal<String>,
    bridge: RwSignal<String>,
    vlan: RwSignal<String>,
}

impl NicForm {
    pub fn new(pool: &str) -> Self {
        NicForm {
            key: row_key(),
            mode: RwSignal::new("pool".into()),
            pool: RwSignal::new(pool.into()),
            ip: RwSignal::new(String::new()),
            prefix: RwSignal::new("24".into()),
            gateway: RwSignal::new(String::new()),
            bridge: RwSignal::new("vmbr0".into()),
            vlan: RwSignal::new(String::new()),
        }
    }

    pub fn request(self) -> NicRequest {
        let vlan = self.vlan.get_untracked().trim().parse::<u32>().ok();
        match self.mode.get_untracked().as_str() {
            "static" => NicRequest {
                ip: Some(self.ip.get_untracked()),
                prefix: number(&self.prefix.get_untracked()),
                gateway: Some(self.gateway.get_untracked()),
                bridge: Some(self.bridge.get_untracked()),
                vlan,
                ..Default::default()
            },
            "dhcp" => NicRequest {
                mode: Some("dhcp".into()),
                bridge: Some(self.bridge.get_untracked()),
                vlan,
                ..Default::default()
            },
            _ => NicRequest { ip_pool: Some(self.pool.get_untracked()), vlan, ..Default::default() },
        }
    }
}

#[component]
pub fn NicRows(nics: RwSignal<Vec<NicForm>>, choices: StoredValue<CreateOptions>) -> impl IntoView {
    let c = choices;
    view! {
        <h2>{t(Key::ServersNics)}</h2>
        <table class="table" data-testid="nic-rows">
            <thead>
                <tr>
                    <th>"#"</th>
                    <th>{t(Key::ServersAddress)}</th>
                    <th>{t(Key::ServersBridge)}</th>
                    <th>"VLAN"</th>
                    <th></th>
                </tr>
            </thead>
            <tbody>
                <For each=move || nics.get() key=|n| n.key let:n>
                    {
                        let first = nics.get_untracked().first().map(|x| x.key) == Some(n.key);
                        view! {
                            <tr>
                                <td>
                                    {move || {
                                        format!("net{}", nics.get().iter().position(|x| x.key == n.key).unwrap_or(0))
                                    }}
                                </td>
                                <td class="form-row">
                                    <select
                                        aria-label="address mode"
                                        on:change=move |e| n.mode.set(event_target_value(&e))
                                    >
                                        <option value="pool" selected=move || n.mode.get() == "pool">
                                            {t(Key::ServersFromPool)}
                                        </option>
                                        <option value="static" selected=move || n.mode.get() == "static">
                                            {t(Key::ServersStatic)}
                                        </option>
                                        <option value="dhcp" selected=move || n.mode.get() == "dhcp">
                                            "DHCP"
                                        </option>
                                    </select>
                                    <Show when=move || n.mode.get() == "pool">
                                        <select aria-label="pool" on:change=move |e| n.pool.set(event_target_value(&e))>
                                            {c
                                                .with_value(|c| c.pools.clone())
                                                .into_iter()
                                                .map(|p| {
                                                    let v = p.name.clone();
                                                    view! {
                                                        <option value=p.name.clone() selected=move || n.pool.get() == v>
                                                            {format!("{} · {} · {} free", p.name, p.cidr, p.free)}
                                                        </option>
                                                    }
                                                })
                                                .collect_view()}
                                        </select>
                                    </Show>
                                    <Show when=move || n.mode.get() == "static">
                                        <input
                                            aria-label="IP address"
                                            placeholder="10.0.0.5"
                                            size="14"
                                            prop:value=move || n.ip.get()
                                            on:input=move |e| n.ip.set(event_target_value(&e))
                                        />
                                        "/"
                                        <input
                                            aria-label="prefix"
                                            size="3"
                                            prop:value=move || n.prefix.get()
                                            on:input=move |e| n.prefix.set(event_target_value(&e))
                                        />
                                        <input
                                            aria-label="gateway"
                                            placeholder="gateway"
                                            size="14"
                                            prop:value=move || n.gateway.get()
                                            on:input=move |e| n.gateway.set(event_target_value(&e))
                                        />
                                    </Show>
                                </td>
                                <td>
                                    <input
                                        aria-label="bridge"
                                        size="8"
                                        prop:value=move || n.bridge.get()
                                        on:input=move |e| n.bridge.set(event_target_value(&e))
                                    />
                                </td>
                                <td>
                                    <input
                                        aria-label="VLAN"
                                        size="5"
                                        prop:value=move || n.vlan.get()
                                        on:input=move |e| n.vlan.set(event_target_value(&e))
                                    />
                                </td>
                                <td>
                                    {(!first)
                                        .then(|| {
                                            view! {
                                                <button
                                                    type="button"
                                                    class="button"
                                                    on:click=move |_| nics.update(|v| v.retain(|x| x.key != n.key))
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
            on:click=move |_| {
                nics.update(|v| {
                    let pool = c.with_value(|c| c.pools.first().map(|p| p.name.clone()).unwrap_or_default());
                    v.push(NicForm::new(&pool));
                })
            }
        >
            {t(Key::ServersAddNic)}
        </button>
    }
}
