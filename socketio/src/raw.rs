//! Text kept as received: UTF-8 [`Bytes`] ([`Utf8Bytes`]), one JSON value ([`RawJson`]) and
//! the elements of a JSON array ([`RawArgs`]).
//!
//! These types are cheap to clone (a reference count) and, when they come from the
//! decoder, are slices of the received Engine.IO message.
//!
//! # Canonical text
//!
//! The reference server echoes `JSON.stringify(JSON.parse(text))`. When the text already
//! is that (no insignificant whitespace, numbers and escapes as `JSON.stringify` writes
//! them, object keys in JavaScript order without duplicates: what every socket.io client
//! sends), it is *canonical*, and the encoder writes it verbatim, with no parse/serialize
//! round trip. The scanner decides this while validating, in the same pass (see
//! [`RawJson::is_canonical`]); other texts are written in their normalized form
//! ([`RawJson::normalized`]), so that the output is byte-identical to the reference's
//! either way.

use bytes::{BufMut, Bytes};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

pub use crate::json::JsonKind;
use crate::json::scan::{self, Scanner};

/// The default nesting limit of JSON values, as in serde_json.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// Why a text is not acceptable JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonError {
    /// The text is not valid JSON (or not UTF-8); `offset` is the byte where parsing failed.
    Syntax {
        /// Byte offset of the error in the scanned text.
        offset: usize,
    },
    /// Arrays and objects are nested deeper than `max_depth`.
    TooDeep {
        /// The limit that was exceeded.
        max_depth: usize,
    },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Syntax { offset } => write!(f, "invalid JSON at byte {offset}"),
            JsonError::TooDeep { max_depth } => {
                write!(f, "JSON nested deeper than {max_depth} levels")
            }
        }
    }
}

impl std::error::Error for JsonError {}

/// UTF-8 text held in [`Bytes`]: a zero-copy `str`.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps a static string (no allocation).
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// Checks that `bytes` is UTF-8 and wraps it.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }

    /// Wraps bytes known to be UTF-8.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // The invariant makes this infallible; `forbid(unsafe_code)` rules out the
        // unchecked conversion, and the check is cheap for the short texts held here.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The text as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Utf8Bytes {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Hash for Utf8Bytes {
    // Hash as `str`, so that `Borrow<str>` lookups in hash maps work.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One JSON value kept as its exact text: valid JSON, UTF-8, no surrounding whitespace.
///
/// Equality compares the text, so `{"a":1}` and `{ "a": 1 }` differ. Whether the text is
/// canonical (see the [module docs](self)) is recorded when it is validated.
#[derive(Clone)]
pub struct RawJson {
    text: Bytes,
    canonical: bool,
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for RawJson {}

impl Hash for RawJson {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl RawJson {
    /// Validates `text` (with [`DEFAULT_MAX_DEPTH`]) and wraps it. Surrounding whitespace
    /// is trimmed.
    pub fn new(text: impl Into<Bytes>) -> Result<Self, JsonError> {
        Self::with_max_depth(text, DEFAULT_MAX_DEPTH)
    }

    /// Like [`RawJson::new`], with a custom nesting limit.
    pub fn with_max_depth(text: impl Into<Bytes>, max_depth: usize) -> Result<Self, JsonError> {
        let bytes = text.into();
        if std::str::from_utf8(&bytes).is_err() {
            return Err(JsonError::Syntax { offset: 0 });
        }
        let doc = scan::scan_document(&bytes, max_depth)?;
        Ok(RawJson::from_scanned(
            bytes.slice(doc.start..doc.end),
            doc.canonical,
        ))
    }

    /// Wraps text that the scanner has validated, without knowing whether it is canonical
    /// (so it is treated as not canonical).
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        RawJson::from_scanned(bytes, false)
    }

    /// Wraps text that the scanner has validated, and found canonical or not.
    pub(crate) fn from_scanned(bytes: Bytes, canonical: bool) -> Self {
        RawJson {
            text: bytes,
            canonical,
        }
    }

    /// Wraps `JSON.stringify` output written by the crate (canonical by construction).
    pub(crate) fn from_canonical(bytes: Bytes) -> Self {
        RawJson::from_scanned(bytes, true)
    }

    /// Validates serializer output and records whether it is canonical.
    fn from_serializer_output(text: Vec<u8>) -> Self {
        let bytes = Bytes::from(text);
        let canonical = scan::scan_document(&bytes, usize::MAX).is_ok_and(|d| d.canonical);
        RawJson::from_scanned(bytes, canonical)
    }

