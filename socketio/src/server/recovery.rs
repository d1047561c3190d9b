//! Connection state recovery (socket.io 4.6+, opt-in): every event emitted without an
//! ack id gets an offset appended and is kept in a per-namespace log; a socket that
//! disconnects for a recoverable reason is kept under its private id (`pid`); a CONNECT
//! with `pid` and `offset` within `max_disconnection_duration` gets its id, rooms and
//! data back plus every logged packet after `offset` that was meant for it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wire::Frames;
use crate::rooms::{Room, Sid};

/// Recovery settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected session and the logged packets are kept (default 2 min).
    pub max_disconnection_duration: Duration,
    /// Whether a restored socket skips the namespace middlewares (default true).
    pub skip_middlewares: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
        }
    }
}

struct LogEntry {
    offset: Arc<str>,
    rooms: Vec<Room>,
    except: Vec<Room>,
    frames: Frames,
    at: Instant,
}

/// A disconnected socket kept for recovery.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    pub(crate) sid: Sid,
    pub(crate) rooms: Vec<Room>,
    pub(crate) data: serde_json::Value,
    at: Instant,
}

#[derive(Default)]
struct State {
    log: VecDeque<LogEntry>,
    sessions: HashMap<Arc<str>, Saved>,
    counter: u64,
}

/// The recovery state of one namespace.
pub(crate) struct Recovery {
    pub(crate) config: RecoveryConfig,
    prefix: String,
    state: Mutex<State>,
}

impl Recovery {
    pub(crate) fn new(config: RecoveryConfig) -> Recovery {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        Recovery {
            config,
            // Offsets stay unique across restarts of the process.
            prefix: format!("{start:x}"),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh offset.
    pub(crate) fn next_offset(&self) -> Arc<str> {
        let mut st = self.lock();
        st.counter += 1;
        Arc::from(format!("{}.{:x}", self.prefix, st.counter))
    }

    /// Logs a packet emitted with `offset` to `rooms` (empty: everyone) except `except`.
    pub(crate) fn log(
        &self,
        offset: Arc<str>,
        rooms: Vec<Room>,
        except: Vec<Room>,
        frames: Frames,
    ) {
        let now = Instant::now();
        let max = self.config.max_disconnection_duration;
        let mut st = self.lock();
        while st
            .log
            .front()
            .is_some_and(|e| now.duration_since(e.at) > max)
        {
            st.log.pop_front();
        }
        st.log.push_back(LogEntry {
            offset,
            rooms,
            except,
            frames,
            at: now,
        });
    }

    /// Keeps a disconnected socket under its `pid`.
    pub(crate) fn save(&self, pid: Arc<str>, sid: Sid, rooms: Vec<Room>, data: serde_json::Value) {
        let now = Instant::now();
        let max = self.config.max_disconnection_duration;
        let mut st = self.lock();
        st.sessions.retain(|_, s| now.duration_since(s.at) <= max);
        st.sessions.insert(
            pid,
            Saved {
                sid,
                rooms,
                data,
                at: now,
            },
        );
    }

    /// Takes the session of `pid` back if it is still kept and `offset` is still in the
    /// log, with the frames emitted after `offset` that were meant for it, in order.
    pub(crate) fn restore(&self, pid: &str, offset: &str) -> Option<(Saved, Vec<Frames>)> {
        let now = Instant::now();
        let max = self.config.max_disconnection_duration;
        let mut st = self.lock();
        let saved = st.sessions.get(pid)?;
        if now.duration_since(saved.at) > max {
            st.sessions.remove(pid);
            return None;
        }
        let pos = st.log.iter().position(|e| &*e.offset == offset)?;
        let saved = st.sessions.remove(pid)?;
        let is_for = |e: &LogEntry| {
            let in_rooms = e.rooms.is_empty() || e.rooms.iter().any(|r| saved.rooms.contains(r));
            let excluded = e.except.iter().any(|r| saved.rooms.contains(r));
            in_rooms && !excluded
        };
        let missed = st
            .log
            .iter()
            .skip(pos + 1)
            .filter(|e| is_for(e))
            .map(|e| e.frames.clone())
            .collect();
        Some((saved, missed))
    }
}
