//! The encoder (see [`encode_into`]).

use bytes::{BufMut, Bytes, BytesMut};

use super::binary::reconstruct;
use crate::json::write::{write_str, write_u64};
use crate::packet::{Namespace, Packet, PacketType};
use crate::raw::RawArgs;
use crate::value::{BinaryMode, Value, write_value};

/// The Engine.IO `message` type byte, which prefixes every Socket.IO packet on the wire.
pub const MESSAGE_PREFIX: u8 = b'4';

/// The arguments of an outgoing EVENT or ACK.
///
/// Raw arguments are written verbatim when they are
/// [canonical](crate::raw::RawArgs::is_canonical) (what socket.io clients send), and
/// otherwise as the reference server would write them after `JSON.parse`: normalized
/// numbers, escapes, whitespace and key order.
#[derive(Clone, Copy, Debug)]
pub enum Args<'a> {
    /// Raw JSON from a received text packet.
    Raw(&'a RawArgs),
    /// Raw JSON from a received binary packet, whose placeholders refer to `attachments`.
    /// Canonical args are passed through unchanged with their attachments (a zero-copy
    /// binary relay). Other args are reconstructed and written as values, as the
    /// reference server does: the placeholders are renumbered in the order of the
    /// normalized text (object keys in JavaScript order), and the attachments follow
    /// that order.
    RawBinary {
        /// The arguments, placeholders included.
        args: &'a RawArgs,
        /// The attachments the placeholders refer to.
        attachments: &'a [Bytes],
    },
    /// Values; binary at any depth is extracted as attachments.
    Values(&'a [Value]),
}

impl Args<'_> {
    /// For non-canonical binary args, the values the reference server would emit: the
    /// placeholders replaced by their attachments, to be deconstructed again (renumbered
    /// in the order of the normalized text). `None` for other args, and for binary args
    /// built by hand whose placeholders do not check (written normalized, as numbered).
    #[inline]
    fn rebuilt(&self) -> Option<Vec<Value>> {
        match self {
            Args::RawBinary { args, attachments } if !args.is_canonical() => {
                reconstruct_args(args, attachments)
            }
            _ => None,
        }
    }

    fn binary_count(&self) -> usize {
        match self {
            Args::Raw(_) => 0,
            Args::RawBinary { attachments, .. } => attachments.len(),
            Args::Values(values) => values.iter().map(Value::binary_count).sum(),
        }
    }

    /// The bytes [`Args::write`] writes when the text is raw and canonical (a capacity
    /// hint: 0 for values, whose size is not known up front).
    fn raw_len(&self) -> usize {
        match self {
            Args::Raw(a) | Args::RawBinary { args: a, .. } => a.as_bytes().len(),
            Args::Values(_) => 0,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Args::Raw(a) | Args::RawBinary { args: a, .. } => a.is_empty(),
            Args::Values(v) => v.is_empty(),
        }
    }

    /// Writes the elements (comma-separated, no brackets); returns the attachments.
    fn write(&self, out: &mut BytesMut) -> Vec<Bytes> {
        match self {
            Args::Raw(a) => {
                a.write_normalized(out);
                Vec::new()
            }
            Args::RawBinary { args, attachments } => {
                args.write_normalized(out);
                attachments.to_vec()
            }
            Args::Values(values) => {
                let mut buffers = Vec::new();
                let mut mode = BinaryMode::Placeholders(&mut buffers);
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        out.put_u8(b',');
                    }
                    write_value(out, v, &mut mode);
                }
                buffers
            }
        }
    }
}

/// The values of binary args, placeholders replaced by their attachments.
#[inline(never)]
fn reconstruct_args(args: &RawArgs, attachments: &[Bytes]) -> Option<Vec<Value>> {
    match reconstruct(&args.to_array(), attachments) {
        Ok(Value::Array(items)) => Some(items),
        _ => None,
    }
}

/// Number of decimal digits of `n`.
fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn header_len(
    prefix: Option<u8>,
    attachments: Option<usize>,
    nsp: &Namespace,
    ack_id: Option<u64>,
) -> usize {
    usize::from(prefix.is_some())
        + 1
        + attachments.map_or(0, |n| digits(n as u64) + 1)
        + if nsp.is_main() {
            0
        } else {
            nsp.as_str().len() + 1
        }
        + ack_id.map_or(0, digits)
}

