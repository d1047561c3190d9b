//! The room index of one namespace: room → sockets and socket → rooms, so that a
//! broadcast finds its recipients without scanning every socket.
//!
//! Semantics (as the reference in-memory adapter): every socket is in the room named by
//! its own id; a broadcast to rooms `R` except rooms `E` reaches each socket that is in
//! at least one room of `R` (every socket when `R` is empty) and in no room of `E`, once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use engineio::idhash::{IdMap, IdSet};

/// A room name.
pub type Room = Arc<str>;
/// A socket id.
pub type Sid = Arc<str>;

/// Up to this many excepted sockets are compared one by one, more go in a set.
const EXCEPT_LINEAR: usize = 8;

/// Room membership of one namespace.
///
/// A socket's own id room is a flag of the socket, not an entry of `rooms` (every socket
/// is in it: two one-member sets per socket, ~300 B of every idle connection, were
/// spent on saying so). `rooms` holds every other membership, including a socket's
/// membership of another socket's id room.
#[derive(Debug, Default)]
pub struct RoomIndex {
    /// Room names may come from peers: std's seeded hasher. The member sets and the
    /// socket map hold our own socket ids: the fast id hasher.
    rooms: HashMap<Room, IdSet<Sid>>,
    sockets: IdMap<Sid, Memberships>,
}

#[derive(Debug, Default)]
struct Memberships {
    /// In the room named by its own id (until it leaves that room).
    own: bool,
    /// Every other room (an empty set does not allocate).
    others: HashSet<Room>,
}

impl Memberships {
    fn contains(&self, sid: &str, room: &str) -> bool {
        if room == sid {
            self.own
        } else {
            self.others.contains(room)
        }
    }
}

impl RoomIndex {
    /// Adds a socket and puts it in its own id room.
    pub fn add_socket(&mut self, sid: &Sid) {
        self.join(sid, sid.clone());
    }

    /// Puts a socket in a room (idempotent).
    pub fn join(&mut self, sid: &Sid, room: Room) {
        let mine = self.sockets.entry(sid.clone()).or_default();
        if *room == **sid {
            mine.own = true;
            return;
        }
        mine.others.insert(room.clone());
        self.rooms.entry(room).or_default().insert(sid.clone());
    }

    /// Takes a socket out of a room; an emptied room is removed.
    pub fn leave(&mut self, sid: &str, room: &str) {
        if let Some(mine) = self.sockets.get_mut(sid) {
            if room == sid {
                mine.own = false;
                return;
            }
            mine.others.remove(room);
        }
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(sid);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    /// Removes a socket from every room and returns the rooms it was in.
    pub fn remove_socket(&mut self, sid: &str) -> HashSet<Room> {
        let Some((id, mine)) = self.sockets.remove_entry(sid) else {
            return HashSet::new();
        };
        for room in &mine.others {
            if let Some(members) = self.rooms.get_mut(room) {
                members.remove(sid);
                if members.is_empty() {
                    self.rooms.remove(room);
                }
            }
        }
        let mut rooms = mine.others;
        if mine.own {
            rooms.insert(id);
        }
        rooms
    }

    /// The rooms of a socket (its own id room included while it is in it); `None` for
    /// an unknown socket.
    pub fn rooms_of(&self, sid: &str) -> Option<Vec<Room>> {
        let (id, mine) = self.sockets.get_key_value(sid)?;
        let own = mine.own.then(|| id.clone());
        Some(own.into_iter().chain(mine.others.iter().cloned()).collect())
    }

    /// True when the room has at least one member.
    pub fn has_members(&self, room: &str) -> bool {
        self.rooms.contains_key(room) || self.sockets.get(room).is_some_and(|m| m.own)
    }

    /// Every room with at least one member, once each (socket id rooms included).
    pub fn rooms(&self) -> impl Iterator<Item = &Room> {
        let own = self
            .sockets
            .iter()
            .filter(|(id, m)| m.own && !self.rooms.contains_key(*id))
            .map(|(id, _)| id);
        self.rooms.keys().chain(own)
    }

    /// Number of sockets.
    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }

    /// True when `sid` is in one of `rooms`.
    pub fn in_any(&self, sid: &str, rooms: &[Room]) -> bool {
        self.sockets
            .get(sid)
            .is_some_and(|mine| rooms.iter().any(|r| mine.contains(sid, r)))
    }

