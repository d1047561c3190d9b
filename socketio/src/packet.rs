//! The Socket.IO v5 packet model.
//!
//! A [`Packet`] is one decoded text packet (`<type>[<attachments>-][<nsp>,][<ackId>][<JSON>]`),
//! with its JSON payload kept as [`RawJson`]. Every `Packet` satisfies the rules of the
//! decoder ([`codec::decode`](crate::codec::decode)), whichever way it was built, so
//! `decode(encode(p)) == p` always holds.
//!
//! Like the reference parser (socket.io-parser 4.2.x), the payload is optional for every
//! packet type: `2` (EVENT without data) and `3` (ACK without data) decode. The reference
//! server then ignores such an EVENT and treats such an ACK as an ACK with no arguments.

use bytes::Bytes;
use std::borrow::{Borrow, Cow};
use std::fmt;

use crate::codec::decode::validate_payload;
use crate::codec::error::DecodeError;
use crate::raw::{RawArgs, RawJson, Utf8Bytes};

/// The seven Socket.IO v5 packet types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: join a namespace (client → server, payload = auth object) or accept the join
    /// (server → client, payload `{"sid":...}`).
    Connect = 0,
    /// `1`: leave a namespace. Never has a payload.
    Disconnect = 1,
    /// `2`: an event, payload `["name", ...args]`.
    Event = 2,
    /// `3`: the acknowledgement of an event, payload `[...args]`.
    Ack = 3,
    /// `4`: the namespace join was refused, payload a string or an object.
    ConnectError = 4,
    /// `5`: an event whose arguments contain binary, sent as attachments.
    BinaryEvent = 5,
    /// `6`: an acknowledgement whose arguments contain binary.
    BinaryAck = 6,
}

impl PacketType {
    /// The type for a wire digit `b'0'..=b'6'`.
    pub const fn from_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit (`b'0'..=b'6'`).
    pub const fn digit(self) -> u8 {
        b'0' + self as u8
    }

    /// Whether the packet carries binary attachments (BINARY_EVENT, BINARY_ACK).
    pub const fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }

    /// Whether the payload is an event (`["name", ...args]`).
    pub const fn is_event(self) -> bool {
        matches!(self, PacketType::Event | PacketType::BinaryEvent)
    }

    /// Whether the payload is an acknowledgement (`[...args]`).
    pub const fn is_ack(self) -> bool {
        matches!(self, PacketType::Ack | PacketType::BinaryAck)
    }
}

/// Event names the reference parser refuses in incoming EVENTs, and the reference server
/// refuses to emit (socket.io-parser `RESERVED_EVENTS`).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Whether `name` is one of [`RESERVED_EVENTS`].
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

/// Why a string is not a namespace name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidNamespace;

impl fmt::Display for InvalidNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a namespace must start with '/' and contain no ','")
    }
}

impl std::error::Error for InvalidNamespace {}

/// A namespace name: starts with `/` and contains no `,` (the comma ends the namespace on
/// the wire). Not normalized: a query string stays part of it (`/custom?foo=bar`), as in
/// the reference server.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace(Utf8Bytes);

impl Namespace {
    /// The main namespace `/`.
    pub const fn main() -> Namespace {
        Namespace(Utf8Bytes::from_static("/"))
    }

    /// Checks and wraps a namespace name.
    pub fn new(name: impl Into<Utf8Bytes>) -> Result<Self, InvalidNamespace> {
        let name = name.into();
        if Self::is_valid(name.as_str()) {
            Ok(Namespace(name))
        } else {
            Err(InvalidNamespace)
        }
    }

    /// Checks and wraps a static namespace name (no allocation).
    pub fn from_static(name: &'static str) -> Result<Self, InvalidNamespace> {
        Self::new(Utf8Bytes::from_static(name))
    }

    /// Wraps a name the decoder has checked.
    pub(crate) fn from_decoded(bytes: Bytes) -> Self {
        Namespace(Utf8Bytes::from_validated(bytes))
    }

