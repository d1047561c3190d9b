//! Adapters: how a broadcast, a room operation or a socket query reaches the sockets of
//! other server nodes.
//!
//! [`Adapter`] is a concrete enum, not a generic parameter: [`Adapter::Local`] (one
//! node, the default) or [`Adapter::Cluster`], which speaks the **classic protocol of
//! the official Node Redis adapter** (`@socket.io/redis-adapter` 8.3, see [`wire`]) over
//! a [`PubSub`]: plain PUBLISH / SUBSCRIBE / PSUBSCRIBE / `PUBSUB NUMSUB` on byte
//! payloads. Two pub/subs exist:
//!
//! - [`InProcessHub`]: an in-memory pub/sub for several nodes (several
//!   [`Io`](crate::server::Io)s) in one process. It carries the very bytes Redis would, so
//!   the multi-node tests exercise the real protocol, fast.
//! - `redis::RedisPubSub` (feature `redis`): the glue on the `redis` crate, with
//!   reconnection and re-subscription.
//!
//! So herald nodes, Node.js `socket.io` servers with `@socket.io/redis-adapter`, and the
//! emitters (`@socket.io/redis-emitter`, `socket.io-emitter`) share one cluster.
//!
//! Per namespace, a node has its own uid (as Node does) and:
//!
//! ```text
//!  PSUBSCRIBE k#nsp#*              broadcasts   [uid, packet, opts]   (own uid: ignored)
//!  SUBSCRIBE  k-request#nsp#       requests     types 0..7            (answered, even with 0 sockets)
//!             k-response#nsp#      responses    matched by requestId
//!             k-response#nsp#uid#
//! ```
//!
//! Requests that wait for answers (fetch sockets, all rooms, server-side emit with ack,
//! broadcast with acks) first ask `PUBSUB NUMSUB k-request#nsp#` how many nodes there
//! are (self included), then wait for that many minus one answers or the timeout. That
//! count races with nodes joining or leaving, exactly as in Node.
//!
//! Semantics kept from the Node adapter: a room join/leave/disconnect is applied locally
//! at once and published; the node ignores its own echo by uid (Node nodes, which apply
//! only the echo, work with it). Across nodes only the first argument of an ack
//! travels, as in Node.

mod node;
#[cfg(feature = "redis")]
pub mod redis;
mod stub;
pub mod wire;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

pub(crate) use node::{NsCluster, RemoteAcks};
pub use stub::InProcessHub;

use crate::rooms::Room;

/// Which sockets an operation is for: in any of `rooms` (all when empty) and in none of
/// `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Target rooms.
    pub rooms: Vec<Room>,
    /// Excluded rooms.
    pub except: Vec<Room>,
}

/// What a node tells about one of its sockets (a Node `RemoteSocket`).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: Arc<str>,
    /// Its rooms.
    pub rooms: Vec<Room>,
    /// Its per-socket data.
    pub data: serde_json::Value,
    /// Its handshake, in the shape of Node's `socket.handshake` (`headers`, `time`,
    /// `address`, `xdomain`, `secure`, `issued`, `url`, `query`, `auth`).
    pub handshake: serde_json::Value,
}

/// Receives the messages of a subscription: the channel and the payload.
pub type Sink = Arc<dyn Fn(&str, Bytes) + Send + Sync>;

/// A boxed future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The channels and patterns one namespace listens to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Exact channels (SUBSCRIBE).
    pub channels: Vec<String>,
    /// Glob patterns (PSUBSCRIBE).
    pub patterns: Vec<String>,
}

/// The transport between nodes: Redis pub/sub semantics on byte payloads.
pub trait PubSub: Send + Sync + 'static {
    /// PUBLISH; fire and forget (a message published while disconnected is lost, and
    /// counted by the implementation).
    fn publish(&self, channel: String, payload: Bytes);
    /// SUBSCRIBE/PSUBSCRIBE, kept for the life of the pub/sub (and re-established after
    /// a reconnection). Messages on these channels go to `sink`, in publish order.
    fn subscribe(&self, subscription: Subscription, sink: Sink);
    /// `PUBSUB NUMSUB channel`: how many subscribers (connections) a channel has;
    /// `None` when that cannot be known now (disconnected).
    fn numsub(&self, channel: String) -> BoxFuture<Option<usize>>;
    /// Whether every subscription is in place (false while reconnecting).
    fn is_ready(&self) -> bool {
        true
    }
}

/// Cluster settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The channel prefix, the Node adapter's and emitters' `key` (default `socket.io`).
    /// Every node and emitter of a cluster must use the same.
    pub prefix: String,
    /// How long a request waits for the other nodes' answers (default 5 s, Node's
    /// `requestsTimeout`).
    pub request_timeout: Duration,
    /// Larger received messages are dropped, and counted (default 10 MB).
    pub max_message_size: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            prefix: "socket.io".into(),
            request_timeout: Duration::from_secs(5),
            max_message_size: 10_000_000,
        }
    }
}

/// Counters of a cluster adapter.
#[derive(Debug, Default)]
pub struct ClusterStats {
    pub(crate) malformed: AtomicU64,
    pub(crate) oversized: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) published: AtomicU64,
}

impl ClusterStats {
    /// Received messages dropped because they do not decode.
    pub fn dropped_malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }
    /// Received messages dropped because they exceed `max_message_size`.
    pub fn dropped_oversized(&self) -> u64 {
        self.oversized.load(Ordering::Relaxed)
    }
    /// Messages received on our channels.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
    /// Messages published.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

/// The cluster side of an adapter: the pub/sub, the settings and the counters shared by
/// every namespace of a server.
pub struct Cluster {
    pubsub: Arc<dyn PubSub>,
    config: ClusterConfig,
    stats: ClusterStats,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("prefix", &self.config.prefix)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// The settings.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &ClusterStats {
        &self.stats
    }

    /// Whether the pub/sub has every subscription in place.
    pub fn is_ready(&self) -> bool {
        self.pubsub.is_ready()
    }

    pub(crate) fn publish(&self, channel: String, payload: Vec<u8>) {
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        self.pubsub.publish(channel, Bytes::from(payload));
    }
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
    /// A cluster adapter on `pubsub`, with the default settings.
    pub fn cluster(pubsub: Arc<dyn PubSub>) -> Adapter {
        Adapter::cluster_with(pubsub, ClusterConfig::default())
    }

    /// A cluster adapter on `pubsub`.
    pub fn cluster_with(pubsub: Arc<dyn PubSub>, config: ClusterConfig) -> Adapter {
        Adapter::Cluster(Arc::new(Cluster {
            pubsub,
            config,
            stats: ClusterStats::default(),
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

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
