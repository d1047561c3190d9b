//! The in-memory reliable store: per user, the messages not yet acknowledged, oldest
//! first. Pure: time is an argument (`now`, milliseconds since the Unix epoch), so every
//! rule (ordering, acks, expiry, caps, resync) is tested with a virtual clock.
//!
//! Rules:
//! - [`MemoryStore::push`] gives each message an id that is unique and increasing for
//!   this store (derived from the clock, so ids keep increasing across restarts);
//! - a message expires `ttl` after it was stored (`None`: kept until acked);
//! - past `max_pending` messages or `max_pending_bytes` bytes for one user, the oldest
//!   are dropped and the user is flagged: its next connection gets `resync`;
//! - [`MemoryStore::ack`] removes one message; for a message sent with `resync`, an ack
//!   while an older message of the same event is still pending means the client missed
//!   that one: the user's whole queue is cleared and the caller sends `resync`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// A message id: unique and increasing within a store. Sent to clients as a string.
pub type MessageId = u64;

/// Per-user caps and expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a message waits for its ack (`None`: forever).
    pub ttl: Option<Duration>,
    /// Most pending messages per user.
    pub max_pending: usize,
    /// Most pending bytes (event name + arguments) per user.
    pub max_pending_bytes: usize,
}

/// A pending message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its id.
    pub id: MessageId,
    /// The event name.
    pub event: String,
    /// The arguments: a comma-separated list of JSON values (the inside of an array).
    pub args: String,
    /// Whether an out-of-order ack of it triggers a resync.
    pub resync: bool,
    /// When it expires (ms since the epoch), if ever.
    pub expires_at: Option<u64>,
}

impl Stored {
    fn size(&self) -> usize {
        self.event.len() + self.args.len()
    }
}

/// What [`MemoryStore::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// The new message's id.
    pub id: MessageId,
    /// How many older messages were dropped to make room (the user is flagged for resync).
    pub dropped: usize,
}

/// What an ack did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acked {
    /// The message was pending and is gone.
    Removed,
    /// Not pending (already acked, expired, dropped, or never this user's): ignored.
    Unknown,
    /// An out-of-order ack of a `resync` message: the queue was cleared (this many
    /// messages); the caller sends `resync`.
    Resync {
        /// Messages cleared.
        cleared: usize,
    },
}

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Stored>,
    bytes: usize,
    needs_resync: bool,
}

/// The in-memory store of one site.
#[derive(Debug)]
pub struct MemoryStore {
    limits: Limits,
    users: HashMap<String, Queue>,
    last_id: MessageId,
}

impl MemoryStore {
    /// An empty store.
    pub fn new(limits: Limits) -> MemoryStore {
        MemoryStore {
            limits,
            users: HashMap::new(),
            last_id: 0,
        }
    }

    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A new id (for a message to several users: one id, pushed to each).
    pub fn new_id(&mut self, now: u64) -> MessageId {
        // Milliseconds × 1000: increasing across restarts, and below 2^53 until the year
        // 2255, so JavaScript clients could even compare them as numbers.
        self.last_id = (self.last_id + 1).max(now.saturating_mul(1000));
        self.last_id
    }

    /// Stores a message for `user` under a new id.
    pub fn push(&mut self, user: &str, event: &str, args: &str, resync: bool, now: u64) -> Pushed {
        let id = self.new_id(now);
        self.push_with_id(user, id, event, args, resync, now)
    }

    /// Stores a message for `user` under `id` (from [`MemoryStore::new_id`]).
    pub fn push_with_id(
        &mut self,
        user: &str,
        id: MessageId,
        event: &str,
        args: &str,
        resync: bool,
        now: u64,
    ) -> Pushed {
        let limits = self.limits;
        let q = self.users.entry(user.to_string()).or_default();
        purge_expired(q, now);
        let msg = Stored {
            id,
            event: event.to_string(),
            args: args.to_string(),
            resync,
            expires_at: limits
                .ttl
                .map(|t| now.saturating_add(t.as_millis().try_into().unwrap_or(u64::MAX))),
        };
        q.bytes += msg.size();
        q.messages.push_back(msg);
        let mut dropped = 0;
        while q.messages.len() > limits.max_pending
            || (q.bytes > limits.max_pending_bytes && q.messages.len() > 1)
        {
            let old = q.messages.pop_front().expect("non-empty");
            q.bytes -= old.size();
            dropped += 1;
        }
        if q.bytes > limits.max_pending_bytes {
            // A single message over the byte cap is not kept either.
            let old = q.messages.pop_front().expect("non-empty");
            q.bytes -= old.size();
            dropped += 1;
        }
        if dropped > 0 {
            q.needs_resync = true;
        }
        Pushed { id, dropped }
    }

