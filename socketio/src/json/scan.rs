//! A validating JSON scanner: RFC 8259 as `JSON.parse` accepts it.
//!
//! The scanner checks syntax and reports spans; it builds no values. It is the single
//! JSON grammar of the crate: the decoder, [`RawJson`](crate::raw::RawJson) validation,
//! [`RawArgs`](crate::raw::RawArgs) iteration and binary reconstruction all use it, so they
//! agree on what is JSON.
//!
//! `JSON.parse` compatibility notes:
//! - whitespace is exactly space, tab, LF and CR (U+2028, NBSP, BOM are errors);
//! - strings may contain any escape `JSON.parse` accepts, including lone surrogates
//!   (`"\ud800"`), which serde_json rejects when decoding to a `String`;
//! - numbers are checked for syntax only, so `1e400` (Infinity in JS) is accepted;
//! - nesting deeper than `max_depth` is rejected. `JSON.parse` has no fixed limit, but an
//!   unbounded depth would let a peer exhaust the stack of every recursive consumer.

use crate::raw::JsonError;

/// The kind of a JSON value, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JsonKind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// A number literal.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// JSON insignificant whitespace (RFC 8259 §2).
pub(crate) const fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Bytes that end the fast path of string scanning: `"`, `\` and control characters.
const STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The span of one top-level array element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) kind: JsonKind,
}

/// What [`scan_document`] learned about a top-level array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ArrayInfo {
    /// Number of elements.
    pub(crate) len: usize,
    /// The first element, if any.
    pub(crate) first: Option<Element>,
    /// Offset just past the `[`.
    pub(crate) open_end: usize,
    /// Offset of the closing `]`.
    pub(crate) close: usize,
}

/// A scanned top-level JSON document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Document {
    /// Start of the value (after leading whitespace).
    pub(crate) start: usize,
    /// End of the value (before trailing whitespace).
    pub(crate) end: usize,
    /// Kind of the value.
    pub(crate) kind: JsonKind,
    /// Details when the value is an array.
    pub(crate) array: Option<ArrayInfo>,
}

/// Scans `buf` as one JSON text: optional whitespace, one value, optional whitespace.
pub(crate) fn scan_document(buf: &[u8], max_depth: usize) -> Result<Document, JsonError> {
    let mut s = Scanner::new(buf, max_depth);
    s.skip_ws();
    let start = s.pos;
    let (kind, array) = if s.peek() == Some(b'[') {
        (JsonKind::Array, Some(s.array_top()?))
    } else {
        (s.value(0)?, None)
    };
    let end = s.pos;
    s.skip_ws();
    if s.pos != buf.len() {
        return Err(s.syntax());
    }
    Ok(Document {
        start,
        end,
        kind,
        array,
    })
}

/// Scans `buf` as a comma-separated list of JSON values (the inside of an array), and
/// returns the number of elements.
pub(crate) fn scan_list(buf: &[u8], max_depth: usize) -> Result<usize, JsonError> {
    let mut s = Scanner::new(buf, max_depth);
    s.skip_ws();
    if s.pos == buf.len() {
        return Ok(0);
    }
    let mut len = 0;
    loop {
        // The list sits inside an implicit array, hence depth 1.
        s.value(1)?;
        len += 1;
        s.skip_ws();
        match s.peek() {
            None => return Ok(len),
            Some(b',') => {
                s.pos += 1;
                s.skip_ws();
            }
            Some(_) => return Err(s.syntax()),
        }
    }
}

/// A cursor over JSON text.
pub(crate) struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at offset 0.
    pub(crate) fn new(buf: &'a [u8], max_depth: usize) -> Self {
        Scanner {
            buf,
            pos: 0,
            max_depth,
        }
    }

    /// A scanner at `pos`.
    pub(crate) fn at(buf: &'a [u8], pos: usize, max_depth: usize) -> Self {
        Scanner {
            buf,
            pos,
            max_depth,
        }
    }

    /// Current offset.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The byte at the cursor.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Moves past one byte.
    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// A syntax error at the cursor.
    pub(crate) fn syntax(&self) -> JsonError {
        JsonError::Syntax { offset: self.pos }
    }

    /// Skips whitespace.
    pub(crate) fn skip_ws(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            if !is_ws(b) {
                break;
            }
            self.pos += 1;
        }
    }

    /// Consumes `b` or fails.
    pub(crate) fn expect(&mut self, b: u8) -> Result<(), JsonError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    /// Checks that one more level of nesting is allowed.
    pub(crate) fn enter(&self, depth: usize) -> Result<usize, JsonError> {
        let depth = depth + 1;
        if depth > self.max_depth {
            Err(JsonError::TooDeep {
                max_depth: self.max_depth,
            })
        } else {
            Ok(depth)
        }
    }

    /// Scans one value starting at the cursor (no leading whitespace). `depth` is the
    /// nesting level of the enclosing container (0 at top level).
    pub(crate) fn value(&mut self, depth: usize) -> Result<JsonKind, JsonError> {
        match self.peek() {
            Some(b'{') => {
                self.object(depth)?;
                Ok(JsonKind::Object)
            }
            Some(b'[') => {
                self.array(depth)?;
                Ok(JsonKind::Array)
            }
            Some(b'"') => {
                self.string()?;
                Ok(JsonKind::String)
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Ok(JsonKind::Number)
            }
            Some(b't') => self.literal(b"true", JsonKind::Bool),
            Some(b'f') => self.literal(b"false", JsonKind::Bool),
            Some(b'n') => self.literal(b"null", JsonKind::Null),
            _ => Err(self.syntax()),
        }
    }

    fn literal(&mut self, lit: &[u8], kind: JsonKind) -> Result<JsonKind, JsonError> {
        if self.buf.get(self.pos..self.pos + lit.len()) == Some(lit) {
            self.pos += lit.len();
            Ok(kind)
        } else {
            Err(self.syntax())
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), JsonError> {
        let depth = self.enter(depth)?;
        self.bump();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.bump();
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.syntax());
            }
            self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            self.value(depth)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.bump();
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.bump();
                    return Ok(());
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), JsonError> {
        let depth = self.enter(depth)?;
        self.bump();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.bump();
            return Ok(());
        }
        loop {
            self.value(depth)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.bump();
                    self.skip_ws();
                }
                Some(b']') => {
                    self.bump();
                    return Ok(());
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    /// A top-level array, recording its first element and its bounds.
    fn array_top(&mut self) -> Result<ArrayInfo, JsonError> {
        let depth = self.enter(0)?;
        self.bump();
        let open_end = self.pos;
        self.skip_ws();
        let mut info = ArrayInfo {
            len: 0,
            first: None,
            open_end,
            close: self.pos,
        };
        if self.peek() == Some(b']') {
            info.close = self.pos;
            self.bump();
            return Ok(info);
        }
        loop {
            let start = self.pos;
            let kind = self.value(depth)?;
            if info.first.is_none() {
                info.first = Some(Element {
                    start,
                    end: self.pos,
                    kind,
                });
            }
            info.len += 1;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.bump();
                    self.skip_ws();
                }
                Some(b']') => {
                    info.close = self.pos;
                    self.bump();
                    return Ok(info);
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    /// Scans a string starting at its opening quote.
    pub(crate) fn string(&mut self) -> Result<(), JsonError> {
        self.bump();
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
                if STRING_STOP[usize::from(b)] {
                    break;
                }
                self.pos += 1;
            }
            match self.peek() {
                Some(b'"') => {
                    self.bump();
                    return Ok(());
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.bump(),
                        Some(b'u') => {
                            self.bump();
                            for _ in 0..4 {
                                match self.peek() {
                                    Some(b) if b.is_ascii_hexdigit() => self.bump(),
                                    _ => return Err(self.syntax()),
                                }
                            }
                        }
                        _ => return Err(self.syntax()),
                    }
                }
                // A raw control character, or the end of input.
                _ => return Err(self.syntax()),
            }
        }
    }

    fn digits(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.bump();
        }
        if self.pos == start {
            Err(self.syntax())
        } else {
            Ok(())
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), JsonError> {
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => self.bump(),
            Some(b'1'..=b'9') => self.digits()?,
            _ => return Err(self.syntax()),
        }
        if self.peek() == Some(b'.') {
            self.bump();
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            self.digits()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> bool {
        scan_document(s.as_bytes(), 128).is_ok()
    }

    #[test]
    fn accepts_what_json_parse_accepts() {
        for s in [
            "0",
            "-0",
            "1.5e-7",
            "1E+2",
            "1e400",
            "true",
            "null",
            "\"\"",
            "\"\\ud800\"",
            "\"\\u00e9\\/\\b\"",
            " [1, 2 ,3] ",
            "{\"a\":{\"b\":[]}}",
            "{\"a\":1,\"a\":2}",
            "\"é😀\u{2028}\"",
            "\r\n\t{}\r\n\t",
        ] {
            assert!(ok(s), "{s:?}");
        }
    }

    #[test]
    fn rejects_what_json_parse_rejects() {
        for s in [
            "",
            " ",
            "01",
            "1.",
            ".1",
            "+1",
            "1e",
            "-",
            "NaN",
            "Infinity",
            "tru",
            "nul",
            "[1,]",
            "[,1]",
            "{\"a\":1,}",
            "{a:1}",
            "{\"a\" 1}",
            "'a'",
            "\"\\x\"",
            "\"\\u12\"",
            "\"a\nb\"",
            "\"abc",
            "[1] [2]",
            "[1]x",
            "\u{2028}[1]",
            "\u{a0}1",
            "\u{feff}1",
            "\u{b}1",
        ] {
            assert!(!ok(s), "{s:?}");
        }
    }

    #[test]
    fn depth_limit() {
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(scan_document(deep(128).as_bytes(), 128).is_ok());
        assert_eq!(
            scan_document(deep(129).as_bytes(), 128),
            Err(JsonError::TooDeep { max_depth: 128 })
        );
        // A very deep input fails fast, without exhausting the stack.
        assert!(scan_document(deep(1_000_000).as_bytes(), 128).is_err());
    }

    #[test]
    fn array_info() {
        let doc = scan_document(b" [ \"a\" , 1 ] ", 128).unwrap();
        assert_eq!((doc.start, doc.end, doc.kind), (1, 12, JsonKind::Array));
        let a = doc.array.unwrap();
        assert_eq!(a.len, 2);
        assert_eq!(
            a.first,
            Some(Element {
                start: 3,
                end: 6,
                kind: JsonKind::String
            })
        );
        assert_eq!((a.open_end, a.close), (2, 11));
        let empty = scan_document(b"[ ]", 128).unwrap().array.unwrap();
        assert_eq!((empty.len, empty.first, empty.close), (0, None, 2));
    }

    #[test]
    fn lists() {
        assert_eq!(scan_list(b"", 128), Ok(0));
        assert_eq!(scan_list(b"  ", 128), Ok(0));
        assert_eq!(scan_list(b"1", 128), Ok(1));
        assert_eq!(scan_list(b" 1 , \"2\",{\"3\":[true]} ", 128), Ok(3));
        assert!(scan_list(b"1,", 128).is_err());
        assert!(scan_list(b",1", 128).is_err());
        assert!(scan_list(b"1 2", 128).is_err());
    }
}
