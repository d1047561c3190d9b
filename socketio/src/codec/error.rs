//! Codec errors. Each one means the peer broke the protocol; the reference server closes the
//! whole Engine.IO connection on all of them (socket.io `client.ts` `ondata` → `onerror`).

use std::fmt;

use crate::packet::PacketType;
use crate::raw::JsonError;

/// Why a Socket.IO text packet was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message is empty. On the wire that is a bare Engine.IO `4`, which the reference
    /// server receives as `undefined` data and rejects ("Unknown type").
    Empty,
    /// The message is not valid UTF-8.
    InvalidUtf8,
    /// The first character is not a packet type `0`-`6` (`abc`, `7`, ...).
    UnknownPacketType,
    /// A BINARY_EVENT/BINARY_ACK does not start with `<count>-`, or the count is 0
    /// (`50-`), as socket.io-parser 4.2.x requires ("Illegal attachments").
    InvalidAttachments,
    /// The attachment count exceeds the configured maximum ("too many attachments").
    TooManyAttachments {
        /// The announced count (saturated at `u64::MAX`).
        count: u64,
        /// The configured maximum.
        max: usize,
    },
    /// The ack id does not fit in a `u64`, or whitespace stands where the id would start
    /// (the reference parser would read `2 [..]` as ack id 0).
    InvalidAckId,
    /// The payload is not valid JSON, or text follows it (`2["a"]x`).
    InvalidJson(JsonError),
    /// The payload is valid JSON of a shape the packet type does not allow (`2{}`, `2[]`,
    /// `0[]`, `1{}`, `4null`, ...).
    InvalidPayload(PacketType),
    /// The event is named with one of the
    /// [`RESERVED_EVENTS`](crate::packet::RESERVED_EVENTS).
    ReservedEventName,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty packet"),
            DecodeError::InvalidUtf8 => f.write_str("packet is not valid UTF-8"),
            DecodeError::UnknownPacketType => f.write_str("unknown packet type"),
            DecodeError::InvalidAttachments => f.write_str("illegal attachments"),
            DecodeError::TooManyAttachments { count, max } => {
                write!(f, "too many attachments ({count} > {max})")
            }
            DecodeError::InvalidAckId => f.write_str("invalid ack id"),
            DecodeError::InvalidJson(e) => write!(f, "invalid payload: {e}"),
            DecodeError::InvalidPayload(t) => write!(f, "invalid payload for {t:?}"),
            DecodeError::ReservedEventName => f.write_str("reserved event name"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::InvalidJson(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JsonError> for DecodeError {
    fn from(e: JsonError) -> Self {
        DecodeError::InvalidJson(e)
    }
}

/// Why the binary placeholders of a packet could not be replaced by its attachments.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReconstructError {
    /// A placeholder's `num` is not below the number of attachments (the reference parser's
    /// "illegal attachments").
    PlaceholderOutOfRange {
        /// The `num` value.
        num: u64,
        /// How many attachments there are.
        attachments: usize,
    },
    /// Two placeholders name the same attachment. The reference parser accepts this; it is
    /// refused here because re-emitting such a value would repeat the buffer once per
    /// reference (a cheap amplification for a peer).
    DuplicatePlaceholder {
        /// The repeated `num` value.
        num: u64,
    },
    /// An object with `"_placeholder":true` has no `num`, or a `num` that is not a
    /// non-negative integer.
    MalformedPlaceholder,
    /// The payload is not valid JSON.
    InvalidJson(JsonError),
}

impl fmt::Display for ReconstructError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconstructError::PlaceholderOutOfRange { num, attachments } => write!(
                f,
                "placeholder {num} out of range ({attachments} attachments)"
            ),
            ReconstructError::DuplicatePlaceholder { num } => {
                write!(f, "placeholder {num} used twice")
            }
            ReconstructError::MalformedPlaceholder => f.write_str("malformed placeholder"),
            ReconstructError::InvalidJson(e) => write!(f, "invalid payload: {e}"),
        }
    }
}

impl std::error::Error for ReconstructError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReconstructError::InvalidJson(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JsonError> for ReconstructError {
    fn from(e: JsonError) -> Self {
        ReconstructError::InvalidJson(e)
    }
}

/// Why the [`Reassembler`](crate::codec::Reassembler) rejected a message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReassemblyError {
    /// The text packet could not be decoded.
    Decode(DecodeError),
    /// A text message arrived while binary attachments were awaited ("got plaintext data
    /// when reconstructing a packet").
    TextWhileAwaitingAttachments,
    /// A binary message arrived while no attachment was awaited ("got binary data when not
    /// reconstructing a packet").
    UnexpectedBinary,
    /// The attachments do not match the placeholders.
    Reconstruct(ReconstructError),
    /// The attachment count differs from what the header announced (only from
    /// [`BinaryPacket::new`](crate::codec::BinaryPacket::new)).
    AttachmentCount {
        /// Announced in the header.
        expected: usize,
        /// Supplied.
        actual: usize,
    },
}

impl fmt::Display for ReassemblyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReassemblyError::Decode(e) => fmt::Display::fmt(e, f),
            ReassemblyError::TextWhileAwaitingAttachments => {
                f.write_str("got plaintext data when reconstructing a packet")
            }
            ReassemblyError::UnexpectedBinary => {
                f.write_str("got binary data when not reconstructing a packet")
            }
            ReassemblyError::Reconstruct(e) => fmt::Display::fmt(e, f),
            ReassemblyError::AttachmentCount { expected, actual } => {
                write!(f, "expected {expected} attachments, got {actual}")
            }
        }
    }
}

impl std::error::Error for ReassemblyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReassemblyError::Decode(e) => Some(e),
            ReassemblyError::Reconstruct(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DecodeError> for ReassemblyError {
    fn from(e: DecodeError) -> Self {
        ReassemblyError::Decode(e)
    }
}

impl From<ReconstructError> for ReassemblyError {
    fn from(e: ReconstructError) -> Self {
        ReassemblyError::Reconstruct(e)
    }
}
