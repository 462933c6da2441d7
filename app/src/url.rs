//! URL pieces built in the page.

/// Percent-encodes everything but unreserved characters, so a text is safe as a path segment,
/// a query value or `data:` URL content (UPIDs hold `:` and `@`; logs hold anything).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reserved_and_non_ascii_bytes_are_encoded() {
        assert_eq!(
            super::percent_encode("UPID:pve1:0A:root@pam: ü/x"),
            "UPID%3Apve1%3A0A%3Aroot%40pam%3A%20%C3%BC%2Fx"
        );
    }
}
