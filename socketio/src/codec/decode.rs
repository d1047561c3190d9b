//! The text packet decoder: `<type>[<attachments>-][<nsp>,][<ackId>][<JSON>]`.

use bytes::Bytes;
use nom::bytes::complete::{take, take_till};
use nom::character::complete::{char, digit1};
use nom::combinator::{map_opt, opt, recognize};
use nom::sequence::{preceded, terminated};
use nom::{IResult, Parser};
use std::ops::Range;

use super::error::DecodeError;
use crate::json::scan::{JsonKind, scan_document};
use crate::json::unescape;
use crate::packet::{EventName, Namespace, Packet, PacketType, PayloadParts, is_reserved_event};
use crate::raw::{DEFAULT_MAX_DEPTH, RawArgs, RawJson, Utf8Bytes, trim};

/// Decoder limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    /// The most binary attachments one packet may announce. Default 10, the
    /// socket.io-parser `maxAttachments` default: each attachment is buffered until the
    /// last one arrives, so the count bounds per-connection memory.
    pub max_attachments: usize,
    /// The deepest nesting of arrays and objects accepted in a payload. Default 128 (as in
    /// serde_json): deep enough for any real payload, shallow enough that recursive
    /// consumers cannot overflow the stack.
    pub max_depth: usize,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_attachments: 10,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// A text packet decoder with its limits, for
/// `<type>[<attachments>-][<nsp>,][<ackId>][<JSON>]`.
///
/// The header grammar is parsed with nom; the payload with the crate's JSON scanner. The
/// rules are those of the published socket.io-parser 4.2.7 `Decoder.decodeString`
/// (`build/cjs/index.js`), which the reference server uses:
///
/// 1. `type`: one digit `0`-`6`.
/// 2. BINARY_EVENT/BINARY_ACK only: decimal digits up to a `-`; the count must be ≥ 1
///    (`50-` fails) and ≤ [`DecoderConfig::max_attachments`] (10).
/// 3. If the next character is `/`, the namespace runs to the first `,` (consumed) **or to
///    the end of the text**: `40/custom` is CONNECT to `/custom`. Otherwise the nsp is `/`.
/// 4. If the next character is a digit, the ack id is all the following digits.
/// 5. Anything left is one JSON value (surrounding whitespace allowed, as `JSON.parse`
///    allows it), whose shape must suit the type: CONNECT an object; DISCONNECT nothing;
///    CONNECT_ERROR a string or an object; EVENT/BINARY_EVENT a non-empty array whose first
///    element is a number or a string that is not reserved; ACK/BINARY_ACK an array. The
///    payload may be absent for every type (as in the reference).
///
/// Where the reference is *more* lenient by accident of JavaScript's `Number()` coercion,
/// this decoder rejects: a whitespace type character (`" {}"` is CONNECT in JS), attachment
/// counts written other than as plain digits (`50x1-`, `51e0-`, `5 1-`, `5+1-`, `52.0-`),
/// whitespace where an ack id would start (`2 ["a"]` has ack id 0 in JS; whitespace *after*
/// the id digits is accepted, as in JS: `21 ` is EVENT id 1), ack ids beyond
/// `u64::MAX` (JS rounds them to a float), and JSON nested deeper than
/// [`DecoderConfig::max_depth`]. An empty text is rejected too: the reference parser would
/// read `""` as CONNECT, but the reference server never passes it one (a bare Engine.IO `4`
/// arrives as `undefined` and closes the connection). None of these can come from a
/// socket.io-parser encoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoder {
    config: DecoderConfig,
}