    /// The JSON text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The underlying buffer (a slice of the received message for decoded packets).
    pub fn into_bytes(self) -> Bytes {
        self.text
    }

    /// The underlying buffer, borrowed.
    pub fn bytes(&self) -> &Bytes {
        &self.text
    }

    /// Whether the text is canonical: equal to `JSON.stringify(JSON.parse(text))`, so that
    /// the encoder writes it verbatim.
    ///
    /// Decided by the scanner when the text is validated: exactly for whitespace, strings
    /// and key order, conservatively elsewhere (an object with very many keys may be
    /// reported as not canonical although it is; the reverse never happens). Texts written
    /// by the crate are canonical.
    pub fn is_canonical(&self) -> bool {
        self.canonical
    }

    /// The text as `JSON.stringify(JSON.parse(text))` writes it: a clone of `self` (no
    /// copy) when it is canonical already, else a new text.
    ///
    /// Numbers, escapes, whitespace, key order and duplicate keys come out as in
    /// JavaScript. One difference remains, where `JSON.parse` keeps something a Rust
    /// string cannot hold: a lone surrogate in an object *key* of a non-canonical text
    /// becomes U+FFFD (in string values it is kept, as `\udxxx`).
    pub fn normalized(&self) -> RawJson {
        if self.canonical {
            return self.clone();
        }
        let mut out = Vec::with_capacity(self.text.len());
        self.write_normalized(&mut out);
        RawJson::from_canonical(Bytes::from(out))
    }

    /// Appends [`RawJson::normalized`] text to `out`: the text itself when canonical.
    #[inline]
    pub(crate) fn write_normalized<B: BufMut>(&self, out: &mut B) {
        if self.canonical {
            out.put_slice(&self.text);
        } else {
            self.write_normalized_slow(out);
        }
    }

    #[inline(never)]
    fn write_normalized_slow<B: BufMut>(&self, out: &mut B) {
        crate::value::Value::parse_js(self).write_json(out);
    }

    /// The kind of value.
    pub fn kind(&self) -> JsonKind {
        match self.text.first() {
            Some(b'{') => JsonKind::Object,
            Some(b'[') => JsonKind::Array,
            Some(b'"') => JsonKind::String,
            Some(b't' | b'f') => JsonKind::Bool,
            Some(b'n') => JsonKind::Null,
            _ => JsonKind::Number,
        }
    }

    /// Deserializes the value with serde_json.
    ///
    /// serde_json is stricter than `JSON.parse` in two corners: it rejects strings with
    /// lone surrogates (`"\ud800"`) and numbers outside the f64 range (`1e400`).
    pub fn deserialize<'de, T: serde::Deserialize<'de>>(&'de self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.text)
    }

    /// Serializes `value` with serde_json.
    ///
    /// serde_json writes floats differently from `JSON.stringify` (`1000.0` instead of
    /// `1000`, `1e21` instead of `1e+21`) and does not put array-index keys first. The text
    /// is kept as serde_json wrote it; where it differs from `JSON.stringify` it is not
    /// [canonical](RawJson::is_canonical), and the encoder writes its normalized form.
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        let text = serde_json::to_vec(value)?;
        Ok(RawJson::from_serializer_output(text))
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({})", self.as_str())
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<&serde_json::value::RawValue> for RawJson {
    type Error = JsonError;
    fn try_from(raw: &serde_json::value::RawValue) -> Result<Self, JsonError> {
        RawJson::new(raw.get().to_owned())
    }
}

impl From<&serde_json::Value> for RawJson {
    fn from(value: &serde_json::Value) -> Self {
        // Serializing a `serde_json::Value` cannot fail, and its output is valid JSON.
        RawJson::from_serializer_output(value.to_string().into_bytes())
    }
}

/// The arguments of an EVENT or ACK as raw JSON: the elements of the payload array,
/// comma-separated, without the brackets (and, for an EVENT, without the event name).
///
/// `["message",1,"2",{"3":[true]}]` has the args `1,"2",{"3":[true]}`. When the text is
/// [canonical](RawArgs::is_canonical), an encoder writes it back verbatim, so an echo is
/// byte-identical to what the client sent; otherwise each argument is written normalized,
/// as the reference server would write it.
#[derive(Clone)]
pub struct RawArgs {
    text: Bytes,
    len: usize,
    canonical: bool,
}

impl PartialEq for RawArgs {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text && self.len == other.len
    }
}

impl Eq for RawArgs {}

impl Hash for RawArgs {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
        self.len.hash(state);
    }
}

