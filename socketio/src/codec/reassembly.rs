//! Binary packet reassembly (see [`Reassembler`]).

use bytes::Bytes;

use super::binary::BinaryPacket;
use super::decode::{Decoder, DecoderConfig};
use super::error::ReassemblyError;
use crate::packet::Packet;

/// A complete incoming packet.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// A packet without attachments.
    Packet(Packet),
    /// A BINARY_EVENT/BINARY_ACK with all its attachments, placeholders resolved.
    Binary(BinaryPacket),
}

/// The receiving side of one connection's packet stream. Feed it every Engine.IO message
/// in arrival order.
///
/// Binary packet reassembly: a BINARY_EVENT/BINARY_ACK header followed by its attachments,
/// as the reference `Decoder.add` / `BinaryReconstructor` do it.
///
/// ```text
///            text (non-binary) ──► Ok(Some(Incoming::Packet))
///   ┌──────┐ text (binary, N) ──► Ok(None) ┌──────────────────┐
///   │ Idle │ ─────────────────────────────►│ Awaiting k of N  │── binary (k < N) ──► Ok(None)
///   └──────┘ ◄──────────────────────────── └──────────────────┘
///      │       binary (k = N) ──► Ok(Some(Incoming::Binary))     │
///      │                                                         │ text ──► Err
///      └── binary ──► Err(UnexpectedBinary)
/// ```
///
/// Any error means the connection must be closed (the reference server closes it); the
/// reassembler is reset to idle so that it never holds a half packet after an error.
/// The attachment count is capped by [`DecoderConfig::max_attachments`], so at most that
/// many buffers are held per connection.
#[derive(Clone, Debug, Default)]
pub struct Reassembler {
    decoder: Decoder,
    pending: Option<(Packet, Vec<Bytes>)>,
}

impl Reassembler {
    /// A reassembler decoding with `config`.
    pub fn new(config: DecoderConfig) -> Self {
        Reassembler {
            decoder: Decoder::new(config),
            pending: None,
        }
    }

    /// Handles a text message (without the Engine.IO `4`). Returns the packet when it is
    /// complete, `None` when it is a binary header whose attachments are still to come.
    pub fn handle_text(&mut self, text: Bytes) -> Result<Option<Incoming>, ReassemblyError> {
        if self.pending.take().is_some() {
            return Err(ReassemblyError::TextWhileAwaitingAttachments);
        }
        let packet = self.decoder.decode(text)?;
        if packet.packet_type().is_binary() {
            let n = packet.attachments();
            self.pending = Some((packet, Vec::with_capacity(n)));
            Ok(None)
        } else {
            Ok(Some(Incoming::Packet(packet)))
        }
    }

    /// Handles a binary message. Returns the binary packet when this was its last
    /// attachment.
    pub fn handle_binary(&mut self, data: Bytes) -> Result<Option<Incoming>, ReassemblyError> {
        let Some((packet, mut buffers)) = self.pending.take() else {
            return Err(ReassemblyError::UnexpectedBinary);
        };
        buffers.push(data);
        if buffers.len() < packet.attachments() {
            self.pending = Some((packet, buffers));
            return Ok(None);
        }
        BinaryPacket::new(packet, buffers).map(|p| Some(Incoming::Binary(p)))
    }

    /// How many attachments are still awaited (0 when idle).
    pub fn awaited(&self) -> usize {
        self.pending
            .as_ref()
            .map_or(0, |(p, b)| p.attachments().saturating_sub(b.len()))
    }

    /// Whether a binary header is waiting for attachments.
    pub fn is_awaiting(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops a half-received packet (the reference's `destroy()`, on connection close).
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::error::{DecodeError, ReconstructError};

    fn text(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn text_packets_pass_straight_through() {
        let mut r = Reassembler::default();
        let got = r.handle_text(text("2[\"a\"]")).unwrap();
        assert!(matches!(got, Some(Incoming::Packet(p)) if p.event_name().unwrap() == "a"));
        assert!(!r.is_awaiting());
    }

    #[test]
    fn collects_attachments_in_order() {
        let mut r = Reassembler::default();
        let header =
            "52-[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]";
        assert_eq!(r.handle_text(text(header)), Ok(None));
        assert_eq!((r.is_awaiting(), r.awaited()), (true, 2));
        assert_eq!(r.handle_binary(Bytes::from_static(&[1, 2, 3])), Ok(None));
        assert_eq!(r.awaited(), 1);
        let Some(Incoming::Binary(p)) = r.handle_binary(Bytes::from_static(&[4, 5, 6])).unwrap()
        else {
            panic!("expected a binary packet");
        };
        assert_eq!(p.args()[0].as_binary().unwrap()[..], [1, 2, 3]);
        assert_eq!(p.args()[1].as_binary().unwrap()[..], [4, 5, 6]);
        assert_eq!(p.packet().event_name().unwrap(), "message");
        assert!(!r.is_awaiting());
        // Ready for the next packet.
        assert!(r.handle_text(text("3[]")).unwrap().is_some());
    }

    #[test]
    fn protocol_violations() {
        let mut r = Reassembler::default();
        assert_eq!(
            r.handle_binary(text("x")),
            Err(ReassemblyError::UnexpectedBinary)
        );

        r.handle_text(text("51-[\"a\",{\"_placeholder\":true,\"num\":0}]"))
            .unwrap();
        assert_eq!(
            r.handle_text(text("2[\"b\"]")),
            Err(ReassemblyError::TextWhileAwaitingAttachments)
        );
        assert!(!r.is_awaiting(), "reset after an error");

        r.handle_text(text("51-[\"a\",{\"_placeholder\":true,\"num\":1}]"))
            .unwrap();
        assert_eq!(
            r.handle_binary(text("x")),
            Err(ReassemblyError::Reconstruct(
                ReconstructError::PlaceholderOutOfRange {
                    num: 1,
                    attachments: 1
                }
            ))
        );
        assert!(!r.is_awaiting());

        assert_eq!(
            r.handle_text(text("511-[\"a\"]")),
            Err(ReassemblyError::Decode(DecodeError::TooManyAttachments {
                count: 11,
                max: 10
            }))
        );
        let mut small = Reassembler::new(DecoderConfig {
            max_attachments: 1,
            ..DecoderConfig::default()
        });
        assert!(small.handle_text(text("52-[\"a\"]")).is_err());
        small.handle_text(text("51-[\"a\"]")).unwrap();
        small.reset();
        assert_eq!(
            small.handle_binary(text("x")),
            Err(ReassemblyError::UnexpectedBinary)
        );
    }
}
