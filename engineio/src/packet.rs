//! Engine.IO v4 packets: the seven packet types and their text/binary encodings.
//!
//! A text packet is one ASCII type digit followed by UTF-8 data (`4hello`, `2probe`, `6`).
//! A binary packet is always a `message`: over WebSocket it is the raw bytes of a binary
//! frame (no type prefix in v4); over polling it is `b` followed by standard base64.
//!
//! Outgoing packets are built once as a [`Frame`] (the encoded bytes, cheap to clone) so a
//! broadcast shares one buffer between every recipient.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeError;

/// The Engine.IO packet types (the first character of a text packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: sent by the server with the handshake data.
    Open,
    /// `1`: closes the transport.
    Close,
    /// `2`: heartbeat request (server to client in v4; `2probe` during the upgrade).
    Ping,
    /// `3`: heartbeat answer (`3probe` during the upgrade).
    Pong,
    /// `4`: application data.
    Message,
    /// `5`: completes the upgrade to WebSocket.
    Upgrade,
    /// `6`: no-op, releases a pending long-poll during the upgrade.
    Noop,
}

impl PacketType {
    /// The wire character of this type.
    pub const fn as_char(self) -> u8 {
        match self {
            PacketType::Open => b'0',
            PacketType::Close => b'1',
            PacketType::Ping => b'2',
            PacketType::Pong => b'3',
            PacketType::Message => b'4',
            PacketType::Upgrade => b'5',
            PacketType::Noop => b'6',
        }
    }

    /// Parses a wire character.
    pub const fn from_char(c: u8) -> Option<Self> {
        Some(match c {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return None,
        })
    }
}

/// A decoded Engine.IO packet.
///
/// `data` of a text packet is a zero-copy slice of the received buffer and is always valid
/// UTF-8 (it comes from a UTF-8 checked frame or body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// A text packet of the given type with its data (possibly empty).
    Text(PacketType, Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Packet {
    /// Decodes one text packet (a WebSocket text frame or one polling record).
    ///
    /// `b<base64>` decodes as a binary message, as the reference parser does, in both
    /// transports. The input must already be known to be UTF-8.
    pub fn decode_text(text: Bytes) -> Result<Packet, DecodeError> {
        let Some(&first) = text.first() else {
            return Err(DecodeError::Empty);
        };
        if first == b'b' {
            return decode_base64(&text[1..]).map(Packet::Binary);
        }
        match PacketType::from_char(first) {
            Some(kind) => Ok(Packet::Text(kind, text.slice(1..))),
            None => Err(DecodeError::UnknownType(first)),
        }
    }

    /// Encodes this packet as a text record (polling) or text frame (`b`+base64 for binary).
    pub fn encode_text(&self, out: &mut BytesMut) {
        match self {
            Packet::Text(kind, data) => {
                out.put_u8(kind.as_char());
                out.extend_from_slice(data);
            }
            Packet::Binary(data) => {
                out.put_u8(b'b');
                encode_base64(data, out);
            }
        }
    }
}

fn decode_base64(input: &[u8]) -> Result<Bytes, DecodeError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(input)
        .map(Bytes::from)
        .map_err(|_| DecodeError::InvalidBase64)
}