    /// Everything pending for `user`, oldest first (expired messages are removed).
    pub fn pending(&mut self, user: &str, now: u64) -> Vec<Stored> {
        let Some(q) = self.users.get_mut(user) else {
            return Vec::new();
        };
        purge_expired(q, now);
        let out = q.messages.iter().cloned().collect();
        self.forget_if_empty(user);
        out
    }

    /// Takes the user's resync flag (set when messages were dropped for a cap).
    pub fn take_resync(&mut self, user: &str) -> bool {
        let flagged = self
            .users
            .get_mut(user)
            .is_some_and(|q| std::mem::take(&mut q.needs_resync));
        self.forget_if_empty(user);
        flagged
    }

    /// The user's client acknowledged message `id`.
    pub fn ack(&mut self, user: &str, id: MessageId, now: u64) -> Acked {
        let Some(q) = self.users.get_mut(user) else {
            return Acked::Unknown;
        };
        purge_expired(q, now);
        let Some(pos) = q.messages.iter().position(|m| m.id == id) else {
            self.forget_if_empty(user);
            return Acked::Unknown;
        };
        let msg = &q.messages[pos];
        let skipped_one = msg.resync && q.messages.iter().take(pos).any(|m| m.event == msg.event);
        let outcome = if skipped_one {
            let cleared = q.messages.len();
            q.messages.clear();
            q.bytes = 0;
            Acked::Resync { cleared }
        } else {
            let m = q.messages.remove(pos).expect("position is in range");
            q.bytes -= m.size();
            Acked::Removed
        };
        self.forget_if_empty(user);
        outcome
    }

    /// The user's client acknowledged a batch: every id in it is removed. Returns how
    /// many were still pending.
    pub fn ack_all(&mut self, user: &str, ids: &[MessageId]) -> usize {
        let Some(q) = self.users.get_mut(user) else {
            return 0;
        };
        let before = q.messages.len();
        q.messages.retain(|m| !ids.contains(&m.id));
        q.bytes = q.messages.iter().map(Stored::size).sum();
        let removed = before - q.messages.len();
        self.forget_if_empty(user);
        removed
    }

    /// Removes expired messages of every user; returns how many.
    pub fn sweep(&mut self, now: u64) -> usize {
        let mut removed = 0;
        self.users.retain(|_, q| {
            removed += purge_expired(q, now);
            !q.messages.is_empty() || q.needs_resync
        });
        removed
    }

