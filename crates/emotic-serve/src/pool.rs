//! The model workers: a fixed number of threads, each owning one [`Predictor`], fed from one
//! bounded queue. Model work never runs on the async runtime; a request hands a job to the
//! queue and awaits its answer. A full queue refuses at once instead of waiting.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use emotic_predict::{PredictOptions, Predictor, error_chain};
use tokio::sync::{oneshot, watch};

use crate::config::ModelSpec;
use crate::model_info::ModelInfo;

type Job = Box<dyn FnOnce(&mut Predictor) + Send>;

/// How far loading the models has come.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadState {
    /// Workers are still loading.
    Loading,
    /// Every worker holds its models.
    Ready(Arc<ModelInfo>),
    /// A worker could not load them (the message names the file and the cause).
    Failed(String),
}

/// Why a job was not queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The queue holds as many waiting jobs as it may.
    Full,
    /// The models are not loaded (yet, or at all).
    NotReady,
}

/// The workers and their queue. Clones share them; when the last clone is dropped the
/// workers finish the queued jobs and stop.
#[derive(Debug, Clone)]
pub struct Pool {
    shared: Arc<Shared>,
    state: watch::Receiver<LoadState>,
    _open: Arc<Open>,
}

/// Held by every clone of the pool; dropping the last one tells the workers to stop.
#[derive(Debug)]
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        // Set under the lock, so no worker can check the flag and then miss the wake-up.
        let queue = self.0.queue();
        self.0.closed.store(true, Ordering::SeqCst);
        drop(queue);
        self.0.wake.notify_all();
    }
}

struct Shared {
    queue: Mutex<VecDeque<Job>>,
    wake: Condvar,
    capacity: usize,
    workers: usize,
    /// Jobs a worker is working on now.
    running: AtomicUsize,
    /// No more jobs will come.
    closed: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("capacity", &self.capacity)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, VecDeque<Job>> {
        // A job that panicked cannot leave the queue half-changed (push and pop are single
        // calls), so a poisoned lock is still safe to use.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pool {
    /// Starts `workers` threads that each load the models, then take jobs. Returns at once;
    /// [`Pool::state`] says when loading is done.
    #[must_use]
    pub fn start(spec: &ModelSpec, workers: usize, capacity: usize) -> Self {
        let workers = workers.max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::with_capacity(capacity)),
            wake: Condvar::new(),
            capacity,
            workers,
            running: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        });
        let (tx, rx) = watch::channel(LoadState::Loading);
        let tx = Arc::new(tx);
        let loaded = Arc::new(Mutex::new(0usize));
        for index in 0..workers {
            let shared = Arc::clone(&shared);
            let spec = spec.clone();
            let tx = Arc::clone(&tx);
            let loaded = Arc::clone(&loaded);
            std::thread::Builder::new()
                .name(format!("emotic-worker-{index}"))
                .spawn(move || {
                    let Some(mut predictor) = load(&spec, index, workers, &tx, &loaded) else {
                        return;
                    };
                    work(&shared, &mut predictor);
                })
                .expect("spawning a worker thread");
        }
        Self {
            _open: Arc::new(Open(Arc::clone(&shared))),
            shared,
            state: rx,
        }
    }

    /// Queues `work` for the next free worker. The answer arrives on the receiver; dropping
    /// the receiver (a request that timed out or went away) makes a job not yet started skip.
    ///
    /// # Errors
    /// [`Refused`] when the queue is full or the models are not loaded.
    pub fn submit<T, F>(&self, work: F) -> Result<oneshot::Receiver<T>, Refused>
    where
        T: Send + 'static,
        F: FnOnce(&mut Predictor) -> T + Send + 'static,
    {
        if !matches!(*self.state.borrow(), LoadState::Ready(_)) {
            return Err(Refused::NotReady);
        }
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |predictor| {
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(work(predictor));
        });
        let mut queue = self.shared.queue();
        if queue.len() >= self.shared.capacity {
            return Err(Refused::Full);
        }
        queue.push_back(job);
        drop(queue);
        self.shared.wake.notify_one();
        Ok(rx)
    }

    /// Jobs waiting for a worker.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.shared.queue().len()
    }

    /// Jobs being worked on now.
    #[must_use]
    pub fn running(&self) -> usize {
        self.shared.running.load(Ordering::SeqCst)
    }

    /// How many jobs may wait.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// How many workers there are.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// Where loading stands now.
    #[must_use]
    pub fn state(&self) -> LoadState {
        self.state.borrow().clone()
    }

    /// Waits until loading is done, then says how it ended (never [`LoadState::Loading`]).
    pub async fn loaded(&self) -> LoadState {
        let mut state = self.state.clone();
        match state.wait_for(|s| !matches!(s, LoadState::Loading)).await {
            Ok(s) => s.clone(),
            Err(_) => LoadState::Failed("the model workers stopped".into()),
        }
    }
}

/// Loads one worker's models, publishing the outcome; `None` when they could not be loaded.
fn load(
    spec: &ModelSpec,
    index: usize,
    workers: usize,
    state: &watch::Sender<LoadState>,
    loaded: &Mutex<usize>,
) -> Option<Predictor> {
    let options = PredictOptions {
        session: spec.session,
        ..PredictOptions::default()
    };
    match Predictor::load(&spec.weights, spec.emotion_model.as_deref(), &options) {
        Ok(predictor) => {
            let mut count = loaded.lock().unwrap_or_else(PoisonError::into_inner);
            *count += 1;
            if *count == workers {
                let info = ModelInfo::of(&predictor, spec, workers);
                state.send_if_modified(|s| {
                    // A failure of another worker stays the outcome.
                    if *s == LoadState::Loading {
                        *s = LoadState::Ready(Arc::new(info));
                        true
                    } else {
                        false
                    }
                });
            }
            tracing::debug!("worker {index} loaded its models");
            Some(predictor)
        }
        Err(e) => {
            let message = error_chain(&e);
            state.send_replace(LoadState::Failed(message));
            None
        }
    }
}

/// A worker's loop: takes jobs until the pool is dropped and the queue is empty.
fn work(shared: &Shared, predictor: &mut Predictor) {
    loop {
        let job = {
            let mut queue = shared.queue();
            loop {
                if let Some(job) = queue.pop_front() {
                    shared.running.fetch_add(1, Ordering::SeqCst);
                    break job;
                }
                if shared.closed.load(Ordering::SeqCst) {
                    return;
                }
                queue = shared
                    .wake
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        // A panicking job (a bug) must not take the worker, and its models, with it; the
        // request sees its answer channel closed and reports an internal error.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(predictor)));
        shared.running.fetch_sub(1, Ordering::SeqCst);
        if outcome.is_err() {
            tracing::error!("a prediction job panicked; the worker goes on");
        }
    }
}
