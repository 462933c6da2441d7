//! This instance's seat: the host it runs on, its network namespace and the address it listens
//! on. Only one live process can listen on one address in one network namespace of one host,
//! so a process that has bound the address knows that any earlier run recorded under the same
//! seat is gone, and takes its jobs back at once (see `domain::jobs::RunnerConfig::seat`)
//! instead of waiting out their lease. (The job workers stop as soon as shutdown starts, before
//! the address is let go: `cli::run`.)

use std::net::SocketAddr;

/// `HOST-MACHINE-NET@ADDRESS` for a bound `listen` address; `None` for port 0 (not bound yet,
/// or one the OS picks anew each start, so no later run shares it).
///
/// The host is its name plus a digest of `/etc/machine-id`: two machines cloned with the same
/// host name still get different seats when their machine ids differ. NET is the network
/// namespace (containers on one host each have their own, and each may listen on the same
/// address). The seat is only logged; jobs show a digest of it.
pub fn of(listen: SocketAddr) -> Option<String> {
    if listen.port() == 0 {
        return None;
    }
    let read = |path: &str| std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let host = read("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    let machine = read("/etc/machine-id")
        .or_else(|| read("/var/lib/dbus/machine-id"))
        .map(|id| domain::auth::tokens::digest(&id).chars().take(8).collect::<String>())
        .unwrap_or_else(|| "0".into());
    let net = std::fs::read_link("/proc/self/ns/net")
        .ok()
        .and_then(|l| l.to_str().map(|l| l.trim_start_matches("net:[").trim_end_matches(']').to_owned()))
        .unwrap_or_else(|| "0".into());
    Some(format!("{host}-{machine}-{net}@{listen}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_address_has_a_seat_an_unbound_one_none() {
        let seat = of("127.0.0.1:3000".parse().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_default();
        assert!(seat.ends_with("@127.0.0.1:3000"), "{seat}");
        assert_eq!(seat, of("127.0.0.1:3000".parse().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_default(), "stable");
        assert_ne!(seat, of("127.0.0.2:3000".parse().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_default());
        assert_eq!(of("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"))), None);
    }
}