/// Decodes one Socket.IO text packet with the default limits. See [`Decoder::decode`].
pub fn decode(input: Bytes) -> Result<Packet, DecodeError> {
    Decoder::default().decode(input)
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(config: DecoderConfig) -> Self {
        Decoder { config }
    }

    /// The limits.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Decodes one Socket.IO text packet: the text of one Engine.IO message, without the
    /// Engine.IO `4` prefix. The namespace, event name and payload of the result are
    /// slices of `input` (no copy).
    ///
    /// Call it for every text message of a connection; for BINARY_EVENT/BINARY_ACK the
    /// attachments follow as binary messages, which the
    /// [`Reassembler`](crate::codec::Reassembler) collects.
    pub fn decode(&self, input: Bytes) -> Result<Packet, DecodeError> {
        if input.is_empty() {
            return Err(DecodeError::Empty);
        }
        let Ok(text) = std::str::from_utf8(&input) else {
            return Err(DecodeError::InvalidUtf8);
        };
        let len = input.len();
        let pos = |rest: &[u8]| len - rest.len();

        let (rest, packet_type) =
            packet_type(&input[..]).map_err(|_| DecodeError::UnknownPacketType)?;

        let (rest, attachments) = if packet_type.is_binary() {
            let (rest, digits) =
                attachment_count(rest).map_err(|_| DecodeError::InvalidAttachments)?;
            let count = digits_to_u64(digits).unwrap_or(u64::MAX);
            if count == 0 {
                return Err(DecodeError::InvalidAttachments);
            }
            let max = self.config.max_attachments;
            match usize::try_from(count) {
                Ok(n) if n <= max => (rest, n),
                _ => return Err(DecodeError::TooManyAttachments { count, max }),
            }
        } else {
            (rest, 0)
        };

        let nsp_start = pos(rest);
        let (rest, nsp) = match namespace(rest) {
            Ok((rest, Some(name))) => {
                let name = input.slice(nsp_start..nsp_start + name.len());
                (rest, Namespace::from_decoded(name))
            }
            _ => (rest, Namespace::main()),
        };

        let (rest, ack_id) = match rest.first() {
            Some(b'0'..=b'9') => {
                let (rest, digits) = ack_id(rest).map_err(|_| DecodeError::InvalidAckId)?;
                let id = digits_to_u64(digits).ok_or(DecodeError::InvalidAckId)?;
                // The reference reads the id as `Number()` of the run of digits *and
                // whitespace* that follows, so whitespace after the digits belongs to the
                // id (`21 ` is EVENT id 1 without payload); more digits after that
                // whitespace would make the id NaN.
                let after = text.get(pos(rest)..).unwrap_or_default();
                let after = after.trim_start_matches(is_js_whitespace);
                if after.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(DecodeError::InvalidAckId);
                }
                (after.as_bytes(), Some(id))
            }
            // JS `Number(" ") == " "` holds for every whitespace character, so the
            // reference would parse an ack id here (`2 ["a"]` has id 0).
            _ if text
                .get(pos(rest)..)
                .is_some_and(|t| t.starts_with(is_js_whitespace)) =>
            {
                return Err(DecodeError::InvalidAckId);
            }
            _ => (rest, None),
        };

        let payload = if rest.is_empty() {
            None
        } else {
            Some(validate_payload(
                &input,
                pos(rest)..len,
                packet_type,
                self.config.max_depth,
            )?)
        };
        Ok(Packet::from_decoded(
            packet_type,
            nsp,
            ack_id,
            attachments,
            payload,
        ))
    }
}

/// JavaScript's `StrWhiteSpaceChar` (WhiteSpace and LineTerminator), which `Number()`
/// trims: this differs from Rust's `char::is_whitespace` in U+FEFF (JS only) and U+0085
/// (Rust only).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | ' '
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
            | '\u{feff}'
    )
}

type Res<'a, T> = IResult<&'a [u8], T, ()>;

/// `0`-`6`
fn packet_type(i: &[u8]) -> Res<'_, PacketType> {
    map_opt(take(1usize), |d: &[u8]| {
        d.first().copied().and_then(PacketType::from_digit)
    })
    .parse(i)
}

/// `<digits>-`
fn attachment_count(i: &[u8]) -> Res<'_, &[u8]> {
    terminated(digit1, char('-')).parse(i)
}

/// `[/<anything but ,>[,]]`: the name, or `None` when the text does not continue with `/`.
fn namespace(i: &[u8]) -> Res<'_, Option<&[u8]>> {
    opt(terminated(
        recognize(preceded(char('/'), take_till(|b| b == b','))),
        opt(char(',')),
    ))
    .parse(i)
}

/// `<digits>`
fn ack_id(i: &[u8]) -> Res<'_, &[u8]> {
    digit1(i)
}

/// Decimal digits to u64; `None` on overflow.
fn digits_to_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?
            .checked_add(u64::from(d.wrapping_sub(b'0')))
    })
}

