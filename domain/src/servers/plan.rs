//! Planning a create: after `spec.rs` has checked each request on its own, the plan checks the
//! servers against what exists — names (in the request, in proxfleet, in Proxmox), the
//! template and its boot disk, datastores for VM disks on the template's node, static addresses
//! and pool capacity — and decides where each server is made (`PlannedServer`). Nothing is
//! written: a request with any error changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use pve::Resource;
use serde_json::{json, Value};

use super::create::{PlannedServer, TemplateCopy};
use super::service::{ServerService, DEFAULT_HDD, DEFAULT_SSD, DEFAULT_SSH_KEY, FALLBACK_DATASTORE};
use super::spec::{self, NicAddress, ServerRequest, TemplateRef};
use crate::cluster::from_pve;
use crate::{Error, Result};

impl ServerService {
    /// Checks every server of a create request against what exists and decides where each is
    /// made: all errors at once (at most 20 listed), each naming the server and field.
    pub(super) async fn plan(&self, requests: Vec<ServerRequest>) -> Result<Vec<PlannedServer>> {
        if requests.is_empty() {
            return Err(Error::validation("servers", "no servers to create"));
        }
        if requests.len() > spec::MAX_BULK {
            return Err(Error::validation("servers", format!("at most {} servers per request", spec::MAX_BULK)));
        }
        let default_keys: Vec<String> = match self.settings.get(DEFAULT_SSH_KEY).await? {
            Some(Value::String(k)) if !k.is_empty() => vec![k],
            _ => Vec::new(),
        };
        let mut errors = Vec::new();
        let mut specs = Vec::new();
        for (i, r) in requests.into_iter().enumerate() {
            match spec::normalise(i, r, &default_keys) {
                Ok(s) => specs.push((i, s)),
                Err(e) => errors.push(e),
            }
        }
        if let Some(e) = combine(std::mem::take(&mut errors)) {
            return Err(e);
        }

        let client = self.cluster.client()?;
        let resources = client.resources(None).await.map_err(from_pve)?;
        let vm_names: HashSet<&str> =
            resources.iter().filter(|r| r.kind == "qemu").filter_map(|r| r.name.as_deref()).collect();
        let default_hdd = self.setting_text(DEFAULT_HDD).await?.unwrap_or_else(|| FALLBACK_DATASTORE.into());
        let default_ssd = self.setting_text(DEFAULT_SSD).await?.unwrap_or_else(|| default_hdd.clone());
        let mut templates: HashMap<u32, (String, String, u64, String, bool)> = HashMap::new();
        // Boot disks (device, storage, size) of templates that are copies of another by name.
        let mut copy_disks: HashMap<u32, Option<(String, String, u64)>> = HashMap::new();
        // Datastores that hold VM disks, per node (one call per node involved), and which of
        // them are shared.
        let mut image_stores: HashMap<String, HashSet<String>> = HashMap::new();
        let mut shared_stores: HashSet<String> = HashSet::new();
        let online_nodes: Vec<String> = {
            let mut nodes: Vec<String> = resources
                .iter()
                .filter(|r| r.kind == "node" && r.status.as_deref() == Some("online"))
                .filter_map(|r| r.node.clone())
                .collect();
            nodes.sort();
            nodes
        };
        // Servers planned per node so far, to spread a request over the nodes that can take it.
        let mut load: HashMap<String, usize> = HashMap::new();
        let mut seen_names = HashSet::new();
        let mut seen_ips: HashMap<String, String> = HashMap::new();
        let mut pool_needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut planned = Vec::new();
        for (i, mut s) in specs {
            let at = |field: &str| format!("servers[{i}] ({}).{field}", s.name);
            let err = |field: String, message: String| Error::Validation {
                message: format!("{field}: {message}"),
                field: Some(field),
                details: None,
            };
            if !seen_names.insert(s.name.clone()) {
                errors.push(err(at("name"), format!("{:?} appears twice in this request", s.name)));
                continue;
            }
            if self.store.by_name(&s.name).await?.is_some() || vm_names.contains(s.name.as_str()) {
                errors.push(err(at("name"), format!("a server named {:?} already exists", s.name)));
                continue;
            }
            let Some(template) = find_template(&resources, &s.template, &online_nodes) else {
                errors.push(err(at("template"), format!("no template {}", template_label(&s.template))));
                continue;
            };
            let vmid = u32::try_from(template.vmid.unwrap_or(0)).unwrap_or(0);
            let node = template.node.clone().unwrap_or_default();
            if !image_stores.contains_key(&node) {
                self.load_image_stores(&node, &mut image_stores, &mut shared_stores).await?;
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = templates.entry(vmid) {
                let config = client.vm_config(&node, vmid).await.map_err(from_pve)?;
                let (device, storage, size) = boot_disk(&config)
                    .ok_or_else(|| Error::Unprocessable(format!("template {vmid} has no boot disk")))?;
                // Cloud-init drives (CD drives) do not count: a clone makes them anew.
                let on_shared = super::settings::disks_of(&config).iter().all(|d| shared_stores.contains(&d.storage));
                slot.insert((node.clone(), device, size, storage, on_shared));
            }
            let (node, boot_device, boot_gb, template_storage, template_shared) = templates[&vmid].clone();
            // Asked for by name, a template of that name on another node will do as well.
            let copies_of = match &s.template {
                TemplateRef::Name(n) if n.parse::<u64>().is_err() => {
                    resources.iter().filter(|r| is_copy(r, n, vmid, &online_nodes)).collect::<Vec<_>>()
                }
                _ => Vec::new(),
            };
            s.template = TemplateRef::Id(vmid);
            for (d_index, d) in s.disks.iter_mut().enumerate() {
                if d.storage.is_empty() {
                    d.storage = if d.kind == "ssd" { default_ssd.clone() } else { default_hdd.clone() };
                    if d_index == 0 && !s.full_clone {
                        d.storage = template_storage.clone();
                    }
                }
                if !image_stores.get(&node).is_some_and(|st| st.contains(&d.storage)) {
                    errors.push(err(
                        at(&format!("disks[{d_index}].datastore_id")),
                        format!("no datastore {} for VM disks on node {node}", crate::limits::shown(&d.storage)),
                    ));
                }
            }
            if let Some(boot) = s.disks.first() {
                if boot.device() != boot_device {
                    errors.push(err(
                        at("disks[0].interface"),
                        format!("the first disk is the template's boot disk {boot_device}, not {}", boot.device()),
                    ));
                }
                if boot.size_gb < boot_gb {
                    errors.push(err(
                        at("disks[0].size"),
                        format!("the template's disk is {boot_gb} GB; disks cannot shrink"),
                    ));
                }
                if !s.full_clone && boot.storage != template_storage {
                    errors.push(err(
                        at("disks[0].datastore_id"),
                        format!("a linked clone stays on the template's datastore {template_storage}"),
                    ));
                }
            }
            for (n_index, nic) in s.nics.iter().enumerate() {
                match &nic.address {
                    NicAddress::Static { ip, .. } => {
                        if let Some(other) = seen_ips.insert(ip.clone(), s.name.clone()) {
                            errors.push(err(
                                at(&format!("network_devices[{n_index}].ip_address")),
                                format!("{ip} is also given to {other}"),
                            ));
                        } else if let Some(holder) = self.ipam.holder(ip).await? {
                            errors.push(err(
                                at(&format!("network_devices[{n_index}].ip_address")),
                                format!("{ip} is already in use by {holder}"),
                            ));
                        }
                    }
                    NicAddress::Pool { pool } => pool_needs
                        .entry(pool.clone())
                        .or_default()
                        .push(at(&format!("network_devices[{n_index}].ip_pool"))),
                    NicAddress::Dhcp => {}
                }
            }
            // Where it can be made: the template's node, or, when the template's disks are on
            // shared storage (and a full clone's target too), any node that answers and has
            // the datastores asked for. The least loaded so far is planned, the rest are spares
            // should it stop answering.
            let mut nodes = vec![node.clone()];
            let boot_shared = s.disks.first().is_none_or(|d| !s.full_clone || shared_stores.contains(&d.storage));
            if template_shared && boot_shared {
                for other in online_nodes.iter().filter(|n| **n != node) {
                    if !image_stores.contains_key(other) {
                        self.load_image_stores(other, &mut image_stores, &mut shared_stores).await?;
                    }
                    if s.disks.iter().all(|d| image_stores.get(other).is_some_and(|st| st.contains(&d.storage))) {
                        nodes.push(other.clone());
                    }
                }
            }
            // And nodes with a copy of the template that fits the request (same boot disk; a
            // linked clone's on the same datastore) and the datastores asked for.
            let mut copies = Vec::new();
            for copy in copies_of {
                let (Some(copy_node), Some(copy_vmid)) = (&copy.node, copy.vmid.and_then(|v| u32::try_from(v).ok()))
                else {
                    continue;
                };
                // One source per node: the template itself on its own node.
                if *copy_node == node || copies.iter().any(|c: &TemplateCopy| c.node == *copy_node) {
                    continue;
                }
                if let std::collections::hash_map::Entry::Vacant(slot) = copy_disks.entry(copy_vmid) {
                    let config = client.vm_config(copy_node, copy_vmid).await.map_err(from_pve)?;
                    slot.insert(boot_disk(&config));
                }
                let Some(Some((device, storage, size))) = copy_disks.get(&copy_vmid) else { continue };
                // The same boot disk: the resize after the clone counts on the template's size.
                let fits = s.disks.first().is_none_or(|b| s.full_clone || b.storage == *storage);
                if *device != boot_device || *size != boot_gb || !fits {
                    continue;
                }
                if !image_stores.contains_key(copy_node) {
                    self.load_image_stores(copy_node, &mut image_stores, &mut shared_stores).await?;
                }
                if s.disks.iter().all(|d| image_stores.get(copy_node).is_some_and(|st| st.contains(&d.storage))) {
                    copies.push(TemplateCopy { node: copy_node.clone(), vmid: copy_vmid });
                    if !nodes.contains(copy_node) {
                        nodes.push(copy_node.clone());
                    }
                }
            }
            nodes.sort_by_key(|n| (!online_nodes.contains(n), load.get(n).copied().unwrap_or(0), n.clone()));
            let chosen = nodes.remove(0);
            *load.entry(chosen.clone()).or_default() += 1;
            planned.push(PlannedServer {
                spec: s,
                template_vmid: vmid,
                node: chosen,
                boot_device,
                boot_gb,
                template_storage,
                template_node: node,
                spare_nodes: nodes,
                copies,
            });
        }
        for (pool, users) in &pool_needs {
            match self.ipam.pool(pool).await {
                Ok(p) if (p.free() as usize) < users.len() => errors.push(err_field(
                    &users[0],
                    format!(
                        "IP pool {} has {} free address(es); this request needs {}",
                        crate::limits::shown(pool),
                        p.free(),
                        users.len()
                    ),
                )),
                Ok(_) => {}
                Err(Error::NotFound(_)) => {
                    errors.push(err_field(&users[0], format!("no IP pool {}", crate::limits::shown(pool))))
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = combine(errors) {
            return Err(e);
        }
        Ok(planned)
    }
}

impl ServerService {
    /// Reads `node`'s datastores for VM disks into `stores`, noting the shared ones.
    async fn load_image_stores(
        &self,
        node: &str,
        stores: &mut HashMap<String, HashSet<String>>,
        shared: &mut HashSet<String>,
    ) -> Result<()> {
        let found = self.cluster.client()?.storages(node, Some("images")).await.map_err(from_pve)?;
        let usable: Vec<_> = found.into_iter().filter(|st| st.active && st.holds("images")).collect();
        shared.extend(usable.iter().filter(|st| st.shared).map(|st| st.storage.clone()));
        stores.insert(node.to_owned(), usable.into_iter().map(|st| st.storage).collect());
        Ok(())
    }
}

fn err_field(field: &str, message: String) -> Error {
    Error::Validation { message: format!("{field}: {message}"), field: Some(field.to_owned()), details: None }
}

/// How many errors one answer lists; the rest are counted (`details.more`), so a request with
/// 200 bad servers still gets a short answer.
const MAX_REPORTED_ERRORS: usize = 20;

/// The first error, with the first `MAX_REPORTED_ERRORS` listed in `details.errors` and how
/// many more there were in `details.more`.
fn combine(errors: Vec<Error>) -> Option<Error> {
    let first = errors.first()?;
    let list: Vec<Value> = errors
        .iter()
        .take(MAX_REPORTED_ERRORS)
        .map(|e| match e {
            Error::Validation { field, message, .. } => json!({"field": field, "message": message}),
            other => json!({"message": other.to_string()}),
        })
        .collect();
    let more = errors.len() - list.len();
    let (field, message) = match first {
        Error::Validation { field, message, .. } => (field.clone(), message.clone()),
        other => (None, other.to_string()),
    };
    let message = if errors.len() > 1 { format!("{message} (and {} more)", errors.len() - 1) } else { message };
    Some(Error::Validation { field, message, details: Some(json!({ "errors": list, "more": more })) })
}

fn template_label(t: &TemplateRef) -> String {
    match t {
        TemplateRef::Id(id) => id.to_string(),
        TemplateRef::Name(n) => crate::limits::shown(n),
    }
}

/// The template asked for; by name, one on a node that answers if there is one (copies of a
/// template on several nodes share its name).
fn find_template<'a>(resources: &'a [Resource], t: &TemplateRef, online_nodes: &[String]) -> Option<&'a Resource> {
    let mut found = resources.iter().filter(|r| r.kind == "qemu" && r.template).filter(|r| match t {
        TemplateRef::Id(id) => r.vmid == Some(u64::from(*id)),
        TemplateRef::Name(n) => r.name.as_deref() == Some(n.as_str()) || n.parse::<u64>().ok() == r.vmid,
    });
    let first = found.next()?;
    let online = |r: &Resource| r.node.as_ref().is_some_and(|n| online_nodes.contains(n));
    if online(first) {
        return Some(first);
    }
    Some(found.find(|r| online(r)).unwrap_or(first))
}

/// A template named `name` other than `vmid`, on a node that answers.
fn is_copy(r: &Resource, name: &str, vmid: u32, online_nodes: &[String]) -> bool {
    r.kind == "qemu"
        && r.template
        && r.name.as_deref() == Some(name)
        && r.vmid != Some(u64::from(vmid))
        && r.node.as_ref().is_some_and(|n| online_nodes.contains(n))
}

/// The template's boot disk: device, storage, size in GB.
fn boot_disk(config: &pve::VmConfig) -> Option<(String, String, u64)> {
    for device in ["scsi0", "virtio0", "sata0", "ide0"] {
        if let Some(v) = config.get(device).filter(|v| !v.contains("media=cdrom")) {
            let storage = v.split(':').next().unwrap_or_default().to_owned();
            let size = super::inventory::volume_size_gb(v);
            return Some((device.to_owned(), storage, size));
        }
    }
    None
}