    /// Whether `name` is a valid namespace name.
    pub fn is_valid(name: &str) -> bool {
        name.starts_with('/') && !name.contains(',')
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether this is the main namespace `/` (written as nothing on the wire).
    pub fn is_main(&self) -> bool {
        self.0.as_bytes() == b"/"
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Namespace::main()
    }
}

impl Borrow<str> for Namespace {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Namespace {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Namespace {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Namespace {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl TryFrom<&str> for Namespace {
    type Error = InvalidNamespace;
    fn try_from(name: &str) -> Result<Self, InvalidNamespace> {
        Namespace::new(name)
    }
}

impl TryFrom<String> for Namespace {
    type Error = InvalidNamespace;
    fn try_from(name: String) -> Result<Self, InvalidNamespace> {
        Namespace::new(name)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of an incoming event: the first element of the EVENT payload.
///
/// The reference parser accepts a string or a **number** (`42[1,2]` is valid). A Node
/// `EventEmitter` stores listeners by property key, so a numeric name reaches the listener
/// of its JavaScript string form: [`EventName::to_key`] gives that key (`1`, `1.5`, `1e+21`).
#[derive(Clone, Debug, PartialEq)]
pub enum EventName {
    /// A string name (the usual case). Lone surrogates, which a Rust string cannot hold,
    /// are replaced by U+FFFD; the raw payload keeps the original text.
    Str(Utf8Bytes),
    /// A numeric name.
    Number(f64),
}

impl EventName {
    /// The name, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            EventName::Str(s) => Some(s.as_str()),
            EventName::Number(_) => None,
        }
    }

    /// The name as the JavaScript property key a listener is registered under: the string
    /// itself, or the number formatted as by `String(n)`.
    pub fn to_key(&self) -> Cow<'_, str> {
        match self {
            EventName::Str(s) => Cow::Borrowed(s.as_str()),
            EventName::Number(n) => {
                let mut out = Vec::new();
                if n.is_nan() {
                    return Cow::Borrowed("NaN");
                } else if n.is_infinite() {
                    return Cow::Borrowed(if *n > 0.0 { "Infinity" } else { "-Infinity" });
                }
                crate::json::write::write_f64(&mut out, *n);
                Cow::Owned(String::from_utf8(out).unwrap_or_default())
            }
        }
    }
}

impl PartialEq<str> for EventName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for EventName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

/// The parts of a payload that the decoder extracts while validating it.
#[derive(Clone, Debug, Default)]
pub(crate) struct PayloadParts {
    pub(crate) name: Option<EventName>,
    pub(crate) args: Option<RawArgs>,
}

/// One Socket.IO packet (the text part; binary attachments travel separately).
///
/// Equality compares type, namespace, ack id, attachment count and the payload text.
#[derive(Clone)]
pub struct Packet {
    packet_type: PacketType,
    nsp: Namespace,
    ack_id: Option<u64>,
    attachments: usize,
    payload: Option<RawJson>,
    parts: PayloadParts,
}

impl Packet {
    /// Builds a packet, applying the decoder's rules: `attachments` ≥ 1 for the binary
    /// types and 0 for the others; the payload shape allowed for the type (CONNECT: object;
    /// DISCONNECT: none; CONNECT_ERROR: string or object; EVENT: non-empty array whose first
    /// element is a number or a non-reserved string; ACK: array).
    pub fn from_parts(
        packet_type: PacketType,
        nsp: Namespace,
        ack_id: Option<u64>,
        attachments: usize,
        payload: Option<RawJson>,
    ) -> Result<Self, DecodeError> {
        if packet_type.is_binary() != (attachments > 0) {
            return Err(DecodeError::InvalidAttachments);
        }
        let (payload, parts) = match payload {
            None => (None, PayloadParts::default()),
            Some(raw) => {
                let bytes = raw.into_bytes();
                let len = bytes.len();
                let (raw, parts) = validate_payload(&bytes, 0..len, packet_type, usize::MAX)?;
                (Some(raw), parts)
            }
        };
        Ok(Packet {
            packet_type,
            nsp,
            ack_id,
            attachments,
            payload,
            parts,
        })
    }

    /// Assembles a packet from parts the decoder has validated.
    pub(crate) fn from_decoded(
        packet_type: PacketType,
        nsp: Namespace,
        ack_id: Option<u64>,
        attachments: usize,
        payload: Option<(RawJson, PayloadParts)>,
    ) -> Self {
        let (payload, parts) = match payload {
            Some((raw, parts)) => (Some(raw), parts),
            None => (None, PayloadParts::default()),
        };
        Packet {
            packet_type,
            nsp,
            ack_id,
            attachments,
            payload,
            parts,
        }
    }

    /// CONNECT, with an optional auth object (client) or `{"sid":...}` (server reply).
    pub fn connect(nsp: Namespace, payload: Option<RawJson>) -> Result<Self, DecodeError> {
        Self::from_parts(PacketType::Connect, nsp, None, 0, payload)
    }

    /// DISCONNECT.
    pub fn disconnect(nsp: Namespace) -> Self {
        Self::from_decoded(PacketType::Disconnect, nsp, None, 0, None)
    }

