//! A socket: one client's connection to one namespace.

use std::collections::HashMap;

use engineio::idhash::IdMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;

use super::broadcast::BroadcastOperator;
use super::namespace::Namespace;
use super::payload::Payload;
use super::wire;
use crate::raw::RawJson;
use crate::rooms::{Room, Sid};

/// An event handler: the socket, the arguments, and the ack to answer with when the
/// client asked for one.
pub(crate) type EventHandler = Arc<dyn Fn(&Socket, Payload, Option<AckSender>) + Send + Sync>;
/// A disconnect handler.
pub(crate) type DisconnectHandler = Arc<dyn Fn(&Socket, DisconnectReason) + Send + Sync>;

/// Why a socket disconnected (the reference server's reason strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client closed the transport.
    TransportClose,
    /// The transport failed.
    TransportError,
    /// The client did not answer the heartbeat.
    PingTimeout,
    /// The client sent a packet that does not parse or is not allowed in its state.
    ParseError,
    /// The Engine.IO connection was closed by the server.
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client left the namespace (`41`).
    ClientNamespaceDisconnect,
    /// The server disconnected the socket from the namespace.
    ServerNamespaceDisconnect,
    /// The client stopped reading and its send queue filled up.
    SendBufferFull,
}

impl DisconnectReason {
    /// The reason as the reference words it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::SendBufferFull => "send buffer full",
        }
    }

    /// Whether connection state recovery keeps the session for this reason.
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            DisconnectReason::TransportClose
                | DisconnectReason::TransportError
                | DisconnectReason::PingTimeout
                | DisconnectReason::ForcedClose
                | DisconnectReason::ServerShuttingDown
        )
    }

    pub(crate) fn from_engine(reason: engineio::CloseReason) -> Self {
        use engineio::CloseReason as C;
        match reason {
            C::TransportClose => DisconnectReason::TransportClose,
            C::TransportError => DisconnectReason::TransportError,
            C::PingTimeout => DisconnectReason::PingTimeout,
            C::ParseError => DisconnectReason::ParseError,
            C::ForcedClose => DisconnectReason::ForcedClose,
            C::ServerShutdown => DisconnectReason::ServerShuttingDown,
            C::BufferFull => DisconnectReason::SendBufferFull,
        }
    }
}

/// The error of an emit with ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// No answer within the timeout.
    Timeout,
    /// The socket disconnected before answering.
    Disconnected,
}

impl std::fmt::Display for AckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AckError::Timeout => "operation has timed out",
            AckError::Disconnected => "socket has been disconnected",
        })
    }
}

impl std::error::Error for AckError {}

/// Answers a client's event that asked for an ack. Sending consumes it: one answer at most.
#[derive(Debug)]
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl AckSender {
    /// The ack id the client chose.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sends the ack with these arguments (BINARY_ACK when they hold binary).
    pub fn send(self, payload: Payload) -> bool {
        let frames = wire::ack(self.socket.namespace().name(), self.id, &payload);
        frames.send(&self.socket.inner.conn)
    }
}

/// Who waits for an ack: a future's channel, or a callback run on arrival.
pub(crate) enum AckWaiter {
    Channel(oneshot::Sender<Payload>),
    Callback(Box<dyn FnOnce(Payload) + Send>),
}

pub(crate) struct SocketInner {
    pub(crate) id: Sid,
    pub(crate) pid: Option<Arc<str>>,
    pub(crate) ns: Namespace,
    pub(crate) conn: engineio::Socket,
    pub(crate) handshake: Arc<engineio::Handshake>,
    pub(crate) auth: RawJson,
    pub(crate) recovered: bool,
    handlers: Mutex<HashMap<Box<str>, EventHandler>>,
    disconnect_handlers: Mutex<Vec<DisconnectHandler>>,
    pub(crate) acks: Mutex<IdMap<u64, AckWaiter>>,
    data: Mutex<serde_json::Value>,
    connected: AtomicBool,
}

