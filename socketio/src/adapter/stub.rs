//! An in-process [`PubSub`]: several nodes (several [`Io`](crate::server::Io)s) in one
//! process, for fast multi-node tests. Each node gets its envelopes on its own task, in
//! publish order, as it would from a real pub/sub.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{Envelope, NodeId, PubSub};

/// The in-process hub. Share one `Arc<InProcessHub>` between the nodes of a test.
#[derive(Default)]
pub struct InProcessHub {
    nodes: Mutex<Vec<(NodeId, mpsc::UnboundedSender<Envelope>)>>,
}

impl std::fmt::Debug for InProcessHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessHub")
            .field("nodes", &self.node_count())
            .finish()
    }
}

impl InProcessHub {
    /// A hub with no nodes.
    pub fn new() -> Arc<InProcessHub> {
        Arc::new(InProcessHub::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(NodeId, mpsc::UnboundedSender<Envelope>)>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PubSub for InProcessHub {
    fn publish(&self, envelope: Envelope) {
        let mut nodes = self.lock();
        nodes.retain(|(_, tx)| !tx.is_closed());
        for (id, tx) in nodes.iter() {
            let wanted = *id != envelope.from && envelope.to.as_ref().is_none_or(|to| to == id);
            if wanted {
                let _ = tx.send(envelope.clone());
            }
        }
    }

    fn subscribe(&self, node: NodeId, deliver: Box<dyn Fn(Envelope) + Send + Sync>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Envelope>();
        self.lock().push((node, tx));
        tokio::spawn(async move {
            while let Some(env) = rx.recv().await {
                deliver(env);
            }
        });
    }

    fn node_count(&self) -> usize {
        self.lock().len()
    }
}
