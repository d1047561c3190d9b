//! JSON output that is byte-identical to JavaScript's `JSON.stringify`.
//!
//! - Strings (ECMA-262 `QuoteJSONString`): `"` and `\` are escaped as `\"` and `\\`;
//!   U+0008, U+0009, U+000A, U+000C, U+000D as `\b \t \n \f \r`; every other code point
//!   below U+0020 as `\u00xx` with lower-case hex; everything else (DEL, U+2028, U+2029,
//!   all non-ASCII) is written as raw UTF-8. JavaScript also escapes lone surrogates as
//!   `\udxxx`, which a Rust `str` cannot hold, so for valid UTF-8 the output is identical.
//!   (serde_json's escaping is the same, but its float formatting is not, hence this module.)
//! - Numbers (ECMA-262 `Number::toString`): the shortest digits that round-trip, laid out
//!   as JavaScript does (`1000`, `0.1`, `1e-7`, `1.5e+21`, `123456789012345680000`);
//!   `-0` as `0`; NaN and ±Infinity as `null`, as `JSON.stringify` does.

use bytes::BufMut;
use std::io::Write as _;

/// Escape table: 0 = copy as is, `u` = `\u00xx`, anything else = `\` + that byte.
const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `s` as a JSON string literal, quotes included.
pub(crate) fn write_str<B: BufMut>(out: &mut B, s: &str) {
    out.put_u8(b'"');
    write_str_body(out, s);
    out.put_u8(b'"');
}

/// Writes `s` escaped as in a JSON string literal, without the quotes.
pub(crate) fn write_str_body<B: BufMut>(out: &mut B, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = ESCAPE[usize::from(b)];
        if esc == 0 {
            continue;
        }
        out.put_slice(&bytes[start..i]);
        if esc == b'u' {
            out.put_slice(b"\\u00");
            out.put_u8(HEX[usize::from(b >> 4)]);
            out.put_u8(HEX[usize::from(b & 0xf)]);
        } else {
            out.put_u8(b'\\');
            out.put_u8(esc);
        }
        start = i + 1;
    }
    out.put_slice(&bytes[start..]);
}

/// Writes an unsigned integer in decimal.
pub(crate) fn write_u64<B: BufMut>(out: &mut B, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&buf[i..]);
}

/// Writes a signed integer in decimal.
pub(crate) fn write_i64<B: BufMut>(out: &mut B, n: i64) {
    if n < 0 {
        out.put_u8(b'-');
    }
    write_u64(out, n.unsigned_abs());
}

/// Writes `f` as `JSON.stringify` does.
pub(crate) fn write_f64<B: BufMut>(out: &mut B, f: f64) {
    if !f.is_finite() {
        out.put_slice(b"null");
        return;
    }
    if f == 0.0 {
        // Both +0 and -0.
        out.put_u8(b'0');
        return;
    }
    // Rust's `{:e}` gives the shortest digits that round-trip (like JS), in the form
    // `[-]d[.ddd]e[-]x`. At most 24 bytes for an f64.
    let mut buf = [0u8; 40];
    let Some(mut len) = format_into(&mut buf, format_args!("{f:e}")) else {
        out.put_slice(b"null");
        return;
    };
    // When two candidates with that many digits are equally close to the exact value,
    // JavaScript takes the even one (ECMA-262 Number::toString, note 2); Rust's shortest
    // mode may take the other. The exactly rounded (half-even) form with the same digit
    // count is then the JS answer, if it still round-trips. Ties need 16+ digits.
    let k = buf[..len]
        .iter()
        .take_while(|&&b| b != b'e')
        .filter(|b| b.is_ascii_digit())
        .count();
    if k >= 16 {
        let mut exact = [0u8; 40];
        if let Some(exact_len) = format_into(&mut exact, format_args!("{:.*e}", k - 1, f)) {
            let round_trips = std::str::from_utf8(&exact[..exact_len])
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                == Some(f);
            if round_trips && exact[..exact_len] != buf[..len] {
                buf = exact;
                len = exact_len;
            }
        }
    }
    let text = &buf[..len];
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let Some(e_pos) = text.iter().position(|&b| b == b'e') else {
        out.put_slice(b"null");
        return;
    };
    let (mantissa, exp) = (&text[..e_pos], &text[e_pos + 1..]);
    let mut digits = [0u8; 20];
    let mut k = 0;
    for &b in mantissa {
        if b.is_ascii_digit() && k < digits.len() {
            digits[k] = b;
            k += 1;
        }
    }
    let digits = &digits[..k];
    let exp: i32 = std::str::from_utf8(exp)
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    if negative {
        out.put_u8(b'-');
    }
    layout(out, digits, exp + 1);
}

