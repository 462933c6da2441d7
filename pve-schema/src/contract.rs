//! The PVE 9.1 schema, for the methods proxfleet uses (`schema/pve-9.1-subset.json`, generated
//! by `scripts/pve-schema-subset.py`), and the checks both sides of the wire run against it:
//! the client's requests in tests, the simulator's parameter validation (400 with PVE's own
//! messages), and the simulator's responses in tests.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::params::Params;

const SUBSET: &str = include_str!("../schema/pve-9.1-subset.json");

/// The schema subset, parsed once. Keys are `"METHOD /path/{param}"`.
pub fn schema() -> &'static BTreeMap<String, Value> {
    static SCHEMA: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    SCHEMA.get_or_init(|| serde_json::from_str(SUBSET).unwrap_or_default())
}

pub fn method(method: &str, template: &str) -> Option<&'static Value> {
    schema().get(&format!("{method} {template}"))
}

/// A property of a method's parameters: exact name, or an indexed one (`net3` → `net[n]`).
fn property<'a>(props: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(p) = props.get(name) {
        return Some(p);
    }
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if base.len() < name.len() {
        return props.get(&format!("{base}[n]"));
    }
    None
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Checks one wire value against its property schema; the error text is PVE's
/// (pve-common JSONSchema.pm).
pub fn check_value(prop: &Value, value: &str) -> Result<(), String> {
    let ty = prop.get("type").and_then(Value::as_str).unwrap_or("string");
    match ty {
        "boolean" if value != "0" && value != "1" => {
            return Err(format!("type check ('boolean') failed - got '{value}'"))
        }
        "integer" if value.parse::<i64>().is_err() => {
            return Err(format!("type check ('integer') failed - got '{value}'"))
        }
        "number" if value.parse::<f64>().is_err() => {
            return Err(format!("type check ('number') failed - got '{value}'"))
        }
        _ => {}
    }
    if let Some(options) = prop.get("enum").and_then(Value::as_array) {
        let names: Vec<&str> = options.iter().filter_map(Value::as_str).collect();
        if !names.contains(&value) {
            return Err(format!("value '{value}' does not have a value in the enumeration '{}'", names.join(", ")));
        }
    }
    if ty == "integer" || ty == "number" {
        let v = value.parse::<f64>().unwrap_or(0.0);
        if let Some(min) = prop.get("minimum").and_then(number) {
            if v < min {
                return Err(format!("value must have a minimum value of {min}"));
            }
        }
        if let Some(max) = prop.get("maximum").and_then(number) {
            if v > max {
                return Err(format!("value must have a maximum value of {max}"));
            }
        }
    }
    if let Some(max) = prop.get("maxLength").and_then(number) {
        if value.chars().count() as f64 > max {
            return Err(format!("value may only be {max} characters long"));
        }
    }
    if value.contains('\n') {
        return Err("property contains a line feed".into());
    }
    Ok(())
}

