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

/// Operation sequences on the Socket.IO state of one connection ([`Client`](crate::server::Client)), driven the
/// way the Engine.IO session drives it, over a detached transport. `data` is read two
/// bytes at a time: `op % 8` picks the operation, `arg` its variant:
///
/// - 0: a text packet from a fixed list (CONNECT to `/`, `/custom`, a dynamic `/dyn-N`,
///   an unknown namespace, a recovery CONNECT; DISCONNECT; EVENTs that echo, ack, join,
///   leave, disconnect, close; ACKs for ids near the server's own; binary headers);
/// - 1: a text packet of the next `arg % 32` input bytes (lossy UTF-8);
/// - 2: a binary message of `arg % 16` bytes;
/// - 3: a server broadcast to everyone, or to room `r` (with binary when `arg` is odd);
/// - 4: a server emit with an ack request to every socket of `/`;
/// - 5: the Engine.IO session closes (for reason `arg`): nothing may follow (the input's
///   end closes it too, with `TransportClose`);
/// - 6, 7: the frames sent so far are checked.
///
/// Checks: every text frame the server sends is a valid Socket.IO packet, a binary packet
/// is followed by exactly its attachments and nothing else comes between them, once the
/// session closed no namespace keeps a socket of it, and (under the fuzzer's
/// LeakSanitizer) nothing of it is leaked.
pub fn client_ops(data: &[u8]) {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use engineio::server::{Handshake, MessageContext, Query};
    use engineio::{CloseReason, Connection, Frame, Message, TransportKind};

    use crate::server::{Client, Config, Io, Payload, RecoveryConfig};

    let io = Io::new(Config {
        recovery: Some(RecoveryConfig::default()),
        ..Config::default()
    });
    io.of("/").on_connection(|s| {
        s.on("echo", |s, args, ack| match ack {
            Some(ack) => {
                ack.send(args);
            }
            None => {
                s.emit("echo", args);
            }
        });
        s.on("join", |s, _, _| s.join("r"));
        s.on("leave", |s, _, _| s.leave("r"));
        s.on("bye", |s, _, _| s.disconnect());
        s.on("kill", |s, _, _| s.close_connection());
    });
    io.of("/custom");
    io.dynamic(|name| name.starts_with("/dyn-"), |_| {});

    let (conn, mut rx) = engineio::Socket::detached("fuzz-session");
    let handshake = Handshake {
        sid: Arc::from("fuzz-session"),
        transport: TransportKind::WebSocket,
        uri: engineio::server::Uri::from_static("/socket.io/"),
        headers: Default::default(),
        query: Query::default(),
        remote_addr: None,
        secure: false,
        issued: SystemTime::now(),
    };
    let mut client = Client::new(io.inner.clone(), conn, handshake);
    let ctx = MessageContext::detached();

    const PH0: &str = r#"{"_placeholder":true,"num":0}"#;
    let packets: Vec<String> = vec![
        "0".into(),
        "0/custom,".into(),
        "0/dyn-1,".into(),
        "0/nope,".into(),
        r#"0{"pid":"p","offset":"o"}"#.into(),
        "1".into(),
        "1/custom,".into(),
        r#"2["echo",1,"two"]"#.into(),
        r#"27["echo",{"a":[true]}]"#.into(),
        r#"2/custom,["echo"]"#.into(),
        r#"2["join"]"#.into(),
        r#"2["leave"]"#.into(),
        r#"2["bye"]"#.into(),
        r#"2["kill"]"#.into(),
        "30[1]".into(),
        "31[]".into(),
        format!(r#"51-["echo",{PH0}]"#),
        format!(r#"51-9["echo",{PH0}]"#),
        format!(r#"61-0[{PH0}]"#),
        format!(r#"52-["echo",{PH0},{{"_placeholder":true,"num":1}}]"#),
        "2/dyn-1,[\"echo\"]".into(),
        "4{}".into(),
    ];

    // Frames sent so far, checked in order; `awaiting` attachments of the last header.
    let mut awaiting = 0usize;
    let check = |frames: Vec<Frame>, awaiting: &mut usize| {
        for f in frames {
            match f {
                Frame::Text(t) => {
                    assert_eq!(
                        *awaiting, 0,
                        "a text frame between a header and its attachments"
                    );
                    assert_eq!(t.first(), Some(&b'4'), "an Engine.IO message: {t:?}");
                    let packet = match codec::decode(t.slice(1..)) {
                        Ok(p) => p,
                        Err(e) => panic!("the server sent {t:?}, not a Socket.IO packet: {e}"),
                    };
                    *awaiting = packet.attachments();
                }
                Frame::Binary(_) => {
                    assert!(*awaiting > 0, "a binary frame no header announced");
                    *awaiting -= 1;
                }
            }
        }
    };

    let mut closed = false;
    for pair in data.chunks(2) {
        let (op, arg) = (pair[0], pair.get(1).copied().unwrap_or(0));
        match op % 8 {
            0 => {
                let text = &packets[usize::from(arg) % packets.len()];
                client.on_message(Message::Text(Bytes::from(text.clone())), &ctx);
            }
            1 => {
                let n = usize::from(arg % 32).min(data.len());
                let text = String::from_utf8_lossy(&data[..n]).into_owned();
                client.on_message(Message::Text(Bytes::from(text)), &ctx);
            }
            2 => {
                let bytes = vec![arg; usize::from(arg % 16)];
                client.on_message(Message::Binary(Bytes::from(bytes)), &ctx);
            }
            3 => {
                let payload = if arg % 2 == 1 {
                    Payload::from_values(vec![
                        Value::from(u64::from(arg)),
                        Value::from(Bytes::from_static(b"bin")),
                    ])
                } else {
                    Payload::one(u64::from(arg))
                };
                match arg % 4 {
                    0 | 1 => io.of("/").emit("news", payload),
                    _ => {
                        io.of("/").to("r").emit("room-news", payload);
                    }
                }
            }
            4 => {
                for s in io.of("/").broadcast().fetch_sockets() {
                    drop(s.emit_with_ack("ask", Payload::empty(), Duration::from_secs(1)));
                }
            }
            5 => {
                let reasons = [
                    CloseReason::TransportClose,
                    CloseReason::TransportError,
                    CloseReason::PingTimeout,
                    CloseReason::ParseError,
                    CloseReason::ForcedClose,
                    CloseReason::ServerShutdown,
                    CloseReason::BufferFull,
                ];
                client.on_close(reasons[usize::from(arg) % reasons.len()]);
                closed = true;
                break;
            }
            _ => check(rx.drain(), &mut awaiting),
        }
    }
    // The session always ends with `on_close`, as the engine guarantees.
    if !closed {
        client.on_close(CloseReason::TransportClose);
    }
    check(rx.drain(), &mut awaiting);
    assert_eq!(awaiting, 0, "a binary packet without all its attachments");
    for name in ["/", "/custom", "/dyn-1"] {
        if let Some(ns) = io.namespace(name) {
            assert_eq!(
                ns.socket_count(),
                0,
                "{name} keeps a socket of a closed session"
            );
        }
    }
}
