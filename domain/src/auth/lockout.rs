//! Login rate limiting: too many failures for one username or from one address within a
//! window lock further attempts for that key until the window has passed. In memory: a
//! restart forgets failures, which is acceptable for a throttle (the passwords are argon2id).

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures_per_user: u32,
    pub max_failures_per_ip: u32,
    /// Failures are counted within this window; a locked key is released when it ends.
    pub window_ms: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy { max_failures_per_user: 5, max_failures_per_ip: 20, window_ms: 15 * 60 * 1000 }
    }
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

impl LoginLimiter {
    pub fn new(policy: LockoutPolicy) -> Self {
        LoginLimiter { policy, failures: Mutex::new(HashMap::new()) }
    }

    fn user_key(username: &str) -> String {
        format!("user:{}", username.to_lowercase())
    }

    fn ip_key(ip: &str) -> String {
        format!("ip:{ip}")
    }

    /// True while either the username or the address is locked.
    pub fn is_locked(&self, username: &str, ip: Option<&str>, now: i64) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        self.locked_in(&mut map, username, ip, now)
    }

    fn locked_in(&self, map: &mut HashMap<String, Failures>, username: &str, ip: Option<&str>, now: i64) -> bool {
        let window = self.policy.window_ms;
        map.retain(|_, f| now - f.since < window);
        let over = |key: &str, max: u32| map.get(key).is_some_and(|f| f.count >= max);
        over(&Self::user_key(username), self.policy.max_failures_per_user)
            || ip.is_some_and(|ip| over(&Self::ip_key(ip), self.policy.max_failures_per_ip))
    }

    /// Starts an attempt: refused (`false`) while locked; otherwise the attempt is counted as a
    /// failure *before* the password is checked, so parallel guesses cannot all slip past the
    /// limit while their verifications run. `succeeded` takes it back.
    pub fn begin(&self, username: &str, ip: Option<&str>, now: i64) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if self.locked_in(&mut map, username, ip, now) {
            return false;
        }
        let mut bump = |key: String| {
            let f = map.entry(key).or_insert(Failures { count: 0, since: now });
            f.count += 1;
        };
        bump(Self::user_key(username));
        if let Some(ip) = ip {
            bump(Self::ip_key(ip));
        }
        true
    }

    /// The attempt begun for this username and address was right: the username's count is
    /// cleared and the address's provisional failure is taken back (the address keeps its
    /// earlier failures: one right password must not reset a spray across many accounts).
    pub fn succeeded(&self, username: &str, ip: Option<&str>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Self::user_key(username));
        if let Some(f) = ip.and_then(|ip| map.get_mut(&Self::ip_key(ip))) {
            f.count = f.count.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_releases_after_the_window() {
        let l = LoginLimiter::new(LockoutPolicy { max_failures_per_user: 3, max_failures_per_ip: 5, window_ms: 1000 });
        for i in 0..3 {
            assert!(l.begin("Kim", Some("10.0.0.1"), i), "attempt {i} allowed");
        }
        assert!(!l.begin("kim", Some("10.0.0.1"), 5), "the fourth is refused before any password check");
        assert!(l.is_locked("kim", Some("10.0.0.9"), 10), "the username is locked from any address");
        assert!(!l.is_locked("lee", Some("10.0.0.1"), 10), "the address is not locked yet");
        assert!(!l.is_locked("kim", None, 1000), "released when the window has passed");
    }

    #[test]
    fn an_address_spraying_many_users_is_locked() {
        let l = LoginLimiter::new(LockoutPolicy { max_failures_per_user: 3, max_failures_per_ip: 5, window_ms: 1000 });
        for (i, user) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            assert!(l.begin(user, Some("10.0.0.1"), i as i64));
        }
        assert!(l.is_locked("f", Some("10.0.0.1"), 10));
        assert!(!l.is_locked("f", Some("10.0.0.2"), 10));
        l.succeeded("f", Some("10.0.0.2"));
        assert!(l.is_locked("f", Some("10.0.0.1"), 10), "success elsewhere does not unlock the address");
    }

    #[test]
    fn a_right_password_takes_its_own_attempt_back() {
        let l = LoginLimiter::new(LockoutPolicy { max_failures_per_user: 2, max_failures_per_ip: 2, window_ms: 1000 });
        for i in 0..5 {
            assert!(l.begin("kim", Some("10.0.0.1"), i));
            l.succeeded("kim", Some("10.0.0.1"));
        }
        assert!(!l.is_locked("kim", Some("10.0.0.1"), 6), "successful logins never lock anyone");
    }
}