    /// The members of `room`: the explicit ones, and the socket whose id it is when that
    /// socket is in its own room (never among the explicit ones, so no duplicate).
    fn members_of<'a>(&'a self, room: &str) -> impl Iterator<Item = &'a Sid> + 'a {
        let own = self
            .sockets
            .get_key_value(room)
            .filter(|(_, m)| m.own)
            .map(|(id, _)| id);
        self.rooms.get(room).into_iter().flatten().chain(own)
    }

    /// Calls `f` once for each socket in any of `rooms` (all sockets when empty) and in
    /// none of `except`.
    pub fn for_each_target(&self, rooms: &[Room], except: &[Room], mut f: impl FnMut(&Sid)) {
        // The members of the excepted rooms, looked up once: usually one socket (the
        // sender of `socket.to(room)`), compared by pointer or text without hashing;
        // many, in a set. Per recipient, two hash lookups fewer.
        let few: Vec<&Sid> = except
            .iter()
            .flat_map(|r| self.members_of(r))
            .take(EXCEPT_LINEAR + 1)
            .collect();
        let many: Option<HashSet<&Sid>> = (few.len() > EXCEPT_LINEAR)
            .then(|| except.iter().flat_map(|r| self.members_of(r)).collect());
        let excluded = |sid: &Sid| match &many {
            Some(set) => set.contains(sid),
            None => few.iter().any(|x| Arc::ptr_eq(x, sid) || **x == *sid),
        };
        if rooms.is_empty() {
            for sid in self.sockets.keys() {
                if !excluded(sid) {
                    f(sid);
                }
            }
        } else if rooms.len() == 1 {
            for sid in self.members_of(&rooms[0]) {
                if !excluded(sid) {
                    f(sid);
                }
            }
        } else {
            let mut seen: HashSet<&Sid> = HashSet::new();
            for room in rooms {
                for sid in self.members_of(room) {
                    if seen.insert(sid) && !excluded(sid) {
                        f(sid);
                    }
                }
            }
        }
    }

    /// The targets of a broadcast, collected.
    pub fn targets(&self, rooms: &[Room], except: &[Room]) -> Vec<Sid> {
        let mut out = Vec::new();
        self.for_each_target(rooms, except, |s| out.push(s.clone()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Room {
        Arc::from(s)
    }

    fn sorted(mut v: Vec<Sid>) -> Vec<String> {
        v.sort();
        v.into_iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn union_minus_except_each_once() {
        let mut idx = RoomIndex::default();
        for s in ["a", "b", "c"] {
            idx.add_socket(&r(s));
        }
        idx.join(&r("a"), r("x"));
        idx.join(&r("b"), r("x"));
        idx.join(&r("b"), r("y"));
        idx.join(&r("c"), r("y"));
        assert_eq!(sorted(idx.targets(&[r("x"), r("y")], &[])), ["a", "b", "c"]);
        assert_eq!(sorted(idx.targets(&[r("x")], &[r("y")])), ["a"]);
        assert_eq!(sorted(idx.targets(&[], &[r("a")])), ["b", "c"]);
        assert_eq!(
            sorted(idx.targets(&[r("nobody")], &[])),
            Vec::<String>::new()
        );
        // own id room
        assert_eq!(sorted(idx.targets(&[r("c")], &[])), ["c"]);
    }

    #[test]
    fn except_by_few_or_many_members() {
        let mut idx = RoomIndex::default();
        let sids: Vec<Sid> = (0..40).map(|i| r(&format!("s{i:02}"))).collect();
        for (i, sid) in sids.iter().enumerate() {
            idx.add_socket(sid);
            idx.join(sid, r("all"));
            if i < 20 {
                idx.join(sid, r("low"));
            }
        }
        // One excepted socket, named by a different Arc than the index's own.
        let t = idx.targets(&[r("all")], &[r("s07")]);
        assert_eq!(t.len(), 39);
        assert!(!t.iter().any(|s| &**s == "s07"));
        // Past the linear threshold: a set of 20 excepted, plus one more room.
        let t = sorted(idx.targets(&[r("all")], &[r("low"), r("s39")]));
        let want: Vec<String> = (20..39).map(|i| format!("s{i:02}")).collect();
        assert_eq!(t, want);
        // Excepting a room nobody is in excepts nobody.
        assert_eq!(idx.targets(&[r("all")], &[r("nobody")]).len(), 40);
    }

    #[test]
    fn leave_and_remove_clean_up_empty_rooms() {
        let mut idx = RoomIndex::default();
        idx.add_socket(&r("a"));
        idx.join(&r("a"), r("x"));
        idx.leave("a", "x");
        assert!(!idx.has_members("x"));
        idx.join(&r("a"), r("x"));
        let rooms = idx.remove_socket("a");
        assert_eq!(rooms.len(), 2);
        assert_eq!(idx.rooms().count(), 0);
        assert_eq!(idx.socket_count(), 0);
    }

    #[test]
    fn own_id_rooms_without_entries() {
        let mut idx = RoomIndex::default();
        idx.add_socket(&r("a"));
        idx.add_socket(&r("b"));
        // Another socket joins a's id room: both are its members, each once.
        idx.join(&r("b"), r("a"));
        assert_eq!(sorted(idx.targets(&[r("a")], &[])), ["a", "b"]);
        assert_eq!(sorted(idx.targets(&[r("a"), r("b")], &[])), ["a", "b"]);
        assert_eq!(sorted(idx.targets(&[r("a")], &[r("b")])), ["a"]);
        assert!(idx.in_any("b", &[r("a")]));
        assert!(idx.in_any("a", &[r("a")]));
        assert!(!idx.in_any("a", &[r("b")]));
        // Every room once: a (own, and b's), b.
        let mut all: Vec<String> = idx.rooms().map(|r| r.to_string()).collect();
        all.sort();
        assert_eq!(all, ["a", "b"]);
        let mut of_b = idx.rooms_of("b").unwrap();
        of_b.sort();
        assert_eq!(of_b, [r("a"), r("b")]);
        // A socket can leave its own room (as in the reference adapter).
        idx.leave("a", "a");
        assert_eq!(sorted(idx.targets(&[r("a")], &[])), ["b"]);
        assert_eq!(idx.rooms_of("a").unwrap(), Vec::<Room>::new());
        assert!(idx.has_members("a"), "b is still in room a");
        idx.leave("b", "a");
        assert!(!idx.has_members("a"));
        assert_eq!(
            idx.socket_count(),
            2,
            "a is still a socket of the namespace"
        );
        assert_eq!(sorted(idx.targets(&[], &[])), ["a", "b"]);
        // remove_socket reports the own room too.
        idx.join(&r("b"), r("x"));
        let gone = idx.remove_socket("b");
        let mut gone: Vec<String> = gone.iter().map(|r| r.to_string()).collect();
        gone.sort();
        assert_eq!(gone, ["b", "x"]);
        assert!(!idx.has_members("x") && !idx.has_members("b"));
        assert!(idx.rooms_of("b").is_none());
    }
}