    /// CONNECT_ERROR with a string or object payload, e.g. `{"message":"Invalid namespace"}`.
    pub fn connect_error(nsp: Namespace, payload: RawJson) -> Result<Self, DecodeError> {
        Self::from_parts(PacketType::ConnectError, nsp, None, 0, Some(payload))
    }

    /// EVENT `["name", ...args]`, requesting an acknowledgement when `ack_id` is set.
    /// Fails for a reserved name. Copies the name and args into a new payload; the
    /// encoder's [`encode_event_into`](crate::codec::encode_event_into) writes them
    /// directly into the frame instead.
    pub fn event(
        nsp: Namespace,
        name: &str,
        args: &RawArgs,
        ack_id: Option<u64>,
    ) -> Result<Self, DecodeError> {
        let mut text = Vec::with_capacity(name.len() + args.as_bytes().len() + 5);
        text.push(b'[');
        crate::json::write::write_str(&mut text, name);
        if !args.is_empty() {
            text.push(b',');
            text.extend_from_slice(args.as_bytes());
        }
        text.push(b']');
        let raw = RawJson::from_validated(Bytes::from(text));
        Self::from_parts(PacketType::Event, nsp, ack_id, 0, Some(raw))
    }

    /// ACK `[...args]` for the event with id `ack_id`.
    pub fn ack(nsp: Namespace, ack_id: u64, args: &RawArgs) -> Self {
        let raw = args.to_array();
        let parts = PayloadParts {
            name: None,
            args: RawArgs::from_array(&raw),
        };
        Packet {
            packet_type: PacketType::Ack,
            nsp,
            ack_id: Some(ack_id),
            attachments: 0,
            payload: Some(raw),
            parts,
        }
    }

    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        self.packet_type
    }

    /// The namespace (`/` when absent on the wire).
    pub fn nsp(&self) -> &Namespace {
        &self.nsp
    }

    /// The ack id. The grammar allows one on every type; it is meaningful on EVENT (an
    /// acknowledgement is requested) and ACK (which event is acknowledged).
    pub fn ack_id(&self) -> Option<u64> {
        self.ack_id
    }

    /// Number of binary attachments that follow (≥ 1 for BINARY_EVENT/BINARY_ACK, else 0).
    pub fn attachments(&self) -> usize {
        self.attachments
    }

    /// The JSON payload as received.
    pub fn payload(&self) -> Option<&RawJson> {
        self.payload.as_ref()
    }

    /// EVENT/BINARY_EVENT: the event name. `None` for other types and for an EVENT without
    /// payload (which the reference server ignores).
    pub fn event_name(&self) -> Option<&EventName> {
        self.parts.name.as_ref()
    }

    /// EVENT/BINARY_EVENT: the arguments after the name; ACK/BINARY_ACK: all arguments.
    /// `None` for other types and when there is no payload (for an ACK the reference
    /// server then calls the callback with no arguments). For the binary types the args
    /// contain the `{"_placeholder":true,"num":k}` objects; see
    /// [`BinaryPacket`](crate::codec::BinaryPacket) for the reconstructed values.
    pub fn args(&self) -> Option<&RawArgs> {
        self.parts.args.as_ref()
    }

    /// CONNECT: the payload object (the client's auth, `{}` in the reference server when
    /// absent; the server's `{"sid":...}` reply).
    pub fn auth(&self) -> Option<&RawJson> {
        match self.packet_type {
            PacketType::Connect => self.payload.as_ref(),
            _ => None,
        }
    }

