//! Login throttling. Three counters of failures within a window:
//!
//! - per **address** (an IPv4 address, or an IPv6 /64): an address that fails too often (a spray
//!   across many accounts) is locked until the window ends;
//! - per **(username, address)** pair: one address guessing one account is locked for that
//!   account until the window ends;
//! - per **username** alone: failures from anywhere only *slow* further attempts for that
//!   account (a delay that doubles with each failure, up to a cap) and never lock it. A hard
//!   lock per username would let anyone lock the admin out from any address with five wrong
//!   passwords; a delay lets an attacker slow a real admin down, never keep them out.
//!
//! In memory: a restart forgets failures, which is acceptable for a throttle (the passwords are
//! argon2id). Every failure, lock and delay is written to the audit log by the caller.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures for one username from one address before that pair is locked.
    pub max_failures_per_pair: u32,
    /// Failures from one address (any usernames) before the address is locked.
    pub max_failures_per_ip: u32,
    /// Failures for one username (from anywhere) before further attempts are delayed.
    pub free_failures_per_user: u32,
    /// The first delay; each further failure doubles it.
    pub first_delay_ms: u64,
    /// The longest delay: what a real user waits at worst while their account is attacked.
    pub max_delay_ms: u64,
    /// Failures are counted within this window; a locked key is released when it ends.
    pub window_ms: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures_per_pair: 5,
            max_failures_per_ip: 20,
            free_failures_per_user: 5,
            first_delay_ms: 1000,
            max_delay_ms: 10_000,
            window_ms: 15 * 60 * 1000,
        }
    }
}

/// What the limiter says about one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Refused without a password check: this address is locked, or this address is locked
    /// for this username.
    Locked,
    /// Check the password after waiting `delay` (zero unless the username has failed often).
    /// `recent_failures` is the username's count before this attempt, for the audit log.
    Allowed { delay: Duration, recent_failures: u32 },
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: i64,
}

#[derive(Debug, Default)]
pub struct LoginLimiter {
    policy: LockoutPolicy,
    failures: Mutex<HashMap<String, Failures>>,
}

fn user_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

/// The unit an address is counted in: the address itself for IPv4, its /64 for IPv6 (one
/// host usually holds a whole /64 and could otherwise try from a new address every time).
fn address(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or_else(|| ip.to_owned(), |v4| v4.to_string()),
        _ => ip.to_owned(),
    }
}

fn ip_key(ip: &str) -> String {
    format!("ip:{}", address(ip))
}

fn pair_key(username: &str, ip: &str) -> String {
    format!("pair:{}:{}", address(ip), username.to_lowercase())
}

impl LoginLimiter {
    pub fn new(policy: LockoutPolicy) -> Self {
        LoginLimiter { policy, failures: Mutex::new(HashMap::new()) }
    }

