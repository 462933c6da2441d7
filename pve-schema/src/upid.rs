//! Task ids: `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:` (pve-common UPID.pm).

use std::fmt;

/// A parsed UPID. Task calls go to `node` (the second field), not to the node the action was
/// sent to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upid {
    pub node: String,
    pub pid: u32,
    pub pstart: u64,
    pub starttime: u32,
    pub kind: String,
    pub id: String,
    pub user: String,
    raw: String,
}

impl Upid {
    pub fn parse(s: &str) -> Option<Upid> {
        let rest = s.strip_prefix("UPID:")?.strip_suffix(':')?;
        let f: Vec<&str> = rest.split(':').collect();
        if f.len() != 7 {
            return None;
        }
        let node_ok = !f[0].is_empty()
            && f[0].chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !f[0].starts_with('-')
            && !f[0].ends_with('-');
        let hex = |v: &str, min: usize, max: usize| {
            (min..=max).contains(&v.len()) && v.chars().all(|c| c.is_ascii_hexdigit())
        };
        let plain = |v: &str| !v.chars().any(|c| c == '/' || c.is_whitespace());
        if !node_ok || !hex(f[1], 8, 8) || !hex(f[2], 8, 9) || !hex(f[3], 8, 8) {
            return None;
        }
        if f[4].is_empty() || !plain(f[4]) || !plain(f[5]) || f[6].is_empty() || !plain(f[6]) {
            return None;
        }
        Some(Upid {
            node: f[0].to_owned(),
            pid: u32::from_str_radix(f[1], 16).ok()?,
            pstart: u64::from_str_radix(f[2], 16).ok()?,
            starttime: u32::from_str_radix(f[3], 16).ok()?,
            kind: f[4].to_owned(),
            id: f[5].to_owned(),
            user: f[6].to_owned(),
            raw: s.to_owned(),
        })
    }

    /// Builds a UPID the way PVE encodes it (the simulator uses this).
    pub fn new(node: &str, pid: u32, pstart: u64, starttime: u32, kind: &str, id: &str, user: &str) -> Upid {
        let raw = format!("UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{kind}:{id}:{user}:");
        Upid { node: node.into(), pid, pstart, starttime, kind: kind.into(), id: id.into(), user: user.into(), raw }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_upids_and_refuses_bad_ones() {
        let u = Upid::parse("UPID:pve:000A1B2C:01F3A4B5:6763E1A0:qmstart:100:root@pam:").unwrap_or_else(|| panic!());
        assert_eq!(
            (u.node.as_str(), u.kind.as_str(), u.id.as_str(), u.user.as_str()),
            ("pve", "qmstart", "100", "root@pam")
        );
        assert_eq!(u.pid, 0x000A1B2C);
        // 9-digit pstart, empty id, token user.
        assert!(Upid::parse("UPID:node-2:0000002A:1F3A4B5C6:6763E1A0:vzdump::root@pam!ci:").is_some());
        for bad in ["UPID:pve:1:2:3:qm:1:u:", "UPID:-pve:000A1B2C:01F3A4B5:6763E1A0:qmstart:100:root@pam:", "nope", ""]
        {
            assert!(Upid::parse(bad).is_none(), "{bad}");
        }
        let built = Upid::new("pve", 42, 7, 0x6763E1A0, "qmclone", "9000", "root@pam");
        assert_eq!(built.as_str(), "UPID:pve:0000002A:00000007:6763E1A0:qmclone:9000:root@pam:");
        assert_eq!(Upid::parse(built.as_str()), Some(built));
    }
}
