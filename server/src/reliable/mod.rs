//! Reliable delivery to user rooms: at-least-once, acknowledged by the client.
//!
//! A reliable message for user U is stored (see [`store`]) and sent to each of U's
//! connected sockets with an ack request; its id travels as the event's **last
//! argument** (a string), so a client can drop a redelivered duplicate. The first ack
//! from any of U's connections removes it (the queue is the user's, not a tab's: a tab
//! that connects later does not get what another tab already acknowledged).
//!
//! On each connection of U, what is still pending arrives first, as one `batch` event
//! whose single argument is `[[event, ...args, id], ...]`, oldest first, with one ack
//! for the whole batch. When messages were lost for U (dropped past a cap, or an
//! out-of-order ack of a `resync` message), U's sockets get a `resync` event with
//! `{"reason": …}` and the client reloads its state from the backend.

pub mod intake;
pub mod redis_store;
pub mod store;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use socketio::raw::RawArgs;
use socketio::rooms::Sid;
use socketio::server::{Namespace, Payload, Socket};
use tracing::{debug, warn};

use crate::config::ReliableSection;
pub use redis_store::{RedisStore, StoreError};
use store::{Acked, Limits, MemoryStore, MessageId, Stored};

/// The server-side event that carries a reliable message to the other herald nodes,
/// which deliver it to their own sockets of the user (the message is already stored).
pub const NODE_EVENT: &str = "herald:reliable";

/// How long the claim of an emitter message is kept in Redis: well past the time the
/// same message takes to reach every node.
const CLAIM_TTL: Duration = Duration::from_secs(120);

/// Where the pending messages live.
#[derive(Debug)]
enum Backend {
    Memory(Mutex<MemoryStore>),
    Redis(RedisStore),
}

/// An ack to apply to the store, in the order clients sent them.
#[derive(Debug)]
enum AckJob {
    One {
        user: String,
        id: MessageId,
        ns: Namespace,
    },
    Batch {
        user: String,
        ids: Vec<MessageId>,
    },
}

/// The reliable delivery of one site.
#[derive(Debug)]
pub struct Reliable {
    /// Acks go through one worker, so they reach the store in arrival order (the
    /// out-of-order rule of `resync` depends on it).
    acks: tokio::sync::mpsc::UnboundedSender<AckJob>,
    backend: Backend,
    ack_timeout: Duration,
    always: bool,
    user_room_prefix: String,
    /// Sockets whose pending messages are being read from the store, with what was
    /// sent to them meanwhile: held back until their `batch` is out, so the batch comes
    /// first and nothing in it is also sent on its own.
    replaying: Mutex<HashMap<Sid, Vec<Stored>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().try_into().unwrap_or(u64::MAX))
}

fn limits(cfg: &ReliableSection) -> Limits {
    Limits {
        ttl: (!cfg.client_ttl.0.is_zero()).then_some(cfg.client_ttl.0),
        max_pending: cfg.max_pending,
        max_pending_bytes: cfg.max_pending_bytes,
    }
}

