//! Text kept as received: UTF-8 [`Bytes`] ([`Utf8Bytes`]), one JSON value ([`RawJson`]) and
//! the elements of a JSON array ([`RawArgs`]).
//!
//! These types are cheap to clone (a reference count) and, when they come from the
//! decoder, are slices of the received Engine.IO message: echoing a client's arguments
//! writes back exactly the bytes it sent, with no parse/serialize round trip.

use bytes::Bytes;
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
/// Equality compares the text, so `{"a":1}` and `{ "a": 1 }` differ.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawJson(Bytes);

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
        Ok(RawJson(bytes.slice(doc.start..doc.end)))
    }

    /// Wraps text that the scanner has validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        RawJson(bytes)
    }

    /// The JSON text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying buffer (a slice of the received message for decoded packets).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The underlying buffer, borrowed.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// The kind of value.
    pub fn kind(&self) -> JsonKind {
        match self.0.first() {
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
        serde_json::from_slice(&self.0)
    }

    /// Serializes `value` with serde_json.
    ///
    /// serde_json writes floats differently from `JSON.stringify` (`1000.0` instead of
    /// `1000`, `1e21` instead of `1e+21`); build a [`Value`](crate::value::Value) when the
    /// output must be byte-identical to JavaScript.
    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        let text = serde_json::to_vec(value)?;
        Ok(RawJson(Bytes::from(text)))
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
        RawJson(Bytes::from(value.to_string()))
    }
}

/// The arguments of an EVENT or ACK as raw JSON: the elements of the payload array,
/// comma-separated, without the brackets (and, for an EVENT, without the event name).
///
/// `["message",1,"2",{"3":[true]}]` has the args `1,"2",{"3":[true]}`. An encoder writes
/// them back verbatim, so an echo is byte-identical to what the client sent.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct RawArgs {
    text: Bytes,
    len: usize,
}

impl RawArgs {
    /// No arguments.
    pub const fn empty() -> Self {
        RawArgs {
            text: Bytes::new(),
            len: 0,
        }
    }

    /// Validates `text` as a comma-separated list of JSON values (for example `1,"2"`, or
    /// an empty string) and wraps it. Surrounding whitespace is trimmed.
    pub fn new(text: impl Into<Bytes>) -> Result<Self, JsonError> {
        let bytes = text.into();
        if std::str::from_utf8(&bytes).is_err() {
            return Err(JsonError::Syntax { offset: 0 });
        }
        let len = scan::scan_list(&bytes, DEFAULT_MAX_DEPTH)?;
        let (start, end) = trim(&bytes, 0, bytes.len());
        Ok(RawArgs {
            text: bytes.slice(start..end),
            len,
        })
    }

    /// Wraps text that the scanner has validated, holding `len` elements.
    pub(crate) fn from_validated(text: Bytes, len: usize) -> Self {
        RawArgs { text, len }
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
            text: array.0.slice(start..end),
            len: info.len,
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
        RawJson(Bytes::from(text))
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
        if s.value(0).is_err() {
            self.pos = text.len();
            return None;
        }
        self.pos = s.pos();
        Some(RawJson(text.slice(start..s.pos())))
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
