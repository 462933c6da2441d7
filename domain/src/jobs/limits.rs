//! Concurrency limits by key, shared by every job of this instance: a step asks for a permit
//! on e.g. `storage:pve1/local-lvm` with a limit of 2 and waits while two are out. Keys are
//! created on first use; dropping the permit frees the slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone, Default)]
pub struct KeyedLimits {
    keys: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl KeyedLimits {
    pub fn new() -> Self {
        KeyedLimits::default()
    }

    /// Waits for a slot under `key`, which allows `limit` at a time. The first caller of a key
    /// fixes its limit.
    pub async fn acquire(&self, key: &str, limit: usize) -> OwnedSemaphorePermit {
        let sem = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            keys.entry(key.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(limit.max(1)))).clone()
        };
        loop {
            // A semaphore is never closed here, so this only loops in theory.
            if let Ok(p) = sem.clone().acquire_owned().await {
                return p;
            }
        }
    }

    /// Slots free under `key` right now (for tests and status pages).
    pub fn available(&self, key: &str) -> Option<usize> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(key).map(|s| s.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_most_limit_holders_per_key() {
        let limits = KeyedLimits::new();
        let a = limits.acquire("storage:local-lvm", 2).await;
        let _b = limits.acquire("storage:local-lvm", 2).await;
        assert_eq!(limits.available("storage:local-lvm"), Some(0));
        let other = limits.acquire("storage:shared", 2).await;
        assert_eq!(limits.available("storage:shared"), Some(1), "keys are independent");
        let l2 = limits.clone();
        let waiter = tokio::spawn(async move { l2.acquire("storage:local-lvm", 2).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the third waits");
        drop(a);
        let _c = waiter.await.unwrap_or_else(|e| panic!("{e}"));
        drop(other);
    }
}