fn write_header(
    out: &mut BytesMut,
    prefix: Option<u8>,
    packet_type: PacketType,
    attachments: Option<usize>,
    nsp: &Namespace,
    ack_id: Option<u64>,
) {
    if let Some(p) = prefix {
        out.put_u8(p);
    }
    out.put_u8(packet_type.digit());
    if let Some(n) = attachments {
        write_u64(out, n as u64);
        out.put_u8(b'-');
    }
    if !nsp.is_main() {
        out.put_slice(nsp.as_str().as_bytes());
        out.put_u8(b',');
    }
    if let Some(id) = ack_id {
        write_u64(out, id);
    }
}

/// The exact length of `packet` encoded, without prefix.
pub fn encoded_len(packet: &Packet) -> usize {
    let attachments = packet
        .packet_type()
        .is_binary()
        .then_some(packet.attachments());
    header_len(None, attachments, packet.nsp(), packet.ack_id())
        + packet.payload().map_or(0, |p| p.as_bytes().len())
}

/// Appends `packet` (after `prefix`, if any) to `out`. For BINARY_EVENT/BINARY_ACK this is
/// the text part; the attachments go in the binary messages that follow.
///
/// The payload is written exactly as the packet holds it (for a decoded packet, the
/// received text), so `encode(decode(text))` is `text`. To send a received payload as the
/// reference server would, [normalize](crate::raw::RawJson::normalized) it, or use
/// [`encode_event_into`] / [`encode_ack_into`], which do.
///
/// The encoder, byte-identical to socket.io-parser's `Encoder.encodeAsString`:
///
/// ```text
/// <type>[<attachments>-][<nsp>,][<ackId>][<JSON>]
/// ```
///
/// - `<attachments>-` only for BINARY_EVENT/BINARY_ACK;
/// - `<nsp>,` only when the namespace is not `/`, and then always with the comma, even when
///   nothing follows (`1/admin,`);
/// - the ack id right after; the JSON only when there is a payload.
///
/// Every function appends to a caller-provided `BytesMut`, optionally after one prefix byte
/// (pass `Some(b'4')`, [`MESSAGE_PREFIX`], to get the complete Engine.IO message). So a
/// broadcast builds its frame once, in one buffer, and hands the same frozen `Bytes` to
/// every recipient:
///
/// ```
/// use bytes::BytesMut;
/// use socketio::codec::{Args, MESSAGE_PREFIX, encode_event_into};
/// use socketio::packet::Namespace;
/// use socketio::value::Value;
///
/// let mut buf = BytesMut::new();
/// let args = [Value::from("hi"), Value::from(1)];
/// let attachments = encode_event_into(
///     &mut buf, Some(MESSAGE_PREFIX), &Namespace::main(), None, "news", Args::Values(&args),
/// );
/// assert!(attachments.is_empty());
/// assert_eq!(&buf.freeze()[..], b"42[\"news\",\"hi\",1]");
/// ```
pub fn encode_into(packet: &Packet, prefix: Option<u8>, out: &mut BytesMut) {
    out.reserve(encoded_len(packet) + usize::from(prefix.is_some()));
    let attachments = packet
        .packet_type()
        .is_binary()
        .then_some(packet.attachments());
    write_header(
        out,
        prefix,
        packet.packet_type(),
        attachments,
        packet.nsp(),
        packet.ack_id(),
    );
    if let Some(p) = packet.payload() {
        out.put_slice(p.as_bytes());
    }
}

/// Encodes `packet` alone, without prefix.
pub fn encode(packet: &Packet) -> Bytes {
    let mut out = BytesMut::with_capacity(encoded_len(packet));
    encode_into(packet, None, &mut out);
    out.freeze()
}

/// Appends an EVENT `["name", ...args]` (a BINARY_EVENT when the args hold binary) and
/// returns the attachments to send after it, in order.
///
/// Refusing reserved names is the caller's job, as in the reference (its `emit` refuses,
/// its encoder does not): see [`is_reserved_event`](crate::packet::is_reserved_event).
pub fn encode_event_into(
    out: &mut BytesMut,
    prefix: Option<u8>,
    nsp: &Namespace,
    ack_id: Option<u64>,
    name: &str,
    args: Args<'_>,
) -> Vec<Bytes> {
    if let Some(values) = args.rebuilt() {
        return encode_event_into(out, prefix, nsp, ack_id, name, Args::Values(&values));
    }
    let count = args.binary_count();
    let (packet_type, attachments) = if count > 0 {
        (PacketType::BinaryEvent, Some(count))
    } else {
        (PacketType::Event, None)
    };
    out.reserve(header_len(prefix, attachments, nsp, ack_id) + name.len() + 8 + args.raw_len());
    write_header(out, prefix, packet_type, attachments, nsp, ack_id);
    out.put_u8(b'[');
    write_str(out, name);
    if !args.is_empty() {
        out.put_u8(b',');
    }
    let buffers = args.write(out);
    out.put_u8(b']');
    buffers
}

