//! The pure Socket.IO v5 codec: text packets, binary placeholders, attachment reassembly.
//!
//! - [`decode`] / [`Decoder`]: one Engine.IO text message → [`Packet`](crate::packet::Packet),
//!   exactly as strict as socket.io-parser 4.2.x (see [`Decoder::decode`] for the rules and
//!   the few deliberate differences).
//! - [`encode_into`], [`encode_event_into`], [`encode_ack_into`], [`encode_value_into`]:
//!   packets → bytes, byte-identical to the reference encoder, written straight into the
//!   outgoing frame buffer.
//! - [`deconstruct`] / [`reconstruct`] / [`validate_placeholders`]: binary buffers ↔
//!   `{"_placeholder":true,"num":k}`.
//! - [`Reassembler`]: a header plus its attachments → [`Incoming`].
//!
//! No I/O, no clocks, no async: the caller feeds messages in and sends bytes out.

pub(crate) mod binary;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod error;
pub(crate) mod reassembly;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod vectors;

pub use binary::{
    BinaryPacket, deconstruct, placeholders_valid, reconstruct, validate_placeholders,
};
pub use decode::{Decoder, DecoderConfig, decode};
pub use encode::{
    Args, MESSAGE_PREFIX, encode, encode_ack_into, encode_event_into, encode_into,
    encode_value_into, encoded_len,
};
pub use error::{DecodeError, ReassemblyError, ReconstructError};
pub use reassembly::{Incoming, Reassembler};
