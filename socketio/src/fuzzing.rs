//! Fuzz harnesses. Not part of the API: the `fuzz/` targets call these, and the crate's
//! tests replay them on fixed and generated inputs. Each function must never panic on any
//! input except by a failed assertion of a codec invariant (which is a bug).

use bytes::Bytes;

use crate::codec::{self, Incoming, Reassembler, deconstruct, reconstruct};
use crate::raw::RawJson;
use crate::value::Value;

/// Decodes `data` as a text packet; must not panic.
pub fn decode(data: &[u8]) {
    let _ = codec::decode(Bytes::copy_from_slice(data));
}

/// Decodes `data`; if it is a packet, checks that encoding and decoding again gives the
/// same packet and the same bytes, and that `JSON.stringify(JSON.parse(payload))` is
/// stable.
pub fn roundtrip(data: &[u8]) {
    let Ok(packet) = codec::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let encoded = codec::encode(&packet);
    assert_eq!(encoded.len(), codec::encoded_len(&packet));
    let again = match codec::decode(encoded.clone()) {
        Ok(p) => p,
        Err(e) => panic!("re-decoding {encoded:?} failed: {e}"),
    };
    assert_eq!(packet, again);
    assert_eq!(packet.event_name(), again.event_name());
    assert_eq!(packet.args(), again.args());
    assert_eq!(encoded, codec::encode(&again));

    if let Some(raw) = packet.payload() {
        let once = Value::parse_raw(raw).to_json();
        let reparsed = match RawJson::new(once.clone()) {
            Ok(r) => r,
            Err(e) => panic!("stringify output {once:?} is not JSON: {e}"),
        };
        assert_eq!(once, Value::parse_raw(&reparsed).to_json());
    }
}

/// Interprets `data` as a sequence of messages fed to a [`Reassembler`]: each message is a
/// control byte (low bit: 0 = text, 1 = binary; the other bits: length) followed by that
/// many bytes. Checks the invariants of every complete binary packet.
pub fn reassembly(data: &[u8]) {
    let mut r = Reassembler::default();
    let mut rest = data;
    while let Some((&control, tail)) = rest.split_first() {
        let len = usize::from(control >> 1).min(tail.len());
        let (message, tail) = tail.split_at(len);
        rest = tail;
        let message = Bytes::copy_from_slice(message);
        let result = if control & 1 == 0 {
            r.handle_text(message)
        } else {
            r.handle_binary(message)
        };
        match result {
            Ok(Some(Incoming::Binary(p))) => {
                assert_eq!(p.attachments().len(), p.packet().attachments());
                assert!(!r.is_awaiting());
                if let Some(data) = p.data() {
                    // Re-emitting the value renumbers the placeholders; the result must
                    // reconstruct to the same value.
                    let (json, buffers) = deconstruct(data);
                    let rebuilt = match reconstruct(&json, &buffers) {
                        Ok(v) => v,
                        Err(e) => panic!("reconstructing {json:?} failed: {e}"),
                    };
                    assert_eq!(deconstruct(&rebuilt), (json, buffers));
                }
            }
            Ok(Some(Incoming::Packet(p))) => assert!(!p.packet_type().is_binary()),
            Ok(None) => assert!(r.is_awaiting()),
            Err(_) => assert!(!r.is_awaiting()),
        }
    }
}

/// Decodes `data` as every Redis message of the classic protocol (broadcast, request,
/// response; msgpack or JSON): must not panic. What decodes must encode to bytes that
/// decode again to a message that encodes to the same bytes.
pub fn redis_decode(data: &[u8]) {
    use crate::adapter::wire;
    let bytes = Bytes::copy_from_slice(data);
    fn stable<T: std::fmt::Debug>(
        first: Vec<u8>,
        decode: impl Fn(&Bytes) -> Result<T, wire::WireError>,
        encode: impl Fn(&T) -> Vec<u8>,
    ) {
        let again = match decode(&Bytes::from(first.clone())) {
            Ok(m) => m,
            Err(e) => panic!("re-decoding {first:02x?} failed: {e}"),
        };
        assert_eq!(encode(&again), first, "{again:?}");
    }
    if let Ok(b) = wire::decode_broadcast(&bytes) {
        stable(
            wire::encode_broadcast(&b),
            wire::decode_broadcast,
            wire::encode_broadcast,
        );
    }
    if let Ok(r) = wire::decode_request(&bytes) {
        let once = wire::encode_request(&r);
        if let Ok(again) = wire::decode_request(&Bytes::from(once.clone())) {
            stable(
                wire::encode_request(&again),
                wire::decode_request,
                wire::encode_request,
            );
        } else {
            panic!("re-decoding request {once:02x?} failed");
        }
    }
    if let Ok(r) = wire::decode_response(&bytes) {
        let once = wire::encode_response(&r);
        if let Ok(again) = wire::decode_response(&Bytes::from(once.clone())) {
            stable(
                wire::encode_response(&again),
                wire::decode_response,
                wire::encode_response,
            );
        } else {
            panic!("re-decoding response {once:02x?} failed");
        }
    }
}