impl Default for RawArgs {
    fn default() -> Self {
        RawArgs::empty()
    }
}

impl RawArgs {
    /// No arguments.
    pub const fn empty() -> Self {
        RawArgs {
            text: Bytes::new(),
            len: 0,
            canonical: true,
        }
    }

    /// Validates `text` as a comma-separated list of JSON values (for example `1,"2"`, or
    /// an empty string) and wraps it. Surrounding whitespace is trimmed.
    pub fn new(text: impl Into<Bytes>) -> Result<Self, JsonError> {
        let bytes = text.into();
        if std::str::from_utf8(&bytes).is_err() {
            return Err(JsonError::Syntax { offset: 0 });
        }
        let list = scan::scan_list(&bytes, DEFAULT_MAX_DEPTH)?;
        let (start, end) = trim(&bytes, 0, bytes.len());
        Ok(RawArgs {
            text: bytes.slice(start..end),
            len: list.len,
            canonical: list.canonical,
        })
    }

    /// Wraps text that the scanner has validated, holding `len` elements, and found
    /// canonical or not.
    pub(crate) fn from_validated(text: Bytes, len: usize, canonical: bool) -> Self {
        RawArgs {
            text,
            len,
            canonical,
        }
    }

    /// The arguments of the JSON array `array` (all of its elements).
    pub fn from_array(array: &RawJson) -> Option<Self> {
        if array.kind() != JsonKind::Array {
            return None;
        }
        let doc = scan::scan_document(array.as_bytes(), usize::MAX).ok()?;
        let info = doc.array?;
        let (start, end) = trim(array.as_bytes(), info.open_end, info.close);
        Some(RawArgs {
            text: array.text.slice(start..end),
            len: info.len,
            canonical: info.all_canonical,
        })
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the text is canonical (see [`RawJson::is_canonical`]): every argument is,
    /// and there is no whitespace between them. The encoder then writes it verbatim.
    pub fn is_canonical(&self) -> bool {
        self.canonical
    }

    /// The raw text, for example `1,"2",{"3":[true]}`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// The raw text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The arguments one by one (each a slice of the same buffer).
    pub fn iter(&self) -> RawArgsIter<'_> {
        RawArgsIter { args: self, pos: 0 }
    }

    /// The argument at `index`.
    pub fn get(&self, index: usize) -> Option<RawJson> {
        self.iter().nth(index)
    }

    /// The arguments as one JSON array (copies the text).
    pub fn to_array(&self) -> RawJson {
        let mut text = Vec::with_capacity(self.text.len() + 2);
        text.push(b'[');
        text.extend_from_slice(&self.text);
        text.push(b']');
        RawJson::from_scanned(Bytes::from(text), self.canonical)
    }

    /// The arguments as `JSON.stringify` would write them (see [`RawJson::normalized`]):
    /// a clone of `self` (no copy) when canonical already.
    pub fn normalized(&self) -> RawArgs {
        if self.canonical {
            return self.clone();
        }
        let mut out = Vec::with_capacity(self.text.len());
        self.write_normalized(&mut out);
        RawArgs::from_validated(Bytes::from(out), self.len, true)
    }

    /// Appends the [normalized](RawArgs::normalized) text to `out`: the text itself when
    /// canonical, else each argument normalized (the canonical ones still copied as is).
    #[inline]
    pub(crate) fn write_normalized<B: BufMut>(&self, out: &mut B) {
        if self.canonical {
            out.put_slice(&self.text);
        } else {
            self.write_normalized_slow(out);
        }
    }

    #[inline(never)]
    fn write_normalized_slow<B: BufMut>(&self, out: &mut B) {
        for (i, arg) in self.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            arg.write_normalized(out);
        }
    }

    /// Deserializes the arguments as a JSON array, e.g. into a tuple or a `Vec`.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_slice(self.to_array().as_bytes())
    }
}

impl fmt::Debug for RawArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawArgs({})", self.as_str())
    }
}

impl<'a> IntoIterator for &'a RawArgs {
    type Item = RawJson;
    type IntoIter = RawArgsIter<'a>;
    fn into_iter(self) -> RawArgsIter<'a> {
        self.iter()
    }
}

