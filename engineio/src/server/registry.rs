//! The open sessions of an engine: by id, per client address, per transport.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::driver::Command;
use super::queue;

/// The open sessions by id, and how many each client address holds.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    state: Mutex<RegistryState>,
}

#[derive(Debug, Default)]
struct RegistryState {
    /// Keyed by the ids we generated: the fast id hasher.
    sessions: crate::idhash::IdMap<Arc<str>, Entry>,
    per_ip: HashMap<std::net::IpAddr, usize>,
    websocket: usize,
}

#[derive(Debug)]
struct Entry {
    tx: queue::Sender<Command>,
    ip: Option<std::net::IpAddr>,
    websocket: bool,
}

/// How many open sessions use each transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportCounts {
    /// Sessions on HTTP long-polling.
    pub polling: usize,
    /// Sessions on WebSocket (opened on it, or upgraded).
    pub websocket: usize,
}

impl Registry {
    pub(crate) fn get(&self, sid: &str) -> Option<queue::Sender<Command>> {
        self.lock().sessions.get(sid).map(|e| e.tx.clone())
    }

    pub(crate) fn insert(
        &self,
        sid: Arc<str>,
        tx: queue::Sender<Command>,
        ip: Option<std::net::IpAddr>,
        websocket: bool,
    ) {
        let mut st = self.lock();
        if let Some(ip) = ip {
            *st.per_ip.entry(ip).or_default() += 1;
        }
        st.websocket += usize::from(websocket);
        let old = st.sessions.insert(sid, Entry { tx, ip, websocket });
        debug_assert!(old.is_none(), "session ids are unique");
    }

    /// The session moved to WebSocket.
    pub(crate) fn mark_websocket(&self, sid: &str) {
        let mut st = self.lock();
        if let Some(e) = st.sessions.get_mut(sid)
            && !e.websocket
        {
            e.websocket = true;
            st.websocket += 1;
        }
    }

    pub(crate) fn remove(&self, sid: &str) {
        let mut st = self.lock();
        let Some(entry) = st.sessions.remove(sid) else {
            return;
        };
        st.websocket -= usize::from(entry.websocket);
        if let Some(ip) = entry.ip
            && let Some(n) = st.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                st.per_ip.remove(&ip);
            }
        }
    }

    pub(crate) fn transport_counts(&self) -> TransportCounts {
        let st = self.lock();
        TransportCounts {
            polling: st.sessions.len() - st.websocket,
            websocket: st.websocket,
        }
    }

    pub(crate) fn count_transports<'a>(
        &self,
        sids: impl IntoIterator<Item = &'a str>,
    ) -> TransportCounts {
        let st = self.lock();
        let mut counts = TransportCounts::default();
        for sid in sids {
            match st.sessions.get(sid) {
                Some(e) if e.websocket => counts.websocket += 1,
                Some(_) => counts.polling += 1,
                None => {}
            }
        }
        counts
    }

    /// Whether one more session fits under the limits.
    pub(crate) fn has_room(
        &self,
        ip: Option<std::net::IpAddr>,
        max_total: usize,
        max_per_ip: usize,
    ) -> bool {
        let st = self.lock();
        st.sessions.len() < max_total
            && ip.is_none_or(|ip| st.per_ip.get(&ip).copied().unwrap_or(0) < max_per_ip)
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    pub(crate) fn all(&self) -> Vec<queue::Sender<Command>> {
        self.lock()
            .sessions
            .values()
            .map(|e| e.tx.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RegistryState> {
        // A poisoned map is still a valid map: a panic elsewhere must not stop routing.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
