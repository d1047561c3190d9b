//! The canonical-form helpers of the scanner ([`super::scan`]): numbers written back as
//! `Number::toString` would, and the key order and duplicate check of one object.

use std::collections::HashSet;

use super::array_index_bytes;
use super::scan::{KEY_SLOTS, Scanner};
use super::write::write_f64;

/// Whether the number literal `text` is what `JSON.stringify` writes for its value: it is
/// parsed and written back, on the stack.
pub(crate) fn number_round_trips(text: &[u8]) -> bool {
    // `Number::toString` output is at most 25 bytes (`-0.0000012345678901234567`).
    if text.len() > 25 {
        return false;
    }
    let Some(value) = std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
    else {
        return false;
    };
    let mut buf = [0u8; 40];
    let mut out = &mut buf[..];
    write_f64(&mut out, value);
    let len = 40 - out.len();
    buf[..len] == *text
}

/// The keys of one object so far, for the order and duplicate checks.
pub(crate) struct Keys<'a> {
    /// The last array-index key.
    last_index: Option<u32>,
    /// Whether a key that is not an array index came already.
    named: bool,
    /// One bit per non-index key, chosen by [`key_bit`]: a key whose bit is clear is new.
    bloom: u64,
    /// Where the bodies of the first non-index keys start.
    starts: [usize; KEY_SLOTS],
    len: usize,
    /// All the non-index keys, once there are more than [`KEY_SLOTS`].
    set: Option<HashSet<&'a [u8]>>,
}

/// The bloom bit of a key, from its length and first and last bytes (cheap; equal keys
/// have equal bits, so a clear bit proves the key is new).
#[inline]
fn key_bit(len: usize, first: u8, last: u8) -> u64 {
    let digest = len as u64 | u64::from(first) << 32 | u64::from(last) << 40;
    // Fibonacci hashing: the top six bits of the product pick the bit.
    1 << (digest.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
}

impl<'a> Keys<'a> {
    pub(crate) fn new() -> Self {
        Keys {
            last_index: None,
            named: false,
            bloom: 0,
            starts: [0; KEY_SLOTS],
            len: 0,
            set: None,
        }
    }

    /// Records the key whose body (of a canonical string literal) is `buf[start..end]`,
    /// and tells whether the object is still canonical: JavaScript enumerates the key
    /// where it stands, and it is not a duplicate.
    #[inline]
    pub(crate) fn accept(&mut self, buf: &'a [u8], start: usize, end: usize) -> bool {
        let first = buf.get(start).copied().unwrap_or(0);
        let index = if first.is_ascii_digit() {
            self.index_key(buf, start, end)
        } else {
            None
        };
        if let Some(in_order) = index {
            return in_order;
        }
        self.named = true;
        let last = buf.get(end.wrapping_sub(1)).copied().unwrap_or(0);
        let bit = key_bit(end - start, first, last);
        if self.bloom & bit != 0 || self.len == KEY_SLOTS {
            // Maybe seen, or many keys: look.
            return self.accept_slow(buf, start, end, bit);
        }
        self.bloom |= bit;
        self.starts[self.len] = start;
        self.len += 1;
        true
    }

    /// For an array-index key: whether it comes in order. `None` for other keys.
    #[inline(never)]
    fn index_key(&mut self, buf: &[u8], start: usize, end: usize) -> Option<bool> {
        let index = array_index_bytes(buf.get(start..end)?)?;
        // Index keys first, strictly ascending (so without duplicates).
        let in_order = !self.named && self.last_index.is_none_or(|last| index > last);
        self.last_index = Some(index);
        Some(in_order)
    }

    /// [`Keys::accept`] with comparisons, and the switch to a hash set.
    #[inline(never)]
    fn accept_slow(&mut self, buf: &'a [u8], start: usize, end: usize, bit: u64) -> bool {
        let key = &buf[start..end];
        if let Some(set) = &mut self.set {
            return set.insert(key);
        }
        // A stored key equals `key` when its body starts with the same bytes and its
        // closing quote follows: `key` is a complete body, so the stored one is at an
        // escape boundary there, and a `"` there closes it.
        let same = |s: usize| {
            buf.get(s + key.len()) == Some(&b'"')
                && buf.get(s) == key.first()
                && buf.get(s..s + key.len()) == Some(key)
        };
        if self.bloom & bit != 0 && self.starts[..self.len].iter().any(|&s| same(s)) {
            return false;
        }
        self.bloom |= bit;
        if self.len < KEY_SLOTS {
            self.starts[self.len] = start;
            self.len += 1;
            return true;
        }
        // Many keys: a hash set of all of them from now on (std's, which a peer cannot
        // make degenerate). The stored keys' ends are found again by scanning them, once
        // per large object.
        let mut set = HashSet::with_capacity(2 * KEY_SLOTS);
        for &s in &self.starts {
            let mut scanner = Scanner::at(buf, s - 1, usize::MAX);
            if scanner.string().is_err() {
                return false;
            }
            set.insert(&buf[s..scanner.pos() - 1]);
        }
        let fresh = set.insert(key);
        self.set = Some(set);
        fresh
    }
}
