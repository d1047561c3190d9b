//! A namespace: its sockets, room index, middlewares, connection handler, ack-id counter
//! and (when enabled) its connection state recovery log.

use std::collections::HashMap;

use engineio::idhash::IdMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use super::broadcast::BroadcastOperator;
use super::cluster::{RemoteBroadcastHook, ServerSideHandler};
use super::payload::Payload;
use super::recovery::{Recovery, RecoveryConfig};
use super::socket::{DisconnectReason, Socket};
use super::wire::{self, Frames};
use crate::adapter::{Adapter, NsCluster};
use crate::raw::RawJson;
use crate::rooms::{Room, RoomIndex, Sid};

/// Refusal of a CONNECT by a middleware: the client gets CONNECT_ERROR
/// `{"message":…,"data":…}` (`data` only when set).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// The message the client sees as the error's `message`.
    pub message: String,
    /// Extra data for the client (`err.data`), any JSON.
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    /// A refusal with a message and no data.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds data.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// What a middleware sees of a connecting client.
#[derive(Debug)]
pub struct ConnectRequest<'a> {
    /// The namespace name.
    pub namespace: &'a str,
    /// The Engine.IO handshake (query, headers, address).
    pub handshake: &'a engineio::Handshake,
    /// The CONNECT payload (`{}` when absent).
    pub auth: &'a RawJson,
    pub(crate) data: std::sync::Mutex<serde_json::Value>,
}

impl ConnectRequest<'_> {
    /// Sets the data the new socket starts with ([`Socket::data`]), e.g. the user id a
    /// middleware authenticated.
    pub fn set_data(&self, data: serde_json::Value) {
        *self.data.lock().unwrap_or_else(|e| e.into_inner()) = data;
    }

    pub(crate) fn take_data(self) -> serde_json::Value {
        self.data.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

/// What an asynchronous connect middleware gets: owned copies of the connecting
/// client's namespace, handshake and CONNECT payload, so it can await (call an auth
/// service, a database) without borrowing the connection.
#[derive(Debug, Clone)]
pub struct ConnectInfo {
    /// The namespace name.
    pub namespace: Arc<str>,
    /// The Engine.IO handshake (query, headers, address).
    pub handshake: Arc<engineio::Handshake>,
    /// The CONNECT payload (`{}` when absent).
    pub auth: RawJson,
}

/// The future of an asynchronous middleware: `Ok(Some(data))` admits the client and
/// sets its socket data, `Ok(None)` admits it with the data unchanged, `Err` refuses it.
pub type MiddlewareFuture =
    Pin<Box<dyn Future<Output = Result<Option<serde_json::Value>, ConnectError>> + Send>>;

type SyncMiddleware = Arc<dyn Fn(&ConnectRequest<'_>) -> Result<(), ConnectError> + Send + Sync>;
type AsyncMiddleware = Arc<dyn Fn(ConnectInfo) -> MiddlewareFuture + Send + Sync>;

/// A connect middleware.
#[derive(Clone)]
pub(crate) enum Middleware {
    Sync(SyncMiddleware),
    Async(AsyncMiddleware),
}
/// A connection handler.
pub(crate) type ConnectionHandler = Arc<dyn Fn(&Socket) + Send + Sync>;

#[derive(Default)]
pub(crate) struct NsState {
    pub(crate) sockets: IdMap<Sid, Socket>,
    pub(crate) rooms: RoomIndex,
}

pub(crate) struct NsInner {
    name: Arc<str>,
    pub(crate) adapter: Adapter,
    /// This namespace's side of the cluster protocol (with a cluster adapter).
    pub(crate) cluster: Option<Arc<NsCluster>>,
    pub(crate) server_side: RwLock<Option<ServerSideHandler>>,
    /// Handlers of one server-side event name each, ahead of `server_side`.
    pub(crate) server_side_named: RwLock<HashMap<String, ServerSideHandler>>,
    /// Looks at broadcasts from other publishers before this node delivers them.
    pub(crate) remote_broadcast_hook: RwLock<Option<RemoteBroadcastHook>>,
    pub(crate) state: Mutex<NsState>,
    middlewares: RwLock<Vec<Middleware>>,
    has_async_middleware: AtomicBool,
    events_received: AtomicU64,
    on_connection: RwLock<Option<ConnectionHandler>>,
    ack_ids: AtomicU64,
    pub(crate) recovery: Option<Recovery>,
}

/// A namespace. Cheap to clone; clones are the same namespace.
#[derive(Clone)]
pub struct Namespace {
    pub(crate) inner: Arc<NsInner>,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.inner.name)
            .finish()
    }
}

