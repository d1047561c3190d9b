//! # socketio
//!
//! The Socket.IO v5 protocol layer of Herald, built on the `engineio` crate.
//!
//! **What it does (so far): the codec.** Pure functions and plain structs, with no I/O, no
//! clocks and no async runtime:
//!
//! - [`packet`]: the packet model. A [`Packet`](packet::Packet) keeps its JSON payload as
//!   raw text ([`RawJson`](raw::RawJson), [`RawArgs`](raw::RawArgs)) sliced out of the
//!   received message, so echoing a client's arguments writes back the exact bytes it
//!   sent.
//! - [`codec`]: the decoder (exactly as strict as the reference socket.io-parser 4.2.x),
//!   the encoder (byte-identical to the reference, writing straight into the outgoing frame
//!   buffer, Engine.IO `4` prefix included, so a broadcast is encoded once), binary
//!   placeholders, and attachment reassembly.
//! - [`value`]: [`Value`](value::Value), a JSON value that may hold binary buffers at any
//!   depth, serialized exactly as JavaScript's `JSON.stringify` would.
//!
//! **What it does not do:** transport (that is `engineio`), namespaces, rooms, acks and the
//! server API (later modules of this crate), and EIO3 / Socket.IO v4 framing.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use socketio::codec::{self, Args, MESSAGE_PREFIX};
//!
//! // A client emits `message` with an ack id: the Engine.IO message `42456["message",1,{"a":[true]}]`.
//! let packet = codec::decode(Bytes::from_static(b"2456[\"message\",1,{\"a\":[true]}]")).unwrap();
//! assert_eq!(packet.event_name().unwrap(), "message");
//!
//! // Acknowledge with the same arguments, byte for byte, as one complete Engine.IO frame.
//! let mut frame = BytesMut::new();
//! let args = packet.args().unwrap();
//! let id = packet.ack_id().unwrap();
//! codec::encode_ack_into(&mut frame, Some(MESSAGE_PREFIX), packet.nsp(), id, Args::Raw(args));
//! assert_eq!(&frame[..], b"43456[1,{\"a\":[true]}]");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapter;
pub mod codec;
mod json;
pub mod packet;
pub mod raw;
pub mod rooms;
pub mod server;
pub mod value;

#[doc(hidden)]
pub mod fuzzing;
#[doc(hidden)]
pub mod testing;