/// Validates `buf[range]` as the payload of a `packet_type` packet and extracts the event
/// name and arguments. The returned values are slices of `buf`.
pub(crate) fn validate_payload(
    buf: &Bytes,
    range: Range<usize>,
    packet_type: PacketType,
    max_depth: usize,
) -> Result<(RawJson, PayloadParts), DecodeError> {
    let invalid = DecodeError::InvalidPayload(packet_type);
    if packet_type == PacketType::Disconnect {
        return Err(invalid);
    }
    let base = range.start;
    let text = buf.get(range).ok_or(DecodeError::Empty)?;
    let doc = scan_document(text, max_depth)?;
    let raw = RawJson::from_scanned(buf.slice(base + doc.start..base + doc.end), doc.canonical);
    let mut parts = PayloadParts::default();
    match packet_type {
        PacketType::Connect if doc.kind == JsonKind::Object => {}
        PacketType::ConnectError if matches!(doc.kind, JsonKind::String | JsonKind::Object) => {}
        PacketType::Event | PacketType::BinaryEvent => {
            let array = doc.array.ok_or(invalid.clone())?;
            let first = array.first.ok_or(invalid.clone())?;
            let name_text = &text[first.start..first.end];
            parts.name = Some(match first.kind {
                JsonKind::String => {
                    let body = &name_text[1..name_text.len() - 1];
                    let name = unescape(body).ok_or(invalid.clone())?;
                    if is_reserved_event(&name) {
                        return Err(DecodeError::ReservedEventName);
                    }
                    EventName::Str(match name {
                        std::borrow::Cow::Borrowed(_) => Utf8Bytes::from_validated(
                            buf.slice(base + first.start + 1..base + first.end - 1),
                        ),
                        std::borrow::Cow::Owned(s) => Utf8Bytes::from(s),
                    })
                }
                JsonKind::Number => EventName::Number(
                    std::str::from_utf8(name_text)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                        .ok_or(invalid.clone())?,
                ),
                _ => return Err(invalid),
            });
            // Skip the separator after the name, if any.
            let mut start = first.end;
            while start < array.close && text[start] != b',' {
                start += 1;
            }
            let start = (start + 1).min(array.close);
            let (s, e) = trim(text, start, array.close);
            parts.args = Some(RawArgs::from_validated(
                buf.slice(base + s..base + e),
                array.len - 1,
                array.tail_canonical,
            ));
        }
        PacketType::Ack | PacketType::BinaryAck => {
            let array = doc.array.ok_or(invalid)?;
            let (s, e) = trim(text, array.open_end, array.close);
            parts.args = Some(RawArgs::from_validated(
                buf.slice(base + s..base + e),
                array.len,
                array.all_canonical,
            ));
        }
        _ => return Err(invalid),
    }
    Ok((raw, parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Result<Packet, DecodeError> {
        decode(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn header_fields() {
        let p = dec("61-/admin,15[\"bar\",{\"_placeholder\":true,\"num\":0}]").unwrap();
        assert_eq!(p.packet_type(), PacketType::BinaryAck);
        assert_eq!(p.attachments(), 1);
        assert_eq!(p.nsp(), "/admin");
        assert_eq!(p.ack_id(), Some(15));
        assert_eq!(p.args().unwrap().len(), 2);
    }

    #[test]
    fn payload_slices_share_the_input() {
        let input = Bytes::from_static(b"2/admin,1[\"foo\",1,\"2\"]");
        let p = decode(input.clone()).unwrap();
        let inside = |b: &[u8]| {
            let r = input.as_ptr_range();
            r.contains(&b.as_ptr())
        };
        assert!(inside(p.nsp().as_str().as_bytes()));
        assert!(inside(p.payload().unwrap().as_bytes()));
        assert!(inside(p.args().unwrap().as_bytes()));
        assert!(inside(p.event_name().unwrap().as_str().unwrap().as_bytes()));
    }

    #[test]
    fn event_name_and_args() {
        let p = dec("2[ \"foo\" , 1 , [2] ]").unwrap();
        assert_eq!(p.event_name().unwrap(), "foo");
        assert_eq!(p.args().unwrap().as_str(), "1 , [2]");
        assert_eq!(p.args().unwrap().len(), 2);
        let p = dec("2[\"foo\"]").unwrap();
        assert!(p.args().unwrap().is_empty());
        assert_eq!(p.args().unwrap().as_str(), "");
        let p = dec("2[\"a\\u0062\\n\"]").unwrap();
        assert_eq!(p.event_name().unwrap(), "ab\n");
        let p = dec("2[\"\\ud800\"]").unwrap();
        assert_eq!(p.event_name().unwrap(), "\u{fffd}");
        let p = dec("2[1e400,2]").unwrap();
        assert_eq!(p.event_name(), Some(&EventName::Number(f64::INFINITY)));
        let p = dec("3[ ]").unwrap();
        assert_eq!(p.args().unwrap().len(), 0);
    }

    #[test]
    fn limits_are_configurable() {
        let d = Decoder::new(DecoderConfig {
            max_attachments: 2,
            max_depth: 3,
        });
        assert!(d.decode(Bytes::from_static(b"52-[\"a\"]")).is_ok());
        assert_eq!(
            d.decode(Bytes::from_static(b"53-[\"a\"]")),
            Err(DecodeError::TooManyAttachments { count: 3, max: 2 })
        );
        assert!(d.decode(Bytes::from_static(b"2[\"a\",[[1]]]")).is_ok());
        assert_eq!(
            d.decode(Bytes::from_static(b"2[\"a\",[[[1]]]]")),
            Err(DecodeError::InvalidJson(crate::raw::JsonError::TooDeep {
                max_depth: 3
            }))
        );
        assert_eq!(d.config().max_attachments, 2);
    }

    #[test]
    fn digit_parsing() {
        assert_eq!(digits_to_u64(b"0"), Some(0));
        assert_eq!(digits_to_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(digits_to_u64(b"18446744073709551616"), None);
        assert_eq!(
            dec("518446744073709551616-[\"a\"]"),
            Err(DecodeError::TooManyAttachments {
                count: u64::MAX,
                max: 10
            })
        );
        assert_eq!(
            dec("218446744073709551615").unwrap().ack_id(),
            Some(u64::MAX)
        );
        assert_eq!(dec("218446744073709551616"), Err(DecodeError::InvalidAckId));
    }
}
