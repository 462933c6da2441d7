//! Pauses between tries: exponential, capped, with jitter, so that many callers turned away
//! by the same busy node at the same moment do not all come back at the same moment.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// The pause before try `attempt + 1` (0 = the first retry): half of `first · 2^attempt`
/// (at most `max`) plus a random part up to the other half ("equal jitter": never near zero,
/// never above the cap).
pub fn pause(first: Duration, max: Duration, attempt: u32) -> Duration {
    let base = first.saturating_mul(2u32.saturating_pow(attempt.min(30))).min(max);
    let half = base / 2;
    half + half.mul_f64(unit())
}

/// A random number in [0, 1). The standard library's hasher keys are random per instance,
/// which is plenty for spreading retries (no cryptographic use).
fn unit() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_is_capped_and_varies() {
        let (first, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 0..12 {
            let base = (first * 2u32.pow(attempt)).min(max);
            for _ in 0..20 {
                let p = pause(first, max, attempt);
                assert!(p >= base / 2 && p <= base, "attempt {attempt}: {p:?} outside [{:?}, {base:?}]", base / 2);
            }
        }
        let pauses: std::collections::BTreeSet<Duration> = (0..20).map(|_| pause(first, max, 3)).collect();
        assert!(pauses.len() > 10, "jittered: {pauses:?}");
        let huge = pause(first, max, u32::MAX);
        assert!(huge >= max / 2 && huge <= max, "no overflow past the cap: {huge:?}");
    }
}
