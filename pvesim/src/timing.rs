//! How long simulated work takes. `Instant` finishes every task before its call returns (unit
//! tests), `Fast` takes milliseconds (integration tests), `Realistic` takes what a small real
//! cluster takes, scaled by a factor (demo and benchmarks).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    Instant,
    Fast,
    /// Real-world durations multiplied by the factor (1.0 = real, 0.1 = ten times faster).
    Realistic(f64),
}

/// The kinds of work whose duration the profile decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Clone {
        full: bool,
    },
    Start,
    Stop,
    Shutdown,
    Reboot,
    Destroy,
    Config,
    Resize,
    Template,
    /// From start until the guest agent answers.
    AgentBoot,
    Backup,
    Restore,
}

impl Profile {
    pub fn parse(text: &str) -> Result<Profile, String> {
        match text {
            "instant" => Ok(Profile::Instant),
            "fast" => Ok(Profile::Fast),
            "realistic" => Ok(Profile::Realistic(1.0)),
            other => match other.strip_prefix("realistic:").map(str::parse::<f64>) {
                Some(Ok(f)) if f > 0.0 && f.is_finite() => Ok(Profile::Realistic(f)),
                _ => Err(format!("unknown timing profile {other:?}: instant, fast, realistic or realistic:<factor>")),
            },
        }
    }

    pub fn duration(self, work: Work) -> Duration {
        let real_ms: u64 = match work {
            Work::Clone { full: true } => 8_000,
            Work::Clone { full: false } => 2_000,
            Work::Start => 1_500,
            Work::Stop => 800,
            Work::Shutdown => 4_000,
            Work::Reboot => 5_000,
            Work::Destroy => 1_200,
            Work::Config => 300,
            Work::Resize => 600,
            Work::Template => 1_500,
            Work::AgentBoot => 12_000,
            Work::Backup => 20_000,
            Work::Restore => 15_000,
        };
        match self {
            Profile::Instant => Duration::ZERO,
            // Proportional, so orderings (agent after start, full clone after linked) hold.
            Profile::Fast => Duration::from_millis((real_ms / 100).max(1)),
            Profile::Realistic(f) => Duration::from_millis((real_ms as f64 * f) as u64),
        }
    }
}
