//! Riding out a busy or restarting cluster inside one step of a job. A transient error
//! (`PveError::is_transient`: no answer, 502/503, a proxy timeout, a config lock not obtained
//! in time) is tried again after a jittered pause, until the step's time budget is spent; any
//! other error ends the step at once, with Proxmox's own words.
//!
//! Writes are never repeated blindly: a write whose answer did not come may have been carried
//! out. Before sending it again the step looks at what Proxmox has (`Retry::write`'s `check`:
//! does the VM exist? does it run?) and goes on from there.

use std::future::Future;
use std::time::{Duration, Instant};

use pve::PveError;

/// How long one step keeps trying, and how it paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Time from the first try after which no new try starts.
    pub budget: Duration,
    /// First pause; doubles per try (with jitter) up to `max`.
    pub first: Duration,
    pub max: Duration,
    /// The budget when the node itself does not answer (595: the proxy cannot reach it): a
    /// node that is down stays down for longer than a step should wait, and the job has
    /// other servers to make.
    pub node_budget: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            budget: Duration::from_secs(120),
            first: Duration::from_millis(500),
            max: Duration::from_secs(10),
            node_budget: Duration::from_secs(15),
        }
    }
}

/// The node the call went to did not answer (as opposed to the cluster being busy).
fn node_unreachable(e: &PveError) -> bool {
    e.status == 595
}

/// The error of the last try, said to be the last.
fn gave_up(mut e: PveError, tries: u32, started: Instant) -> PveError {
    if tries > 1 {
        e.message = format!("{} (gave up after {tries} tries in {} s)", e.message, started.elapsed().as_secs());
    }
    e
}

/// What a write's `check` found in Proxmox.
#[derive(Debug, Clone, PartialEq)]
pub enum Look<T> {
    /// What the write asked for is there: the step goes on with this.
    Done(T),
    /// It is not: the write was not carried out and is sent again.
    NotDone,
    /// It is under way (a task still holds the guest's lock): looked at again later.
    Pending,
}

impl<T> Look<T> {
    /// `Done(value)` when what was asked for is there, else `NotDone`.
    pub fn done_if(done: bool, value: T) -> Look<T> {
        if done {
            Look::Done(value)
        } else {
            Look::NotDone
        }
    }
}

impl Retry {
    /// Sleeps before try `tries + 1` if that try would still start within the budget (the
    /// shorter one after `last` if that says the node is not answering).
    async fn pause(&self, tries: u32, started: Instant, last: &PveError) -> bool {
        let wait = pve::backoff::pause(self.first, self.max, tries.saturating_sub(1));
        let budget = if node_unreachable(last) { self.node_budget.min(self.budget) } else { self.budget };
        if started.elapsed() + wait > budget {
            return false;
        }
        tokio::time::sleep(wait).await;
        true
    }

    /// For a step that repeats a whole operation itself (send and wait): after its try number
    /// `tries` (counted from 1) failed with `last` since `started`, sleeps and says `true` if
    /// one more try fits the budget.
    pub async fn again(&self, tries: u32, started: Instant, last: &PveError) -> bool {
        self.pause(tries, started, last).await
    }

