//! One namespace's side of the classic protocol: its uid and channels, what it
//! publishes, how it answers the other nodes' requests, and its pending requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use super::wire::{self, Broadcast, Channels, Flags, Options, Packet, Request, Response, Selector};
use super::{Cluster, RemoteSocket, Subscription, Target, lock};
use crate::rooms::Room;
use crate::server::{
    BroadcastOperator, Namespace, Payload, RemoteBroadcast, RemoteVerdict, ServerSideAck,
};
use crate::value::Value;

/// A namespace's cluster state.
pub(crate) struct NsCluster {
    cluster: Arc<Cluster>,
    nsp: Arc<str>,
    uid: Arc<str>,
    channels: Channels,
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Response>>>,
    seq: AtomicU64,
}

impl std::fmt::Debug for NsCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsCluster")
            .field("nsp", &self.nsp)
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

/// The answers to a request.
pub(crate) struct Collected {
    pub(crate) responses: Vec<Response>,
    /// How many were expected (the other nodes).
    pub(crate) expected: usize,
}

impl Collected {
    pub(crate) fn complete(&self) -> bool {
        self.responses.len() >= self.expected
    }
}

/// Removes a pending request when its waiter is done or dropped.
pub(crate) struct PendingGuard {
    ns: Arc<NsCluster>,
    id: String,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        lock(&self.ns.pending).remove(&self.id);
    }
}

/// The remote side of a broadcast with acks: client counts and acks as they come.
pub(crate) struct RemoteAcks {
    pub(crate) rx: mpsc::UnboundedReceiver<Response>,
    pub(crate) nodes: super::BoxFuture<Option<usize>>,
    pub(crate) _guard: PendingGuard,
}

impl NsCluster {
    pub(crate) fn new(cluster: Arc<Cluster>, nsp: &str) -> Arc<NsCluster> {
        // Node uses 6 random URL-safe characters per namespace; any unique string that
        // is not "emitter" works.
        let uid: Arc<str> = Arc::from(&engineio::server::random_id()[..8]);
        let channels = Channels::new(&cluster.config.prefix, nsp, &uid);
        Arc::new(NsCluster {
            cluster,
            nsp: Arc::from(nsp),
            uid,
            channels,
            pending: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
        })
    }

    /// This node's uid in the namespace.
    pub(crate) fn uid(&self) -> &str {
        &self.uid
    }

