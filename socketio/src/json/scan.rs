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
//!
//! # Canonical texts
//!
//! In the same pass the scanner decides whether the text is *canonical*: equal to
//! `JSON.stringify(JSON.parse(text))`, so that writing it verbatim is what the reference
//! server would write. The check is exact where that is cheap and conservative otherwise
//! (a canonical text may be reported as not canonical, never the reverse):
//!
//! - no insignificant whitespace (outside the trimmed ends of a document or a list);
//! - strings: raw characters, or exactly the escapes `JSON.stringify` writes: `\" \\ \b
//!   \f \n \r \t`, `\u00xx` (lower-case hex) for the other control characters, and
//!   `\udxxx` (lower-case hex) for a surrogate that is not half of a pair;
//! - numbers: the form `Number::toString` gives. Integers of up to 15 digits (not `-0`) and
//!   plain decimals of up to 15 significant digits without a trailing zero are recognized
//!   by their shape; any other number is checked by parsing it and writing it back (no
//!   allocation);
//! - objects: array-index keys (`"0"`, `"7"`, ...) first, strictly ascending, then the
//!   other keys, without duplicates (a canonical key has one spelling, so comparing bytes
//!   is exact). A 64-bit bloom mask over the keys of an object avoids nearly all
//!   comparisons; an object with more than [`KEY_SLOTS`] keys switches to a hash set, so
//!   the check stays linear (and a peer cannot make it quadratic).
//!
//! Once a text is known not to be canonical, the remaining checks are skipped.

use crate::json::canonical::{Keys, number_round_trips};
use crate::raw::JsonError;

/// How many non-index keys of one object the duplicate check records inline, before it
/// switches to a hash set.
pub(crate) const KEY_SLOTS: usize = 16;

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

/// The position of the first 8-byte word at or after `pos` that may hold a
/// [`STRING_STOP`] byte (or of the last partial word): the words before it are plain
/// string content, checked eight bytes at a time (SWAR) instead of one by one.
#[inline]
fn skip_plain_words(buf: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = buf.get(pos..pos + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let backslash = w ^ (ONES * u64::from(b'\\'));
        // `(x - ONES * n) & !x & HIGH` is non-zero exactly when some byte of `x` is below
        // `n` (n <= 0x80): a control character, or a zero byte of the xors (`"`, `\`).
        let stop = (w.wrapping_sub(ONES * 0x20) & !w)
            | (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash);
        if stop & HIGH != 0 {
            break;
        }
        pos += 8;
    }
    pos
}

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
    /// Whether all the elements, and the separators between them, are canonical (the
    /// text inside the brackets, trimmed, is canonical).
    pub(crate) all_canonical: bool,
    /// The same for the elements after the first one (the arguments of an event).
    pub(crate) tail_canonical: bool,
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
    /// Whether the value (without the surrounding whitespace) is canonical.
    pub(crate) canonical: bool,
}

/// A scanned comma-separated list (see [`scan_list`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct List {
    /// Number of elements.
    pub(crate) len: usize,
    /// Whether the list (without the surrounding whitespace) is canonical.
    pub(crate) canonical: bool,
}

/// Scans `buf` as one JSON text: optional whitespace, one value, optional whitespace.
pub(crate) fn scan_document(buf: &[u8], max_depth: usize) -> Result<Document, JsonError> {
    let mut s = Scanner::new(buf, max_depth);
    s.skip_ws();
    let start = s.pos;
    s.canonical = true;
    let (kind, array) = if s.peek() == Some(b'[') {
        (JsonKind::Array, Some(s.array_top()?))
    } else {
        (s.value(0)?, None)
    };
    let end = s.pos;
    let canonical = s.canonical;
    s.skip_ws();
    if s.pos != buf.len() {
        return Err(s.syntax());
    }
    Ok(Document {
        start,
        end,
        kind,
        array,
        canonical,
    })
}

/// Scans `buf` as a comma-separated list of JSON values (the inside of an array).
pub(crate) fn scan_list(buf: &[u8], max_depth: usize) -> Result<List, JsonError> {
    let mut s = Scanner::new(buf, max_depth);
    s.skip_ws();
    if s.pos == buf.len() {
        return Ok(List {
            len: 0,
            canonical: true,
        });
    }
    s.canonical = true;
    let mut len = 0;
    loop {
        // The list sits inside an implicit array, hence depth 1.
        s.value(1)?;
        len += 1;
        let before = s.canonical;
        s.skip_ws();
        match s.peek() {
            // Trailing whitespace is trimmed, so it does not count.
            None => {
                return Ok(List {
                    len,
                    canonical: before,
                });
            }
            Some(b',') => {
                s.pos += 1;
                s.skip_ws();
            }
            Some(_) => return Err(s.syntax()),
        }
    }
}

