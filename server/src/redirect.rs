//! Where the server may send a browser back to: the one check for every redirect target that a
//! request supplies (`next=` after a form login, the `Referer` of the no-JavaScript preference
//! switch), so that no door can be turned into an open redirect.

/// `candidate` when it is a path on this site, `None` otherwise.
///
/// A local path starts with one `/`, and holds only visible ASCII without `\`: browsers treat
/// `\` as `/` (`/\evil.example` is the off-site `//evil.example`) and drop tabs and newlines
/// while parsing a URL (`/\t/evil.example` becomes `//evil.example` too).
pub fn local_path(candidate: &str) -> Option<&str> {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && candidate.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\');
    ok.then_some(candidate)
}

/// The path of `referer` when it names a page of `host` (this server), `None` otherwise.
pub fn same_site_referer(referer: &str, host: Option<&str>) -> Option<String> {
    let rest = referer.strip_prefix("http://").or_else(|| referer.strip_prefix("https://"))?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if host != Some(authority) {
        return None;
    }
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    local_path(&path).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_visible_paths_pass() {
        assert_eq!(local_path("/servers?page=2"), Some("/servers?page=2"));
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/a\\b",
            "/\t/evil.example",
            "/\n/x",
            "https://evil.example",
            "servers",
            "/a b",
            "",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn referers_lead_back_only_within_our_own_site() {
        let host = Some("127.0.0.1:3000");
        assert_eq!(same_site_referer("http://127.0.0.1:3000/servers?x=1", host).as_deref(), Some("/servers?x=1"));
        assert_eq!(same_site_referer("http://127.0.0.1:3000", host).as_deref(), Some("/"));
        assert_eq!(same_site_referer("http://127.0.0.1:3000?x=1", host).as_deref(), Some("/?x=1"));
        for bad in [
            "https://evil.example/servers",
            "http://127.0.0.1:3000//evil.example",
            "http://127.0.0.1:3000/\\evil.example",
            "http://127.0.0.1:3000/%0a/x\n",
            "http://127.0.0.1:3000.evil.example/",
            "javascript:alert(1)",
        ] {
            assert_eq!(same_site_referer(bad, host), None, "{bad:?}");
        }
    }
}
