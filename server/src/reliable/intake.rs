//! Reliable delivery of what Redis emitters publish (`[sites.reliable] emitters = true`).
//!
//! An emitter's broadcast reaches every herald node of the cluster, so exactly one must
//! store it. There is no leader: each node names the message by what it is and how many
//! times it has seen those same bytes lately (SHA-256 of the published bytes and an
//! occurrence number within [`WINDOW`]), and asks the store to claim that name. The node
//! that claims it first stores the message, delivers it to its sockets and tells the
//! others (the [`NODE_EVENT`](super::NODE_EVENT) path of `POST /send`); the others leave
//! the user rooms out of their own delivery. The same message published twice is two
//! messages (occurrences 1 and 2). No node is special, so a node that dies takes no
//! intake with it.
//!
//! What stays a plain broadcast: messages from other publishers than the emitters
//! (another herald node, a Node server of a mixed cluster), messages without user rooms,
//! volatile ones, ones with `except` rooms or binary arguments, and the reserved event
//! names `batch` and `resync`. When the store cannot be reached, every node delivers the
//! user rooms' part itself, as a plain broadcast (what the emitter asked, without the
//! guarantee).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use socketio::adapter::wire::EMITTER_UID;
use socketio::raw::RawArgs;
use socketio::rooms::Room;
use socketio::server::{Namespace, Payload, RemoteBroadcast, RemoteVerdict};
use socketio::value::Value;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::Reliable;

/// How long a node remembers the messages it saw, to number repeats of the same bytes.
/// It must exceed the spread between the nodes' receipt of one publish (milliseconds).
pub const WINDOW: Duration = Duration::from_secs(30);

/// Most remembered messages; past it the oldest are forgotten early.
const MAX_REMEMBERED: usize = 200_000;

/// An emitter message for user rooms, on its way to the store.
struct Job {
    users: Vec<String>,
    rooms: Vec<Room>,
    event: String,
    args: RawArgs,
    claim: String,
}

/// How many times each message was seen within [`WINDOW`].
#[derive(Default)]
struct Seen {
    by_digest: HashMap<[u8; 32], u32>,
    order: VecDeque<(Instant, [u8; 32])>,
}

impl Seen {
    /// Counts one more sighting of `digest` at `now`; its occurrence number (1 = first).
    fn count(&mut self, digest: [u8; 32], now: Instant) -> u32 {
        while let Some((at, d)) = self.order.front().copied() {
            if now.duration_since(at) < WINDOW && self.order.len() < MAX_REMEMBERED {
                break;
            }
            self.order.pop_front();
            if let Some(n) = self.by_digest.get_mut(&d) {
                *n -= 1;
                if *n == 0 {
                    self.by_digest.remove(&d);
                }
            }
        }
        self.order.push_back((now, digest));
        let n = self.by_digest.entry(digest).or_insert(0);
        *n += 1;
        *n
    }
}

/// Installs the intake on the namespace of a site whose `reliable.emitters` is on.
pub fn install(ns: &Namespace, reliable: Arc<Reliable>) {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(work(ns.clone(), reliable.clone(), rx));
    let seen = Mutex::new(Seen::default());
    ns.on_remote_broadcast(move |m| {
        let Some(job) = job_of(&reliable, m, &seen) else {
            return RemoteVerdict::Deliver;
        };
        let verdict = if job.rooms.len() == m.rooms.len() {
            RemoteVerdict::Skip
        } else {
            RemoteVerdict::DeliverExcept(job.rooms.clone())
        };
        if tx.send(job).is_err() {
            return RemoteVerdict::Deliver;
        }
        verdict
    });
}

/// The reliable part of a remote broadcast, when it has one.
fn job_of(reliable: &Reliable, m: &RemoteBroadcast<'_>, seen: &Mutex<Seen>) -> Option<Job> {
    if m.uid != EMITTER_UID || m.volatile || !m.except.is_empty() {
        return None;
    }
    if matches!(m.event, "batch" | "resync") {
        debug!(
            event = m.event,
            "an emitter message uses a reserved event name; delivered without the guarantee"
        );
        return None;
    }
    let (rooms, users): (Vec<Room>, Vec<String>) = m
        .rooms
        .iter()
        .filter_map(|r| reliable.user_of(r).map(|u| (r.clone(), u.to_string())))
        .unzip();
    if users.is_empty() || m.args.iter().any(Value::has_binary) {
        return None;
    }
    let mut text = String::new();
    for (i, arg) in m.args.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&arg.to_json());
    }
    let args = RawArgs::new(text).ok()?;
    let digest: [u8; 32] = Sha256::digest(m.bytes).into();
    let n = seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .count(digest, Instant::now());
    let mut claim = String::with_capacity(72);
    for b in digest {
        let _ = write!(claim, "{b:02x}");
    }
    let _ = write!(claim, ":{n}");
    Some(Job {
        users,
        rooms,
        event: m.event.to_string(),
        args,
        claim,
    })
}

/// Stores the jobs one at a time, in the order they were published (so their ids are
/// in that order on every node).
async fn work(ns: Namespace, reliable: Arc<Reliable>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = jobs.recv().await {
        let users: Vec<&str> = job.users.iter().map(String::as_str).collect();
        match reliable
            .send_claimed(&ns, &users, &job.event, &job.args, &job.claim)
            .await
        {
            Ok(Some(id)) => debug!(%id, users = users.len(), "stored an emitter message"),
            Ok(None) => {}
            Err(e) => {
                warn!(
                    error = %e,
                    "an emitter message to user rooms was delivered without the reliable \
                     guarantee: the store is unreachable (check Redis)"
                );
                let Some((first, rest)) = job.rooms.split_first() else {
                    continue;
                };
                let mut op = ns.to(first).local();
                for room in rest {
                    op = op.to(room);
                }
                op.emit(&job.event, Payload::from_raw(job.args, Vec::new()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_of_the_same_bytes_are_numbered_and_forgotten_after_the_window() {
        let mut seen = Seen::default();
        let t0 = Instant::now();
        let (a, b) = ([1; 32], [2; 32]);
        assert_eq!(seen.count(a, t0), 1);
        assert_eq!(seen.count(b, t0), 1);
        assert_eq!(seen.count(a, t0 + Duration::from_secs(1)), 2);
        assert_eq!(seen.count(a, t0 + WINDOW + Duration::from_millis(1)), 2);
        assert_eq!(seen.count(b, t0 + WINDOW * 3), 1);
        assert_eq!(seen.by_digest.len(), 1);
        assert_eq!(seen.order.len(), 1);
    }
}
