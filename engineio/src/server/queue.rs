//! The session's command queue: many senders (the router, [`Socket`](super::Socket)
//! handles on any task), one receiver (the session's driver task).
//!
//! Why not tokio's unbounded channel: it allocates its first block of 32 slots up front
//! (1.8 KB with the channel, paid by every idle session). Here an idle session holds a
//! mutex, an empty [`Fifo`] (no allocation) and a waker slot; the receiver takes
//! everything queued in one lock, and a sender wakes the driver only when the driver is
//! waiting (one wake-up per batch, not per frame, in a fan-out).

use crate::fifo::Fifo;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

struct State<T> {
    queue: Fifo<T>,
    /// The receiver's waker while it waits for an empty queue to fill.
    waker: Option<Waker>,
    /// The receiver closed the queue (or was dropped): sends fail.
    closed: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Woken when the queue closes (for [`Sender::closed`]).
    on_close: Notify,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is valid at every await-free step: a panic elsewhere must not stop
        // the session.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A new queue.
pub(crate) fn queue<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: Fifo::new(),
            waker: None,
            closed: false,
        }),
        on_close: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The sending side; clones share the queue.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> Sender<T> {
    /// Queues `value`; gives it back when the receiver has closed.
    pub(crate) fn send(&self, value: T) -> Result<(), T> {
        let waker = {
            let mut st = self.shared.lock();
            if st.closed {
                return Err(value);
            }
            st.queue.push_back(value);
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// True once the receiver has closed or is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Resolves once the receiver has closed or is gone.
    pub(crate) async fn closed(&self) {
        loop {
            let notified = self.shared.on_close.notified();
            tokio::pin!(notified);
            // Registered before the check, so a close in between is not missed.
            notified.as_mut().enable();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }
}

/// The receiving side (one per queue).
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// Everything queued so far, in order; `Pending` (woken by the next send) when the
    /// queue is empty. Consumes tokio's cooperative budget, so a session flooded with
    /// commands still lets the other tasks of its worker run.
    pub(crate) fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Fifo<T>> {
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let mut st = self.shared.lock();
        if st.queue.is_empty() {
            if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                st.waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        coop.made_progress();
        // The queue's buffer goes with the batch (and is freed once handled), so an idle
        // session keeps no slots.
        Poll::Ready(std::mem::take(&mut st.queue))
    }

    /// Everything queued so far, without waiting.
    pub(crate) fn take(&mut self) -> Fifo<T> {
        std::mem::take(&mut self.shared.lock().queue)
    }

    /// Refuses further sends; what is already queued can still be taken.
    pub(crate) fn close(&mut self) {
        let mut st = self.shared.lock();
        if st.closed {
            return;
        }
        st.closed = true;
        st.waker = None;
        drop(st);
        self.shared.on_close.notify_waiters();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        // Queued values (responders, WebSockets) are dropped now, not with the last
        // sender.
        drop(self.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    #[tokio::test]
    async fn batches_in_order_and_wakes_the_receiver() {
        let (tx, mut rx) = queue::<u32>();
        let sender = tx.clone();
        let task = tokio::spawn(async move {
            let mut got = Vec::new();
            while got.len() < 5 {
                got.extend(poll_fn(|cx| rx.poll_take(cx)).await);
            }
            got
        });
        tokio::task::yield_now().await;
        for i in 0..5 {
            sender.send(i).unwrap();
            if i == 2 {
                tokio::task::yield_now().await;
            }
        }
        assert_eq!(task.await.unwrap(), vec![0, 1, 2, 3, 4]);
        // The receiver is gone: sends fail and give the value back.
        assert_eq!(tx.send(9), Err(9));
        assert!(tx.is_closed());
    }

    #[tokio::test]
    async fn closed_resolves_on_close_and_sends_fail_after() {
        let (tx, mut rx) = queue::<u32>();
        tx.send(1).unwrap();
        let waiter = {
            let tx = tx.clone();
            tokio::spawn(async move { tx.closed().await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        rx.close();
        waiter.await.unwrap();
        tx.closed().await;
        assert_eq!(tx.send(2), Err(2));
        // What was queued before the close is still there.
        assert_eq!(rx.take().into_iter().collect::<Vec<_>>(), vec![1]);
        assert!(rx.take().is_empty());
    }
}