/// A cursor over JSON text.
///
/// It also tracks whether the text scanned so far is canonical (see the module docs):
/// `canonical` starts `true` and is cleared by the first construct that `JSON.stringify`
/// would write differently. Callers that want the flag for one part of the text set it to
/// `true` before scanning that part and read it after.
pub(crate) struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
    canonical: bool,
}

impl<'a> Scanner<'a> {
    /// A scanner at offset 0.
    pub(crate) fn new(buf: &'a [u8], max_depth: usize) -> Self {
        Self::at(buf, 0, max_depth)
    }

    /// A scanner at `pos`.
    pub(crate) fn at(buf: &'a [u8], pos: usize, max_depth: usize) -> Self {
        Scanner {
            buf,
            pos,
            max_depth,
            canonical: true,
        }
    }

    /// Whether everything scanned since the flag was last set is canonical.
    pub(crate) fn canonical(&self) -> bool {
        self.canonical
    }

    /// Sets the canonical flag (to `true` before scanning a part whose flag is wanted).
    pub(crate) fn set_canonical(&mut self, canonical: bool) {
        self.canonical = canonical;
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

    /// Skips whitespace. Any whitespace makes the text not canonical.
    #[inline]
    pub(crate) fn skip_ws(&mut self) {
        // Canonical text has none: one test in the common case.
        if self.buf.get(self.pos).is_some_and(|&b| is_ws(b)) {
            self.skip_ws_run();
        }
    }

    #[inline(never)]
    fn skip_ws_run(&mut self) {
        self.canonical = false;
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
        // The duplicate check's state lives in this frame, not in the scanner, which stays
        // small enough for the optimizer to keep in registers.
        let mut keys = Keys::new();
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.syntax());
            }
            let key_start = self.pos;
            self.string()?;
            if self.canonical && !keys.accept(self.buf, key_start + 1, self.pos - 1) {
                self.canonical = false;
            }
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

