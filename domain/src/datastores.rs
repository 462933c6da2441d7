//! Datastores as Proxmox reports them (capacity, use, content types, per node), and the default
//! HDD and SSD datastores new disks go to. Read live, one `/nodes/{node}/storage` call per node:
//! the old tool's copy in its database went stale and lost the chosen defaults on refresh.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{Actor, Permission};
use crate::cluster::{from_pve, ClusterService};
use crate::servers::service::{DEFAULT_HDD, DEFAULT_SSD};
use crate::settings::SettingsStore;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datastore {
    /// The Proxmox storage id (`local-lvm`).
    pub id: String,
    pub name: String,
    pub node: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub content: Vec<String>,
    pub shared: bool,
    pub active: bool,
    /// Bytes.
    pub size: u64,
    pub used: u64,
    pub available: u64,
    pub is_default_hdd: bool,
    pub is_default_ssd: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatastoreList {
    pub datastores: Vec<Datastore>,
    pub default_hdd: String,
    pub default_ssd: String,
}

#[derive(Debug, Clone)]
pub struct Datastores {
    cluster: ClusterService,
    settings: SettingsStore,
}

impl Datastores {
    pub fn new(cluster: ClusterService, settings: SettingsStore) -> Self {
        Datastores { cluster, settings }
    }

    async fn text(&self, key: &str) -> Result<Option<String>> {
        Ok(match self.settings.get(key).await? {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        })
    }

    /// Every datastore of every online node (a shared one once per node that sees it).
    pub async fn list(&self, actor: &Actor) -> Result<DatastoreList> {
        actor.require_current()?;
        let client = self.cluster.client()?;
        let default_hdd = self.text(DEFAULT_HDD).await?.unwrap_or_else(|| "local-lvm".into());
        let default_ssd = self.text(DEFAULT_SSD).await?.unwrap_or_else(|| default_hdd.clone());
        let mut datastores = Vec::new();
        for node in client.nodes().await.map_err(from_pve)?.into_iter().filter(|n| n.status == "online") {
            for s in client.storages(&node.node, None).await.map_err(from_pve)? {
                datastores.push(Datastore {
                    name: s.storage.clone(),
                    is_default_hdd: s.storage == default_hdd,
                    is_default_ssd: s.storage == default_ssd,
                    id: s.storage,
                    node: node.node.clone(),
                    kind: s.kind,
                    content: s.content.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect(),
                    shared: s.shared,
                    active: s.active,
                    size: s.total.unwrap_or(0),
                    used: s.used.unwrap_or(0),
                    available: s.avail.unwrap_or(0),
                });
            }
        }
        datastores.sort_by(|a, b| (a.node.as_str(), a.id.as_str()).cmp(&(b.node.as_str(), b.id.as_str())));
        Ok(DatastoreList { datastores, default_hdd, default_ssd })
    }

    /// Chooses the default datastores for new disks (`manage_storage`); both must hold VM images.
    pub async fn set_defaults(&self, actor: &Actor, hdd: &str, ssd: &str) -> Result<DatastoreList> {
        actor.require(Permission::ManageStorage)?;
        let list = self.list(actor).await?;
        for (field, id) in [("hdd_datastore_id", hdd), ("ssd_datastore_id", ssd)] {
            match list.datastores.iter().find(|d| d.id == id) {
                None => return Err(Error::NotFound(format!("no datastore {id:?}"))),
                Some(d) if !d.content.iter().any(|c| c == "images") => {
                    return Err(Error::validation(
                        field,
                        format!("{id} does not hold VM disks (content: {})", d.content.join(",")),
                    ))
                }
                Some(_) => {}
            }
        }
        self.settings.set(DEFAULT_HDD, &Value::String(hdd.to_owned())).await?;
        self.settings.set(DEFAULT_SSD, &Value::String(ssd.to_owned())).await?;
        self.list(actor).await
    }
}