/// Iterator over the elements of [`RawArgs`].
#[derive(Clone, Debug)]
pub struct RawArgsIter<'a> {
    args: &'a RawArgs,
    pos: usize,
}

impl Iterator for RawArgsIter<'_> {
    type Item = RawJson;

    fn next(&mut self) -> Option<RawJson> {
        let text = &self.args.text;
        // The text was validated on construction, so the depth limit is not needed again.
        let mut s = Scanner::at(text, self.pos, usize::MAX);
        s.skip_ws();
        if s.peek() == Some(b',') {
            s.bump();
            s.skip_ws();
        }
        let start = s.pos();
        if start >= text.len() {
            self.pos = text.len();
            return None;
        }
        s.set_canonical(true);
        if s.value(0).is_err() {
            self.pos = text.len();
            return None;
        }
        self.pos = s.pos();
        // The scan of the element decided whether it is canonical on its own.
        Some(RawJson::from_scanned(
            text.slice(start..s.pos()),
            s.canonical(),
        ))
    }
}

/// Trims JSON whitespace from `buf[start..end]`.
pub(crate) fn trim(buf: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && crate::json::scan::is_ws(buf[start]) {
        start += 1;
    }
    while end > start && crate::json::scan::is_ws(buf[end - 1]) {
        end -= 1;
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_json() {
        let raw = RawJson::new(" {\"a\": [1, 2]}\n").unwrap();
        assert_eq!(raw.as_str(), "{\"a\": [1, 2]}");
        assert_eq!(raw.kind(), JsonKind::Object);
        assert!(RawJson::new("{").is_err());
        assert!(RawJson::new(vec![b'"', 0xff, b'"']).is_err());
        let v: serde_json::Value = raw.deserialize().unwrap();
        assert_eq!(v, serde_json::json!({"a": [1, 2]}));
        assert_eq!(RawJson::from(&v).as_str(), "{\"a\":[1,2]}");
        assert_eq!(
            RawJson::from_serialize(&("x", 1)).unwrap().as_str(),
            "[\"x\",1]"
        );
        let boxed = serde_json::value::RawValue::from_string("[1]".into()).unwrap();
        assert_eq!(RawJson::try_from(&*boxed).unwrap().as_str(), "[1]");
        for (text, kind) in [
            ("[]", JsonKind::Array),
            ("\"s\"", JsonKind::String),
            ("-1", JsonKind::Number),
            ("false", JsonKind::Bool),
            ("null", JsonKind::Null),
        ] {
            assert_eq!(RawJson::new(text).unwrap().kind(), kind);
        }
    }

    #[test]
    fn raw_args() {
        let args = RawArgs::new(" 1 , \"2\",{\"3\":[true]} ").unwrap();
        assert_eq!(args.len(), 3);
        assert_eq!(args.as_str(), "1 , \"2\",{\"3\":[true]}");
        let items: Vec<String> = args.iter().map(|r| r.as_str().to_owned()).collect();
        assert_eq!(items, ["1", "\"2\"", "{\"3\":[true]}"]);
        assert_eq!(args.get(1).unwrap().as_str(), "\"2\"");
        assert_eq!(args.get(3), None);
        assert_eq!(args.to_array().as_str(), "[1 , \"2\",{\"3\":[true]}]");
        let (a, b): (u8, String) = RawArgs::new("1,\"x\"").unwrap().deserialize().unwrap();
        assert_eq!((a, b.as_str()), (1, "x"));
        assert!(RawArgs::new("1,").is_err());
        let empty = RawArgs::new("  ").unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.iter().count(), 0);
        assert_eq!(empty, RawArgs::empty());
        let arr = RawJson::new("[ 1, [2] ]").unwrap();
        let from = RawArgs::from_array(&arr).unwrap();
        assert_eq!((from.as_str(), from.len()), ("1, [2]", 2));
        assert!(RawArgs::from_array(&RawJson::new("{}").unwrap()).is_none());
    }

    #[test]
    fn utf8_bytes() {
        let s = Utf8Bytes::from_static("/admin");
        assert_eq!(s, "/admin");
        assert_eq!(&*s, "/admin");
        assert!(Utf8Bytes::try_from_bytes(Bytes::from_static(b"\xff")).is_err());
        let mut map = std::collections::HashMap::new();
        map.insert(Utf8Bytes::from("k".to_owned()), 1);
        assert_eq!(map.get("k"), Some(&1));
    }
}
