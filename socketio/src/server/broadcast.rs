//! Broadcast operators: `to`/`in`/`except` rooms, `volatile`, `local`, `timeout`, and
//! the operations on the sockets they select (`fetch_sockets`, `sockets_join`,
//! `sockets_leave`, `disconnect_sockets`).
//!
//! A broadcast encodes its packet ONCE; every recipient gets a clone of the same
//! reference-counted frames.

use std::time::Duration;

use tokio::sync::oneshot;

use super::namespace::Namespace;
use super::payload::Payload;
use super::socket::{AckError, Socket};
use super::wire;
use crate::adapter::wire::Flags;
use crate::adapter::{NsCluster, RemoteSocket, Target};
use crate::rooms::{Room, Sid};

/// Selects sockets of a namespace and acts on them. Build with [`Namespace::to`],
/// [`Namespace::broadcast`], [`Socket::to`] or [`Socket::broadcast`].
#[derive(Debug, Clone)]
pub struct BroadcastOperator {
    ns: Namespace,
    rooms: Vec<Room>,
    except: Vec<Room>,
    volatile: bool,
    local: bool,
    compress: bool,
    timeout: Option<Duration>,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Namespace) -> Self {
        BroadcastOperator {
            ns,
            rooms: Vec::new(),
            except: Vec::new(),
            volatile: false,
            local: false,
            compress: true,
            timeout: None,
        }
    }

    pub(crate) fn targeting(ns: Namespace, target: Target) -> Self {
        let mut op = BroadcastOperator::new(ns);
        op.rooms = target.rooms;
        op.except = target.except;
        op
    }

    fn target(&self) -> Target {
        Target {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
        }
    }

    /// The cluster to tell, unless this operation is local.
    fn cluster(&self) -> Option<&std::sync::Arc<NsCluster>> {
        if self.local {
            None
        } else {
            self.ns.inner.cluster.as_ref()
        }
    }

    pub(crate) fn except_socket(mut self, sid: Sid) -> Self {
        self.except.push(sid);
        self
    }

    /// Adds a target room (the union of all target rooms is reached).
    pub fn to(mut self, room: &str) -> Self {
        let room = Room::from(room);
        if !self.rooms.contains(&room) {
            self.rooms.push(room);
        }
        self
    }

    /// Same as [`BroadcastOperator::to`].
    pub fn in_(self, room: &str) -> Self {
        self.to(room)
    }

    /// Excludes the sockets of a room.
    pub fn except(mut self, room: &str) -> Self {
        self.except.push(Room::from(room));
        self
    }

    /// The event may be lost (no recovery offset, not replayed).
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Only this node's sockets (meaningful with a multi-node adapter).
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// The compress flag (kept for API parity; WebSocket compression is off).
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// The timeout of [`BroadcastOperator::emit_with_ack`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The selected rooms.
    pub fn rooms(&self) -> &[Room] {
        &self.rooms
    }

    /// The excluded rooms.
    pub fn excepted(&self) -> &[Room] {
        &self.except
    }

    /// Emits to every selected socket, on every node unless `local`; returns how many
    /// sockets of this node were reached.
    pub fn emit(self, event: &str, payload: Payload) -> usize {
        if let Some(c) = self.cluster() {
            let flags = Flags {
                volatile: self.volatile,
                compress: (!self.compress).then_some(false),
                timeout: None,
            };
            c.broadcast(event, &payload, &self.target(), flags);
        }
        let frames = self.ns.encode_logged(
            event,
            &payload,
            self.volatile,
            self.rooms.clone(),
            self.except.clone(),
        );
        let st = self.ns.lock();
        let mut n = 0;
        st.rooms.for_each_target(&self.rooms, &self.except, |sid| {
            if let Some(s) = st.sockets.get(sid)
                && frames.send(s.transport())
            {
                n += 1;
            }
        });
        n
    }

    /// Emits with an ack request to every selected socket (of every node unless
    /// `local`) and collects each answer until all answered or the timeout (default
    /// 5 s) passed. One ack id is used for all local recipients, as the reference does.
    /// From other nodes only the first ack argument arrives, as in Node.
    pub fn emit_with_ack(
        self,
        event: &str,
        payload: Payload,
    ) -> impl Future<Output = Result<Vec<Payload>, (AckError, Vec<Payload>)>> + Send + 'static {
        let timeout = self.timeout.unwrap_or(Duration::from_secs(5));
        let remote = self
            .cluster()
            .map(|c| c.broadcast_with_ack(event, &payload, &self.target(), timeout));
        let (waiting, cleanup) = self.send_with_ack(event, &payload);
        super::acks::collect(waiting, remote, timeout, cleanup)
    }

    /// Sends an event with an ack request to the selected sockets of this node; one
    /// receiver per socket reached. Dropping the [`AckCleanup`] forgets the acks that
    /// did not come (so clients that never answer do not grow their sockets' ack tables).
    pub(crate) fn send_with_ack(
        &self,
        event: &str,
        payload: &Payload,
    ) -> (Vec<oneshot::Receiver<Payload>>, AckCleanup) {
        let id = self.ns.next_ack_id();
        let frames = wire::event(self.ns.name(), event, payload, Some(id));
        let mut waiting = Vec::new();
        let mut cleanup = AckCleanup {
            id,
            sockets: Vec::new(),
        };
        let st = self.ns.lock();
        st.rooms.for_each_target(&self.rooms, &self.except, |sid| {
            if let Some(s) = st.sockets.get(sid) {
                let (tx, rx) = oneshot::channel();
                s.register_ack(id, tx);
                cleanup.sockets.push(s.clone());
                if frames.send(s.transport()) {
                    waiting.push(rx);
                }
            }
        });
        (waiting, cleanup)
    }

    /// The selected sockets of every node (this node's and the others' answers within
    /// the cluster's request timeout).
    pub fn fetch_all_sockets(&self) -> impl Future<Output = Vec<RemoteSocket>> + Send + 'static {
        let local = self.local_remote_sockets();
        let remote = self.cluster().map(|c| c.fetch_sockets(self.target()));
        async move {
            let mut all = local;
            if let Some(remote) = remote {
                all.extend(remote.await);
            }
            all
        }
    }

    pub(crate) fn local_remote_sockets(&self) -> Vec<RemoteSocket> {
        self.fetch_sockets()
            .into_iter()
            .map(|s| RemoteSocket {
                id: s.id().clone(),
                rooms: s.rooms(),
                data: s.data(),
                handshake: super::cluster::handshake_json(&s),
            })
            .collect()
    }

    /// The selected sockets of this node.
    pub fn fetch_sockets(&self) -> Vec<Socket> {
        let st = self.ns.lock();
        let mut out = Vec::new();
        st.rooms.for_each_target(&self.rooms, &self.except, |sid| {
            if let Some(s) = st.sockets.get(sid) {
                out.push(s.clone());
            }
        });
        out
    }

    /// Puts the selected sockets (of every node unless `local`) in `room`.
    pub fn sockets_join(&self, room: &str) {
        if let Some(c) = self.cluster() {
            c.sockets_join(&self.target(), vec![Room::from(room)]);
        }
        for s in self.fetch_sockets() {
            s.join(room);
        }
    }

    /// Takes the selected sockets (of every node unless `local`) out of `room`.
    pub fn sockets_leave(&self, room: &str) {
        if let Some(c) = self.cluster() {
            c.sockets_leave(&self.target(), vec![Room::from(room)]);
        }
        for s in self.fetch_sockets() {
            s.leave(room);
        }
    }

    /// Disconnects the selected sockets (of every node unless `local`); with `close`,
    /// their whole connections.
    pub fn disconnect_sockets(&self, close: bool) {
        if let Some(c) = self.cluster() {
            c.disconnect_sockets(&self.target(), close);
        }
        for s in self.fetch_sockets() {
            if close {
                // As the reference: DISCONNECT first, then the connection is closed.
                s.disconnect();
                s.close_connection();
            } else {
                s.disconnect();
            }
        }
    }
}

/// Removes an ack id from the sockets it was sent to when dropped (answered acks are
/// already gone; this drops the ones that timed out).
#[derive(Debug)]
pub(crate) struct AckCleanup {
    id: u64,
    sockets: Vec<Socket>,
}

impl Drop for AckCleanup {
    fn drop(&mut self) {
        for s in &self.sockets {
            s.forget_ack(self.id);
        }
    }
}
