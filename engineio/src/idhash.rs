//! A fast hasher for maps keyed by ids this server generated (session ids, socket ids,
//! ack counters).
//!
//! std's default SipHash is keyed with a random seed so that a peer cannot choose keys
//! that all land in one bucket. Ids drawn from our own random generator (or counted by
//! us) cannot be chosen by a peer, so that protection buys nothing there, and SipHash
//! cost ≈ 2.5 % of a connection's instructions (callgrind): the registry, namespace and
//! room maps hash a socket's id about a dozen times per connection. [`IdHasher`] is a
//! multiply-rotate hash, a few instructions per 8 bytes.
//!
//! Never use it for keys a peer picks (room names, header names, event names, client
//! addresses): those maps keep std's seeded hasher.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed by ids we generated.
pub type IdMap<K, V> = HashMap<K, V, BuildIdHasher>;
/// A `HashSet` of ids we generated.
pub type IdSet<K> = HashSet<K, BuildIdHasher>;
/// Builds [`IdHasher`]s.
pub type BuildIdHasher = BuildHasherDefault<IdHasher>;

/// An odd 64-bit constant with well-spread bits (2^64 / the golden ratio).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hasher of [`IdMap`] and [`IdSet`]: each 64-bit word is mixed in with a rotate, an
/// xor and a multiply; `finish` rotates the well-mixed high bits down to the low bits
/// that pick a bucket.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn maps_work_and_ids_spread_over_buckets() {
        let mut map: IdMap<String, usize> = IdMap::default();
        for i in 0..10_000 {
            map.insert(format!("id{i:016}"), i);
        }
        assert_eq!(map.len(), 10_000);
        assert_eq!(map.get("id0000000000001234"), Some(&1234));
        assert_eq!(map.get("id1"), None);

        // Sequential ack ids and string ids differing in one byte: the low bits (bucket
        // index) of their hashes take many values.
        let build = BuildIdHasher::default();
        let mut low: IdSet<u64> = IdSet::default();
        for i in 0..1024u64 {
            low.insert(build.hash_one(i) & 1023);
        }
        assert!(low.len() > 600, "{} buckets of 1024", low.len());
        let mut low: IdSet<u64> = IdSet::default();
        for c in b'A'..=b'z' {
            let id = format!("abcdefghij{}klmnopqrs", char::from(c));
            low.insert(build.hash_one(id.as_str()) & 63);
        }
        assert!(low.len() > 30, "{} buckets of 64", low.len());
    }
}