    /// CONNECT_ERROR: the payload (string or object).
    pub fn error_payload(&self) -> Option<&RawJson> {
        match self.packet_type {
            PacketType::ConnectError => self.payload.as_ref(),
            _ => None,
        }
    }
}

impl PartialEq for Packet {
    fn eq(&self, other: &Self) -> bool {
        self.packet_type == other.packet_type
            && self.nsp == other.nsp
            && self.ack_id == other.ack_id
            && self.attachments == other.attachments
            && self.payload == other.payload
    }
}

impl Eq for Packet {}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Packet");
        d.field("type", &self.packet_type).field("nsp", &self.nsp);
        if let Some(id) = self.ack_id {
            d.field("ack_id", &id);
        }
        if self.attachments > 0 {
            d.field("attachments", &self.attachments);
        }
        if let Some(p) = &self.payload {
            d.field("payload", &p.as_str());
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> RawJson {
        RawJson::new(s.to_owned()).unwrap()
    }

    #[test]
    fn packet_types() {
        for d in b'0'..=b'6' {
            let t = PacketType::from_digit(d).unwrap();
            assert_eq!(t.digit(), d);
        }
        assert_eq!(PacketType::from_digit(b'7'), None);
        assert!(PacketType::BinaryAck.is_binary() && PacketType::BinaryAck.is_ack());
        assert!(PacketType::Event.is_event() && !PacketType::Event.is_binary());
    }

    #[test]
    fn namespaces() {
        assert!(Namespace::main().is_main());
        assert_eq!(Namespace::default(), "/");
        assert_eq!(Namespace::from_static("/admin").unwrap(), "/admin");
        assert!(Namespace::new("/custom?foo=bar").is_ok());
        assert_eq!(Namespace::new("admin"), Err(InvalidNamespace));
        assert_eq!(Namespace::new("/a,b"), Err(InvalidNamespace));
        assert_eq!(Namespace::try_from(""), Err(InvalidNamespace));
        let mut map = std::collections::HashMap::new();
        map.insert(Namespace::try_from("/x".to_owned()).unwrap(), 1);
        assert_eq!(map.get("/x"), Some(&1));
    }

    #[test]
    fn event_names() {
        assert_eq!(EventName::Str(Utf8Bytes::from("a")), "a");
        assert_eq!(EventName::Number(1.0).to_key(), "1");
        assert_eq!(EventName::Number(1.5).to_key(), "1.5");
        assert_eq!(EventName::Number(1e21).to_key(), "1e+21");
        assert_eq!(EventName::Number(f64::INFINITY).to_key(), "Infinity");
        assert_eq!(EventName::Number(-0.0).to_key(), "0");
        assert_eq!(EventName::Number(1.0).as_str(), None);
        assert!(is_reserved_event("disconnect") && !is_reserved_event("Disconnect"));
    }

    #[test]
    fn constructors_apply_decoder_rules() {
        let nsp = Namespace::main();
        assert!(Packet::connect(nsp.clone(), Some(raw("{}"))).is_ok());
        assert!(Packet::connect(nsp.clone(), None).is_ok());
        assert_eq!(
            Packet::connect(nsp.clone(), Some(raw("[]"))),
            Err(DecodeError::InvalidPayload(PacketType::Connect))
        );
        assert!(Packet::connect_error(nsp.clone(), raw("\"x\"")).is_ok());
        assert!(Packet::connect_error(nsp.clone(), raw("1")).is_err());
        assert!(Packet::event(nsp.clone(), "disconnect", &RawArgs::empty(), None).is_err());
        let e = Packet::event(nsp.clone(), "a\"b", &RawArgs::new("1,2").unwrap(), Some(3)).unwrap();
        assert_eq!(e.payload().unwrap().as_str(), "[\"a\\\"b\",1,2]");
        assert_eq!(e.event_name().unwrap(), "a\"b");
        assert_eq!(e.args().unwrap().as_str(), "1,2");
        let a = Packet::ack(nsp.clone(), 7, &RawArgs::new("1").unwrap());
        assert_eq!(a.payload().unwrap().as_str(), "[1]");
        assert_eq!(a.args().unwrap().as_str(), "1");
        assert_eq!(
            Packet::from_parts(PacketType::BinaryEvent, nsp.clone(), None, 0, None),
            Err(DecodeError::InvalidAttachments)
        );
        assert_eq!(
            Packet::from_parts(PacketType::Event, nsp.clone(), None, 1, None),
            Err(DecodeError::InvalidAttachments)
        );
        assert_eq!(
            Packet::from_parts(PacketType::Disconnect, nsp, None, 0, Some(raw("{}"))),
            Err(DecodeError::InvalidPayload(PacketType::Disconnect))
        );
    }

    #[test]
    fn accessors_by_type() {
        let nsp = Namespace::from_static("/admin").unwrap();
        let c = Packet::connect(nsp.clone(), Some(raw("{\"token\":\"1\"}"))).unwrap();
        assert_eq!(c.auth().unwrap().as_str(), "{\"token\":\"1\"}");
        assert_eq!(c.error_payload(), None);
        assert_eq!(c.event_name(), None);
        let ce = Packet::connect_error(nsp.clone(), raw("{\"message\":\"x\"}")).unwrap();
        assert_eq!(ce.error_payload().unwrap().as_str(), "{\"message\":\"x\"}");
        assert_eq!(ce.auth(), None);
        let d = Packet::disconnect(nsp);
        assert_eq!((d.payload(), d.args(), d.ack_id()), (None, None, None));
        assert!(format!("{d:?}").contains("/admin"));
    }
}
