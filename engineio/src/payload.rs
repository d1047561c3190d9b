//! Polling payloads: packets joined by the record separator `0x1E`.
//!
//! There is no length prefix (v4); the body is UTF-8 text and binary packets are
//! `b`+base64 records. As in the reference parser, decoding stops at the first bad record
//! and an empty record (an empty body, a trailing or doubled separator) is an error.

use bytes::{Bytes, BytesMut};

use crate::error::DecodeError;
use crate::packet::{Frame, Packet};

/// The record separator between packets of a polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// The result of decoding a polling body: the packets before the first bad record, and
/// the error that stopped decoding, if any. The packets before an error are still
/// processed (the reference server does so) and then the session is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The well-formed packets, in order.
    pub packets: Vec<Packet>,
    /// Why decoding stopped early.
    pub error: Option<DecodeError>,
}

/// Decodes a polling POST body.
pub fn decode(body: Bytes) -> Decoded {
    let mut packets = Vec::new();
    if std::str::from_utf8(&body).is_err() {
        return Decoded {
            packets,
            error: Some(DecodeError::InvalidUtf8),
        };
    }
    let mut start = 0;
    loop {
        let end = body[start..]
            .iter()
            .position(|&b| b == SEPARATOR)
            .map_or(body.len(), |i| start + i);
        match Packet::decode_text(body.slice(start..end)) {
            Ok(p) => packets.push(p),
            Err(e) => {
                return Decoded {
                    packets,
                    error: Some(e),
                };
            }
        }
        if end == body.len() {
            return Decoded {
                packets,
                error: None,
            };
        }
        start = end + 1;
    }
}

/// Encodes frames as one polling payload, in order.
pub fn encode<'a>(frames: impl IntoIterator<Item = &'a Frame>, out: &mut BytesMut) {
    for (i, f) in frames.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(&[SEPARATOR]);
        }
        f.encode_polling(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::PacketType;
    use proptest::prelude::*;

    #[test]
    fn decodes_mixed_payload() {
        let d = decode(Bytes::from_static(b"4hello\x1e2\x1ebAQIDBA=="));
        assert_eq!(d.error, None);
        assert_eq!(
            d.packets,
            vec![
                Packet::Text(PacketType::Message, Bytes::from_static(b"hello")),
                Packet::Text(PacketType::Ping, Bytes::new()),
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
            ]
        );
    }

    #[test]
    fn stops_at_first_bad_record() {
        let d = decode(Bytes::from_static(b"4a\x1eabc\x1e4b"));
        assert_eq!(d.packets.len(), 1);
        assert_eq!(d.error, Some(DecodeError::UnknownType(b'a')));
        assert_eq!(decode(Bytes::new()).error, Some(DecodeError::Empty));
        assert_eq!(
            decode(Bytes::from_static(b"4a\x1e")).error,
            Some(DecodeError::Empty)
        );
        assert_eq!(
            decode(Bytes::from_static(b"4\xff")).error,
            Some(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn encodes_with_separators() {
        let mut out = BytesMut::new();
        encode(
            &[
                Frame::message("test1"),
                Frame::message("test2"),
                Frame::binary(vec![1u8, 2, 3, 4]),
            ],
            &mut out,
        );
        assert_eq!(&out[..], b"4test1\x1e4test2\x1ebAQIDBA==");
    }

    fn frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            "[^\u{1e}]*".prop_map(|s| Frame::message(&s)),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(Frame::binary),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip(frames in proptest::collection::vec(frame(), 1..8)) {
            let mut out = BytesMut::new();
            encode(&frames, &mut out);
            let d = decode(out.freeze());
            prop_assert_eq!(d.error, None);
            let back: Vec<Frame> = d.packets.into_iter().map(|p| match p {
                Packet::Text(PacketType::Message, data) => Frame::message(std::str::from_utf8(&data).unwrap()),
                Packet::Binary(b) => Frame::Binary(b),
                other => panic!("unexpected {other:?}"),
            }).collect();
            prop_assert_eq!(back, frames);
        }

        #[test]
        fn decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(Bytes::from(body));
        }
    }
}
