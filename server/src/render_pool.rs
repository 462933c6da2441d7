//! Server-side rendering runs on a few dedicated single-threaded runtimes.
//!
//! Why: Leptos 0.8.23's resources have a lost-wakeup race when a resource completes on one
//! worker thread while the render polls it on another (fixed upstream in leptos#4853, not yet
//! released). We saw roughly 1 page in 200 hang under concurrent load. On a single-threaded
//! runtime the resource and the render that awaits it share one thread, so the race cannot
//! happen. REST and server-function calls stay on the main multi-threaded runtime. Revisit
//! when a Leptos release includes the fix.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

pub struct RenderPool {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    next: AtomicUsize,
}

impl RenderPool {
    pub fn new(threads: usize) -> std::io::Result<RenderPool> {
        // Leptos spawns resource futures through a global executor: tokio's, i.e. whichever
        // runtime is current — the render thread's own. Setting it twice is harmless.
        let _ = any_spawner::Executor::init_tokio();
        let mut handles = Vec::new();
        let mut stops = Vec::new();
        for i in 0..threads.max(1) {
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            std::thread::Builder::new().name(format!("ssr-{i}")).spawn(move || {
                match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => {
                        let _ = ready_tx.send(Ok(rt.handle().clone()));
                        // Drive this runtime until the pool is dropped.
                        let _ = rt.block_on(stop_rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })?;
            let handle =
                ready_rx.recv().map_err(|_| std::io::Error::other("render thread exited during start-up"))??;
            handles.push(handle);
            stops.push(stop_tx);
        }
        Ok(RenderPool { handles, stops, next: AtomicUsize::new(0) })
    }

    /// Runs `fut` to completion on one of the render threads (round robin).
    pub async fn run<F>(&self, fut: F) -> Result<F::Output, tokio::task::JoinError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(fut).await
    }
}

impl Drop for RenderPool {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
    }
}