/// Formats into a stack buffer; `None` if it does not fit.
fn format_into(buf: &mut [u8; 40], args: std::fmt::Arguments<'_>) -> Option<usize> {
    let mut cursor = &mut buf[..];
    cursor.write_fmt(args).ok()?;
    Some(40 - cursor.len())
}

/// ECMA-262 `Number::toString` step 6-10: `digits` (k of them, no leading zero) times
/// 10^(n-k).
fn layout<B: BufMut>(out: &mut B, digits: &[u8], n: i32) {
    // k is at most 17 for an f64.
    let k = digits.len() as i32;
    if k <= n && n <= 21 {
        out.put_slice(digits);
        for _ in 0..(n - k) {
            out.put_u8(b'0');
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.put_slice(int);
        out.put_u8(b'.');
        out.put_slice(frac);
    } else if -6 < n && n <= 0 {
        out.put_slice(b"0.");
        for _ in 0..(-n) {
            out.put_u8(b'0');
        }
        out.put_slice(digits);
    } else {
        let e = n - 1;
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.put_slice(first);
        if !rest.is_empty() {
            out.put_u8(b'.');
            out.put_slice(rest);
        }
        out.put_u8(b'e');
        out.put_u8(if e < 0 { b'-' } else { b'+' });
        write_u64(out, u64::from(e.unsigned_abs()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    fn f(v: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_match_json_stringify() {
        // Expected output produced by node 20: JSON.stringify(s).
        let mut all = String::new();
        for c in 0u8..0x20 {
            all.push(char::from(c));
        }
        all.push_str("\"\\/\u{7f}\u{2028}\u{2029}é😀");
        assert_eq!(
            s(&all),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\
             \\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\
             \\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\\"\\\\/\u{7f}\u{2028}\u{2029}é😀\""
        );
        assert_eq!(s(""), "\"\"");
        assert_eq!(s("plain"), "\"plain\"");
    }

    #[test]
    fn strings_match_serde_json_for_valid_utf8() {
        let mut all = String::new();
        for c in (0u32..0x800).chain([0x2028, 0x2029, 0xfeff, 0x1f600]) {
            if let Some(c) = char::from_u32(c) {
                all.push(c);
            }
        }
        assert_eq!(s(&all), serde_json::to_string(&all).unwrap());
    }

    #[test]
    fn numbers_match_json_stringify() {
        // Expected output produced by node 20: JSON.stringify(n).
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (1000.0, "1000"),
            (-1.25, "-1.25"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001234, "0.000001234"),
            (12345678.9, "12345678.9"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e300, "1e+300"),
            (9007199254740992.0, "9007199254740992"),
            (18446744073709552000.0, "18446744073709552000"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            // Ties between two shortest candidates go to the even digit, as in V8.
            (f64::from_bits(0x42a308fab06d4820), "10464643266212.062"),
            (31400283528680.562, "31400283528680.562"),
            (-5e-324, "-5e-324"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
            (f64::NEG_INFINITY, "null"),
        ];
        for &(v, want) in cases {
            assert_eq!(f(v), want, "{v:e}");
        }
    }

    #[test]
    fn integers() {
        let mut out = Vec::new();
        write_u64(&mut out, 0);
        out.push(b' ');
        write_u64(&mut out, u64::MAX);
        out.push(b' ');
        write_i64(&mut out, i64::MIN);
        out.push(b' ');
        write_i64(&mut out, -7);
        assert_eq!(out, b"0 18446744073709551615 -9223372036854775808 -7");
    }
}
