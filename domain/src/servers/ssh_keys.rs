//! OpenSSH public keys as users send them for cloud-init. Each entry must be exactly one key,
//! `type base64 [comment]`: Proxmox writes the keys one per line into `authorized_keys`, so a
//! newline inside an entry would smuggle in a second key (or `command="…"` options) that the
//! operator never saw.

use crate::limits;

/// Key types OpenSSH accepts in `authorized_keys` (certificates excluded).
const KEY_TYPES: [&str; 8] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Checks one entry (surrounding blanks already trimmed); the error says what is wrong.
pub fn check(entry: &str) -> Result<(), String> {
    if entry.chars().nth(limits::SSH_KEY).is_some() {
        return Err(format!("at most {} characters", limits::SSH_KEY));
    }
    // Not only `\n`: YAML, which cloud-init reads the keys from, also breaks lines at U+0085,
    // U+2028 and U+2029. Any control character or blank other than a plain space is refused.
    if entry.chars().any(|c| c.is_control() || (c.is_whitespace() && c != ' ') || c == '\u{feff}') {
        return Err("one key per entry, its parts separated by single spaces: line breaks, tabs and control characters are not allowed".into());
    }
    let mut parts = entry.splitn(3, ' ');
    let kind = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    if !KEY_TYPES.contains(&kind) {
        return Err(format!(
            "{} is not an OpenSSH public key: it must start with its type ({}), then the key, then an optional comment",
            limits::shown(kind),
            KEY_TYPES.join(", ")
        ));
    }
    let blob = decode_base64(body).ok_or("the key after the type is not base64")?;
    // The blob names its own type first (a 4-byte length, then the name): a key pasted with
    // the wrong type in front of it would be refused by sshd, so refuse it now.
    let named =
        blob.get(..4).map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize).and_then(|n| blob.get(4..4 + n));
    if named != Some(kind.as_bytes()) {
        return Err(format!("the key data is not a {kind} key"));
    }
    Ok(())
}

/// Standard base64 with padding, as OpenSSH writes keys; `None` for anything else.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let quads = bytes.len() / 4;
    for (q, chunk) in bytes.chunks(4).enumerate() {
        let padding = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if padding > 2 || (padding > 0 && q + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for c in &chunk[..4 - padding] {
            n = (n << 6) | value(*c)?;
        }
        n <<= 6 * padding as u32;
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A well-formed ed25519 public key (ssh-keygen -l reads it; the key bytes are random).
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C7okWi4q5AJwWT0V kim@laptop";

    #[test]
    fn one_real_key_with_or_without_a_comment_is_accepted() {
        assert_eq!(check(ED25519), Ok(()));
        let without_comment: String = ED25519.rsplit_once(' ').map(|(k, _)| k.to_owned()).unwrap_or_default();
        assert_eq!(check(&without_comment), Ok(()));
        assert_eq!(check(&format!("{ED25519} with spaces in the comment")), Ok(()));
    }

    #[test]
    fn a_second_line_options_or_garbage_are_refused() {
        let two_lines =
            format!("{ED25519}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C7okWi4q5AJwWT0V evil");
        assert!(check(&two_lines).unwrap_err().contains("one key per entry"));
        assert!(check(&format!("{ED25519}\r")).is_err());
        for separator in ['\u{2028}', '\u{2029}', '\u{85}', '\t'] {
            assert!(check(&format!("{ED25519}{separator}- ssh-rsa AAAA evil")).is_err(), "{separator:?}");
        }
        assert_eq!(check(&format!("{ED25519} 김민수의 노트북")), Ok(()), "a comment may be in any script");
        assert!(check(&format!("command=\"rm -rf /\" {ED25519}")).unwrap_err().contains("not an OpenSSH public key"));
        assert!(check("ssh-ed25519 not-base64!").unwrap_err().contains("base64"));
        assert!(check("ssh-ed25519").is_err());
        let wrong_type = ED25519.replacen("ssh-ed25519", "ssh-rsa", 1);
        assert!(check(&wrong_type).unwrap_err().contains("not a ssh-rsa key"));
        assert!(check(&"A".repeat(limits::SSH_KEY + 1)).unwrap_err().contains("at most"));
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("aGk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64("aGk"), None);
        assert_eq!(decode_base64("aGVsbG8h"), Some(b"hello!".to_vec()));
        assert_eq!(decode_base64("aG=k"), None);
    }
}
