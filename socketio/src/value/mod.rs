//! [`Value`]: a JSON value that may hold binary buffers at any depth, for building outgoing
//! payloads and for the arguments of received binary packets.
//!
//! - Objects keep insertion order ([`Map`]).
//! - Serialization ([`Value::to_json`], and the encoder) is byte-identical to
//!   `JSON.stringify` of the equivalent JavaScript value: compact, `1000` not `1000.0`,
//!   raw UTF-8, the same string escapes, and keys in JavaScript's property order (array
//!   index keys such as `"1"` first in ascending order, then the others in insertion order;
//!   for objects without such keys that is plain insertion order).
//! - [`Value::Binary`] becomes a `{"_placeholder":true,"num":k}` object when the value is
//!   sent in an EVENT or ACK (see [`codec::deconstruct`](crate::codec::deconstruct)).
//!   Elsewhere it is written as Node's `Buffer.toJSON` writes it:
//!   `{"type":"Buffer","data":[1,2,3]}`.
//! - [`Value::Raw`] holds JSON text: what the decoder hands out for the parts of a
//!   received payload that contain no binary. It is written verbatim when it is
//!   [canonical](crate::raw::RawJson::is_canonical) (so an echo costs a copy), else in its
//!   [normalized](crate::raw::RawJson::normalized) form; either way the output is what
//!   `JSON.stringify(JSON.parse(text))` gives, as in the reference server.

mod convert;
mod ser;

pub(crate) use ser::{BinaryMode, write_value};

use bytes::Bytes;
use indexmap::IndexMap;
use std::fmt;

use crate::raw::RawJson;

/// A JSON value that may contain binary buffers.
///
/// Equality is structural: `Value::Raw("1")` and `Value::from(1)` differ (compare
/// [`Value::to_json`] output, or [`Value::expand`] both sides, for semantic equality).
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, in insertion order.
    Object(Map),
    /// A binary buffer (a Node `Buffer` / browser `ArrayBuffer` on the other side).
    Binary(Bytes),
    /// JSON text, written as is when canonical and normalized otherwise. It must not
    /// contain binary placeholders: a received binary payload is turned into values with
    /// [`codec::reconstruct`](crate::codec::reconstruct), which keeps only placeholder-free
    /// subtrees raw.
    Raw(RawJson),
}

impl Value {
    /// Whether this is `null` (or raw `null`).
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Raw(r) => r.as_bytes() == b"null",
            _ => false,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The buffer, if this is binary.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The raw JSON, if this is raw.
    pub fn as_raw(&self) -> Option<&RawJson> {
        match self {
            Value::Raw(r) => Some(r),
            _ => None,
        }
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }

    /// Whether a binary buffer occurs anywhere in the value (the reference's `hasBinary`).
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(a) => a.iter().any(Value::has_binary),
            Value::Object(m) => m.values().any(Value::has_binary),
            _ => false,
        }
    }

    /// How many binary buffers the value holds.
    pub fn binary_count(&self) -> usize {
        match self {
            Value::Binary(_) => 1,
            Value::Array(a) => a.iter().map(Value::binary_count).sum(),
            Value::Object(m) => m.values().map(Value::binary_count).sum(),
            _ => 0,
        }
    }
}

/// A JSON number: an unsigned or negative integer (printed exactly) or a float (printed as
/// JavaScript prints it).
#[derive(Clone, Copy, PartialEq)]
pub struct Number(N);

#[derive(Clone, Copy, Debug, PartialEq)]
enum N {
    PosInt(u64),
    NegInt(i64),
    Float(f64),
}

impl Number {
    /// A float. NaN and infinities are allowed; like `JSON.stringify` they are written as
    /// `null`.
    pub const fn from_f64(f: f64) -> Self {
        Number(N::Float(f))
    }

    /// The value as f64 (integers beyond 2^53 round, as in JavaScript).
    pub fn as_f64(&self) -> f64 {
        match self.0 {
            N::PosInt(u) => u as f64,
            N::NegInt(i) => i as f64,
            N::Float(f) => f,
        }
    }

    /// The value as u64, if it is a non-negative integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::PosInt(u) => Some(u),
            N::NegInt(_) => None,
            N::Float(f) => float_to_int(f).and_then(|i| u64::try_from(i).ok()),
        }
    }

    /// The value as i64, if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::PosInt(u) => i64::try_from(u).ok(),
            N::NegInt(i) => Some(i),
            N::Float(f) => float_to_int(f).and_then(|i| i64::try_from(i).ok()),
        }
    }

    /// Whether the number is stored as a float.
    pub fn is_f64(&self) -> bool {
        matches!(self.0, N::Float(_))
    }

    pub(crate) fn write<B: bytes::BufMut>(&self, out: &mut B) {
        match self.0 {
            N::PosInt(u) => crate::json::write::write_u64(out, u),
            N::NegInt(i) => crate::json::write::write_i64(out, i),
            N::Float(f) => crate::json::write::write_f64(out, f),
        }
    }
}