impl Namespace {
    pub(crate) fn new(name: &str, recovery: Option<RecoveryConfig>, adapter: Adapter) -> Namespace {
        let ns = Namespace {
            inner: Arc::new(NsInner {
                name: Arc::from(name),
                cluster: adapter
                    .as_cluster()
                    .map(|c| NsCluster::new(c.clone(), name)),
                adapter,
                server_side: RwLock::new(None),
                server_side_named: RwLock::new(HashMap::new()),
                remote_broadcast_hook: RwLock::new(None),
                state: Mutex::new(NsState::default()),
                middlewares: RwLock::new(Vec::new()),
                has_async_middleware: AtomicBool::new(false),
                events_received: AtomicU64::new(0),
                on_connection: RwLock::new(None),
                ack_ids: AtomicU64::new(0),
                recovery: recovery.map(Recovery::new),
            }),
        };
        if let Some(c) = &ns.inner.cluster {
            c.start(&ns);
        }
        ns
    }

    /// The name (`/`, `/admin`, …).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub(crate) fn name_arc(&self) -> Arc<str> {
        self.inner.name.clone()
    }

    /// Adds a connect middleware; middlewares run in order and the first refusal wins.
    pub fn use_middleware(
        &self,
        middleware: impl Fn(&ConnectRequest<'_>) -> Result<(), ConnectError> + Send + Sync + 'static,
    ) -> &Self {
        self.inner
            .middlewares
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Middleware::Sync(Arc::new(middleware)));
        self
    }

    /// Adds an asynchronous connect middleware (it may await, e.g. an HTTP call to an
    /// auth service). Middlewares, synchronous or not, run in the order they were added
    /// and the first refusal wins. While one is pending the client's CONNECT is not
    /// answered; the server's connect timeout still applies. A namespace with an
    /// asynchronous middleware runs its middlewares on restored sessions too only when
    /// recovery does not skip them; such a restore is then refused and the client
    /// connects anew (with the middlewares).
    pub fn use_async_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(ConnectInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<serde_json::Value>, ConnectError>> + Send + 'static,
    {
        self.inner
            .middlewares
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Middleware::Async(Arc::new(move |info| {
                Box::pin(middleware(info)) as MiddlewareFuture
            })));
        self.inner
            .has_async_middleware
            .store(true, Ordering::Release);
        self
    }

    /// Sets the handler run for each new socket, right after its CONNECT reply is sent.
    pub fn on_connection(&self, handler: impl Fn(&Socket) + Send + Sync + 'static) -> &Self {
        *self
            .inner
            .on_connection
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(handler));
        self
    }

    /// A broadcast to every socket of the namespace (narrow it with `to`/`except`).
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone())
    }

    /// A broadcast to `room`.
    pub fn to(&self, room: &str) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// Emits to every socket of the namespace.
    pub fn emit(&self, event: &str, payload: Payload) {
        self.broadcast().emit(event, payload);
    }

    /// Whether this namespace shares its operations with other nodes (a cluster adapter).
    pub fn is_clustered(&self) -> bool {
        self.inner.adapter.as_cluster().is_some()
    }

    /// How many events clients sent to this namespace on this node (acks not counted).
    pub fn events_received(&self) -> u64 {
        self.inner.events_received.load(Ordering::Relaxed)
    }

    pub(crate) fn count_event_received(&self) {
        self.inner.events_received.fetch_add(1, Ordering::Relaxed);
    }

    /// The Engine.IO session ids of this node's sockets (e.g. to count them by transport
    /// with [`engineio::Engine::count_transports`]).
    pub fn engine_sids(&self) -> Vec<Arc<str>> {
        self.lock()
            .sockets
            .values()
            .map(|s| s.handshake().sid.clone())
            .collect()
    }

    /// Number of connected sockets on this node.
    pub fn socket_count(&self) -> usize {
        self.lock().sockets.len()
    }

    /// The socket with this id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.lock().sockets.get(id).cloned()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, NsState> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.inner.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    fn middlewares(&self) -> Vec<Middleware> {
        self.inner
            .middlewares
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a CONNECT must go through [`Namespace::run_middlewares_async`].
    pub(crate) fn has_async_middleware(&self) -> bool {
        self.inner.has_async_middleware.load(Ordering::Acquire)
    }

    /// Runs the (all synchronous) middlewares; an asynchronous one refuses, as the
    /// caller should have used [`Namespace::run_middlewares_async`].
    pub(crate) fn run_middlewares(&self, req: &ConnectRequest<'_>) -> Result<(), ConnectError> {
        self.middlewares().iter().try_for_each(|m| match m {
            Middleware::Sync(m) => m(req),
            Middleware::Async(_) => Err(ConnectError::new("server error")),
        })
    }

    /// Runs every middleware in order; the socket data they set on success.
    pub(crate) async fn run_middlewares_async(
        &self,
        info: ConnectInfo,
    ) -> Result<serde_json::Value, ConnectError> {
        let mut data = serde_json::Value::Null;
        for m in self.middlewares() {
            match m {
                Middleware::Sync(m) => {
                    let req = ConnectRequest {
                        namespace: &info.namespace,
                        handshake: &info.handshake,
                        auth: &info.auth,
                        data: std::sync::Mutex::new(data),
                    };
                    m(&req)?;
                    data = req.take_data();
                }
                Middleware::Async(m) => {
                    if let Some(d) = m(info.clone()).await? {
                        data = d;
                    }
                }
            }
        }
        Ok(data)
    }

    pub(crate) fn connection_handler(&self) -> Option<ConnectionHandler> {
        self.inner
            .on_connection
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn add_socket(&self, socket: &Socket, rooms: &[Room]) {
        let mut st = self.lock();
        st.rooms.add_socket(socket.id());
        for r in rooms {
            st.rooms.join(socket.id(), r.clone());
        }
        st.sockets.insert(socket.id().clone(), socket.clone());
    }

    /// Removes a socket after it disconnected; keeps it for recovery when the reason
    /// allows; runs its disconnect handlers.
    pub(crate) fn remove_socket(&self, socket: &Socket, reason: DisconnectReason) {
        let rooms = {
            let mut st = self.lock();
            st.sockets.remove(socket.id());
            st.rooms.remove_socket(socket.id())
        };
        if let (Some(rec), Some(pid)) = (&self.inner.recovery, &socket.inner.pid)
            && reason.is_recoverable()
        {
            rec.save(
                pid.clone(),
                socket.id().clone(),
                rooms.into_iter().collect(),
                socket.data(),
            );
        }
        socket.run_disconnect_handlers(reason);
    }

    pub(crate) fn join(&self, sid: &Sid, room: Room) {
        let mut st = self.lock();
        if st.sockets.contains_key(sid) {
            st.rooms.join(sid, room);
        }
    }

    pub(crate) fn leave(&self, sid: &Sid, room: &str) {
        self.lock().rooms.leave(sid, room);
    }

    pub(crate) fn rooms_of(&self, sid: &str) -> Vec<Room> {
        self.lock().rooms.rooms_of(sid).unwrap_or_default()
    }

    /// Emits to one socket; with recovery on (and not volatile) the event gets an
    /// offset and is logged for the socket's id room.
    pub(crate) fn emit_to_socket(
        &self,
        socket: &Socket,
        event: &str,
        payload: &Payload,
        volatile: bool,
    ) -> bool {
        let frames =
            self.encode_logged(event, payload, volatile, vec![socket.id().clone()], vec![]);
        frames.send(socket.transport())
    }

    /// Encodes an event once; with recovery on (and not volatile) appends a fresh offset
    /// and logs the packet for `rooms` except `except`.
    pub(crate) fn encode_logged(
        &self,
        event: &str,
        payload: &Payload,
        volatile: bool,
        rooms: Vec<Room>,
        except: Vec<Room>,
    ) -> Frames {
        match &self.inner.recovery {
            Some(rec) if !volatile => {
                let offset = rec.next_offset();
                let frames = wire::event(
                    self.name(),
                    event,
                    &payload.with_trailing_string(&offset),
                    None,
                );
                rec.log(offset, rooms, except, frames.clone());
                frames
            }
            _ => wire::event(self.name(), event, payload, None),
        }
    }
}
