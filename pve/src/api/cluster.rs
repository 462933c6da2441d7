//! Version, nodes and the cluster-wide inventory.

use serde::{Deserialize, Serialize};

use crate::client::PveClient;
use crate::de;
use crate::error::PveError;
use crate::params::{Method, Params, Request};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub version: String,
    pub release: String,
    pub repoid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub node: String,
    /// `online`, `offline` or `unknown`.
    pub status: String,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxcpu: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    #[serde(default)]
    pub ssl_fingerprint: Option<String>,
}

/// One entry of `/cluster/resources`: a VM, node or storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    /// `qemu`, `lxc`, `node`, `storage`, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub vmid: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub disk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    #[serde(default, deserialize_with = "de::bool")]
    pub template: bool,
    #[serde(default)]
    pub lock: Option<String>,
    /// `;`-separated.
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
}

/// `type=` filter of `/cluster/resources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Vm,
    Node,
    Storage,
}

pub fn version() -> Request {
    Request::new(Method::Get, "/version", "/version".into())
}

pub fn nodes() -> Request {
    Request::new(Method::Get, "/nodes", "/nodes".into())
}

pub fn node_status(node: &str) -> Request {
    Request::new(Method::Get, "/nodes/{node}/status", format!("/nodes/{}/status", super::seg(node)))
        .with(Params::new().str("node", node))
}

pub fn resources(kind: Option<ResourceKind>) -> Request {
    let kind = kind.map(|k| match k {
        ResourceKind::Vm => "vm",
        ResourceKind::Node => "node",
        ResourceKind::Storage => "storage",
    });
    Request::new(Method::Get, "/cluster/resources", "/cluster/resources".into())
        .with(Params::new().opt_str("type", kind))
}

pub fn next_id(check: Option<u32>) -> Request {
    Request::new(Method::Get, "/cluster/nextid", "/cluster/nextid".into())
        .with(Params::new().opt_int("vmid", check.map(i64::from)))
}

impl PveClient {
    pub async fn version(&self) -> Result<Version, PveError> {
        self.call(&version()).await
    }

    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, PveError> {
        self.call(&nodes()).await
    }

    /// The node's status object (free-form: PVE adds fields between versions).
    pub async fn node_status(&self, node: &str) -> Result<serde_json::Value, PveError> {
        self.call_value(&node_status(node)).await
    }

    /// The whole inventory in one call (never a call per VM).
    pub async fn resources(&self, kind: Option<ResourceKind>) -> Result<Vec<Resource>, PveError> {
        self.call(&resources(kind)).await
    }

    /// The next free VM id (PVE sends it as a string). With `check`, asserts that id is free.
    pub async fn next_id(&self, check: Option<u32>) -> Result<u32, PveError> {
        #[derive(Deserialize)]
        struct Id(#[serde(deserialize_with = "de::u64")] u64);
        let Id(id) = self.call(&next_id(check)).await?;
        u32::try_from(id)
            .map_err(|_| PveError::new(crate::error::ErrorKind::Rejected, 200, format!("vmid {id} out of range")))
    }
}
