//! The Socket.IO state of one Engine.IO connection: its namespace sockets and the
//! binary packet being reassembled. It runs on the connection's own task (it is the
//! Engine.IO [`Connection`](engineio::Connection)), so packets are handled in order.
//!
//! Any decode error, a packet for a namespace not joined, a duplicate CONNECT, a client
//! CONNECT_ERROR, text while attachments are awaited or binary when none is awaited
//! closes the whole connection, as the reference server does.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use engineio::server::MessageContext;
use engineio::{CloseReason, Message};
use tracing::debug;

use super::IoInner;
use super::namespace::{ConnectInfo, ConnectRequest, Namespace};
use super::payload::Payload;
use super::socket::{DisconnectReason, Socket};
use super::wire;
use crate::codec::{Incoming, Reassembler};
use crate::packet::{Packet, PacketType};
use crate::raw::{RawArgs, RawJson};

/// The Socket.IO state of one Engine.IO connection (the engine's per-session state).
pub struct Client {
    io: Arc<IoInner>,
    conn: engineio::Socket,
    handshake: Arc<engineio::Handshake>,
    /// The sockets of the namespaces joined (a few at most: a list, not a map).
    sockets: Sockets,
    reassembler: Reassembler,
    /// Until a namespace is joined: when the connection is closed for joining none
    /// (`connect_timeout` after the session opened).
    connect_deadline: Option<Instant>,
    closed: bool,
    /// Namespaces whose CONNECT awaits an asynchronous middleware.
    pending: Vec<Box<str>>,
    /// Where those connects land when their middlewares finish (created on first use).
    inbox: Option<Arc<Mutex<Inbox>>>,
    /// Stray-ack budget: tokens left and when it was last refilled.
    stray_acks: Option<(u32, std::time::Instant)>,
}

/// Results of asynchronous connects, handed from the middleware task to the client.
#[derive(Default)]
struct Inbox {
    /// Set when the connection closed: a late admission is dropped.
    closed: bool,
    /// `(namespace, Some(socket))` for an admitted client, `None` for a refused one.
    arrivals: Vec<(Box<str>, Option<Socket>)>,
}

/// The sockets of one connection, one per namespace.
#[derive(Default)]
struct Sockets(Vec<Socket>);

impl Sockets {
    fn get(&self, nsp: &str) -> Option<&Socket> {
        self.0.iter().find(|s| s.namespace().name() == nsp)
    }

    fn remove(&mut self, nsp: &str) {
        self.0.retain(|s| s.namespace().name() != nsp);
    }

    /// Adds `socket`, replacing the one of the same namespace.
    fn insert(&mut self, socket: Socket) {
        self.remove(socket.namespace().name());
        // Exactly one slot for the usual single namespace, not four.
        self.0.reserve_exact(1);
        self.0.push(socket);
    }
}