    /// Starts an attempt. Unless locked, the attempt is counted as a failure *before* the
    /// password is checked, so parallel guesses cannot all slip past the limits while their
    /// verifications run; `succeeded` takes it back.
    pub fn begin(&self, username: &str, ip: Option<&str>, now: i64) -> Attempt {
        let p = self.policy;
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, f| now - f.since < p.window_ms);
        let count = |map: &HashMap<String, Failures>, key: &str| map.get(key).map_or(0, |f| f.count);
        if let Some(ip) = ip {
            if count(&map, &ip_key(ip)) >= p.max_failures_per_ip
                || count(&map, &pair_key(username, ip)) >= p.max_failures_per_pair
            {
                return Attempt::Locked;
            }
        }
        let recent_failures = count(&map, &user_key(username));
        let mut bump = |key: String| map.entry(key).or_insert(Failures { count: 0, since: now }).count += 1;
        bump(user_key(username));
        if let Some(ip) = ip {
            bump(ip_key(ip));
            bump(pair_key(username, ip));
        }
        Attempt::Allowed { delay: self.delay_after(recent_failures), recent_failures }
    }

    /// The wait before checking a password for a username with `failures` recent failures.
    fn delay_after(&self, failures: u32) -> Duration {
        let p = self.policy;
        let Some(over) = failures.checked_sub(p.free_failures_per_user) else { return Duration::ZERO };
        let ms = p.first_delay_ms.saturating_mul(1u64 << over.min(20)).min(p.max_delay_ms);
        Duration::from_millis(ms)
    }

    /// The attempt begun for this username and address was right: the username's and the
    /// pair's counts are cleared and the address's provisional failure is taken back (the
    /// address keeps its earlier failures: one right password must not reset a spray across
    /// many accounts).
    pub fn succeeded(&self, username: &str, ip: Option<&str>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&user_key(username));
        if let Some(ip) = ip {
            map.remove(&pair_key(username, ip));
            if let Some(f) = map.get_mut(&ip_key(ip)) {
                f.count = f.count.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            max_failures_per_pair: 3,
            max_failures_per_ip: 5,
            free_failures_per_user: 3,
            first_delay_ms: 100,
            max_delay_ms: 350,
            window_ms: 1000,
        }
    }

    fn allowed(a: Attempt) -> Option<u64> {
        match a {
            Attempt::Allowed { delay, .. } => Some(delay.as_millis() as u64),
            Attempt::Locked => None,
        }
    }

    #[test]
    fn one_address_guessing_one_account_is_locked_for_that_account_only() {
        let l = LoginLimiter::new(policy());
        for i in 0..3 {
            assert_eq!(allowed(l.begin("Kim", Some("10.0.0.1"), i)), Some(0), "attempt {i}");
        }
        assert_eq!(l.begin("kim", Some("10.0.0.1"), 5), Attempt::Locked, "the pair is locked, whatever the case");
        assert!(allowed(l.begin("kim", Some("10.0.0.9"), 6)).is_some(), "the account is not locked from elsewhere");
        assert!(allowed(l.begin("lee", Some("10.0.0.1"), 7)).is_some(), "the address may still try other accounts");
        assert!(allowed(l.begin("kim", Some("10.0.0.1"), 1000)).is_some(), "released when the window has passed");
    }

    #[test]
    fn failures_from_many_addresses_slow_an_account_but_never_lock_it() {
        let l = LoginLimiter::new(policy());
        let delays: Vec<Option<u64>> =
            (0..8).map(|i| allowed(l.begin("admin", Some(&format!("10.0.1.{i}")), i))).collect();
        assert_eq!(delays, [Some(0), Some(0), Some(0), Some(100), Some(200), Some(350), Some(350), Some(350)]);
        // The real admin, from their own address, is slowed by the cap at worst.
        assert_eq!(allowed(l.begin("admin", Some("192.0.2.7"), 9)), Some(350));
        l.succeeded("admin", Some("192.0.2.7"));
        assert_eq!(allowed(l.begin("admin", Some("192.0.2.7"), 10)), Some(0), "a right password clears the delay");
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_slash_64() {
        let l = LoginLimiter::new(policy());
        for i in 0..3 {
            assert!(allowed(l.begin("kim", Some(&format!("2001:db8:1:2::{i:x}")), i)).is_some());
        }
        assert_eq!(l.begin("kim", Some("2001:db8:1:2:ffff::1"), 4), Attempt::Locked, "the same /64 is one address");
        assert!(allowed(l.begin("kim", Some("2001:db8:1:3::1"), 5)).is_some(), "another /64 is another address");
        assert_eq!(address("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(address("192.0.2.1"), "192.0.2.1");
    }

    #[test]
    fn an_address_spraying_many_users_is_locked() {
        let l = LoginLimiter::new(policy());
        for (i, user) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            assert!(allowed(l.begin(user, Some("10.0.0.1"), i as i64)).is_some());
        }
        assert_eq!(l.begin("f", Some("10.0.0.1"), 10), Attempt::Locked);
        assert!(allowed(l.begin("f", Some("10.0.0.2"), 10)).is_some());
        l.succeeded("f", Some("10.0.0.2"));
        assert_eq!(
            l.begin("f", Some("10.0.0.1"), 10),
            Attempt::Locked,
            "success elsewhere does not unlock the address"
        );
    }

    #[test]
    fn a_right_password_takes_its_own_attempt_back() {
        let l = LoginLimiter::new(LockoutPolicy { max_failures_per_pair: 2, max_failures_per_ip: 2, ..policy() });
        for i in 0..5 {
            assert_eq!(allowed(l.begin("kim", Some("10.0.0.1"), i)), Some(0));
            l.succeeded("kim", Some("10.0.0.1"));
        }
        assert!(allowed(l.begin("kim", Some("10.0.0.1"), 6)).is_some(), "successful logins never lock anyone");
    }
}