/// A socket. Cheap to clone; clones are the same socket.
#[derive(Clone)]
pub struct Socket {
    pub(crate) inner: Arc<SocketInner>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("nsp", &self.inner.ns.name())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Socket {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: Sid,
        pid: Option<Arc<str>>,
        ns: Namespace,
        conn: engineio::Socket,
        handshake: Arc<engineio::Handshake>,
        auth: RawJson,
        recovered: bool,
        data: serde_json::Value,
    ) -> Socket {
        Socket {
            inner: Arc::new(SocketInner {
                id,
                pid,
                ns,
                conn,
                handshake,
                auth,
                recovered,
                handlers: Mutex::new(HashMap::new()),
                disconnect_handlers: Mutex::new(Vec::new()),
                acks: Mutex::new(IdMap::default()),
                data: Mutex::new(data),
                connected: AtomicBool::new(true),
            }),
        }
    }

    /// The socket id (not the Engine.IO session id).
    pub fn id(&self) -> &Sid {
        &self.inner.id
    }

    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.inner.ns
    }

    /// The Engine.IO handshake request (query, headers, address, time).
    pub fn handshake(&self) -> &engineio::Handshake {
        &self.inner.handshake
    }

    /// The CONNECT payload of this namespace (`{}` when the client sent none).
    pub fn auth(&self) -> &RawJson {
        &self.inner.auth
    }

    /// True when connection state recovery restored this socket.
    pub fn recovered(&self) -> bool {
        self.inner.recovered
    }

    /// True until the socket disconnects.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// The Engine.IO session this socket runs on.
    pub fn transport(&self) -> &engineio::Socket {
        &self.inner.conn
    }

    /// Registers the handler of `event` (replacing an earlier one).
    pub fn on(
        &self,
        event: &str,
        handler: impl Fn(&Socket, Payload, Option<AckSender>) + Send + Sync + 'static,
    ) {
        lock(&self.inner.handlers).insert(event.into(), Arc::new(handler));
    }

    /// Registers a disconnect handler.
    pub fn on_disconnect(
        &self,
        handler: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    ) {
        lock(&self.inner.disconnect_handlers).push(Arc::new(handler));
    }

    /// Per-socket application data (restored by connection state recovery).
    pub fn data(&self) -> serde_json::Value {
        lock(&self.inner.data).clone()
    }

    /// Replaces the per-socket data.
    pub fn set_data(&self, data: serde_json::Value) {
        *lock(&self.inner.data) = data;
    }

    /// Emits an event to this socket. Returns false when it is gone.
    pub fn emit(&self, event: &str, payload: Payload) -> bool {
        self.inner.ns.emit_to_socket(self, event, &payload, false)
    }

    /// Emits an event that the client may lose if it is not ready (no recovery offset).
    pub fn emit_volatile(&self, event: &str, payload: Payload) -> bool {
        self.inner.ns.emit_to_socket(self, event, &payload, true)
    }

    /// Emits an event with an ack request and waits for the client's answer.
    pub fn emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
        timeout: Duration,
    ) -> impl Future<Output = Result<Payload, AckError>> + Send + 'static {
        let id = self.inner.ns.next_ack_id();
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.acks).insert(id, AckWaiter::Channel(tx));
        let frames = wire::event(self.inner.ns.name(), event, &payload, Some(id));
        frames.send(&self.inner.conn);
        let me = self.clone();
        async move {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(p)) => Ok(p),
                Ok(Err(_)) => Err(AckError::Disconnected),
                Err(_) => {
                    lock(&me.inner.acks).remove(&id);
                    Err(AckError::Timeout)
                }
            }
        }
    }

    /// Emits an event with an ack request; `on_ack` runs when the client answers, on the
    /// connection's task, so the answers of one client are handled in the order they
    /// arrive (which the futures of [`Socket::emit_with_ack`], woken on other tasks, do
    /// not guarantee). Past `timeout` or on disconnect `on_ack` is dropped, never called.
    pub fn emit_with_ack_callback(
        &self,
        event: &str,
        payload: Payload,
        timeout: Duration,
        on_ack: impl FnOnce(Payload) + Send + 'static,
    ) {
        let id = self.inner.ns.next_ack_id();
        lock(&self.inner.acks).insert(id, AckWaiter::Callback(Box::new(on_ack)));
        let frames = wire::event(self.inner.ns.name(), event, &payload, Some(id));
        frames.send(&self.inner.conn);
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            lock(&me.inner.acks).remove(&id);
        });
    }

    /// Joins a room.
    pub fn join(&self, room: &str) {
        self.inner.ns.join(&self.inner.id, Room::from(room));
    }

    /// Leaves a room.
    pub fn leave(&self, room: &str) {
        self.inner.ns.leave(&self.inner.id, room);
    }

    /// The rooms this socket is in (its own id room included).
    pub fn rooms(&self) -> Vec<Room> {
        self.inner.ns.rooms_of(&self.inner.id)
    }

    /// A broadcast to `room` that excludes this socket.
    pub fn to(&self, room: &str) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// A broadcast to every other socket of the namespace.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.inner.ns.clone()).except_socket(self.inner.id.clone())
    }

    /// Disconnects this socket from its namespace (the client gets DISCONNECT).
    pub fn disconnect(&self) {
        if self.mark_disconnected() {
            self.inner.conn.send(wire::disconnect(self.inner.ns.name()));
            self.inner
                .ns
                .remove_socket(self, DisconnectReason::ServerNamespaceDisconnect);
        }
    }

    /// Closes the whole Engine.IO connection (every namespace of this client).
    pub fn close_connection(&self) {
        self.inner.conn.close();
    }

    /// Runs the handler of an incoming event; nothing happens without one (and no ack).
    pub(crate) fn dispatch(&self, event: &str, payload: Payload, ack_id: Option<u64>) {
        let handler = lock(&self.inner.handlers).get(event).cloned();
        if let Some(h) = handler {
            let ack = ack_id.map(|id| AckSender {
                socket: self.clone(),
                id,
            });
            h(self, payload, ack);
        }
    }

    /// An ACK from the client for one of our emits; unknown ids are ignored.
    /// Hands an ACK to its waiter; false when no ack with this id is awaited.
    pub(crate) fn handle_ack(&self, id: u64, payload: Payload) -> bool {
        let waiter = lock(&self.inner.acks).remove(&id);
        match waiter {
            Some(AckWaiter::Channel(tx)) => {
                let _ = tx.send(payload);
                true
            }
            Some(AckWaiter::Callback(on_ack)) => {
                on_ack(payload);
                true
            }
            None => false,
        }
    }

    /// Marks the socket disconnected; true the first time.
    pub(crate) fn mark_disconnected(&self) -> bool {
        self.inner.connected.swap(false, Ordering::AcqRel)
    }

    /// Runs the disconnect handlers and drops pending acks (their futures fail).
    pub(crate) fn run_disconnect_handlers(&self, reason: DisconnectReason) {
        lock(&self.inner.acks).clear();
        let handlers: Vec<DisconnectHandler> = lock(&self.inner.disconnect_handlers).clone();
        for h in handlers {
            h(self, reason);
        }
        lock(&self.inner.handlers).clear();
    }

    /// How many acks of this socket's client are awaited (for tests).
    #[doc(hidden)]
    pub fn pending_ack_count(&self) -> usize {
        lock(&self.inner.acks).len()
    }

    /// Drops a pending ack (its waiter gave up).
    pub(crate) fn forget_ack(&self, id: u64) {
        lock(&self.inner.acks).remove(&id);
    }

    pub(crate) fn register_ack(&self, id: u64, tx: oneshot::Sender<Payload>) {
        lock(&self.inner.acks).insert(id, AckWaiter::Channel(tx));
    }
}
