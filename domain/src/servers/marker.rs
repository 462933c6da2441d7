//! How proxfleet marks the VMs it makes: a tag at the end of the VM's description, set by the
//! clone itself (so a VM is marked from its first moment). A step whose clone answer was lost,
//! a job resumed after a crash and the orphan check tell proxfleet's VMs from others by it
//! (with the name), and no VM without it is ever destroyed by a rollback.
//!
//! It stays on the description's own line: Proxmox refuses config values with line feeds.
//! Operators never see it in proxfleet: it is taken off descriptions read from Proxmox and put
//! back on those written to it.

/// The marker itself.
pub const MARKER: &str = "[managed by proxfleet]";

/// `description` with the marker at its end.
pub fn marked(description: &str) -> String {
    let text = unmarked(description);
    if text.is_empty() {
        MARKER.to_owned()
    } else {
        format!("{text} {MARKER}")
    }
}

/// Whether a VM's description carries the marker.
pub fn is_marked(description: Option<&str>) -> bool {
    description.is_some_and(|d| d.trim_end().ends_with(MARKER))
}

/// `description` without the marker.
pub fn unmarked(description: &str) -> String {
    let d = description.trim_end();
    d.strip_suffix(MARKER).map_or(d, str::trim_end).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_recognised() {
        assert_eq!(marked(""), MARKER);
        assert_eq!(marked("web tier"), "web tier [managed by proxfleet]");
        assert_eq!(marked(&marked("web tier")), marked("web tier"), "marking twice changes nothing");
        assert_eq!(unmarked(&marked("web tier")), "web tier");
        assert_eq!(unmarked("made by hand"), "made by hand");
        assert!(is_marked(Some(&marked("x"))));
        assert!(!is_marked(Some("made by hand")));
        assert!(!is_marked(None));
    }
}