/// Appends standard base64 (with padding) of `data` to `out`.
pub(crate) fn encode_base64(data: &[u8], out: &mut BytesMut) {
    use base64::Engine as _;
    let start = out.len();
    let len = base64::encoded_len(data.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(data, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
}

/// An encoded outgoing packet, ready to be written to any transport.
///
/// Cloning a `Frame` clones a reference-counted [`Bytes`]: build a broadcast's frame once
/// and hand clones to every session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A full text packet including its type digit (e.g. `4hello`, `2`, `3probe`).
    ///
    /// Invariant: valid UTF-8 and non-empty, first byte a packet type digit.
    Text(Bytes),
    /// A binary message (raw bytes; `b`+base64 over polling).
    Binary(Bytes),
}

impl Frame {
    /// A `message` packet with the given text (`4` + text), allocated once.
    pub fn message(text: &str) -> Frame {
        let mut buf = BytesMut::with_capacity(text.len() + 1);
        buf.put_u8(b'4');
        buf.extend_from_slice(text.as_bytes());
        Frame::Text(buf.freeze())
    }

    /// A `message` packet whose bytes (`4` + text) the caller has already encoded.
    ///
    /// Returns `None` unless `encoded` is valid UTF-8 starting with `4`: this is how the
    /// Socket.IO layer builds its frames in one buffer without a copy.
    pub fn from_encoded_message(encoded: Bytes) -> Option<Frame> {
        if encoded.first() != Some(&b'4') || std::str::from_utf8(&encoded).is_err() {
            return None;
        }
        Some(Frame::Text(encoded))
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Frame {
        Frame::Binary(data.into())
    }

    /// A text packet of a control type with static data (`2`, `3probe`, `6`, `1`).
    pub(crate) const fn control(bytes: &'static [u8]) -> Frame {
        Frame::Text(Bytes::from_static(bytes))
    }

    /// Bytes this frame occupies in memory queues (its payload length).
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(b) | Frame::Binary(b) => b.len(),
        }
    }

    /// True for an empty binary frame (text frames are never empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends this frame as one polling record (binary as `b`+base64).
    pub fn encode_polling(&self, out: &mut BytesMut) {
        match self {
            Frame::Text(b) => out.extend_from_slice(b),
            Frame::Binary(b) => {
                out.put_u8(b'b');
                encode_base64(b, out);
            }
        }
    }
}

/// Frames the session core sends on its own.
pub(crate) mod control {
    use super::Frame;
    pub(crate) const PING: Frame = Frame::control(b"2");
    pub(crate) const PONG_PROBE: Frame = Frame::control(b"3probe");
    pub(crate) const CLOSE: Frame = Frame::control(b"1");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &'static str) -> Result<Packet, DecodeError> {
        Packet::decode_text(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn decodes_every_text_type() {
        assert_eq!(
            dec("0{}"),
            Ok(Packet::Text(PacketType::Open, Bytes::from_static(b"{}")))
        );
        assert_eq!(dec("1"), Ok(Packet::Text(PacketType::Close, Bytes::new())));
        assert_eq!(
            dec("2probe"),
            Ok(Packet::Text(PacketType::Ping, Bytes::from_static(b"probe")))
        );
        assert_eq!(dec("3"), Ok(Packet::Text(PacketType::Pong, Bytes::new())));
        assert_eq!(
            dec("4hello"),
            Ok(Packet::Text(
                PacketType::Message,
                Bytes::from_static(b"hello")
            ))
        );
        assert_eq!(
            dec("5"),
            Ok(Packet::Text(PacketType::Upgrade, Bytes::new()))
        );
        assert_eq!(dec("6"), Ok(Packet::Text(PacketType::Noop, Bytes::new())));
        assert_eq!(
            dec("4€"),
            Ok(Packet::Text(PacketType::Message, Bytes::from("€")))
        );
    }

    #[test]
    fn decodes_base64_binary() {
        assert_eq!(
            dec("bAQIDBA=="),
            Ok(Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])))
        );
        assert_eq!(dec("b"), Ok(Packet::Binary(Bytes::new())));
        assert_eq!(dec("b!!"), Err(DecodeError::InvalidBase64));
        assert_eq!(dec("bAQIDBA"), Err(DecodeError::InvalidBase64));
    }

    #[test]
    fn rejects_bad_packets() {
        assert_eq!(dec(""), Err(DecodeError::Empty));
        assert_eq!(dec("abc"), Err(DecodeError::UnknownType(b'a')));
        assert_eq!(dec("7"), Err(DecodeError::UnknownType(b'7')));
    }

    #[test]
    fn encodes() {
        let mut out = BytesMut::new();
        Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])).encode_text(&mut out);
        assert_eq!(&out[..], b"bAQIDBA==");
        out.clear();
        Frame::message("hello").encode_polling(&mut out);
        Frame::binary(vec![1u8, 2, 3]).encode_polling(&mut out);
        assert_eq!(&out[..], b"4hellobAQID");
        assert_eq!(
            Frame::from_encoded_message(Bytes::from_static(b"4x")),
            Some(Frame::Text(Bytes::from_static(b"4x")))
        );
        assert_eq!(Frame::from_encoded_message(Bytes::from_static(b"2")), None);
    }
}