    /// How many messages are pending, over all users.
    pub fn len(&self) -> usize {
        self.users.values().map(|q| q.messages.len()).sum()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn forget_if_empty(&mut self, user: &str) {
        if self
            .users
            .get(user)
            .is_some_and(|q| q.messages.is_empty() && !q.needs_resync)
        {
            self.users.remove(user);
        }
    }
}

/// Drops the expired head of a queue (messages are stored in time order and share one
/// ttl, so the expired ones are a prefix). Returns how many.
fn purge_expired(q: &mut Queue, now: u64) -> usize {
    let mut n = 0;
    while q
        .messages
        .front()
        .is_some_and(|m| m.expires_at.is_some_and(|t| t <= now))
    {
        let m = q.messages.pop_front().expect("non-empty");
        q.bytes -= m.size();
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;

    fn store(ttl: Option<u64>, max_pending: usize, max_bytes: usize) -> MemoryStore {
        MemoryStore::new(Limits {
            ttl: ttl.map(Duration::from_millis),
            max_pending,
            max_pending_bytes: max_bytes,
        })
    }

    fn ids(v: &[Stored]) -> Vec<MessageId> {
        v.iter().map(|m| m.id).collect()
    }

    #[test]
    fn messages_are_kept_in_order_per_user_until_acked() {
        let mut s = store(None, 100, 1 << 20);
        let a = s.push("u1", "e", "1", false, T0).id;
        let b = s.push("u1", "e", "2", false, T0).id;
        let c = s.push("u2", "e", "3", false, T0).id;
        assert!(a < b && b < c, "ids increase");
        assert_eq!(ids(&s.pending("u1", T0)), [a, b]);
        assert_eq!(ids(&s.pending("u2", T0)), [c]);
        assert_eq!(s.ack("u1", a, T0), Acked::Removed);
        assert_eq!(s.ack("u1", a, T0), Acked::Unknown, "twice");
        assert_eq!(s.ack("u2", b, T0), Acked::Unknown, "another user's id");
        assert_eq!(ids(&s.pending("u1", T0)), [b]);
        assert_eq!(s.pending("u1", T0)[0].args, "2");
    }

    #[test]
    fn ids_keep_increasing_across_a_restart_and_a_clock_step_back() {
        let mut s = store(None, 100, 1 << 20);
        let a = s.push("u", "e", "", false, T0).id;
        let b = s.push("u", "e", "", false, T0 - 5_000).id;
        assert!(b > a);
        let mut restarted = store(None, 100, 1 << 20);
        assert!(restarted.push("u", "e", "", false, T0 + 1).id > b);
        assert!(a < (1 << 53), "safe as a JavaScript number");
    }

    #[test]
    fn a_batch_ack_removes_exactly_the_batch() {
        let mut s = store(None, 100, 1 << 20);
        let a = s.push("u", "e", "1", false, T0).id;
        let b = s.push("u", "e", "2", false, T0).id;
        let batch = ids(&s.pending("u", T0));
        let c = s.push("u", "e", "3", false, T0).id;
        assert_eq!(s.ack_all("u", &batch), 2);
        assert_eq!(ids(&s.pending("u", T0)), [c]);
        assert_eq!(s.ack_all("u", &[a, b]), 0);
    }

    #[test]
    fn messages_expire_after_the_ttl() {
        let mut s = store(Some(60_000), 100, 1 << 20);
        s.push("u", "e", "old", false, T0);
        let young = s.push("u", "e", "young", false, T0 + 30_000).id;
        assert_eq!(s.pending("u", T0 + 59_999).len(), 2);
        assert_eq!(ids(&s.pending("u", T0 + 60_000)), [young]);
        assert_eq!(s.sweep(T0 + 90_000), 1);
        assert!(s.is_empty());
        assert!(!s.take_resync("u"), "expiry alone is no resync");
    }

    #[test]
    fn ttl_zero_means_kept() {
        let mut s = store(None, 100, 1 << 20);
        s.push("u", "e", "x", false, T0);
        assert_eq!(s.sweep(T0 + 365 * 86_400_000), 0);
        assert_eq!(s.pending("u", T0 + 365 * 86_400_000).len(), 1);
    }

    #[test]
    fn the_count_cap_drops_the_oldest_and_flags_a_resync() {
        let mut s = store(None, 2, 1 << 20);
        s.push("u", "e", "1", false, T0);
        let b = s.push("u", "e", "2", false, T0).id;
        let p = s.push("u", "e", "3", false, T0);
        assert_eq!(p.dropped, 1);
        assert_eq!(ids(&s.pending("u", T0)), [b, p.id]);
        assert!(s.take_resync("u"));
        assert!(!s.take_resync("u"), "the flag is taken once");
    }

    #[test]
    fn the_byte_cap_drops_the_oldest_and_never_keeps_an_oversized_message() {
        let mut s = store(None, 100, 10);
        s.push("u", "e", "1234", false, T0); // 5 bytes
        let b = s.push("u", "e", "1234", false, T0).id; // 10 in all: fits
        let c = s.push("u", "e", "12", false, T0); // 13: drop the oldest
        assert_eq!(c.dropped, 1);
        assert_eq!(ids(&s.pending("u", T0)), [b, c.id]);
        let huge = s.push("u", "e", "0123456789abc", false, T0);
        assert_eq!(huge.dropped, 3, "everything, the new one too");
        assert!(s.pending("u", T0).is_empty());
        assert!(s.take_resync("u"));
    }

    #[test]
    fn an_out_of_order_ack_of_a_resync_message_clears_the_queue() {
        let mut s = store(None, 100, 1 << 20);
        let a = s.push("u", "price", "1", true, T0).id;
        let other = s.push("u", "chat", "x", true, T0).id;
        let b = s.push("u", "price", "2", true, T0).id;
        // Acking `other` skips nothing of its own event.
        assert_eq!(s.ack("u", other, T0), Acked::Removed);
        // Acking b while a (same event) is pending: a was missed.
        assert_eq!(s.ack("u", b, T0), Acked::Resync { cleared: 2 });
        assert!(s.pending("u", T0).is_empty());
        assert_eq!(s.ack("u", a, T0), Acked::Unknown);
    }

    #[test]
    fn out_of_order_acks_without_resync_just_remove() {
        let mut s = store(None, 100, 1 << 20);
        let a = s.push("u", "e", "1", false, T0).id;
        let b = s.push("u", "e", "2", false, T0).id;
        assert_eq!(s.ack("u", b, T0), Acked::Removed);
        assert_eq!(ids(&s.pending("u", T0)), [a]);
    }

    #[test]
    fn empty_users_are_forgotten() {
        let mut s = store(None, 100, 1 << 20);
        let a = s.push("u", "e", "1", false, T0).id;
        s.ack("u", a, T0);
        assert!(s.users.is_empty());
        s.pending("nobody", T0);
        s.take_resync("nobody");
        assert!(s.users.is_empty());
    }
}