impl Reliable {
    /// The reliable delivery of a site with an in-memory store (one node); sweeps
    /// expired messages every minute while it lives.
    pub fn in_memory(cfg: &ReliableSection, user_room_prefix: &str) -> Arc<Reliable> {
        let r = Reliable::start(
            Backend::Memory(Mutex::new(MemoryStore::new(limits(cfg)))),
            cfg,
            user_room_prefix,
        );
        let weak: Weak<Reliable> = Arc::downgrade(&r);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(r) = weak.upgrade() else { return };
                if let Backend::Memory(m) = &r.backend {
                    let n = lock(m).sweep(now_ms());
                    if n > 0 {
                        debug!(expired = n, "reliable messages expired");
                    }
                }
            }
        });
        r
    }

    /// The reliable delivery of site `site` with its store in Redis (shared by the
    /// nodes, kept across restarts), keys under `key_prefix`.
    pub fn in_redis(
        cfg: &ReliableSection,
        user_room_prefix: &str,
        url: &str,
        key_prefix: &str,
        site: &str,
    ) -> Result<Arc<Reliable>, StoreError> {
        Ok(Reliable::start(
            Backend::Redis(RedisStore::new(url, key_prefix, site, limits(cfg))?),
            cfg,
            user_room_prefix,
        ))
    }

    fn start(backend: Backend, cfg: &ReliableSection, user_room_prefix: &str) -> Arc<Reliable> {
        let (acks, mut jobs) = tokio::sync::mpsc::unbounded_channel();
        let r = Arc::new(Reliable {
            acks,
            backend,
            ack_timeout: cfg.ack_timeout.0,
            always: cfg.always,
            user_room_prefix: user_room_prefix.to_string(),
            replaying: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&r);
        tokio::spawn(async move {
            while let Some(job) = jobs.recv().await {
                let Some(me) = weak.upgrade() else { return };
                me.apply(job).await;
            }
        });
        r
    }

    async fn apply(&self, job: AckJob) {
        match job {
            AckJob::One { user, id, ns } => match self.ack(&user, id, now_ms()).await {
                Ok(Acked::Resync { cleared }) => {
                    debug!(
                        cleared,
                        "out-of-order ack of a resync message: queue cleared"
                    );
                    ns.to(&self.user_room(&user))
                        .emit("resync", resync_reason("missed"));
                }
                Ok(_) => {}
                Err(e) => warn!("{e}; the message stays pending and will be delivered again"),
            },
            AckJob::Batch { user, ids } => {
                if let Err(e) = self.ack_all(&user, &ids).await {
                    warn!("{e}; the batch stays pending and will be delivered again");
                }
            }
        }
    }

    /// Whether every message to user rooms is reliable (`always`).
    pub fn always(&self) -> bool {
        self.always
    }

    /// The user a room belongs to, if it is a user room.
    pub fn user_of<'a>(&self, room: &'a str) -> Option<&'a str> {
        room.strip_prefix(&self.user_room_prefix)
            .filter(|u| !u.is_empty())
    }

    fn user_room(&self, user: &str) -> String {
        format!("{}{user}", self.user_room_prefix)
    }

    async fn new_id(&self, now: u64) -> Result<MessageId, StoreError> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m).new_id(now)),
            Backend::Redis(r) => r.new_id(now).await,
        }
    }

    async fn push(&self, user: &str, msg: &Stored, now: u64) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m)
                .push_with_id(user, msg.id, &msg.event, &msg.args, msg.resync, now)
                .dropped),
            Backend::Redis(r) => {
                r.push(user, msg.id, &msg.event, &msg.args, msg.resync, now)
                    .await
            }
        }
    }

    async fn take_resync(&self, user: &str) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m).take_resync(user)),
            Backend::Redis(r) => r.take_resync(user).await,
        }
    }

    async fn pending(&self, user: &str, now: u64) -> Result<Vec<Stored>, StoreError> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m).pending(user, now)),
            Backend::Redis(r) => r.pending(user, now).await,
        }
    }

    async fn ack(&self, user: &str, id: MessageId, now: u64) -> Result<Acked, StoreError> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m).ack(user, id, now)),
            Backend::Redis(r) => r.ack(user, id, now).await,
        }
    }

    async fn ack_all(&self, user: &str, ids: &[MessageId]) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m).ack_all(user, ids)),
            Backend::Redis(r) => r.ack_all(user, ids).await,
        }
    }

    /// Stores one message for each of `users` (one id for all), delivers it to their
    /// sockets on this node and tells the other nodes (a server-side event) to deliver
    /// it to theirs. Returns the id; an error when the store cannot take it (nothing
    /// was delivered then, so the publisher may retry).
    pub async fn send(
        self: &Arc<Self>,
        ns: &Namespace,
        users: &[&str],
        event: &str,
        args: &RawArgs,
        resync: bool,
    ) -> Result<MessageId, StoreError> {
        let now = now_ms();
        let id = self.new_id(now).await?;
        self.store_and_deliver(ns, users, id, event, args, resync, now)
            .await?;
        Ok(id)
    }

    /// [`Reliable::send`] by the first node to claim `claim` (every node of the cluster
    /// received the same emitter message): `None` when another node claimed it first,
    /// which stores and delivers it (to this node's sockets too).
    pub async fn send_claimed(
        self: &Arc<Self>,
        ns: &Namespace,
        users: &[&str],
        event: &str,
        args: &RawArgs,
        claim: &str,
    ) -> Result<Option<MessageId>, StoreError> {
        let now = now_ms();
        let id = match &self.backend {
            Backend::Memory(m) => Some(lock(m).new_id(now)),
            Backend::Redis(r) => r.claim_id(now, claim, CLAIM_TTL).await?,
        };
        let Some(id) = id else { return Ok(None) };
        self.store_and_deliver(ns, users, id, event, args, false, now)
            .await?;
        Ok(Some(id))
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_and_deliver(
        self: &Arc<Self>,
        ns: &Namespace,
        users: &[&str],
        id: MessageId,
        event: &str,
        args: &RawArgs,
        resync: bool,
        now: u64,
    ) -> Result<(), StoreError> {
        let msg = Stored {
            id,
            event: event.to_string(),
            args: args.as_str().to_string(),
            resync,
            expires_at: None,
        };
        let mut overflowed = Vec::new();
        for user in users {
            if self.push(user, &msg, now).await? > 0 {
                overflowed.push(*user);
            }
        }
        self.deliver_local(ns, users, &msg);
        if ns.is_clustered() {
            ns.server_side_emit(
                NODE_EVENT,
                Payload::one(serde_json::json!({
                    "users": users,
                    "id": msg.id.to_string(),
                    "event": msg.event,
                    "args": msg.args,
                    "resync": resync,
                })),
            );
        }
        for user in overflowed {
            // Connected sockets learn now; the flag stays for the next connection
            // only when none is connected here.
            let room = self.user_room(user);
            if !ns.to(&room).fetch_sockets().is_empty() && self.take_resync(user).await? {
                ns.to(&room).emit("resync", resync_reason("overflow"));
            }
        }
        Ok(())
    }

    /// A [`NODE_EVENT`] from another node: delivers the (already stored) message to
    /// this node's sockets of its users.
    pub fn on_node_event(self: &Arc<Self>, ns: &Namespace, payload: &Payload) {
        #[derive(serde::Deserialize)]
        struct Remote {
            users: Vec<String>,
            id: String,
            event: String,
            args: String,
            resync: bool,
        }
        let Ok((r,)) = payload.deserialize::<(Remote,)>() else {
            warn!("a reliable message from another node is malformed; ignored");
            return;
        };
        let Ok(id) = r.id.parse() else { return };
        let users: Vec<&str> = r.users.iter().map(String::as_str).collect();
        let msg = Stored {
            id,
            event: r.event,
            args: r.args,
            resync: r.resync,
            expires_at: None,
        };
        self.deliver_local(ns, &users, &msg);
    }

    fn deliver_local(self: &Arc<Self>, ns: &Namespace, users: &[&str], msg: &Stored) {
        for user in users {
            for socket in ns.to(&self.user_room(user)).local().fetch_sockets() {
                self.deliver(&socket, user, msg);
            }
        }
    }

    /// Sends one stored message to one socket and handles its ack.
    fn deliver(self: &Arc<Self>, socket: &Socket, user: &str, msg: &Stored) {
        if let Some(held) = lock(&self.replaying).get_mut(socket.id()) {
            held.push(msg.clone());
            return;
        }
        let Some(payload) = with_id(&msg.args, msg.id) else {
            warn!("a stored reliable message has invalid arguments; dropped");
            return;
        };
        let acks = self.acks.clone();
        let user = user.to_string();
        let id = msg.id;
        let ns = socket.namespace().clone();
        // Not acked in time, or disconnected: it stays pending for the next connection.
        socket.emit_with_ack_callback(&msg.event, payload, self.ack_timeout, move |_| {
            let _ = acks.send(AckJob::One { user, id, ns });
        });
    }

    /// A socket of `user` connected: tells it to resync if messages were lost, then
    /// sends everything pending as one `batch`.
    pub fn on_connect(self: &Arc<Self>, socket: &Socket, user: &str) {
        if let Backend::Memory(m) = &self.backend {
            // In memory: at once, so the batch precedes anything sent after the connect.
            let (resync, pending) = {
                let mut st = lock(m);
                (st.take_resync(user), st.pending(user, now_ms()))
            };
            self.replay(socket, user, resync, pending);
            return;
        }
        lock(&self.replaying).insert(socket.id().clone(), Vec::new());
        let me = self.clone();
        let socket = socket.clone();
        let user = user.to_string();
        tokio::spawn(async move {
            let state = async {
                Ok::<_, StoreError>((
                    me.take_resync(&user).await?,
                    me.pending(&user, now_ms()).await?,
                ))
            };
            let state = state.await;
            let held = lock(&me.replaying).remove(socket.id()).unwrap_or_default();
            let in_batch: HashSet<MessageId> = match state {
                Ok((resync, pending)) => {
                    let ids = pending.iter().map(|m| m.id).collect();
                    me.replay(&socket, &user, resync, pending);
                    ids
                }
                Err(e) => {
                    warn!("{e}; pending messages will be sent on a later connection");
                    HashSet::new()
                }
            };
            for msg in held.iter().filter(|m| !in_batch.contains(&m.id)) {
                me.deliver(&socket, &user, msg);
            }
        });
    }

    fn replay(self: &Arc<Self>, socket: &Socket, user: &str, resync: bool, pending: Vec<Stored>) {
        if resync {
            socket.emit("resync", resync_reason("overflow"));
        }
        if pending.is_empty() {
            return;
        }
        let Some(payload) = batch_payload(&pending) else {
            warn!("stored reliable messages have invalid arguments; batch not sent");
            return;
        };
        let ids: Vec<MessageId> = pending.iter().map(|m| m.id).collect();
        let acks = self.acks.clone();
        let user = user.to_string();
        socket.emit_with_ack_callback("batch", payload, self.ack_timeout, move |_| {
            let _ = acks.send(AckJob::Batch { user, ids });
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn resync_reason(reason: &str) -> Payload {
    Payload::one(serde_json::json!({ "reason": reason }))
}

/// `args` (a list of JSON values) with the id appended as a string.
fn with_id(args: &str, id: MessageId) -> Option<Payload> {
    let text = if args.trim().is_empty() {
        format!("\"{id}\"")
    } else {
        format!("{args},\"{id}\"")
    };
    RawArgs::new(text)
        .ok()
        .map(|a| Payload::from_raw(a, Vec::new()))
}

/// The one argument of a `batch` event: `[[event, ...args, id], ...]`.
fn batch_payload(messages: &[Stored]) -> Option<Payload> {
    let mut text = String::from("[[");
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            text.push_str("],[");
        }
        text.push_str(&serde_json::to_string(&m.event).ok()?);
        if !m.args.trim().is_empty() {
            text.push(',');
            text.push_str(&m.args);
        }
        text.push_str(&format!(",\"{}\"", m.id));
    }
    text.push_str("]]");
    RawArgs::new(text)
        .ok()
        .map(|a| Payload::from_raw(a, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: MessageId, event: &str, args: &str) -> Stored {
        Stored {
            id,
            event: event.into(),
            args: args.into(),
            resync: false,
            expires_at: None,
        }
    }

    #[test]
    fn the_id_is_the_last_argument() {
        let p = with_id("1,{\"a\":2}", 42).unwrap();
        assert_eq!(
            p.deserialize::<serde_json::Value>().unwrap(),
            serde_json::json!([1, {"a": 2}, "42"])
        );
        let p = with_id("", 7).unwrap();
        assert_eq!(
            p.deserialize::<serde_json::Value>().unwrap(),
            serde_json::json!(["7"])
        );
    }

    #[test]
    fn a_batch_is_one_array_of_event_arrays() {
        let p = batch_payload(&[stored(1, "a", "1,2"), stored(2, "b\"q", "")]).unwrap();
        assert_eq!(
            p.deserialize::<serde_json::Value>().unwrap(),
            serde_json::json!([[["a", 1, 2, "1"], ["b\"q", "2"]]])
        );
    }
}
