//! The cluster-wide operations of a namespace: server-side events (with and without
//! acks) and the room listing of every node.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::namespace::Namespace;
use super::payload::Payload;
use super::socket::{AckError, Socket};
use crate::adapter::NsCluster;
use crate::adapter::wire::{epoch_ms, js_string};
use crate::rooms::Room;
use crate::value::Value;

/// A handler of events from the other servers of a cluster.
pub(crate) type ServerSideHandler = Arc<dyn Fn(&str, Payload, Option<ServerSideAck>) + Send + Sync>;

/// A broadcast that another publisher of the cluster (a Redis emitter, another node)
/// sent to this namespace, as this node received it, before it delivers it to its
/// sockets. See [`Namespace::on_remote_broadcast`].
#[derive(Debug)]
pub struct RemoteBroadcast<'a> {
    /// The publisher's uid ([`EMITTER_UID`](crate::adapter::wire::EMITTER_UID) for the
    /// Redis emitters).
    pub uid: &'a str,
    /// The message exactly as it was published (the same bytes on every node).
    pub bytes: &'a [u8],
    /// The event name.
    pub event: &'a str,
    /// The arguments (binary where the publisher sent buffers).
    pub args: &'a [Value],
    /// Target rooms (every socket when empty).
    pub rooms: &'a [Room],
    /// Excluded rooms.
    pub except: &'a [Room],
    /// The publisher said the message may be lost.
    pub volatile: bool,
}

/// What this node does with a [`RemoteBroadcast`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteVerdict {
    /// Deliver it to this node's sockets, as usual.
    Deliver,
    /// Deliver it, but not to the sockets of these rooms (the hook took care of them).
    DeliverExcept(Vec<Room>),
    /// Do not deliver it here (the hook took care of it).
    Skip,
}

