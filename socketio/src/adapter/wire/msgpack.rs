//! msgpack ↔ [`Value`], as notepack.io (the encoder of the Node adapter and emitters)
//! reads and writes it.
//!
//! Reading is of untrusted bytes: every length is checked against what is left before
//! anything is allocated, nesting is bounded, trailing bytes are an error (as in
//! notepack), and nothing panics. The reader works on markers (`rmp::Marker`) rather than
//! on `rmpv::Value` so that the legacy forms of notepack 2.x (the `socket.io-emitter`
//! 3.2.0 encoder) are told apart exactly as notepack 3 tells them apart:
//!
//! | bytes | JavaScript value | here |
//! |---|---|---|
//! | ext −1, 4/8/12 bytes (timestamp) | `Date` | ISO string `2023-11-14T22:13:20.123Z` (what `JSON.stringify` gives clients) |
//! | fixext8 type 0 | legacy `Date` (i64 ms) | ISO string |
//! | fixext1 type 0 | `undefined` | `null` in an array, key dropped in a map |
//! | other ext type 0 | `ArrayBuffer` | binary |
//! | ext of another type | `[type, Buffer]` | array `[type, binary]` |
//! | bin | `Buffer` | binary |
//!
//! Writing goes through `rmpv`, which picks the same compact markers as notepack 3
//! (fixint, uint8…, negfixint, int8…, fixstr, str8…, bin8…, fixarray…, fixmap…). Integral
//! numbers are written as integers (never float64), object keys in JavaScript property
//! order.

use bytes::Bytes;
use rmp::Marker;

use super::WireError;
use super::date::iso_string;
use crate::json::array_index;
use crate::value::{Map, Number, Value};

/// Deepest nesting of arrays and maps accepted.
pub(crate) const MAX_DEPTH: usize = 64;

/// Decodes one complete msgpack value (trailing bytes are an error).
pub(crate) fn decode(bytes: &Bytes) -> Result<Value, WireError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let v = r.value(0)?.unwrap_or(Value::Null);
    if r.pos != bytes.len() {
        return Err(WireError::TrailingBytes(bytes.len() - r.pos));
    }
    Ok(v)
}

struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        if n > self.left() {
            return Err(WireError::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn slice(&mut self, n: usize) -> Result<Bytes, WireError> {
        if n > self.left() {
            return Err(WireError::Truncated);
        }
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.be::<1>()?[0])
    }
    fn u16(&mut self) -> Result<usize, WireError> {
        Ok(usize::from(u16::from_be_bytes(self.be()?)))
    }
    fn u32(&mut self) -> Result<usize, WireError> {
        Ok(u32::from_be_bytes(self.be()?) as usize)
    }

    fn string(&mut self, n: usize) -> Result<Value, WireError> {
        let s = self.take(n)?;
        // notepack decodes UTF-8 leniently; so do we.
        Ok(Value::String(String::from_utf8_lossy(s).into_owned()))
    }

    /// One value; `None` is `undefined`.
    fn value(&mut self, depth: usize) -> Result<Option<Value>, WireError> {
        let marker = Marker::from_u8(self.u8()?);
        let v = match marker {
            Marker::FixPos(n) => Value::from(n),
            Marker::FixNeg(n) => Value::from(n),
            Marker::Null => Value::Null,
            Marker::True => Value::Bool(true),
            Marker::False => Value::Bool(false),
            Marker::U8 => Value::from(self.u8()?),
            Marker::U16 => Value::from(u16::from_be_bytes(self.be()?)),
            Marker::U32 => Value::from(u32::from_be_bytes(self.be()?)),
            Marker::U64 => Value::from(u64::from_be_bytes(self.be()?)),
            Marker::I8 => Value::from(i8::from_be_bytes(self.be()?)),
            Marker::I16 => Value::from(i16::from_be_bytes(self.be()?)),
            Marker::I32 => Value::from(i32::from_be_bytes(self.be()?)),
            Marker::I64 => Value::from(i64::from_be_bytes(self.be()?)),
            Marker::F32 => Value::from(f32::from_be_bytes(self.be()?)),
            Marker::F64 => Value::from(f64::from_be_bytes(self.be()?)),
            Marker::FixStr(n) => self.string(usize::from(n))?,
            Marker::Str8 => {
                let n = usize::from(self.u8()?);
                self.string(n)?
            }
            Marker::Str16 => {
                let n = self.u16()?;
                self.string(n)?
            }
            Marker::Str32 => {
                let n = self.u32()?;
                self.string(n)?
            }
            Marker::Bin8 => {
                let n = usize::from(self.u8()?);
                Value::Binary(self.slice(n)?)
            }
            Marker::Bin16 => {
                let n = self.u16()?;
                Value::Binary(self.slice(n)?)
            }
            Marker::Bin32 => {
                let n = self.u32()?;
                Value::Binary(self.slice(n)?)
            }
            Marker::FixArray(n) => self.array(usize::from(n), depth)?,
            Marker::Array16 => {
                let n = self.u16()?;
                self.array(n, depth)?
            }
            Marker::Array32 => {
                let n = self.u32()?;
                self.array(n, depth)?
            }
            Marker::FixMap(n) => self.map(usize::from(n), depth)?,
            Marker::Map16 => {
                let n = self.u16()?;
                self.map(n, depth)?
            }
            Marker::Map32 => {
                let n = self.u32()?;
                self.map(n, depth)?
            }
            Marker::FixExt1 => return self.ext(1, true),
            Marker::FixExt2 => return self.ext(2, true),
            Marker::FixExt4 => return self.ext(4, true),
            Marker::FixExt8 => return self.ext(8, true),
            Marker::FixExt16 => return self.ext(16, true),
            Marker::Ext8 => {
                let n = usize::from(self.u8()?);
                return self.ext(n, false);
            }
            Marker::Ext16 => {
                let n = self.u16()?;
                return self.ext(n, false);
            }
            Marker::Ext32 => {
                let n = self.u32()?;
                return self.ext(n, false);
            }
            Marker::Reserved => return Err(WireError::InvalidMarker(0xc1)),
        };
        Ok(Some(v))
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<Value, WireError> {
        if depth >= MAX_DEPTH {
            return Err(WireError::TooDeep);
        }
        // Every element takes at least one byte: a length beyond what is left is a lie.
        if n > self.left() {
            return Err(WireError::Truncated);
        }
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth + 1)?.unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, WireError> {
        if depth >= MAX_DEPTH {
            return Err(WireError::TooDeep);
        }
        if n > self.left() / 2 {
            return Err(WireError::Truncated);
        }
        let mut m = Map::with_capacity(n);
        for _ in 0..n {
            let key = match self.value(depth + 1)? {
                Some(Value::String(s)) => s,
                // JavaScript object keys are strings; notepack stringifies numbers.
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(WireError::BadMapKey),
            };
            // A key whose value is `undefined` is absent, as in the JavaScript object.
            match self.value(depth + 1)? {
                Some(v) => {
                    m.insert(key, v);
                }
                None => {
                    m.remove(&key);
                }
            }
        }
        Ok(Value::Object(m))
    }

    fn ext(&mut self, n: usize, fixed: bool) -> Result<Option<Value>, WireError> {
        let kind = self.u8()? as i8;
        let data = self.slice(n)?;
        Ok(Some(match (kind, n, fixed) {
            (-1, 4 | 8 | 12, _) => date_value(timestamp_ms(&data)),
            (-1, ..) => return Err(WireError::BadTimestamp),
            (0, 1, true) => return Ok(None),
            (0, 8, true) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&data);
                date_value(Some(i128::from(i64::from_be_bytes(a))))
            }
            (0, ..) => Value::Binary(data),
            (t, ..) => Value::Array(vec![Value::from(t), Value::Binary(data)]),
        }))
    }
}

/// A JavaScript Date as `JSON.stringify` writes it, or `null` for an invalid date.
fn date_value(ms: Option<i128>) -> Value {
    ms.and_then(iso_string).map_or(Value::Null, Value::String)
}