fn float_to_int(f: f64) -> Option<i128> {
    // Exactly representable integers only.
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1.9e19 {
        Some(f as i128)
    } else {
        None
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.write(&mut out);
        f.write_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

macro_rules! from_unsigned {
    ($($t:ty)*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Self {
                Number(N::PosInt(n as u64))
            }
        }
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(n.into())
            }
        }
    )*};
}

macro_rules! from_signed {
    ($($t:ty)*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Self {
                if n < 0 {
                    Number(N::NegInt(n as i64))
                } else {
                    Number(N::PosInt(n as u64))
                }
            }
        }
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(n.into())
            }
        }
    )*};
}

from_unsigned!(u8 u16 u32 u64 usize);
from_signed!(i8 i16 i32 i64 isize);

impl From<f64> for Number {
    fn from(f: f64) -> Self {
        Number::from_f64(f)
    }
}

impl From<f32> for Number {
    fn from(f: f32) -> Self {
        Number::from_f64(f64::from(f))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Number(f.into())
    }
}

impl From<f32> for Value {
    fn from(f: f32) -> Self {
        Value::Number(f.into())
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Binary(b)
    }
}

impl From<RawJson> for Value {
    fn from(r: RawJson) -> Self {
        Value::Raw(r)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::Object(m)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// An insertion-ordered JSON object. Inserting an existing key replaces its value and keeps
/// its position, as assigning a property does in JavaScript (and as `JSON.parse` treats
/// duplicate keys).
#[derive(Clone, Debug, Default)]
pub struct Map(IndexMap<String, Value>);

impl Map {
    /// An empty object.
    pub fn new() -> Self {
        Map(IndexMap::new())
    }

    /// An empty object with room for `n` members.
    pub fn with_capacity(n: usize) -> Self {
        Map(IndexMap::with_capacity(n))
    }

    /// Sets `key`, returning the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.0.insert(key.into(), value.into())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.0.get_mut(key)
    }

    /// Removes `key` (keeping the order of the others), returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.shift_remove(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the object is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Members in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.keys().map(String::as_str)
    }

    /// Values in insertion order.
    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.0.values()
    }
}

impl PartialEq for Map {
    /// Order-sensitive: the order is part of the JSON text.
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().eq(other.0.iter())
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = Map::new();
        m.extend(iter);
        m
    }
}

impl<K: Into<String>, V: Into<Value>> Extend<(K, V)> for Map {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Value {
    /// An object.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Value::Object(iter.into_iter().collect())
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = MapIntoIter;
    fn into_iter(self) -> MapIntoIter {
        MapIntoIter(self.0.into_iter())
    }
}

/// The members of a [`Map`], by value, in insertion order.
#[derive(Debug)]
pub struct MapIntoIter(indexmap::map::IntoIter<String, Value>);

impl Iterator for MapIntoIter {
    type Item = (String, Value);
    fn next(&mut self) -> Option<(String, Value)> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn building_values() {
        let v: Value = [
            ("a", Value::from(1)),
            ("b", Value::from(vec![true, false])),
            ("c", Value::from(Bytes::from_static(b"\x01"))),
            ("d", Value::from(None::<i32>)),
            ("e", Value::from(-2i8)),
            ("f", Value::from(1.5f32)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            v.get("a").and_then(Value::as_number).unwrap().as_u64(),
            Some(1)
        );
        assert_eq!(
            v.get("b").and_then(Value::as_array).map(<[_]>::len),
            Some(2)
        );
        assert!(v.get("d").unwrap().is_null());
        assert_eq!(v.get("e").unwrap().as_number().unwrap().as_i64(), Some(-2));
        assert!(v.has_binary());
        assert_eq!(v.binary_count(), 1);
        let arr = Value::from((1..=3).collect::<Vec<_>>());
        assert_eq!(arr.to_json(), "[1,2,3]");
    }

    #[test]
    fn numbers() {
        assert_eq!(Number::from(2.0).as_u64(), Some(2));
        assert_eq!(Number::from(-2.0).as_i64(), Some(-2));
        assert_eq!(Number::from(2.5).as_i64(), None);
        assert_eq!(Number::from(u64::MAX).as_i64(), None);
        assert_eq!(Number::from(i64::MIN).as_u64(), None);
        assert_eq!(Number::from(7u8).as_f64(), 7.0);
        assert!(Number::from(1.0).is_f64());
        assert_eq!(Number::from(1000.0).to_string(), "1000");
        assert_eq!(format!("{:?}", Number::from(-3)), "-3");
    }

    #[test]
    fn map_semantics() {
        let mut m = Map::new();
        m.insert("x", 1);
        m.insert("y", 2);
        assert_eq!(m.insert("x", 3), Some(Value::from(1)));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(m.get("x"), Some(&Value::from(3)));
        let reordered: Map = [("y", 2), ("x", 3)].into_iter().collect();
        assert_ne!(m, reordered);
        assert_eq!(m.remove("x"), Some(Value::from(3)));
        assert!(!m.contains_key("x"));
        assert_eq!(m.len(), 1);
        *m.get_mut("y").unwrap() = Value::Null;
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("y".to_owned(), Value::Null)]
        );
    }
}
