//! A hand-written single-threaded executor: tasks are polled when their waker fires, so a test
//! sees exactly which wake-ups happened (a lost wake-up leaves a task unfinished).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Task {
    id: usize,
    future: Mutex<Option<BoxFuture>>,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.ready.lock().unwrap().push_back(self.id);
    }
}

/// Runs spawned futures; `run_until_stalled` polls every woken task until none is woken.
#[derive(Default)]
pub(crate) struct Executor {
    tasks: Vec<Arc<Task>>,
    ready: Arc<Mutex<VecDeque<usize>>>,
    /// Task ids in the order they were polled, for FIFO checks.
    pub(crate) polls: Vec<usize>,
}

impl Executor {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a task (polled on the next run); returns its id.
    pub(crate) fn spawn(&mut self, future: impl Future<Output = ()> + Send + 'static) -> usize {
        let id = self.tasks.len();
        self.tasks.push(Arc::new(Task {
            id,
            future: Mutex::new(Some(Box::pin(future))),
            ready: self.ready.clone(),
        }));
        self.ready.lock().unwrap().push_back(id);
        id
    }

    /// Polls woken tasks until no task is woken. Returns how many tasks are still unfinished.
    pub(crate) fn run_until_stalled(&mut self) -> usize {
        loop {
            let next = self.ready.lock().unwrap().pop_front();
            let Some(id) = next else { break };
            let task = self.tasks[id].clone();
            let mut slot = task.future.lock().unwrap();
            let Some(future) = slot.as_mut() else { continue };
            self.polls.push(id);
            let waker = Waker::from(task.clone());
            if future.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
                *slot = None;
            }
        }
        self.unfinished()
    }

    /// Tasks not yet complete.
    pub(crate) fn unfinished(&self) -> usize {
        self.tasks.iter().filter(|t| t.future.lock().unwrap().is_some()).count()
    }

    /// Drops task `id`'s future (cancellation) if it is unfinished.
    pub(crate) fn cancel(&mut self, id: usize) {
        *self.tasks[id].future.lock().unwrap() = None;
    }
}