fn lock_inbox(inbox: &Mutex<Inbox>) -> MutexGuard<'_, Inbox> {
    inbox.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    pub(crate) fn new(
        io: Arc<IoInner>,
        conn: engineio::Socket,
        handshake: engineio::Handshake,
    ) -> Client {
        let connect_deadline = Instant::now().checked_add(io.config.connect_timeout);
        let reassembler = Reassembler::new(io.config.decoder);
        Client {
            io,
            conn,
            handshake: Arc::new(handshake),
            sockets: Sockets::default(),
            reassembler,
            connect_deadline,
            closed: false,
            pending: Vec::new(),
            inbox: None,
            stray_acks: None,
        }
    }

    /// Counts an ACK for an unknown id; false once the connection is over its budget.
    fn allow_stray_ack(&mut self) -> bool {
        let Some(limit) = self.io.config.max_stray_acks_per_minute else {
            return true;
        };
        let now = std::time::Instant::now();
        let (tokens, since) = self.stray_acks.get_or_insert((limit, now));
        let refill = (now.duration_since(*since).as_millis() * u128::from(limit) / 60_000) as u32;
        if refill > 0 {
            *tokens = tokens.saturating_add(refill).min(limit);
            *since = now;
        }
        if *tokens == 0 {
            return false;
        }
        *tokens -= 1;
        true
    }

    /// Takes in the connects that asynchronous middlewares finished.
    fn drain_inbox(&mut self) {
        let Some(inbox) = &self.inbox else { return };
        let arrivals = std::mem::take(&mut lock_inbox(inbox).arrivals);
        for (nsp, socket) in arrivals {
            self.pending.retain(|p| *p != nsp);
            if let Some(socket) = socket {
                self.connect_deadline = None;
                self.sockets.insert(socket);
            }
        }
    }

    fn fail(&mut self, why: &str) {
        debug!(why, "closing the connection");
        self.closed = true;
        self.conn.close_with(CloseReason::ParseError);
    }

    fn socket(&mut self, nsp: &str) -> Option<Socket> {
        match self.sockets.get(nsp) {
            Some(s) if s.connected() => Some(s.clone()),
            Some(_) => {
                // Disconnected by the server since: the namespace is no longer joined.
                self.sockets.remove(nsp);
                None
            }
            None => None,
        }
    }

    fn handle(&mut self, packet: Packet, attachments: Vec<Bytes>) {
        let nsp = packet.nsp().as_str().to_owned();
        match packet.packet_type() {
            PacketType::Connect => self.connect(&nsp, packet.auth().cloned()),
            PacketType::Disconnect => match self.socket(&nsp) {
                Some(s) => {
                    self.sockets.remove(&nsp);
                    if s.mark_disconnected() {
                        s.namespace()
                            .remove_socket(&s, DisconnectReason::ClientNamespaceDisconnect);
                    }
                }
                None => self.fail("DISCONNECT for a namespace not joined"),
            },
            PacketType::Event | PacketType::BinaryEvent => {
                let Some(s) = self.socket(&nsp) else {
                    return self.fail("EVENT for a namespace not joined");
                };
                let Some(name) = packet.event_name() else {
                    return self.fail("EVENT without a name");
                };
                let args = packet.args().cloned().unwrap_or_else(RawArgs::empty);
                s.namespace().count_event_received();
                s.dispatch(
                    &name.to_key(),
                    Payload::from_raw(args, attachments),
                    packet.ack_id(),
                );
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let Some(s) = self.socket(&nsp) else {
                    return self.fail("ACK for a namespace not joined");
                };
                let args = packet.args().cloned().unwrap_or_else(RawArgs::empty);
                if let Some(id) = packet.ack_id()
                    && !s.handle_ack(id, Payload::from_raw(args, attachments))
                    && !self.allow_stray_ack()
                {
                    self.fail("too many ACKs for unknown ids");
                }
            }
            PacketType::ConnectError => self.fail("CONNECT_ERROR from a client"),
        }
    }

    fn connect(&mut self, nsp: &str, auth: Option<RawJson>) {
        if self.socket(nsp).is_some() || self.pending.iter().any(|p| **p == *nsp) {
            return self.fail("duplicate CONNECT");
        }
        let Some(ns) = self.io.namespace_for(nsp) else {
            self.conn
                .send(wire::connect_error(nsp, "Invalid namespace", None));
            return;
        };
        let auth = auth.unwrap_or_else(empty_object);

        if let Some(socket) = self.try_restore(&ns, &auth) {
            self.admit(&ns, socket);
            return;
        }
        if ns.has_async_middleware() {
            return self.connect_async(ns, nsp, auth);
        }
        let req = ConnectRequest {
            namespace: ns.name(),
            handshake: &self.handshake,
            auth: &auth,
            data: Default::default(),
        };
        if let Err(e) = ns.run_middlewares(&req) {
            let data = e.data.as_ref().map(|d| d.to_string());
            self.conn
                .send(wire::connect_error(nsp, &e.message, data.as_deref()));
            return;
        }
        let data = req.take_data();
        let pid = ns
            .inner
            .recovery
            .as_ref()
            .map(|_| Arc::<str>::from(engineio::server::random_id()));
        let socket = Socket::new(
            Arc::from(engineio::server::random_id()),
            pid,
            ns.clone(),
            self.conn.clone(),
            self.handshake.clone(),
            auth,
            false,
            data,
        );
        ns.add_socket(&socket, &[]);
        self.conn.send(wire::connect(
            ns.name(),
            socket.id(),
            socket.inner.pid.as_deref(),
        ));
        self.admit(&ns, socket);
    }

    /// A CONNECT through asynchronous middlewares: they run on their own task, which
    /// then answers the client and hands the socket over through the inbox. The inbox
    /// lock is held from the admission check to the end of the connection handler, so
    /// the client's next packets wait until the handler has registered its listeners.
    fn connect_async(&mut self, ns: Namespace, nsp: &str, auth: RawJson) {
        self.pending.push(nsp.into());
        let inbox = self.inbox.get_or_insert_with(Default::default).clone();
        let conn = self.conn.clone();
        let handshake = self.handshake.clone();
        let nsp: Box<str> = nsp.into();
        let info = ConnectInfo {
            namespace: ns.name_arc(),
            handshake: handshake.clone(),
            auth: auth.clone(),
        };
        tokio::spawn(async move {
            let result = ns.run_middlewares_async(info).await;
            let mut ib = lock_inbox(&inbox);
            if ib.closed || conn.is_closed() {
                return;
            }
            let data = match result {
                Ok(data) => data,
                Err(e) => {
                    let data = e.data.as_ref().map(|d| d.to_string());
                    conn.send(wire::connect_error(&nsp, &e.message, data.as_deref()));
                    ib.arrivals.push((nsp, None));
                    return;
                }
            };
            let pid = ns
                .inner
                .recovery
                .as_ref()
                .map(|_| Arc::<str>::from(engineio::server::random_id()));
            let socket = Socket::new(
                Arc::from(engineio::server::random_id()),
                pid,
                ns.clone(),
                conn.clone(),
                handshake,
                auth,
                false,
                data,
            );
            ns.add_socket(&socket, &[]);
            conn.send(wire::connect(
                ns.name(),
                socket.id(),
                socket.inner.pid.as_deref(),
            ));
            ib.arrivals.push((nsp, Some(socket.clone())));
            if let Some(handler) = ns.connection_handler() {
                handler(&socket);
            }
        });
    }

    /// A CONNECT with `pid` and `offset` (both strings) may restore a kept session.
    fn try_restore(&mut self, ns: &Namespace, auth: &RawJson) -> Option<Socket> {
        let rec = ns.inner.recovery.as_ref()?;
        let obj: serde_json::Map<String, serde_json::Value> = auth.deserialize().ok()?;
        let pid = obj.get("pid")?.as_str()?;
        let offset = obj.get("offset")?.as_str()?;
        let (saved, missed) = rec.restore(pid, offset)?;
        if !rec.config.skip_middlewares {
            if ns.has_async_middleware() {
                return None;
            }
            let req = ConnectRequest {
                namespace: ns.name(),
                handshake: &self.handshake,
                auth,
                data: Default::default(),
            };
            if ns.run_middlewares(&req).is_err() {
                return None;
            }
        }
        let socket = Socket::new(
            saved.sid.clone(),
            Some(Arc::from(pid)),
            ns.clone(),
            self.conn.clone(),
            self.handshake.clone(),
            auth.clone(),
            true,
            saved.data.clone(),
        );
        ns.add_socket(&socket, &saved.rooms);
        // As the reference: the missed packets first, then the CONNECT reply.
        for frames in &missed {
            frames.send(&self.conn);
        }
        self.conn
            .send(wire::connect(ns.name(), socket.id(), Some(pid)));
        Some(socket)
    }

    fn admit(&mut self, ns: &Namespace, socket: Socket) {
        self.connect_deadline = None;
        self.sockets.insert(socket.clone());
        if let Some(handler) = ns.connection_handler() {
            handler(&socket);
        }
    }
}

