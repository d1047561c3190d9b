//! The crate's own small JSON layer: a validating scanner ([`scan`]), `JSON.stringify`
//! output ([`write`]) and string unescaping.
//!
//! Why not serde_json alone: serde_json rejects some texts `JSON.parse` accepts (lone
//! surrogates such as `"\ud800"` when decoding strings, `1e400` when decoding numbers) and
//! formats floats differently from JavaScript (`1000.0` where JS writes `1000`). The codec
//! must be exactly as permissive as the reference parser and byte-identical to its encoder,
//! so both directions are implemented here. serde_json is still used for typed access
//! ([`RawJson::deserialize`](crate::raw::RawJson::deserialize)) and conversions.

mod canonical;
pub(crate) mod scan;
pub(crate) mod write;

#[cfg(test)]
mod canonical_tests;

pub use scan::JsonKind;

use std::borrow::Cow;

/// One piece of a decoded string body.
enum Piece<'a> {
    /// Text copied as is (no escapes in it).
    Text(&'a str),
    /// An escaped code point.
    Char(char),
    /// A `\uXXXX` escape of a surrogate that is not half of a pair.
    Lone(u16),
}

/// Decodes the body of a string literal (validated by the scanner) piece by piece.
/// Returns `None` only if `body` was not validated.
fn decode_body<'a>(body: &'a [u8], mut f: impl FnMut(Piece<'a>)) -> Option<()> {
    let mut i = 0;
    while i < body.len() {
        let next = body[i..]
            .iter()
            .position(|&b| b == b'\\')
            .map_or(body.len(), |p| i + p);
        // Escapes are ASCII, so the split points are char boundaries of valid UTF-8.
        if next > i {
            f(Piece::Text(std::str::from_utf8(&body[i..next]).ok()?));
        }
        if next == body.len() {
            break;
        }
        let esc = *body.get(next + 1)?;
        i = next + 2;
        let c = match esc {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(body.get(i..i + 4)?)?;
                i += 4;
                if (0xd800..0xdc00).contains(&hi) {
                    // A high surrogate: combine with a following `\uDC00`-`\uDFFF`.
                    let lo = body
                        .get(i..i + 2)
                        .filter(|p| *p == b"\\u")
                        .and_then(|_| body.get(i + 2..i + 6))
                        .and_then(hex4)
                        .filter(|lo| (0xdc00..0xe000).contains(lo));
                    match lo {
                        Some(lo) => {
                            i += 6;
                            char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))?
                        }
                        None => {
                            f(Piece::Lone(u16::try_from(hi).ok()?));
                            continue;
                        }
                    }
                } else if let Some(c) = char::from_u32(hi) {
                    c
                } else {
                    // A lone low surrogate.
                    f(Piece::Lone(u16::try_from(hi).ok()?));
                    continue;
                }
            }
            _ => return None,
        };
        f(Piece::Char(c));
    }
    Some(())
}

/// Decodes the body of a JSON string literal (the bytes between the quotes, already
/// validated by the scanner). Lone surrogates, which a Rust string cannot hold, become
/// U+FFFD. Returns `None` only if `body` was not validated (never for scanner output).
pub(crate) fn unescape(body: &[u8]) -> Option<Cow<'_, str>> {
    if !body.contains(&b'\\') {
        return std::str::from_utf8(body).ok().map(Cow::Borrowed);
    }
    unescape_lossy(body).map(|(s, _)| s)
}

/// [`unescape`], also telling whether a lone surrogate was replaced by U+FFFD.
pub(crate) fn unescape_lossy(body: &[u8]) -> Option<(Cow<'_, str>, bool)> {
    if !body.contains(&b'\\') {
        return std::str::from_utf8(body)
            .ok()
            .map(|s| (Cow::Borrowed(s), false));
    }
    let mut out = String::with_capacity(body.len());
    let mut lone = false;
    decode_body(body, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Char(c) => out.push(c),
        Piece::Lone(_) => {
            lone = true;
            out.push(char::REPLACEMENT_CHARACTER);
        }
    })?;
    Some((Cow::Owned(out), lone))
}

/// Writes the string literal whose (validated) body is `body` as `JSON.stringify` writes
/// that string, quotes included: the escapes of [`write::write_str`], and lone surrogates
/// as `\udxxx` (lower-case hex), which is how JavaScript writes them.
pub(crate) fn write_canonical_string<B: bytes::BufMut>(out: &mut B, body: &[u8]) -> Option<()> {
    let mut text = String::with_capacity(body.len());
    let mut pending = Vec::new();
    // Collect first: `body` is validated, so this only fails on scanner misuse, and then
    // nothing is written.
    decode_body(body, |piece| match piece {
        Piece::Text(t) => text.push_str(t),
        Piece::Char(c) => text.push(c),
        Piece::Lone(u) => pending.push((text.len(), u)),
    })?;
    out.put_u8(b'"');
    let mut from = 0;
    for (at, unit) in pending {
        write::write_str_body(out, &text[from..at]);
        out.put_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.put_u8(b"0123456789abcdef"[usize::from((unit >> shift) & 0xf)]);
        }
        from = at;
    }
    write::write_str_body(out, &text[from..]);
    out.put_u8(b'"');
    Some(())
}

fn hex4(h: &[u8]) -> Option<u32> {
    if h.len() != 4 {
        return None;
    }
    h.iter().try_fold(0u32, |acc, &b| {
        let d = char::from(b).to_digit(16)?;
        Some(acc * 16 + d)
    })
}

/// Whether `key` is an array index (`"0"` ... `"4294967294"` in canonical form). JavaScript
/// objects enumerate such keys first, in ascending numeric order, before all other keys in
/// insertion order; `JSON.stringify` and the binary placeholder numbering follow that order.
pub(crate) fn array_index(key: &str) -> Option<u32> {
    array_index_bytes(key.as_bytes())
}

/// [`array_index`] of a key given as bytes.
pub(crate) fn array_index_bytes(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    let mut n: u64 = 0;
    for &d in b {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(d - b'0');
    }
    // 2^32 - 1 is not an array index.
    if n < u64::from(u32::MAX) {
        u32::try_from(n).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes() {
        let u = |s: &str| unescape(s.as_bytes()).unwrap().into_owned();
        assert_eq!(u("plain"), "plain");
        assert!(matches!(unescape(b"plain"), Some(Cow::Borrowed(_))));
        assert_eq!(u(r#"a\"b\\c\/d\b\f\n\r\t"#), "a\"b\\c/d\u{8}\u{c}\n\r\t");
        assert_eq!(u(r"\u0041\u00e9é"), "Aéé");
        assert_eq!(u(r"\ud83d\ude00"), "😀");
        assert_eq!(u(r"\ud800"), "\u{fffd}");
        assert_eq!(u(r"\ud800x"), "\u{fffd}x");
        assert_eq!(u(r"\udc00\ud800"), "\u{fffd}\u{fffd}");
        assert_eq!(u(r"\ud800\u0041"), "\u{fffd}A");
        assert_eq!(u(r"disconn\u0065ct"), "disconnect");
        assert_eq!(unescape(br"\x"), None);
        assert_eq!(unescape(br"\u12"), None);
        assert_eq!(unescape(b"\\"), None);
    }

    #[test]
    fn array_indices() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("42"), Some(42));
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        for k in [
            "",
            "01",
            "-1",
            "1.0",
            "4294967295",
            "99999999999",
            "a",
            " 1",
            "+1",
        ] {
            assert_eq!(array_index(k), None, "{k:?}");
        }
    }
}
