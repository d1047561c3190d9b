//! Adapters: how a broadcast, a room operation or a socket query reaches the sockets of
//! other server nodes.
//!
//! [`Adapter`] is a concrete enum, not a generic parameter: [`Adapter::Local`] (one
//! node, the default) or [`Adapter::Cluster`], which publishes every cluster-wide
//! operation as a [`ClusterMessage`] on a [`PubSub`] and applies the messages of the
//! other nodes locally. [`InProcessHub`] is an in-process [`PubSub`] so several nodes
//! can be tested in one process; the Redis pub/sub (wire-compatible with the official
//! Node adapter) plugs in at the same seam.

mod stub;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

pub use stub::InProcessHub;

use crate::rooms::Room;
use crate::server::Payload;

/// A node's id in a cluster (the reference's adapter `uid`).
pub type NodeId = Arc<str>;

/// Which sockets an operation is for: in any of `rooms` (all when empty) and in none of
/// `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Target rooms.
    pub rooms: Vec<Room>,
    /// Excluded rooms.
    pub except: Vec<Room>,
}

/// What a remote node tells about one of its sockets.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: Arc<str>,
    /// Its rooms.
    pub rooms: Vec<Room>,
    /// Its per-socket data.
    pub data: serde_json::Value,
}

/// A cluster-wide operation, as sent between nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterMessage {
    /// Emit an event to the targeted sockets of a namespace.
    Broadcast {
        /// Namespace.
        nsp: String,
        /// Which sockets.
        target: Target,
        /// Event name.
        event: String,
        /// Arguments.
        payload: Payload,
        /// No recovery offset.
        volatile: bool,
    },
    /// Put the targeted sockets in rooms.
    SocketsJoin {
        /// Namespace.
        nsp: String,
        /// Which sockets.
        target: Target,
        /// Rooms to join.
        rooms: Vec<Room>,
    },
    /// Take the targeted sockets out of rooms.
    SocketsLeave {
        /// Namespace.
        nsp: String,
        /// Which sockets.
        target: Target,
        /// Rooms to leave.
        rooms: Vec<Room>,
    },
    /// Disconnect the targeted sockets (`close`: their whole connections).
    DisconnectSockets {
        /// Namespace.
        nsp: String,
        /// Which sockets.
        target: Target,
        /// Close the Engine.IO connections too.
        close: bool,
    },
    /// Ask every node for its targeted sockets.
    FetchSockets {
        /// Namespace.
        nsp: String,
        /// Which sockets.
        target: Target,
        /// Request id, echoed in the response.
        request: u64,
    },
    /// A node's answer to [`ClusterMessage::FetchSockets`], sent to the asker only.
    FetchSocketsResponse {
        /// The request answered.
        request: u64,
        /// The answering node's sockets.
        sockets: Vec<RemoteSocket>,
    },
    /// An event for the other servers (not for clients).
    ServerSideEmit {
        /// Namespace.
        nsp: String,
        /// Event name.
        event: String,
        /// Arguments.
        payload: Payload,
    },
}

/// A message with its sender, and its addressee for responses.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The node that sent it (a node ignores its own messages).
    pub from: NodeId,
    /// `Some(node)` for a response meant for one node only.
    pub to: Option<NodeId>,
    /// The operation.
    pub message: ClusterMessage,
}

/// The transport between nodes.
pub trait PubSub: Send + Sync + 'static {
    /// Publishes to every node (the sender included; it ignores its own).
    fn publish(&self, envelope: Envelope);
    /// Registers a node; `deliver` receives every envelope published by the others.
    fn subscribe(&self, node: NodeId, deliver: Box<dyn Fn(Envelope) + Send + Sync>);
    /// How many nodes are subscribed (to know how many answers a request gets).
    fn node_count(&self) -> usize;
}

type FetchWaiter = (
    usize,
    Vec<RemoteSocket>,
    Option<oneshot::Sender<Vec<RemoteSocket>>>,
);

/// The cluster side of an adapter.
pub struct Cluster {
    node: NodeId,
    pubsub: Arc<dyn PubSub>,
    requests: AtomicU64,
    pending: Arc<Mutex<HashMap<u64, FetchWaiter>>>,
    /// How long a cluster-wide request waits for answers (default 5 s).
    pub request_timeout: Duration,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node", &self.node).finish()
    }
}

impl Cluster {
    /// This node's id.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    pub(crate) fn subscribe(&self, deliver: Box<dyn Fn(Envelope) + Send + Sync>) {
        self.pubsub.subscribe(self.node.clone(), deliver);
    }

    pub(crate) fn publish(&self, message: ClusterMessage) {
        self.pubsub.publish(Envelope {
            from: self.node.clone(),
            to: None,
            message,
        });
    }

    pub(crate) fn respond(&self, to: NodeId, message: ClusterMessage) {
        self.pubsub.publish(Envelope {
            from: self.node.clone(),
            to: Some(to),
            message,
        });
    }

    /// Asks the other nodes for their sockets; resolves with what arrived by the timeout.
    pub(crate) fn fetch_remote(
        &self,
        nsp: &str,
        target: Target,
    ) -> impl Future<Output = Vec<RemoteSocket>> + Send + 'static {
        let request = self.requests.fetch_add(1, Ordering::Relaxed);
        let expected = self.pubsub.node_count().saturating_sub(1);
        let (tx, rx) = oneshot::channel();
        let done = expected == 0;
        if !done {
            lock(&self.pending).insert(request, (expected, Vec::new(), Some(tx)));
            self.publish(ClusterMessage::FetchSockets {
                nsp: nsp.to_string(),
                target,
                request,
            });
        }
        let timeout = self.request_timeout;
        let pending = self.pending.clone();
        async move {
            if done {
                return Vec::new();
            }
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(sockets)) => sockets,
                // Timed out: what the nodes that did answer sent.
                _ => lock(&pending)
                    .remove(&request)
                    .map(|(_, got, _)| got)
                    .unwrap_or_default(),
            }
        }
    }

    pub(crate) fn on_fetch_response(&self, request: u64, sockets: Vec<RemoteSocket>) {
        let mut pending = lock(&self.pending);
        let Some(entry) = pending.get_mut(&request) else {
            return;
        };
        entry.1.extend(sockets);
        entry.0 = entry.0.saturating_sub(1);
        if entry.0 == 0
            && let Some((_, got, Some(tx))) = pending.remove(&request)
        {
            let _ = tx.send(got);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How operations reach sockets: this node only, or a cluster.
#[derive(Debug, Clone, Default)]
pub enum Adapter {
    /// One node: everything is local.
    #[default]
    Local,
    /// Several nodes over a [`PubSub`].
    Cluster(Arc<Cluster>),
}

impl Adapter {
    /// A cluster adapter for a new node on `pubsub`.
    pub fn cluster(pubsub: Arc<dyn PubSub>) -> Adapter {
        Adapter::Cluster(Arc::new(Cluster {
            node: Arc::from(engineio::server::random_id()),
            pubsub,
            requests: AtomicU64::new(0),
            pending: Arc::new(Mutex::new(HashMap::new())),
            request_timeout: Duration::from_secs(5),
        }))
    }

    /// The cluster, if any.
    pub fn as_cluster(&self) -> Option<&Arc<Cluster>> {
        match self {
            Adapter::Local => None,
            Adapter::Cluster(c) => Some(c),
        }
    }
}
