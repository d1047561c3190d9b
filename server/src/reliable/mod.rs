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

pub mod store;

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use socketio::raw::RawArgs;
use socketio::server::{Namespace, Payload, Socket};
use tracing::{debug, warn};

use crate::config::ReliableSection;
use store::{Acked, Limits, MemoryStore, MessageId, Stored};

/// The reliable delivery of one site.
#[derive(Debug)]
pub struct Reliable {
    store: Mutex<MemoryStore>,
    ack_timeout: Duration,
    always: bool,
    user_room_prefix: String,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().try_into().unwrap_or(u64::MAX))
}

impl Reliable {
    /// The reliable delivery of a site, from its `[sites.reliable]` section; sweeps
    /// expired messages every minute while it lives.
    pub fn new(cfg: &ReliableSection, user_room_prefix: &str) -> Arc<Reliable> {
        let ttl = (!cfg.client_ttl.0.is_zero()).then_some(cfg.client_ttl.0);
        let r = Arc::new(Reliable {
            store: Mutex::new(MemoryStore::new(Limits {
                ttl,
                max_pending: cfg.max_pending,
                max_pending_bytes: cfg.max_pending_bytes,
            })),
            ack_timeout: cfg.ack_timeout.0,
            always: cfg.always,
            user_room_prefix: user_room_prefix.to_string(),
        });
        let weak: Weak<Reliable> = Arc::downgrade(&r);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(r) = weak.upgrade() else { return };
                let n = r.lock().sweep(now_ms());
                if n > 0 {
                    debug!(expired = n, "reliable messages expired");
                }
            }
        });
        r
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
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

    /// How many messages are pending, over all users.
    pub fn pending_count(&self) -> usize {
        self.lock().len()
    }

    /// Stores one message for each of `users` (one id for all) and delivers it to their
    /// connected sockets on this node. Returns the id.
    pub fn send(
        self: &Arc<Self>,
        ns: &Namespace,
        users: &[&str],
        event: &str,
        args: &RawArgs,
        resync: bool,
    ) -> MessageId {
        let now = now_ms();
        let (id, overflowed) = {
            let mut st = self.lock();
            let id = st.new_id(now);
            let overflowed: Vec<&str> = users
                .iter()
                .copied()
                .filter(|u| {
                    st.push_with_id(u, id, event, args.as_str(), resync, now)
                        .dropped
                        > 0
                })
                .collect();
            (id, overflowed)
        };
        let msg = Stored {
            id,
            event: event.to_string(),
            args: args.as_str().to_string(),
            resync,
            expires_at: None,
        };
        for user in users {
            let room = format!("{}{user}", self.user_room_prefix);
            for socket in ns.to(&room).fetch_sockets() {
                self.deliver(&socket, user, &msg);
            }
        }
        for user in overflowed {
            // Connected sockets learn now; the flag stays for the next connection
            // only when none is connected.
            let room = format!("{}{user}", self.user_room_prefix);
            if !ns.to(&room).fetch_sockets().is_empty() && self.lock().take_resync(user) {
                ns.to(&room).emit("resync", resync_reason("overflow"));
            }
        }
        id
    }

    /// Sends one stored message to one socket and handles its ack.
    fn deliver(self: &Arc<Self>, socket: &Socket, user: &str, msg: &Stored) {
        let Some(payload) = with_id(&msg.args, msg.id) else {
            warn!("a stored reliable message has invalid arguments; dropped");
            return;
        };
        let ack = socket.emit_with_ack(&msg.event, payload, self.ack_timeout);
        let me = self.clone();
        let user = user.to_string();
        let id = msg.id;
        let ns = socket.namespace().clone();
        tokio::spawn(async move {
            if ack.await.is_err() {
                return; // timed out or disconnected: stays pending for the next connection
            }
            let outcome = me.lock().ack(&user, id, now_ms());
            if let Acked::Resync { cleared } = outcome {
                debug!(
                    cleared,
                    "out-of-order ack of a resync message: queue cleared"
                );
                ns.to(&format!("{}{user}", me.user_room_prefix))
                    .emit("resync", resync_reason("missed"));
            }
        });
    }

    /// A socket of `user` connected: tells it to resync if messages were lost, then
    /// sends everything pending as one `batch`.
    pub fn on_connect(self: &Arc<Self>, socket: &Socket, user: &str) {
        let (resync, pending) = {
            let mut st = self.lock();
            (st.take_resync(user), st.pending(user, now_ms()))
        };
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
        let ack = socket.emit_with_ack("batch", payload, self.ack_timeout);
        let me = self.clone();
        let user = user.to_string();
        tokio::spawn(async move {
            if ack.await.is_ok() {
                me.lock().ack_all(&user, &ids);
            }
        });
    }
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
