//! Request parameters as PVE expects them: strings in a form body or query string, booleans as
//! the literal `1`/`0` (`true` is refused with 400), lists joined with commas.

/// One API request the client can send: method, path below `/api2/json`, parameters. Built by
/// pure functions (so the contract test can check every request against the schema without a
/// server) and executed by `PveClient`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Concrete path, e.g. `/nodes/pve/qemu/100/clone`.
    pub path: String,
    /// The schema path this request is an instance of, e.g. `/nodes/{node}/qemu/{vmid}/clone`.
    pub template: &'static str,
    pub params: Params,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// Reads are retried on transient failures; writes never are.
    pub fn is_read(self) -> bool {
        self == Method::Get
    }
}

impl Request {
    pub fn new(method: Method, template: &'static str, path: String) -> Request {
        Request { method, path, template, params: Params::default() }
    }

    pub fn with(mut self, params: Params) -> Request {
        self.params = params;
        self
    }
}

/// Ordered name → value pairs, already in wire form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    pub fn str(mut self, name: &str, value: impl Into<String>) -> Params {
        self.0.push((name.to_owned(), value.into()));
        self
    }

    pub fn opt_str(self, name: &str, value: Option<impl Into<String>>) -> Params {
        match value {
            Some(v) => self.str(name, v),
            None => self,
        }
    }

    pub fn int(self, name: &str, value: i64) -> Params {
        self.str(name, value.to_string())
    }

    pub fn opt_int(self, name: &str, value: Option<i64>) -> Params {
        match value {
            Some(v) => self.int(name, v),
            None => self,
        }
    }

    /// `1` or `0`: the only boolean spellings PVE accepts in form and query encoding.
    pub fn bool(self, name: &str, value: bool) -> Params {
        self.str(name, if value { "1" } else { "0" })
    }

    pub fn opt_bool(self, name: &str, value: Option<bool>) -> Params {
        match value {
            Some(v) => self.bool(name, v),
            None => self,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The `sshkeys` value: percent-encoded OpenSSH keys, one per line. PVE stores it as sent and
/// returns it still encoded; `+` must not stand for a space (Perl's `uri_unescape` keeps it).
/// This is a second encoding layer; the form encoding adds its own on top.
pub fn encode_sshkeys(keys: &[&str]) -> String {
    let joined = keys.iter().map(|k| k.trim()).collect::<Vec<_>>().join("\n");
    let mut out = String::with_capacity(joined.len() * 3 / 2);
    for b in joined.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Reverses `encode_sshkeys` (for reading a config back).
pub fn decode_sshkeys(value: &str) -> Vec<String> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?))
            .flatten();
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).lines().map(str::to_owned).filter(|l| !l.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_one_and_zero_and_sshkeys_round_trip() {
        let p = Params::new().bool("full", true).bool("force", false).opt_int("x", None).int("newid", 101);
        assert_eq!(
            p.0,
            vec![("full".into(), "1".into()), ("force".into(), "0".into()), ("newid".into(), "101".into())]
        );
        let keys = ["ssh-ed25519 AAAAC3Nza+C1 kim@host", "ssh-rsa AAAAB3/x== lee@host"];
        let enc = encode_sshkeys(&keys);
        assert_eq!(enc, "ssh-ed25519%20AAAAC3Nza%2BC1%20kim%40host%0Assh-rsa%20AAAAB3%2Fx%3D%3D%20lee%40host");
        assert!(!enc.contains('+') && !enc.contains(' ') && !enc.contains('\n'));
        assert_eq!(decode_sshkeys(&enc), keys.iter().map(|k| k.to_string()).collect::<Vec<_>>());
    }
}