/// The hook of [`Namespace::on_remote_broadcast`].
pub(crate) type RemoteBroadcastHook =
    Arc<dyn Fn(&RemoteBroadcast<'_>) -> RemoteVerdict + Send + Sync>;

/// Answers a server-side event that asked for an ack (Node's
/// `serverSideEmitWithAck`). Sending consumes it; only the first argument reaches the
/// asker, as in Node.
#[derive(Debug)]
pub struct ServerSideAck {
    cluster: Arc<NsCluster>,
    request_id: String,
}

impl ServerSideAck {
    pub(crate) fn new(cluster: Arc<NsCluster>, request_id: String) -> Self {
        ServerSideAck {
            cluster,
            request_id,
        }
    }

    /// Sends the answer.
    pub fn send(self, payload: Payload) {
        self.cluster.server_side_ack(self.request_id, &payload);
    }
}

impl Namespace {
    /// Sends an event to the other servers of the cluster (not to clients); they get it
    /// in their [`Namespace::on_server_side`] handler. Nothing happens on one node.
    pub fn server_side_emit(&self, event: &str, payload: Payload) {
        if let Some(c) = &self.inner.cluster {
            c.server_side_emit(event, &payload);
        }
    }

    /// [`Namespace::server_side_emit`] asking every other server for an answer (the first
    /// argument each acked with). Resolves when every server answered, or with
    /// [`AckError::Timeout`] and the answers that came.
    pub fn server_side_emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
        timeout: Duration,
    ) -> impl Future<Output = Result<Vec<Value>, (AckError, Vec<Value>)>> + Send + 'static {
        let ask = self
            .inner
            .cluster
            .as_ref()
            .map(|c| c.server_side_emit_with_ack(event, &payload, timeout));
        async move {
            let Some(ask) = ask else {
                return Ok(Vec::new());
            };
            match ask.await {
                (answers, true) => Ok(answers),
                (answers, false) => Err((AckError::Timeout, answers)),
            }
        }
    }

    /// Sets the handler of events sent by other servers (or an emitter's
    /// `serverSideEmit`).
    pub fn on_server_side(&self, handler: impl Fn(&str, Payload) + Send + Sync + 'static) -> &Self {
        self.on_server_side_with_ack(move |event, payload, _ack| handler(event, payload))
    }

    /// Sets the handler of events sent by other servers, with the ack to answer when the
    /// sender asked for one.
    pub fn on_server_side_with_ack(
        &self,
        handler: impl Fn(&str, Payload, Option<ServerSideAck>) + Send + Sync + 'static,
    ) -> &Self {
        *self
            .inner
            .server_side
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(handler));
        self
    }

    /// Sets the handler of one server-side event name: events of that name go to it
    /// instead of the [`Namespace::on_server_side`] handler (so a library's own
    /// node-to-node events and an application's handler coexist).
    pub fn on_server_side_event(
        &self,
        event: &str,
        handler: impl Fn(&str, Payload, Option<ServerSideAck>) + Send + Sync + 'static,
    ) -> &Self {
        self.inner
            .server_side_named
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(event.to_string(), Arc::new(handler));
        self
    }

    /// Sets a hook that sees every broadcast other publishers of the cluster send to
    /// this namespace (Redis emitters, other nodes; never this node's own) before this
    /// node delivers it, and decides whether and to whom it is delivered here. It runs
    /// on the adapter's receiving task: keep it short and hand longer work to a task.
    /// Broadcasts that ask for acks are not shown to it.
    pub fn on_remote_broadcast(
        &self,
        hook: impl Fn(&RemoteBroadcast<'_>) -> RemoteVerdict + Send + Sync + 'static,
    ) -> &Self {
        *self
            .inner
            .remote_broadcast_hook
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(hook));
        self
    }

    pub(crate) fn remote_broadcast_hook(&self) -> Option<RemoteBroadcastHook> {
        self.inner
            .remote_broadcast_hook
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn run_server_side(
        &self,
        event: &str,
        payload: Payload,
        ack: Option<ServerSideAck>,
    ) {
        let named = self
            .inner
            .server_side_named
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(event)
            .cloned();
        let handler = named.or_else(|| {
            self.inner
                .server_side
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        });
        if let Some(h) = handler {
            h(event, payload, ack);
        }
    }

    /// Every room of every node (Node's `adapter.allRooms()`), socket-id rooms included.
    pub fn all_rooms(&self) -> impl Future<Output = Vec<Room>> + Send + 'static {
        let local: Vec<Room> = self.lock().rooms.rooms().cloned().collect();
        let remote = self.inner.cluster.as_ref().map(|c| c.all_rooms());
        async move {
            let mut all: BTreeSet<Room> = local.into_iter().collect();
            if let Some(remote) = remote {
                all.extend(remote.await);
            }
            all.into_iter().collect()
        }
    }
}

/// A socket's handshake in the shape of Node's `socket.handshake`, for other nodes.
pub(crate) fn handshake_json(socket: &Socket) -> serde_json::Value {
    let hs = socket.handshake();
    let mut headers = serde_json::Map::new();
    for name in hs.headers.keys() {
        let values: Vec<String> = hs
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.insert(name.as_str().to_string(), values.join(", ").into());
    }
    let mut query = serde_json::Map::new();
    for (k, v) in hs.query.pairs() {
        query.insert(k.clone(), v.clone().into());
    }
    let url = hs
        .uri
        .path_and_query()
        .map_or_else(|| hs.uri.to_string(), |p| p.as_str().to_string());
    serde_json::json!({
        "headers": headers,
        "time": js_string(hs.issued),
        "address": hs.remote_addr.map(|a| a.ip().to_string()).unwrap_or_default(),
        "xdomain": hs.headers.contains_key(http_origin()),
        "secure": hs.secure,
        "issued": epoch_ms(hs.issued),
        "url": url,
        "query": query,
        "auth": socket.auth().deserialize::<serde_json::Value>().unwrap_or_else(|_| serde_json::json!({})),
    })
}

fn http_origin() -> &'static str {
    "origin"
}

impl Namespace {
    /// The adapter this namespace runs on.
    pub fn adapter(&self) -> &crate::adapter::Adapter {
        &self.inner.adapter
    }

    /// This node's uid in the namespace's cluster (each namespace has its own, as in
    /// Node), with a cluster adapter.
    pub fn cluster_uid(&self) -> Option<&str> {
        self.inner.cluster.as_ref().map(|c| c.uid())
    }
}