    /// The request timeout of the cluster.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.cluster.config.request_timeout
    }

    /// Subscribes the namespace's channels; messages go to the namespace while it lives.
    pub(crate) fn start(self: &Arc<Self>, ns: &Namespace) {
        let weak: Weak<_> = Arc::downgrade(&ns.inner);
        let me = Arc::downgrade(self);
        self.cluster.pubsub.subscribe(
            Subscription {
                channels: vec![
                    self.channels.request.clone(),
                    self.channels.response.clone(),
                    self.channels.own_response.clone(),
                ],
                patterns: vec![self.channels.pattern.clone()],
            },
            Arc::new(move |channel: &str, payload: Bytes| {
                if let (Some(inner), Some(me)) = (weak.upgrade(), me.upgrade()) {
                    me.on_message(&Namespace { inner }, channel, payload);
                }
            }),
        );
    }

    fn next_request_id(&self) -> String {
        format!("{}{:x}", self.uid, self.seq.fetch_add(1, Ordering::Relaxed))
    }

    fn register(self: &Arc<Self>) -> (String, mpsc::UnboundedReceiver<Response>, PendingGuard) {
        let id = self.next_request_id();
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.pending).insert(id.clone(), tx);
        let guard = PendingGuard {
            ns: self.clone(),
            id: id.clone(),
        };
        (id, rx, guard)
    }

    fn publish_request(&self, r: &Request) {
        self.cluster
            .publish(self.channels.request.clone(), wire::encode_request(r));
    }

    fn respond(&self, r: &Response) {
        self.cluster
            .publish(self.channels.response.clone(), wire::encode_response(r));
    }

    // ----- what this node publishes -----

    /// Publishes a broadcast (the caller delivers locally).
    pub(crate) fn broadcast(&self, event: &str, payload: &Payload, target: &Target, flags: Flags) {
        let b = Broadcast {
            uid: self.uid.to_string(),
            packet: Packet::event(&self.nsp, event, payload.values()),
            opts: Options {
                rooms: target.rooms.clone(),
                except: target.except.clone(),
                flags,
            },
        };
        self.cluster.publish(
            self.channels.broadcast_channel(&target.rooms),
            wire::encode_broadcast(&b),
        );
    }

    fn select(target: &Target) -> Selector {
        Selector::Target(target.clone())
    }

    /// Publishes a remote join (applied locally by the caller).
    pub(crate) fn sockets_join(&self, target: &Target, rooms: Vec<Room>) {
        self.publish_request(&Request::Join {
            uid: Some(self.uid.to_string()),
            request_id: None,
            select: Self::select(target),
            rooms,
        });
    }

    /// Publishes a remote leave (applied locally by the caller).
    pub(crate) fn sockets_leave(&self, target: &Target, rooms: Vec<Room>) {
        self.publish_request(&Request::Leave {
            uid: Some(self.uid.to_string()),
            request_id: None,
            select: Self::select(target),
            rooms,
        });
    }

    /// Publishes a remote disconnect (applied locally by the caller).
    pub(crate) fn disconnect_sockets(&self, target: &Target, close: bool) {
        self.publish_request(&Request::Disconnect {
            uid: Some(self.uid.to_string()),
            request_id: None,
            select: Self::select(target),
            close,
        });
    }

    /// Publishes a server-side event without ack.
    pub(crate) fn server_side_emit(&self, event: &str, payload: &Payload) {
        self.publish_request(&Request::ServerSideEmit {
            uid: Some(self.uid.to_string()),
            request_id: None,
            data: event_data(event, payload),
        });
    }

    /// Sends a request that every other node answers once; resolves with the answers
    /// that came before the timeout.
    pub(crate) fn ask<F>(
        self: &Arc<Self>,
        make: F,
        timeout: Duration,
    ) -> impl Future<Output = Collected> + Send + 'static + use<F>
    where
        F: FnOnce(String, String) -> Request + Send + 'static,
    {
        let me = self.clone();
        async move {
            let deadline = Instant::now() + timeout;
            let numsub = me.cluster.pubsub.numsub(me.channels.request.clone());
            let nodes = match tokio::time::timeout_at(deadline, numsub).await {
                Ok(Some(n)) => n,
                _ => {
                    debug!(nsp = %me.nsp, "cluster size unknown (pub/sub disconnected): answering with this node only");
                    1
                }
            };
            // NUMSUB counts this node too.
            let expected = nodes.saturating_sub(1);
            let mut responses = Vec::with_capacity(expected);
            if expected == 0 {
                return Collected {
                    responses,
                    expected,
                };
            }
            let (id, mut rx, _guard) = me.register();
            me.publish_request(&make(me.uid.to_string(), id));
            while responses.len() < expected {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(r)) => responses.push(r),
                    _ => break,
                }
            }
            Collected {
                responses,
                expected,
            }
        }
    }

    /// The other nodes' sockets matching `target`.
    pub(crate) fn fetch_sockets(
        self: &Arc<Self>,
        target: Target,
    ) -> impl Future<Output = Vec<RemoteSocket>> + Send + 'static + use<> {
        let ask = self.ask(
            move |uid, request_id| Request::Fetch {
                uid,
                request_id,
                target,
            },
            self.request_timeout(),
        );
        let nsp = self.nsp.clone();
        async move {
            let got = ask.await;
            if !got.complete() {
                debug!(%nsp, answers = got.responses.len(), expected = got.expected, "fetch sockets: timeout reached while waiting for the other nodes");
            }
            got.responses
                .into_iter()
                .flat_map(|r| match r {
                    Response::Fetch { sockets, .. } => sockets,
                    _ => Vec::new(),
                })
                .collect()
        }
    }

    /// The other nodes' rooms.
    pub(crate) fn all_rooms(
        self: &Arc<Self>,
    ) -> impl Future<Output = Vec<Room>> + Send + 'static + use<> {
        let ask = self.ask(
            |uid, request_id| Request::AllRooms { uid, request_id },
            self.request_timeout(),
        );
        async move {
            ask.await
                .responses
                .into_iter()
                .flat_map(|r| match r {
                    Response::AllRooms { rooms, .. } => rooms,
                    _ => Vec::new(),
                })
                .collect()
        }
    }

    /// A server-side event whose handlers on the other nodes answer; resolves with the
    /// answers (first ack argument each), or a timeout with the answers that came.
    pub(crate) fn server_side_emit_with_ack(
        self: &Arc<Self>,
        event: &str,
        payload: &Payload,
        timeout: Duration,
    ) -> impl Future<Output = (Vec<Value>, bool)> + Send + 'static + use<> {
        let data = event_data(event, payload);
        let ask = self.ask(
            move |uid, request_id| Request::ServerSideEmit {
                uid: Some(uid),
                request_id: Some(request_id),
                data,
            },
            timeout,
        );
        async move {
            let got = ask.await;
            let complete = got.complete();
            let answers = got
                .responses
                .into_iter()
                .filter_map(|r| match r {
                    Response::ServerSideEmit { data, .. } => Some(data.unwrap_or(Value::Null)),
                    _ => None,
                })
                .collect();
            (answers, complete)
        }
    }

    /// Publishes a broadcast with acks (the caller emits locally and merges).
    pub(crate) fn broadcast_with_ack(
        self: &Arc<Self>,
        event: &str,
        payload: &Payload,
        target: &Target,
        timeout: Duration,
    ) -> RemoteAcks {
        let (id, rx, guard) = self.register();
        self.publish_request(&Request::Broadcast {
            uid: self.uid.to_string(),
            request_id: id,
            packet: Packet::event(&self.nsp, event, payload.values()),
            opts: Options {
                rooms: target.rooms.clone(),
                except: target.except.clone(),
                flags: Flags {
                    timeout: Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
                    ..Flags::default()
                },
            },
        });
        RemoteAcks {
            rx,
            nodes: self.cluster.pubsub.numsub(self.channels.request.clone()),
            _guard: guard,
        }
    }

    // ----- what this node receives -----

    fn on_message(self: &Arc<Self>, ns: &Namespace, channel: &str, payload: Bytes) {
        let stats = &self.cluster.stats;
        stats.received.fetch_add(1, Ordering::Relaxed);
        if payload.len() > self.cluster.config.max_message_size {
            stats.oversized.fetch_add(1, Ordering::Relaxed);
            debug!(
                channel,
                size = payload.len(),
                max = self.cluster.config.max_message_size,
                "dropped an oversized message (raise the max message size if it is legitimate)"
            );
            return;
        }
        let result = if channel == self.channels.request {
            self.on_request(ns, &payload)
        } else if channel == self.channels.response || channel == self.channels.own_response {
            self.on_response(&payload)
        } else if let Some(room) = self.channels.room_of(channel) {
            self.on_broadcast(ns, room, &payload)
        } else {
            Ok(())
        };
        if let Err(e) = result {
            stats.malformed.fetch_add(1, Ordering::Relaxed);
            debug!(channel, error = %e, "dropped a malformed message");
        }
    }

    fn on_broadcast(
        &self,
        ns: &Namespace,
        room: &str,
        payload: &Bytes,
    ) -> Result<(), wire::WireError> {
        let hook = ns.remote_broadcast_hook();
        // The channel's room is a cheap filter before decoding: a node without that room
        // has nobody to deliver to (unless a hook wants to see everything).
        if hook.is_none() && !room.is_empty() && !ns.lock().rooms.has_members(room) {
            return Ok(());
        }
        let b = wire::decode_broadcast(payload)?;
        if *b.uid == *self.uid || b.packet.nsp != *self.nsp {
            return Ok(());
        }
        if b.packet.kind != wire::EVENT {
            debug!(nsp = %self.nsp, "ignored a broadcast of an ack packet");
            return Ok(());
        }
        let Some(event) = b.packet.event_name() else {
            return Err(wire::WireError::Shape("event name is not a string"));
        };
        let mut target = b.opts.target();
        if let Some(hook) = hook {
            let verdict = hook(&RemoteBroadcast {
                uid: &b.uid,
                bytes: payload,
                event,
                args: b.packet.args(),
                rooms: &b.opts.rooms,
                except: &b.opts.except,
                volatile: b.opts.flags.volatile,
            });
            match verdict {
                RemoteVerdict::Deliver => {}
                RemoteVerdict::DeliverExcept(rooms) => target.except.extend(rooms),
                RemoteVerdict::Skip => return Ok(()),
            }
        }
        let mut op = BroadcastOperator::targeting(ns.clone(), target).local();
        if b.opts.flags.volatile {
            op = op.volatile();
        }
        if let Some(c) = b.opts.flags.compress {
            op = op.compress(c);
        }
        op.emit(event, Payload::from_values(b.packet.args().to_vec()));
        Ok(())
    }

    fn is_own(&self, r: &Request) -> bool {
        r.uid() == Some(&*self.uid)
            || r.request_id()
                .is_some_and(|id| lock(&self.pending).contains_key(id))
    }

    fn on_request(
        self: &Arc<Self>,
        ns: &Namespace,
        payload: &Bytes,
    ) -> Result<(), wire::WireError> {
        let r = wire::decode_request(payload)?;
        // Join, leave and disconnect were applied here when published; the others were
        // asked by this node.
        if self.is_own(&r) {
            return Ok(());
        }
        let local = |target: Target| BroadcastOperator::targeting(ns.clone(), target).local();
        match r {
            Request::Sockets {
                request_id, rooms, ..
            } => {
                let sockets = local(Target {
                    rooms,
                    except: Vec::new(),
                })
                .fetch_sockets()
                .iter()
                .map(|s| s.id().to_string())
                .collect();
                self.respond(&Response::Sockets {
                    request_id,
                    sockets,
                });
            }
            Request::AllRooms { request_id, .. } => {
                let rooms = ns.lock().rooms.rooms().cloned().collect();
                self.respond(&Response::AllRooms { request_id, rooms });
            }
            Request::Join {
                request_id,
                select,
                rooms,
                ..
            } => match select {
                Selector::Target(t) => {
                    let op = local(t);
                    for room in &rooms {
                        op.sockets_join(room);
                    }
                }
                Selector::Socket(sid) => {
                    if let Some(s) = ns.socket(&sid) {
                        for room in &rooms {
                            s.join(room);
                        }
                        self.done(request_id);
                    }
                }
            },
            Request::Leave {
                request_id,
                select,
                rooms,
                ..
            } => match select {
                Selector::Target(t) => {
                    let op = local(t);
                    for room in &rooms {
                        op.sockets_leave(room);
                    }
                }
                Selector::Socket(sid) => {
                    if let Some(s) = ns.socket(&sid) {
                        for room in &rooms {
                            s.leave(room);
                        }
                        self.done(request_id);
                    }
                }
            },
            Request::Disconnect {
                request_id,
                select,
                close,
                ..
            } => match select {
                Selector::Target(t) => local(t).disconnect_sockets(close),
                Selector::Socket(sid) => {
                    if let Some(s) = ns.socket(&sid) {
                        if close {
                            // As the reference: DISCONNECT first, then the connection is closed.
                            s.disconnect();
                            s.close_connection();
                        } else {
                            s.disconnect();
                        }
                        self.done(request_id);
                    }
                }
            },
            Request::Fetch {
                request_id, target, ..
            } => {
                let sockets = local(target).local_remote_sockets();
                self.respond(&Response::Fetch {
                    request_id,
                    sockets,
                });
            }
            Request::ServerSideEmit {
                request_id, data, ..
            } => {
                let mut it = data.into_iter();
                let Some(Value::String(event)) = it.next() else {
                    return Err(wire::WireError::Shape(
                        "server-side event name is not a string",
                    ));
                };
                let ack = request_id.map(|id| ServerSideAck::new(self.clone(), id));
                ns.run_server_side(&event, Payload::from_values(it.collect()), ack);
            }
            Request::Broadcast {
                request_id,
                packet,
                opts,
                ..
            } => self.answer_broadcast(ns, request_id, packet, opts)?,
        }
        Ok(())
    }

    fn done(&self, request_id: Option<String>) {
        if let Some(request_id) = request_id {
            self.respond(&Response::Done { request_id });
        }
    }

    /// Answers the ack of a server-side event (first argument only, as Node).
    pub(crate) fn server_side_ack(&self, request_id: String, payload: &Payload) {
        self.respond(&Response::ServerSideEmit {
            request_id,
            data: payload.get_raw(0),
        });
    }

    /// Another node's broadcast with acks: emit locally, tell how many clients got it
    /// (even 0), then pass on each client's ack.
    fn answer_broadcast(
        self: &Arc<Self>,
        ns: &Namespace,
        request_id: String,
        packet: Packet,
        opts: Options,
    ) -> Result<(), wire::WireError> {
        let Some(event) = packet.event_name() else {
            return Err(wire::WireError::Shape("event name is not a string"));
        };
        let timeout = opts
            .flags
            .timeout
            .map_or(self.request_timeout(), Duration::from_millis);
        let op = BroadcastOperator::targeting(ns.clone(), opts.target()).local();
        let (waiting, cleanup) =
            op.send_with_ack(event, &Payload::from_values(packet.args().to_vec()));
        self.respond(&Response::ClientCount {
            request_id: request_id.clone(),
            count: waiting.len() as u64,
        });
        if waiting.is_empty() {
            return Ok(());
        }
        let me = self.clone();
        tokio::spawn(async move {
            // Unanswered acks are forgotten when this task ends.
            let _cleanup = cleanup;
            let deadline = Instant::now() + timeout;
            let mut acks: FuturesUnordered<_> = waiting.into_iter().collect();
            while let Ok(Some(answer)) = tokio::time::timeout_at(deadline, acks.next()).await {
                if let Ok(p) = answer {
                    me.respond(&Response::Ack {
                        request_id: request_id.clone(),
                        packet: p.get_raw(0),
                    });
                }
            }
        });
        Ok(())
    }

    fn on_response(&self, payload: &Bytes) -> Result<(), wire::WireError> {
        let r = wire::decode_response(payload)?;
        let tx = lock(&self.pending).get(r.request_id()).cloned();
        if let Some(tx) = tx {
            let _ = tx.send(r);
        }
        Ok(())
    }
}

/// `[event, ...args]`.
fn event_data(event: &str, payload: &Payload) -> Vec<Value> {
    let mut data = Vec::with_capacity(1 + payload.len());
    data.push(Value::from(event));
    data.extend(payload.values());
    data
}
