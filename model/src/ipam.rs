//! IP pools as they cross the wire: a pool with its use, and what an operator sends to make or
//! change one. Addresses are handed out by the domain (`domain::ipam`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpPool {
    #[serde(skip_deserializing)]
    pub id: i64,
    pub name: String,
    pub cidr: String,
    pub gateway: Option<String>,
    pub dns: Vec<String>,
    pub bridge: String,
    pub vlan: Option<u16>,
    pub reserved: String,
    pub description: String,
    /// Addresses that can be handed out at all (hosts minus gateway and reserved).
    pub size: i64,
    pub used: i64,
    #[serde(skip_deserializing)]
    pub created_at: i64,
    #[serde(skip_deserializing)]
    pub updated_at: i64,
}

impl IpPool {
    pub fn free(&self) -> i64 {
        self.size - self.used
    }
}

/// What an operator sends to create or change a pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PoolInput {
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9._-]{1,64}$"))]
    pub name: String,
    /// The IPv4 network, `/8` (16,777,214 addresses: the largest pool) to `/30`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/([89]|[12][0-9]|30)$"))]
    pub cidr: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 15))]
    pub gateway: Option<String>,
    /// Resolver addresses.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 8))]
    pub dns: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9]{1,15}$"))]
    pub bridge: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 4094))]
    pub vlan: Option<u16>,
    /// Addresses and ranges never handed out: `10.20.0.1-10.20.0.20,10.20.0.254` (at most 256).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 4096))]
    pub reserved: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 8192))]
    pub description: String,
}
