//! How long the free text that users send may be (characters, as JSON Schema and Proxmox count
//! them). The domain enforces them (`domain::limits`), the REST door publishes them in its
//! OpenAPI document, and the pages may read them for their inputs.
//!
//! Also here: `shown`, which shortens user input before an error message repeats it, so a
//! megabyte-long name cannot turn into a megabyte-long answer.

/// Descriptions of servers and IP pools (Proxmox allows 8192 for a VM's description).
pub const DESCRIPTION: usize = 8192;
/// One tag of a server (Proxmox tags are short labels).
pub const TAG: usize = 32;
/// Tags on one server.
pub const TAGS: usize = 32;
/// One SSH public key line (a 16384-bit RSA key is about 2,800 characters).
pub const SSH_KEY: usize = 8192;
/// SSH keys on one server.
pub const SSH_KEYS: usize = 16;
/// The reserved ranges of an IP pool, as text (`a-b,c,…`).
pub const RESERVED: usize = 4096;
/// Reserved items (addresses or ranges) of one IP pool.
pub const RESERVED_ITEMS: usize = 256;
/// DNS servers of one pool or NIC.
pub const DNS_SERVERS: usize = 8;
/// A user's display name.
pub const PERSON_NAME: usize = 128;
/// An e-mail address (RFC 5321's path limit).
pub const EMAIL: usize = 254;
/// Names of users, IP pools, API tokens and security groups.
pub const NAME: usize = 64;
/// A server's OS family label (`ubuntu`, `rocky`).
pub const OS_TYPE: usize = 32;
/// The cloud-init password of a new server.
pub const CI_PASSWORD: usize = 256;
/// A template named by name rather than VMID.
pub const TEMPLATE_NAME: usize = 128;

/// How much of a user's input an error message repeats.
const SHOWN: usize = 64;

/// `value`, quoted, shortened to its first 64 characters (with an ellipsis) when longer.
pub fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_shortened_before_it_is_repeated() {
        assert_eq!(shown("web-1"), "\"web-1\"");
        let long = "x".repeat(1_000_000);
        let s = shown(&long);
        assert!(s.len() < 80 && s.ends_with('…'), "{s}");
        assert_eq!(shown(&"가".repeat(70)).chars().count(), 64 + 3);
    }
}