    /// A call that may be repeated as is (a read; a write that sets values): tried again on
    /// errors `retry_on` accepts.
    pub async fn call_when<T, F, Fut>(&self, retry_on: impl Fn(&PveError) -> bool, mut call: F) -> Result<T, PveError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PveError>>,
    {
        let started = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            match call().await {
                Err(e) if retry_on(&e) => {
                    tracing::debug!(tries, error = %e, "transient Proxmox error; trying again");
                    if !self.pause(tries, started, &e).await {
                        return Err(gave_up(e, tries, started));
                    }
                }
                other => return other,
            }
        }
    }

    /// [`Retry::call_when`] on transient errors.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, PveError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PveError>>,
    {
        self.call_when(PveError::is_transient, call).await
    }

    /// A write that must not be repeated blindly. After a transient error, `check` says
    /// whether Proxmox already has what the write asked for ([`Look`]). A `check` that
    /// itself fails transiently is asked again (never the write).
    pub async fn write<T, S, SF, C, CF>(&self, mut send: S, mut check: C) -> Result<T, PveError>
    where
        S: FnMut() -> SF,
        SF: Future<Output = Result<T, PveError>>,
        C: FnMut() -> CF,
        CF: Future<Output = Result<Look<T>, PveError>>,
    {
        let started = Instant::now();
        let mut tries = 0;
        loop {
            tries += 1;
            let mut last = match send().await {
                Err(e) if e.is_transient() => e,
                other => return other,
            };
            tracing::debug!(tries, error = %last, "a write got no clear answer; looking at what Proxmox has");
            loop {
                if !self.pause(tries, started, &last).await {
                    return Err(gave_up(last, tries, started));
                }
                match check().await {
                    Ok(Look::Done(done)) => return Ok(done),
                    Ok(Look::NotDone) => break,
                    Ok(Look::Pending) => tries += 1,
                    Err(e) if e.is_transient() => {
                        tries += 1;
                        last = e;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use pve::ErrorKind;

    use super::*;

    fn quick() -> Retry {
        Retry {
            budget: Duration::from_millis(200),
            first: Duration::from_millis(1),
            max: Duration::from_millis(4),
            node_budget: Duration::from_millis(50),
        }
    }

    fn busy() -> PveError {
        PveError::new(ErrorKind::Unreachable, 503, "Service Unavailable")
    }

    #[tokio::test]
    async fn transient_errors_are_tried_again_within_the_budget_permanent_ones_not() {
        let tries = AtomicU32::new(0);
        let got = quick()
            .call(|| async {
                if tries.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(busy())
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!((got.ok(), tries.load(Ordering::SeqCst)), (Some(7), 4));

        let tries = AtomicU32::new(0);
        let e = quick()
            .call(|| async {
                tries.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(PveError::new(ErrorKind::AlreadyExists, 500, "VM 100 already exists"))
            })
            .await
            .unwrap_err();
        assert_eq!((e.kind, tries.load(Ordering::SeqCst)), (ErrorKind::AlreadyExists, 1));

        let started = Instant::now();
        let e = quick().call(|| async { Err::<(), _>(busy()) }).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(400), "bounded by the budget");
        assert!(e.message.starts_with("Service Unavailable (gave up after "), "{}", e.message);
    }

    #[tokio::test]
    async fn a_node_that_does_not_answer_is_given_up_on_sooner() {
        let down = || async { Err::<(), _>(PveError::new(ErrorKind::Unreachable, 595, "proxy to node 'pve3' failed")) };
        let started = Instant::now();
        quick().call(down).await.unwrap_err();
        let node_wait = started.elapsed();
        let started = Instant::now();
        quick().call(|| async { Err::<(), _>(busy()) }).await.unwrap_err();
        assert!(node_wait < Duration::from_millis(120), "{node_wait:?}: the node budget (50 ms)");
        assert!(started.elapsed() >= Duration::from_millis(150), "a busy cluster gets the whole budget");
    }

    #[tokio::test]
    async fn a_write_whose_answer_was_lost_is_looked_for_before_it_is_sent_again() {
        // The first send was carried out, its answer lost: the check finds it, no second send.
        let (sends, checks) = (AtomicU32::new(0), AtomicU32::new(0));
        let got = quick()
            .write(
                || async {
                    sends.fetch_add(1, Ordering::SeqCst);
                    Err::<&str, _>(PveError::new(ErrorKind::Unreachable, 596, "Connection timed out"))
                },
                || async {
                    // The first look fails too: looked at again, not sent again.
                    if checks.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(busy())
                    } else {
                        Ok(Look::Done("found"))
                    }
                },
            )
            .await;
        assert_eq!(got.ok(), Some("found"));
        assert_eq!((sends.load(Ordering::SeqCst), checks.load(Ordering::SeqCst)), (1, 2));

        // Turned away (nothing done): the check says so and the write goes again.
        let sends = AtomicU32::new(0);
        let got = quick()
            .write(
                || async {
                    if sends.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(busy())
                    } else {
                        Ok("sent")
                    }
                },
                || async { Ok(Look::NotDone) },
            )
            .await;
        assert_eq!((got.ok(), sends.load(Ordering::SeqCst)), (Some("sent"), 2));
    }
}