/// The milliseconds since the epoch of a msgpack timestamp (ext −1, 4, 8 or 12 bytes).
pub(crate) fn timestamp_ms(data: &[u8]) -> Option<i128> {
    let (secs, nanos): (i128, i128) = match data.len() {
        4 => (i128::from(u32::from_be_bytes(data.try_into().ok()?)), 0),
        8 => {
            let v = u64::from_be_bytes(data.try_into().ok()?);
            (i128::from(v & 0x3_ffff_ffff), i128::from(v >> 34))
        }
        12 => {
            let ns = u32::from_be_bytes(data[..4].try_into().ok()?);
            let s = i64::from_be_bytes(data[4..].try_into().ok()?);
            (i128::from(s), i128::from(ns))
        }
        _ => return None,
    };
    Some(secs * 1000 + nanos / 1_000_000)
}

/// The msgpack timestamp notepack 3 writes for a JavaScript Date of `ms` milliseconds.
pub fn timestamp_bytes(ms: i64) -> Vec<u8> {
    let secs = ms.div_euclid(1000);
    let nanos = (ms.rem_euclid(1000) * 1_000_000) as u64;
    let mut out = Vec::with_capacity(15);
    if nanos == 0 && (0..1 << 32).contains(&secs) {
        out.extend_from_slice(&[0xd6, 0xff]);
        out.extend_from_slice(&(secs as u32).to_be_bytes());
    } else if (0..1 << 34).contains(&secs) {
        out.extend_from_slice(&[0xd7, 0xff]);
        out.extend_from_slice(&((nanos << 34) | secs as u64).to_be_bytes());
    } else {
        out.extend_from_slice(&[0xc7, 0x0c, 0xff]);
        out.extend_from_slice(&(nanos as u32).to_be_bytes());
        out.extend_from_slice(&secs.to_be_bytes());
    }
    out
}

/// Encodes a value as notepack 3 would.
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, &to_rmpv(value));
    out
}

/// Writes an `rmpv` value (writing into a `Vec` cannot fail).
pub(crate) fn write(out: &mut Vec<u8>, v: &rmpv::Value) {
    let _ = rmpv::encode::write_value(out, v);
}

/// The `rmpv` form of a value: integral numbers as integers, objects in JavaScript key
/// order, raw JSON parsed as `JSON.parse` would.
pub(crate) fn to_rmpv(value: &Value) -> rmpv::Value {
    match value {
        Value::Null => rmpv::Value::Nil,
        Value::Bool(b) => rmpv::Value::Boolean(*b),
        Value::Number(n) => number(*n),
        Value::String(s) => rmpv::Value::String(s.as_str().into()),
        Value::Array(items) => rmpv::Value::Array(items.iter().map(to_rmpv).collect()),
        Value::Object(m) => {
            let mut entries: Vec<(Option<u32>, &str, &Value)> =
                m.iter().map(|(k, v)| (array_index(k), k, v)).collect();
            if entries.iter().any(|e| e.0.is_some()) {
                // Index keys first, ascending; the others keep insertion order.
                entries.sort_by_key(|e| e.0.map_or((1, 0), |i| (0, i)));
            }
            rmpv::Value::Map(
                entries
                    .into_iter()
                    .map(|(_, k, v)| (rmpv::Value::String(k.into()), to_rmpv(v)))
                    .collect(),
            )
        }
        Value::Binary(b) => rmpv::Value::Binary(b.to_vec()),
        Value::Raw(r) => to_rmpv(&Value::parse_js(r)),
    }
}

fn number(n: Number) -> rmpv::Value {
    if let (Some(u), false) = (n.as_u64(), n.is_f64()) {
        return rmpv::Value::from(u);
    }
    if let (Some(i), false) = (n.as_i64(), n.is_f64()) {
        return rmpv::Value::from(i);
    }
    let f = n.as_f64();
    // notepack: an integral finite number is an integer (−0 included, as 0).
    if f.is_finite() && f.fract() == 0.0 {
        if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
            return rmpv::Value::from(f as u64);
        }
        if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
            return rmpv::Value::from(f as i64);
        }
    }
    rmpv::Value::F64(f)
}
