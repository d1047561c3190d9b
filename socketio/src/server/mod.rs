//! The Socket.IO server framework: [`Io`] holds the namespaces; each [`Namespace`] has
//! middlewares, a connection handler and its sockets; each [`Socket`] has event
//! handlers, acks both ways, rooms and per-socket data; [`BroadcastOperator`] selects
//! sockets by room.
//!
//! ```no_run
//! use socketio::server::{Io, Config, Payload};
//!
//! # async fn run() -> std::io::Result<()> {
//! let io = Io::new(Config::default());
//! io.of("/").on_connection(|socket| {
//!     socket.join("lobby");
//!     socket.on("chat", |socket, args, _ack| {
//!         socket.to("lobby").emit("chat", args);
//!     });
//!     socket.on("ping", |_socket, _args, ack| {
//!         if let Some(ack) = ack {
//!             ack.send(Payload::one("pong"));
//!         }
//!     });
//! });
//! let engine = io.engine(engineio::Config { path: "/socket.io/".into(), ..Default::default() });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! engine.serve(listener).await
//! # }
//! ```

mod acks;
mod broadcast;
mod client;
mod cluster;
mod namespace;
mod payload;
mod recovery;
mod socket;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use engineio::server::{Handler, Handshake, Verdict};
use engineio::{Engine, Socket as EngineSocket};

pub use broadcast::BroadcastOperator;
pub use client::Client;
pub use cluster::{RemoteBroadcast, RemoteVerdict, ServerSideAck};
pub use namespace::{ConnectError, ConnectInfo, ConnectRequest, MiddlewareFuture, Namespace};
pub use payload::Payload;
pub use recovery::RecoveryConfig;
pub use socket::{AckError, AckSender, DisconnectReason, Socket};

use crate::adapter::Adapter;
use crate::codec::DecoderConfig;

/// Socket.IO server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// A connection that has joined no namespace this long after its Engine.IO session
    /// opened is closed (default 45 s, the reference's `connectTimeout`).
    pub connect_timeout: Duration,
    /// Connection state recovery (default off, as the reference).
    pub recovery: Option<RecoveryConfig>,
    /// Decoder limits (attachments per packet, JSON depth).
    pub decoder: DecoderConfig,
    /// Most ACK packets for unknown ids (never asked, already answered, timed out) a
    /// connection may send per minute before it is closed; `None` (the default, as the
    /// reference) ignores them all. A guard against ack floods.
    pub max_stray_acks_per_minute: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            connect_timeout: Duration::from_secs(45),
            recovery: None,
            decoder: DecoderConfig::default(),
            max_stray_acks_per_minute: None,
        }
    }
}

type Predicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;
type Setup = Arc<dyn Fn(&Namespace) + Send + Sync>;
type AllowRequest = Arc<dyn Fn(&Handshake) -> Verdict + Send + Sync>;

pub(crate) struct IoInner {
    pub(crate) config: Config,
    pub(crate) adapter: Adapter,
    namespaces: RwLock<HashMap<String, Namespace>>,
    dynamic: RwLock<Vec<(Predicate, Setup)>>,
    allow_request: RwLock<Option<AllowRequest>>,
}

impl IoInner {
    /// The namespace a CONNECT names: a static one, or one created by the first
    /// matching dynamic rule.
    pub(crate) fn namespace_for(&self, name: &str) -> Option<Namespace> {
        if let Some(ns) = self.read_namespaces().get(name) {
            return Some(ns.clone());
        }
        let rule = self
            .dynamic
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(p, _)| p(name))
            .map(|(_, s)| s.clone())?;
        let mut map = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        if let Some(ns) = map.get(name) {
            return Some(ns.clone());
        }
        let ns = Namespace::new(name, self.config.recovery, self.adapter.clone());
        map.insert(name.to_string(), ns.clone());
        drop(map);
        rule(&ns);
        Some(ns)
    }

    fn read_namespaces(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Namespace>> {
        self.namespaces.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// The Socket.IO server. Cheap to clone.
#[derive(Clone)]
pub struct Io {
    pub(crate) inner: Arc<IoInner>,
}

impl std::fmt::Debug for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Io").finish_non_exhaustive()
    }
}

impl Io {
    /// A single-node server with no namespaces yet (add them with [`Io::of`]).
    pub fn new(config: Config) -> Io {
        Io::with_adapter(config, Adapter::Local)
    }

    /// A server on an adapter: with [`Adapter::Cluster`], broadcasts and socket
    /// operations reach the sockets of every node on the same pub/sub. Each namespace
    /// subscribes its channels when it is created.
    pub fn with_adapter(config: Config, adapter: Adapter) -> Io {
        Io {
            inner: Arc::new(IoInner {
                config,
                adapter,
                namespaces: RwLock::new(HashMap::new()),
                dynamic: RwLock::new(Vec::new()),
                allow_request: RwLock::new(None),
            }),
        }
    }

    /// The adapter.
    pub fn adapter(&self) -> &Adapter {
        &self.inner.adapter
    }

    /// The static namespace `name`, created on first use. Only namespaces created here
    /// or by a dynamic rule accept connections; others get `Invalid namespace`.
    pub fn of(&self, name: &str) -> Namespace {
        let mut map = self
            .inner
            .namespaces
            .write()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(name.to_string())
            .or_insert_with(|| {
                Namespace::new(name, self.inner.config.recovery, self.inner.adapter.clone())
            })
            .clone()
    }

    /// Dynamic namespaces: a CONNECT to a name for which `predicate` holds creates that
    /// namespace and runs `setup` on it once.
    pub fn dynamic(
        &self,
        predicate: impl Fn(&str) -> bool + Send + Sync + 'static,
        setup: impl Fn(&Namespace) + Send + Sync + 'static,
    ) {
        self.inner
            .dynamic
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((Arc::new(predicate), Arc::new(setup)));
    }

    /// An HTTP-level check run on Engine.IO handshake requests (Origin checks, HTTP
    /// auth, rate limits). Refused requests get 403.
    pub fn set_allow_request(&self, check: impl Fn(&Handshake) -> Verdict + Send + Sync + 'static) {
        *self
            .inner
            .allow_request
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(check));
    }

    /// An existing namespace.
    pub fn namespace(&self, name: &str) -> Option<Namespace> {
        self.inner.read_namespaces().get(name).cloned()
    }

    /// The Engine.IO handler that runs this server.
    pub fn handler(&self) -> IoHandler {
        IoHandler { io: self.clone() }
    }

    /// An Engine.IO engine running this server.
    pub fn engine(&self, config: engineio::Config) -> Engine<IoHandler> {
        Engine::new(config, self.handler())
    }
}

/// The [`engineio::Handler`] of an [`Io`].
#[derive(Clone, Debug)]
pub struct IoHandler {
    io: Io,
}

impl Handler for IoHandler {
    type Connection = client::Client;

    fn allow_request(&self, req: &Handshake) -> Verdict {
        let check = self
            .io
            .inner
            .allow_request
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match check {
            Some(f) => f(req),
            None => Verdict::Allow,
        }
    }

    fn on_open(&self, socket: EngineSocket, handshake: Handshake) -> client::Client {
        // The connect timeout is a deadline of the connection, served by the session's
        // own timer (a task per connection cost 0.5 KB of each session's memory).
        client::Client::new(self.io.inner.clone(), socket, handshake)
    }
}