/// Validates a request's parameters (path parameters included) against the method's schema.
/// `Err` holds the per-parameter errors of PVE's 400 "Parameter verification failed.".
pub fn check_params(method_name: &str, template: &str, params: &Params) -> Result<(), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let Some(schema) = method(method_name, template) else {
        errors.insert("(method)".into(), format!("Method '{method_name} {template}' not in the schema"));
        return Err(errors);
    };
    let empty = serde_json::Map::new();
    let props = schema["parameters"]["properties"].as_object().unwrap_or(&empty);
    let closed = schema["parameters"]["additionalProperties"].as_i64() == Some(0);
    for (name, value) in &params.0 {
        match property(props, name) {
            Some(prop) => {
                if let Err(e) = check_value(prop, value) {
                    errors.insert(name.clone(), e);
                }
            }
            None if closed => {
                errors.insert(
                    name.clone(),
                    "property is not defined in schema and the schema does not allow additional properties".into(),
                );
            }
            None => {}
        }
    }
    for (name, prop) in props {
        let optional = prop.get("optional").and_then(number).is_some_and(|o| o != 0.0);
        if !optional && !name.contains("[n]") && params.get(name).is_none() {
            errors.insert(name.clone(), "property is missing and it is not optional".into());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks that a response `data` carries at least what the schema's `returns` declares:
/// required properties present, with values of the declared type (leniently: Perl numbers may be
/// strings, booleans 0/1). Returns the problems found, with JSON paths.
pub fn check_response(method_name: &str, template: &str, data: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    match method(method_name, template) {
        Some(schema) => check_returns(&schema["returns"], data, "data", &mut problems),
        None => problems.push(format!("{method_name} {template} is not in the schema")),
    }
    problems
}

fn check_returns(schema: &Value, v: &Value, at: &str, problems: &mut Vec<String>) {
    let ty = schema.get("type").and_then(Value::as_str);
    let ok = match (ty, v) {
        (None, _) | (Some("any"), _) => true,
        (_, Value::Null) => ty == Some("null") || schema.get("optional").is_some(),
        (Some("null"), _) => false,
        (Some("array"), Value::Array(_)) | (Some("object"), Value::Object(_)) | (Some("string"), Value::String(_)) => {
            true
        }
        (Some("string"), Value::Number(_)) => true,
        (Some("integer" | "number"), _) => number(v).is_some(),
        (Some("boolean"), Value::Bool(_)) => true,
        (Some("boolean"), _) => number(v).is_some_and(|n| n == 0.0 || n == 1.0),
        _ => false,
    };
    if !ok {
        problems.push(format!("{at}: expected {}, got {v}", ty.unwrap_or("?")));
        return;
    }
    if let (Some(items), Value::Array(list)) = (schema.get("items"), v) {
        for (i, item) in list.iter().enumerate() {
            check_returns(items, item, &format!("{at}[{i}]"), problems);
        }
    }
    if let (Some(Value::Object(props)), Value::Object(obj)) = (schema.get("properties"), v) {
        for (name, prop) in props {
            let optional = prop.get("optional").and_then(number).is_some_and(|o| o != 0.0);
            match obj.get(name) {
                Some(value) => check_returns(prop, value, &format!("{at}.{name}"), problems),
                None if !optional => problems.push(format!("{at}.{name}: missing")),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_is_embedded_and_checks_like_pve() {
        assert!(schema().len() >= 40);
        let clone = "/nodes/{node}/qemu/{vmid}/clone";
        let good = Params::new().str("node", "pve").int("vmid", 9000).int("newid", 101).bool("full", true);
        assert_eq!(check_params("POST", clone, &good), Ok(()));
        let bad = Params::new().str("node", "pve").int("vmid", 9000).str("full", "true").str("colour", "red");
        let errors = check_params("POST", clone, &bad).unwrap_err();
        assert_eq!(errors["full"], "type check ('boolean') failed - got 'true'");
        assert!(errors["colour"].contains("does not allow additional properties"));
        assert_eq!(errors["newid"], "property is missing and it is not optional");
        let low = Params::new().str("node", "pve").int("vmid", 99).int("newid", 101);
        assert_eq!(check_params("POST", clone, &low).unwrap_err()["vmid"], "value must have a minimum value of 100");
        // Indexed keys match their `[n]` property.
        let cfg = Params::new()
            .str("node", "pve")
            .int("vmid", 100)
            .str("net0", "virtio,bridge=vmbr0")
            .str("ipconfig0", "ip=dhcp");
        assert_eq!(check_params("PUT", "/nodes/{node}/qemu/{vmid}/config", &cfg), Ok(()));
    }

    #[test]
    fn responses_are_checked_against_returns() {
        let ok = serde_json::json!({"upid": "UPID:pve:0000002A:00000007:6763E1A0:qmstart:100:root@pam:", "node": "pve",
            "pid": 42, "pstart": 7, "starttime": 1, "type": "qmstart", "id": "100", "user": "root@pam", "status": "stopped", "exitstatus": "OK"});
        assert_eq!(check_response("GET", "/nodes/{node}/tasks/{upid}/status", &ok), Vec::<String>::new());
        let missing = serde_json::json!({"upid": "x"});
        assert!(!check_response("GET", "/nodes/{node}/tasks/{upid}/status", &missing).is_empty());
    }
}