fn empty_object() -> RawJson {
    RawJson::from(&serde_json::Value::Object(serde_json::Map::new()))
}

impl engineio::Connection for Client {
    fn on_message(&mut self, msg: Message, _ctx: &MessageContext<'_>) {
        if self.closed {
            return;
        }
        self.drain_inbox();
        let result = match msg {
            Message::Text(text) => self.reassembler.handle_text(text),
            Message::Binary(data) => self.reassembler.handle_binary(data),
        };
        match result {
            Ok(None) => {}
            Ok(Some(Incoming::Packet(p))) => self.handle(p, Vec::new()),
            Ok(Some(Incoming::Binary(b))) => {
                let (packet, attachments, _) = b.into_parts();
                self.handle(packet, attachments);
            }
            Err(e) => {
                debug!(error = %e, "bad packet");
                self.fail("protocol error");
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.connect_deadline
    }

    fn on_deadline(&mut self, now: Instant) {
        // A connect admitted by an asynchronous middleware since counts.
        self.drain_inbox();
        if self.connect_deadline.is_some_and(|d| d <= now) {
            self.connect_deadline = None;
            debug!("no namespace joined within connect_timeout, closing");
            self.conn.close();
        }
    }

    fn on_close(&mut self, reason: CloseReason) {
        self.reassembler.reset();
        if let Some(inbox) = &self.inbox {
            let mut ib = lock_inbox(inbox);
            ib.closed = true;
            for (_, socket) in ib.arrivals.drain(..) {
                if let Some(socket) = socket {
                    self.sockets.insert(socket);
                }
            }
        }
        let reason = DisconnectReason::from_engine(reason);
        for s in std::mem::take(&mut self.sockets.0) {
            if s.mark_disconnected() {
                s.namespace().remove_socket(&s, reason);
            }
        }
    }
}
