//! Request parameters, read the way PVE's schema checker words its errors.

use std::collections::BTreeMap;

use crate::error::SimError;

pub fn req(p: &BTreeMap<String, String>, name: &str) -> Result<String, SimError> {
    p.get(name).cloned().ok_or_else(|| SimError::param(name, "property is missing and it is not optional"))
}

pub fn int(p: &BTreeMap<String, String>, name: &str) -> Result<u32, SimError> {
    let v = req(p, name)?;
    v.parse().map_err(|_| SimError::param(name, format!("type check ('integer') failed - got '{v}'")))
}