/// Appends an ACK `[...args]` for `ack_id` (a BINARY_ACK when the args hold binary) and
/// returns the attachments to send after it.
pub fn encode_ack_into(
    out: &mut BytesMut,
    prefix: Option<u8>,
    nsp: &Namespace,
    ack_id: u64,
    args: Args<'_>,
) -> Vec<Bytes> {
    if let Some(values) = args.rebuilt() {
        return encode_ack_into(out, prefix, nsp, ack_id, Args::Values(&values));
    }
    let count = args.binary_count();
    let (packet_type, attachments) = if count > 0 {
        (PacketType::BinaryAck, Some(count))
    } else {
        (PacketType::Ack, None)
    };
    out.reserve(header_len(prefix, attachments, nsp, Some(ack_id)) + 2 + args.raw_len());
    write_header(out, prefix, packet_type, attachments, nsp, Some(ack_id));
    out.put_u8(b'[');
    let buffers = args.write(out);
    out.put_u8(b']');
    buffers
}

/// Appends a packet whose payload is `data`, as the reference's `Encoder.encode` does: an
/// EVENT or ACK whose data holds binary becomes BINARY_EVENT/BINARY_ACK with placeholders,
/// and the attachments are returned (the binary types given here are treated the same as
/// EVENT/ACK: the data decides). For the other types binary is written as Node's
/// `Buffer.toJSON` (`{"type":"Buffer","data":[...]}`), as `JSON.stringify` would.
///
/// The payload is written as given; the caller chooses a shape the type allows (for
/// example `{"sid":...}` for CONNECT).
pub fn encode_value_into(
    out: &mut BytesMut,
    prefix: Option<u8>,
    packet_type: PacketType,
    nsp: &Namespace,
    ack_id: Option<u64>,
    data: Option<&Value>,
) -> Vec<Bytes> {
    let extract = packet_type.is_event() || packet_type.is_ack();
    let count = match data {
        Some(v) if extract => v.binary_count(),
        _ => 0,
    };
    let packet_type = match packet_type {
        PacketType::Event | PacketType::BinaryEvent if count > 0 => PacketType::BinaryEvent,
        PacketType::Event | PacketType::BinaryEvent => PacketType::Event,
        PacketType::Ack | PacketType::BinaryAck if count > 0 => PacketType::BinaryAck,
        PacketType::Ack | PacketType::BinaryAck => PacketType::Ack,
        other => other,
    };
    let attachments = (count > 0).then_some(count);
    write_header(out, prefix, packet_type, attachments, nsp, ack_id);
    let mut buffers = Vec::new();
    if let Some(v) = data {
        let mut mode = if extract {
            BinaryMode::Placeholders(&mut buffers)
        } else {
            BinaryMode::BufferJson
        };
        write_value(out, v, &mut mode);
    }
    buffers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::RawJson;

    fn nsp(s: &'static str) -> Namespace {
        Namespace::from_static(s).unwrap()
    }

    fn text(buf: &BytesMut) -> &str {
        std::str::from_utf8(buf).unwrap()
    }

    #[test]
    fn header_layout() {
        let p = Packet::from_parts(
            PacketType::BinaryAck,
            nsp("/admin"),
            Some(1),
            1,
            Some(RawJson::new("[{\"_placeholder\":true,\"num\":0}]").unwrap()),
        )
        .unwrap();
        let mut out = BytesMut::new();
        encode_into(&p, Some(MESSAGE_PREFIX), &mut out);
        assert_eq!(
            text(&out),
            "461-/admin,1[{\"_placeholder\":true,\"num\":0}]"
        );
        assert_eq!(encoded_len(&p) + 1, out.len());
        assert_eq!(&encode(&Packet::disconnect(nsp("/admin")))[..], b"1/admin,");
        assert_eq!(&encode(&Packet::disconnect(Namespace::main()))[..], b"1");
    }

    #[test]
    fn events_and_acks() {
        let mut out = BytesMut::new();
        let bin = [Value::Binary(Bytes::from_static(&[1, 2, 3]))];
        let atts = encode_event_into(
            &mut out,
            None,
            &nsp("/admin"),
            Some(13),
            "bar",
            Args::Values(&bin),
        );
        assert_eq!(
            text(&out),
            "51-/admin,13[\"bar\",{\"_placeholder\":true,\"num\":0}]"
        );
        assert_eq!(atts, [Bytes::from_static(&[1, 2, 3])]);

        out.clear();
        let atts = encode_event_into(
            &mut out,
            None,
            &Namespace::main(),
            None,
            "foo",
            Args::Values(&[]),
        );
        assert_eq!((text(&out), atts.len()), ("2[\"foo\"]", 0));

        out.clear();
        let raw = RawArgs::new("1,\"2\",{\"3\":[true]}").unwrap();
        encode_event_into(
            &mut out,
            Some(b'4'),
            &Namespace::main(),
            None,
            "message-back",
            Args::Raw(&raw),
        );
        assert_eq!(text(&out), "42[\"message-back\",1,\"2\",{\"3\":[true]}]");

        out.clear();
        encode_ack_into(
            &mut out,
            Some(b'4'),
            &Namespace::main(),
            456,
            Args::Raw(&raw),
        );
        assert_eq!(text(&out), "43456[1,\"2\",{\"3\":[true]}]");

        out.clear();
        encode_ack_into(&mut out, None, &nsp("/a"), 0, Args::Values(&[]));
        assert_eq!(text(&out), "3/a,0[]");

        out.clear();
        let ph = RawArgs::new("{\"_placeholder\":true,\"num\":0}").unwrap();
        let b = [Bytes::from_static(b"x")];
        let atts = encode_ack_into(
            &mut out,
            None,
            &Namespace::main(),
            9,
            Args::RawBinary {
                args: &ph,
                attachments: &b,
            },
        );
        assert_eq!(text(&out), "61-9[{\"_placeholder\":true,\"num\":0}]");
        assert_eq!(atts, b);
    }

    #[test]
    fn values_by_type() {
        let mut out = BytesMut::new();
        let sid: Value = [("sid", "abc")].into_iter().collect();
        encode_value_into(
            &mut out,
            Some(b'4'),
            PacketType::Connect,
            &nsp("/admin"),
            None,
            Some(&sid),
        );
        assert_eq!(text(&out), "40/admin,{\"sid\":\"abc\"}");

        out.clear();
        encode_value_into(
            &mut out,
            None,
            PacketType::Connect,
            &Namespace::main(),
            None,
            None,
        );
        assert_eq!(text(&out), "0");

        out.clear();
        let err: Value = [
            ("message", Value::from("x")),
            ("data", Value::Binary(Bytes::from_static(&[1]))),
        ]
        .into_iter()
        .collect();
        let atts = encode_value_into(
            &mut out,
            None,
            PacketType::ConnectError,
            &Namespace::main(),
            None,
            Some(&err),
        );
        assert_eq!(
            text(&out),
            "4{\"message\":\"x\",\"data\":{\"type\":\"Buffer\",\"data\":[1]}}"
        );
        assert!(atts.is_empty());

        out.clear();
        let data = Value::from(vec![
            Value::from("e"),
            Value::Binary(Bytes::from_static(&[1])),
        ]);
        let atts = encode_value_into(
            &mut out,
            None,
            PacketType::Event,
            &Namespace::main(),
            Some(1),
            Some(&data),
        );
        assert_eq!(text(&out), "51-1[\"e\",{\"_placeholder\":true,\"num\":0}]");
        assert_eq!(atts.len(), 1);

        out.clear();
        let plain = Value::from(vec![1]);
        encode_value_into(
            &mut out,
            None,
            PacketType::BinaryAck,
            &Namespace::main(),
            Some(2),
            Some(&plain),
        );
        assert_eq!(text(&out), "32[1]");
    }

    #[test]
    fn digit_counts() {
        for n in [0u64, 9, 10, 99, 100, u64::MAX] {
            assert_eq!(digits(n), n.to_string().len());
        }
    }
}
