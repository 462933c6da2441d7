//! Typed calls, one module per area. Each call is a pure request builder (checked against the
//! schema by the contract test) plus a `PveClient` method that sends it and decodes the answer.

pub mod access;
pub mod cluster;
pub mod firewall;
pub mod qemu;
pub mod storage;
pub mod tasks;

/// Percent-encodes one path segment (UPIDs and volume ids carry `:`, `@`, `!`, `/`).
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