    /// A top-level array, recording its first element, its bounds and which parts are
    /// canonical.
    ///
    /// The canonical flag only ever goes from `true` to `false`, so the parts are judged
    /// by resetting it where a part starts and reading it where the part ends.
    fn array_top(&mut self) -> Result<ArrayInfo, JsonError> {
        let depth = self.enter(0)?;
        self.bump();
        let open_end = self.pos;
        self.canonical = true;
        self.skip_ws();
        // No whitespace after `[` (which the argument lists leave out).
        let lead = self.canonical;
        let mut info = ArrayInfo {
            len: 0,
            first: None,
            open_end,
            close: self.pos,
            all_canonical: true,
            tail_canonical: true,
        };
        if self.peek() == Some(b']') {
            self.bump();
            self.canonical = lead;
            return Ok(info);
        }
        let start = self.pos;
        self.canonical = true;
        let kind = self.value(depth)?;
        info.first = Some(Element {
            start,
            end: self.pos,
            kind,
        });
        info.len = 1;
        let first = self.canonical;
        self.skip_ws();
        match self.peek() {
            Some(b']') => {
                info.close = self.pos;
                self.bump();
                info.all_canonical = first;
                // `self.canonical`: the element, and no whitespace before `]`.
                self.canonical = self.canonical && lead;
                return Ok(info);
            }
            Some(b',') => {
                self.bump();
                self.skip_ws();
            }
            _ => return Err(self.syntax()),
        }
        // The first element and the separator after it (which an event's arguments leave
        // out).
        let head = self.canonical;
        // The other elements and the separators between them.
        self.canonical = true;
        loop {
            self.value(depth)?;
            info.len += 1;
            let tail = self.canonical;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.bump();
                    self.skip_ws();
                }
                Some(b']') => {
                    info.close = self.pos;
                    self.bump();
                    info.tail_canonical = tail;
                    info.all_canonical = head && tail;
                    // `self.canonical`: the tail, and no whitespace before `]`.
                    self.canonical = self.canonical && lead && head;
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
            self.pos = skip_plain_words(self.buf, self.pos);
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
                Some(b'\\') => self.escape()?,
                // A raw control character, or the end of input.
                _ => return Err(self.syntax()),
            }
        }
    }

    /// One escape sequence, at its backslash. Out of line: rare, and it keeps the string
    /// loop small.
    #[inline(never)]
    fn escape(&mut self) -> Result<(), JsonError> {
        self.bump();
        match self.peek() {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => self.bump(),
            Some(b'/') => {
                // `JSON.stringify` writes `/` unescaped.
                self.canonical = false;
                self.bump();
            }
            Some(b'u') => {
                self.bump();
                let Some(unit) = self.hex4(self.pos) else {
                    return Err(self.syntax());
                };
                if self.canonical && !self.canonical_u_escape(unit) {
                    self.canonical = false;
                }
                self.pos += 4;
            }
            _ => return Err(self.syntax()),
        }
        Ok(())
    }

    /// The four hex digits at `at` as a number, and whether they are lower case.
    fn hex4(&self, at: usize) -> Option<(u16, bool)> {
        let digits = self.buf.get(at..at + 4)?;
        let mut unit = 0u16;
        let mut lower = true;
        for &d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => {
                    lower = false;
                    d - b'A' + 10
                }
                _ => return None,
            };
            unit = unit << 4 | u16::from(v);
        }
        Some((unit, lower))
    }

    /// Whether `JSON.stringify` writes the code unit of the `\uXXXX` escape whose digits
    /// are at the cursor exactly so: a control character without a short escape, or a
    /// surrogate that is not half of a pair, in lower-case hex.
    fn canonical_u_escape(&self, (unit, lower): (u16, bool)) -> bool {
        if !lower {
            return false;
        }
        match unit {
            0x08 | 0x09 | 0x0a | 0x0c | 0x0d => false,
            0x00..=0x1f => true,
            // A high surrogate is lone unless a low one follows (in any case: `JSON.parse`
            // pairs them regardless). A low surrogate after a high one was already judged
            // with it.
            0xd800..=0xdbff => {
                let after = self.pos + 4;
                let pair = self.buf.get(after..after + 2) == Some(b"\\u")
                    && self
                        .hex4(after + 2)
                        .is_some_and(|(lo, _)| (0xdc00..=0xdfff).contains(&lo));
                !pair
            }
            0xdc00..=0xdfff => true,
            _ => false,
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
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => self.bump(),
            Some(b'1'..=b'9') => self.digits()?,
            _ => return Err(self.syntax()),
        }
        let int_end = self.pos;
        let mut plain = true;
        if self.peek() == Some(b'.') {
            self.bump();
            self.digits()?;
            plain = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            self.digits()?;
            plain = false;
        }
        // The common case inline: an integer of up to 14 digits, or up to 15 without a
        // sign, is exact in an f64 and written as is, except `-0`.
        let short_int = plain
            && self.pos - start <= 15
            && !(self.pos - start == 2
                && self.buf.get(start) == Some(&b'-')
                && self.buf.get(start + 1) == Some(&b'0'));
        if self.canonical && !short_int && !self.number_canonical(start, int_end) {
            self.canonical = false;
        }
        Ok(())
    }

    /// Whether the number literal `buf[start..self.pos]`, whose integer part (sign
    /// included) ends at `int_end`, is what `JSON.stringify` writes for its value.
    #[inline(never)]
    fn number_canonical(&self, start: usize, int_end: usize) -> bool {
        let text = &self.buf[start..self.pos];
        let int = &self.buf[start..int_end];
        let (negative, int) = match int.split_first() {
            Some((b'-', digits)) => (true, digits),
            _ => (false, int),
        };
        let rest = &self.buf[int_end..self.pos];
        let zero = int == b"0";
        let exponent = rest.iter().any(|&b| b | 0x20 == b'e');
        let shape = if exponent {
            None
        } else if let Some(frac) = rest.strip_prefix(b".") {
            Self::decimal_shape(zero, int.len(), frac)
        } else if zero {
            // `0` is canonical, `-0` is written `0`.
            Some(!negative)
        } else {
            // Up to 2^53 (15 digits always, 16 digits below that bound) the integer is
            // exact in an f64, and every other integer of as many digits is another f64:
            // its own digits are the shortest that round-trip, written as is. Larger
            // ones are checked by writing them.
            (int.len() <= 15 || (int.len() == 16 && exact_integer(int))).then_some(true)
        };
        match shape {
            Some(c) => c,
            None => number_round_trips(text),
        }
    }

    /// For `int.frac` without exponent: `Some(canonical)` when the shape decides, `None`
    /// when the number must be checked by writing it.
    ///
    /// A decimal of at most 15 significant digits (`f64::DIGITS`) survives the trip through
    /// an f64 and back, so it is the shortest form of its value: it is canonical when it
    /// has no trailing zero and JavaScript writes it without exponent (at most five zeros
    /// after `0.`).
    fn decimal_shape(zero: bool, int_len: usize, frac: &[u8]) -> Option<bool> {
        if frac.last() == Some(&b'0') {
            // `1.0`, `0.10`, `-0.0`.
            return Some(false);
        }
        let significant = if zero {
            let leading = frac.iter().take_while(|&&d| d == b'0').count();
            if leading > 5 {
                // `0.0000001` is written `1e-7`.
                return Some(false);
            }
            frac.len() - leading
        } else {
            int_len + frac.len()
        };
        (significant <= 15).then_some(true)
    }
}

/// Whether the decimal digits `int` (no sign, no leading zero) are at most 2^53, the
/// largest integer below which every integer is an f64.
fn exact_integer(int: &[u8]) -> bool {
    const EXACT: u64 = 1 << 53;
    let mut value: u64 = 0;
    for &d in int {
        let Some(next) = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d.wrapping_sub(b'0'))))
        else {
            return false;
        };
        value = next;
    }
    value <= EXACT
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
