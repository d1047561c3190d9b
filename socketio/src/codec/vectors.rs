//! Byte-exact vectors: every example of `protocol.md` §2 and the exchanges of the official
//! Socket.IO v5 suite (§3.3), plus reference-parser behaviours checked by running the
//! published socket.io-parser 4.2.7 on node 20. Inputs are Socket.IO texts, i.e. the
//! Engine.IO message without its `4` (wire `42["foo"]` is `2["foo"]` here).

use bytes::{Bytes, BytesMut};

use super::*;
use crate::packet::{Namespace, Packet, PacketType, RESERVED_EVENTS};
use crate::raw::JsonError;
use crate::value::{Map, Value};

use PacketType::*;

const PH0: &str = r#"{"_placeholder":true,"num":0}"#;
const PH1: &str = r#"{"_placeholder":true,"num":1}"#;

fn dec(s: &str) -> Result<Packet, DecodeError> {
    decode(Bytes::copy_from_slice(s.as_bytes()))
}

fn s(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

fn nsp(n: &'static str) -> Namespace {
    Namespace::from_static(n).unwrap()
}

/// (input, type, nsp, ack id, attachments, payload, canonical encoding if not the input)
type Valid = (
    &'static str,
    PacketType,
    &'static str,
    Option<u64>,
    usize,
    Option<&'static str>,
    Option<&'static str>,
);

fn valid() -> Vec<Valid> {
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    vec![
        // protocol.md §2.2-§2.7
        ("0", Connect, "/", None, 0, None, None),
        (
            r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
            Connect,
            "/admin",
            None,
            0,
            Some(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#),
            None,
        ),
        ("1/admin,", Disconnect, "/admin", None, 0, None, None),
        ("1", Disconnect, "/", None, 0, None, None),
        (
            "0/custom",
            Connect,
            "/custom",
            None,
            0,
            None,
            Some("0/custom,"),
        ),
        (
            "1/custom",
            Disconnect,
            "/custom",
            None,
            0,
            None,
            Some("1/custom,"),
        ),
        ("0/custom,", Connect, "/custom", None, 0, None, None),
        (r#"2["foo"]"#, Event, "/", None, 0, Some(r#"["foo"]"#), None),
        (
            r#"212["foo"]"#,
            Event,
            "/",
            Some(12),
            0,
            Some(r#"["foo"]"#),
            None,
        ),
        (
            r#"2/admin,13["bar"]"#,
            Event,
            "/admin",
            Some(13),
            0,
            Some(r#"["bar"]"#),
            None,
        ),
        (
            r#"3/admin,13["bar"]"#,
            Ack,
            "/admin",
            Some(13),
            0,
            Some(r#"["bar"]"#),
            None,
        ),
        ("3[]", Ack, "/", None, 0, Some("[]"), None),
        (
            leak(format!(r#"51-["baz",{PH0}]"#)),
            BinaryEvent,
            "/",
            None,
            1,
            Some(leak(format!(r#"["baz",{PH0}]"#))),
            None,
        ),
        (
            leak(format!(r#"52-/admin,["baz",{PH0},{PH1}]"#)),
            BinaryEvent,
            "/admin",
            None,
            2,
            Some(leak(format!(r#"["baz",{PH0},{PH1}]"#))),
            None,
        ),
        (
            leak(format!(r#"61-15["bar",{PH0}]"#)),
            BinaryAck,
            "/",
            Some(15),
            1,
            Some(leak(format!(r#"["bar",{PH0}]"#))),
            None,
        ),
        (
            leak(format!(r#"61-/admin,1[{PH0}]"#)),
            BinaryAck,
            "/admin",
            Some(1),
            1,
            Some(leak(format!("[{PH0}]"))),
            None,
        ),
        (
            r#"0{"token":"123"}"#,
            Connect,
            "/",
            None,
            0,
            Some(r#"{"token":"123"}"#),
            None,
        ),
        ("0/admin,", Connect, "/admin", None, 0, None, None),
        (
            r#"0/admin,{"token":"abc"}"#,
            Connect,
            "/admin",
            None,
            0,
            Some(r#"{"token":"abc"}"#),
            None,
        ),
        (
            r#"0{"sid":"a","pid":"b"}"#,
            Connect,
            "/",
            None,
            0,
            Some(r#"{"sid":"a","pid":"b"}"#),
            None,
        ),
        (
            r#"4/random,{"message":"Invalid namespace"}"#,
            ConnectError,
            "/random",
            None,
            0,
            Some(r#"{"message":"Invalid namespace"}"#),
            None,
        ),
        (
            r#"4/custom?foo=bar,{"message":"Invalid namespace"}"#,
            ConnectError,
            "/custom?foo=bar",
            None,
            0,
            Some(r#"{"message":"Invalid namespace"}"#),
            None,
        ),
        (
            r#"4{"message":"m","data":{"a":1}}"#,
            ConnectError,
            "/",
            None,
            0,
            Some(r#"{"message":"m","data":{"a":1}}"#),
            None,
        ),
        (
            r#"4"Auth failed""#,
            ConnectError,
            "/",
            None,
            0,
            Some(r#""Auth failed""#),
            None,
        ),
        ("2[1,2]", Event, "/", None, 0, Some("[1,2]"), None),
        (
            r#"299999999999["a"]"#,
            Event,
            "/",
            Some(99_999_999_999),
            0,
            Some(r#"["a"]"#),
            None,
        ),
        // v4-style auth in the nsp: in v5 it is part of the name.
        (
            "0/admin?token=1234,",
            Connect,
            "/admin?token=1234",
            None,
            0,
            None,
            None,
        ),
        // §3.3 suite inputs
        (
            r#"2["message",1,"2",{"3":[true]}]"#,
            Event,
            "/",
            None,
            0,
            Some(r#"["message",1,"2",{"3":[true]}]"#),
            None,
        ),
        (
            r#"2456["message-with-ack",1,"2",{"3":[false]}]"#,
            Event,
            "/",
            Some(456),
            0,
            Some(r#"["message-with-ack",1,"2",{"3":[false]}]"#),
            None,
        ),
        (
            leak(format!(r#"52-789["message-with-ack",{PH0},{PH1}]"#)),
            BinaryEvent,
            "/",
            Some(789),
            2,
            Some(leak(format!(r#"["message-with-ack",{PH0},{PH1}]"#))),
            None,
        ),
        (
            r#"2["message","message to main namespace"]"#,
            Event,
            "/",
            None,
            0,
            Some(r#"["message","message to main namespace"]"#),
            None,
        ),
        // Accepted by socket.io-parser 4.2.7 [verified with node]: a payload is optional
        // for every type; the nsp runs to the end of text; whitespace handling of
        // JSON.parse; leading zeros in counts and ids.
        ("2", Event, "/", None, 0, None, None),
        ("3", Ack, "/", None, 0, None, None),
        ("4", ConnectError, "/", None, 0, None, None),
        ("51-", BinaryEvent, "/", None, 1, None, None),
        ("61-", BinaryAck, "/", None, 1, None, None),
        ("40", ConnectError, "/", Some(0), 0, None, None),
        ("01", Connect, "/", Some(1), 0, None, None),
        ("2/admin", Event, "/admin", None, 0, None, Some("2/admin,")),
        (
            r#"2/admin["x"]"#,
            Event,
            r#"/admin["x"]"#,
            None,
            0,
            None,
            Some(r#"2/admin["x"],"#),
        ),
        (
            r#"2/,["a"]"#,
            Event,
            "/",
            None,
            0,
            Some(r#"["a"]"#),
            Some(r#"2["a"]"#),
        ),
        (
            r#"2/a b,["x"]"#,
            Event,
            "/a b",
            None,
            0,
            Some(r#"["x"]"#),
            None,
        ),
        ("21 ", Event, "/", Some(1), 0, None, Some("21")),
        ("21\u{a0}\u{feff}", Event, "/", Some(1), 0, None, Some("21")),
        (
            r#"21 ["a"]"#,
            Event,
            "/",
            Some(1),
            0,
            Some(r#"["a"]"#),
            Some(r#"21["a"]"#),
        ),
        (
            "2/admin,1\n[\"a\"]\n",
            Event,
            "/admin",
            Some(1),
            0,
            Some(r#"["a"]"#),
            Some(r#"2/admin,1["a"]"#),
        ),
        (
            r#"2["a"] "#,
            Event,
            "/",
            None,
            0,
            Some(r#"["a"]"#),
            Some(r#"2["a"]"#),
        ),
        (
            r#"501-["a"]"#,
            BinaryEvent,
            "/",
            None,
            1,
            Some(r#"["a"]"#),
            Some(r#"51-["a"]"#),
        ),
        (
            r#"510-["a"]"#,
            BinaryEvent,
            "/",
            None,
            10,
            Some(r#"["a"]"#),
            None,
        ),
        (
            r#"2007["a"]"#,
            Event,
            "/",
            Some(7),
            0,
            Some(r#"["a"]"#),
            Some(r#"27["a"]"#),
        ),
        (
            r#"2[ "a" , 1 ]"#,
            Event,
            "/",
            None,
            0,
            Some(r#"[ "a" , 1 ]"#),
            None,
        ),
        (
            r#"2["\ud800"]"#,
            Event,
            "/",
            None,
            0,
            Some(r#"["\ud800"]"#),
            None,
        ),
        (
            r#"2["Disconnect"]"#,
            Event,
            "/",
            None,
            0,
            Some(r#"["Disconnect"]"#),
            None,
        ),
        ("2[1e400]", Event, "/", None, 0, Some("[1e400]"), None),
        ("2[-1]", Event, "/", None, 0, Some("[-1]"), None),
        ("2[1.5,2]", Event, "/", None, 0, Some("[1.5,2]"), None),
        (r#"4"x""#, ConnectError, "/", None, 0, Some(r#""x""#), None),
        (
            "218446744073709551615",
            Event,
            "/",
            Some(u64::MAX),
            0,
            None,
            None,
        ),
    ]
}

#[test]
fn valid_vectors_decode_and_encode_byte_exact() {
    for (input, ty, ns, id, att, payload, canonical) in valid() {
        let p = dec(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(p.packet_type(), ty, "{input:?}");
        assert_eq!(p.nsp().as_str(), ns, "{input:?}");
        assert_eq!(p.ack_id(), id, "{input:?}");
        assert_eq!(p.attachments(), att, "{input:?}");
        assert_eq!(p.payload().map(|r| r.as_str()), payload, "{input:?}");
        let encoded = encode(&p);
        assert_eq!(s(&encoded), canonical.unwrap_or(input), "{input:?}");
        assert_eq!(dec(s(&encoded)).unwrap(), p, "{input:?}");
        let mut framed = BytesMut::new();
        encode_into(&p, Some(MESSAGE_PREFIX), &mut framed);
        assert_eq!(framed[0], b'4');
        assert_eq!(&framed[1..], &encoded[..]);
    }
}

#[test]
fn invalid_vectors() {
    let payload = DecodeError::InvalidPayload;
    let deep = format!("2[\"a\",{}{}]", "[".repeat(128), "]".repeat(128));
    let cases: Vec<(&str, DecodeError)> = vec![
        // protocol.md §2.2 / suite tests 22, 30-32, and [verified] rejections
        ("", DecodeError::Empty),
        ("abc", DecodeError::UnknownPacketType),
        ("7", DecodeError::UnknownPacketType),
        ("9[\"a\"]", DecodeError::UnknownPacketType),
        ("{}", DecodeError::UnknownPacketType),
        ("2{}", payload(Event)),
        (
            "2abc[\"message-with-ack\",1,\"2\",{\"3\":[false]}]",
            DecodeError::InvalidJson(JsonError::Syntax { offset: 0 }),
        ),
        ("2[]", payload(Event)),
        ("50-", DecodeError::InvalidAttachments),
        ("50-[\"a\"]", DecodeError::InvalidAttachments),
        ("5-[\"a\"]", DecodeError::InvalidAttachments),
        ("5[\"a\"]", DecodeError::InvalidAttachments),
        ("51[\"a\"]", DecodeError::InvalidAttachments),
        ("51", DecodeError::InvalidAttachments),
        ("5abc-[\"a\"]", DecodeError::InvalidAttachments),
        ("6-", DecodeError::InvalidAttachments),
        (
            "511-[\"a\"]",
            DecodeError::TooManyAttachments { count: 11, max: 10 },
        ),
        ("2[null]", payload(Event)),
        ("2[true]", payload(Event)),
        ("2[{}]", payload(Event)),
        ("2[[\"a\"]]", payload(Event)),
        ("2\"a\"", payload(Event)),
        ("5 1-[\"a\"]", DecodeError::InvalidAttachments),
        (
            "2[\"a\"]x",
            DecodeError::InvalidJson(JsonError::Syntax { offset: 5 }),
        ),
        (
            "2[\"a\"]\u{2028}",
            DecodeError::InvalidJson(JsonError::Syntax { offset: 5 }),
        ),
        (
            "2[\"a\",]",
            DecodeError::InvalidJson(JsonError::Syntax { offset: 5 }),
        ),
        ("0null", payload(Connect)),
        ("0[]", payload(Connect)),
        ("0\"s\"", payload(Connect)),
        ("1{}", payload(Disconnect)),
        ("1/admin,{}", payload(Disconnect)),
        ("4null", payload(ConnectError)),
        ("4[]", payload(ConnectError)),
        ("4/a,1[]", payload(ConnectError)),
        ("3{}", payload(Ack)),
        ("3\"a\"", payload(Ack)),
        ("61-{}", payload(BinaryAck)),
        ("51-[]", payload(BinaryEvent)),
        ("218446744073709551616[\"a\"]", DecodeError::InvalidAckId),
        (
            &deep,
            DecodeError::InvalidJson(JsonError::TooDeep { max_depth: 128 }),
        ),
        // Accepted by socket.io-parser only through JavaScript `Number()` coercion;
        // rejected here on purpose (see the `decode` module docs).
        (" {}", DecodeError::UnknownPacketType),
        ("\u{a0}{}", DecodeError::UnknownPacketType),
        ("2 [\"a\"]", DecodeError::InvalidAckId),
        ("2/admin, [\"a\"]", DecodeError::InvalidAckId),
        ("2\u{3000}[\"a\"]", DecodeError::InvalidAckId),
        ("0 {}", DecodeError::InvalidAckId),
        ("21 2[\"a\"]", DecodeError::InvalidAckId),
        ("50x1-[\"a\"]", DecodeError::InvalidAttachments),
        ("51e0-[\"a\"]", DecodeError::InvalidAttachments),
        ("5+1-[\"a\"]", DecodeError::InvalidAttachments),
        ("52.0-[\"a\"]", DecodeError::InvalidAttachments),
    ];
    for (input, want) in cases {
        assert_eq!(dec(input), Err(want), "{input:?}");
    }
    assert_eq!(
        decode(Bytes::from_static(b"2[\"\xff\"]")),
        Err(DecodeError::InvalidUtf8)
    );
}

#[test]
fn reserved_event_names_are_rejected() {
    for name in RESERVED_EVENTS {
        assert_eq!(
            dec(&format!("2[\"{name}\"]")),
            Err(DecodeError::ReservedEventName),
            "{name}"
        );
        assert_eq!(
            dec(&format!("2/admin,1[\"{name}\",1]")),
            Err(DecodeError::ReservedEventName)
        );
        assert_eq!(
            dec(&format!("51-[\"{name}\",{PH0}]")),
            Err(DecodeError::ReservedEventName)
        );
    }
    // Escapes are decoded before the check, as JSON.parse does.
    assert_eq!(
        dec(r#"2["disconn\u0065ct"]"#),
        Err(DecodeError::ReservedEventName)
    );
    // Acks have no event name.
    assert!(dec(r#"3["disconnect"]"#).is_ok());
}

/// Suite tests 17-21: connection exchanges.
#[test]
fn suite_connect_exchanges() {
    let mut out = BytesMut::new();
    let sid: Value = [("sid", "s1")].into_iter().collect();
    let auth_event = |out: &mut BytesMut, p: &Packet| {
        // `socket.emit("auth", socket.handshake.auth)`, auth `{}` when absent.
        let auth = p
            .auth()
            .cloned()
            .map_or(Value::Object(Map::new()), Value::Raw);
        encode_event_into(
            out,
            Some(MESSAGE_PREFIX),
            p.nsp(),
            None,
            "auth",
            Args::Values(&[auth]),
        );
    };
    for (input, reply, event) in [
        ("0", r#"40{"sid":"s1"}"#, r#"42["auth",{}]"#),
        (
            r#"0{"token":"123"}"#,
            r#"40{"sid":"s1"}"#,
            r#"42["auth",{"token":"123"}]"#,
        ),
        (
            "0/custom,",
            r#"40/custom,{"sid":"s1"}"#,
            r#"42/custom,["auth",{}]"#,
        ),
        (
            r#"0/custom,{"token":"abc"}"#,
            r#"40/custom,{"sid":"s1"}"#,
            r#"42/custom,["auth",{"token":"abc"}]"#,
        ),
        (
            "0/custom",
            r#"40/custom,{"sid":"s1"}"#,
            r#"42/custom,["auth",{}]"#,
        ),
    ] {
        let p = dec(input).unwrap();
        out.clear();
        encode_value_into(
            &mut out,
            Some(MESSAGE_PREFIX),
            Connect,
            p.nsp(),
            None,
            Some(&sid),
        );
        assert_eq!(s(&out), reply, "{input}");
        out.clear();
        auth_event(&mut out, &p);
        assert_eq!(s(&out), event, "{input}");
    }
    let p = dec("0/random").unwrap();
    out.clear();
    let err: Value = [("message", "Invalid namespace")].into_iter().collect();
    encode_value_into(
        &mut out,
        Some(MESSAGE_PREFIX),
        ConnectError,
        p.nsp(),
        None,
        Some(&err),
    );
    assert_eq!(s(&out), r#"44/random,{"message":"Invalid namespace"}"#);
}

/// Suite tests 25-29: echoes must be byte-identical.
#[test]
fn suite_message_exchanges() {
    let mut out = BytesMut::new();
    for (input, want) in [
        (
            r#"2["message",1,"2",{"3":[true]}]"#,
            r#"42["message-back",1,"2",{"3":[true]}]"#,
        ),
        (
            r#"2["message","message to main namespace"]"#,
            r#"42["message-back","message to main namespace"]"#,
        ),
    ] {
        let p = dec(input).unwrap();
        out.clear();
        encode_event_into(
            &mut out,
            Some(MESSAGE_PREFIX),
            p.nsp(),
            None,
            "message-back",
            Args::Raw(p.args().unwrap()),
        );
        assert_eq!(s(&out), want);
    }

    let p = dec(r#"2456["message-with-ack",1,"2",{"3":[false]}]"#).unwrap();
    out.clear();
    encode_ack_into(
        &mut out,
        Some(MESSAGE_PREFIX),
        p.nsp(),
        p.ack_id().unwrap(),
        Args::Raw(p.args().unwrap()),
    );
    assert_eq!(s(&out), r#"43456[1,"2",{"3":[false]}]"#);

    // Test 27: binary echo, placeholders renumbered depth-first, same buffers in order.
    let mut r = Reassembler::default();
    let header = format!(r#"2-["message",{PH0},{PH1}]"#);
    assert_eq!(r.handle_text(Bytes::from(format!("5{header}"))), Ok(None));
    r.handle_binary(Bytes::from_static(&[1, 2, 3])).unwrap();
    let Some(Incoming::Binary(bp)) = r.handle_binary(Bytes::from_static(&[4, 5, 6])).unwrap()
    else {
        panic!("binary packet expected");
    };
    out.clear();
    let atts = encode_event_into(
        &mut out,
        Some(MESSAGE_PREFIX),
        bp.packet().nsp(),
        None,
        "message-back",
        Args::Values(bp.args()),
    );
    assert_eq!(s(&out), format!(r#"452-["message-back",{PH0},{PH1}]"#));
    assert_eq!(
        atts,
        [
            Bytes::from_static(&[1, 2, 3]),
            Bytes::from_static(&[4, 5, 6])
        ]
    );
    // The same reply relayed without reconstruction.
    out.clear();
    let relayed = encode_event_into(
        &mut out,
        Some(MESSAGE_PREFIX),
        bp.packet().nsp(),
        None,
        "message-back",
        Args::RawBinary {
            args: bp.packet().args().unwrap(),
            attachments: bp.attachments(),
        },
    );
    assert_eq!(s(&out), format!(r#"452-["message-back",{PH0},{PH1}]"#));
    assert_eq!(relayed, atts);

    // Test 29: binary ack.
    r.handle_text(Bytes::from(format!(
        r#"52-789["message-with-ack",{PH0},{PH1}]"#
    )))
    .unwrap();
    r.handle_binary(Bytes::from_static(&[1, 2, 3])).unwrap();
    let Some(Incoming::Binary(bp)) = r.handle_binary(Bytes::from_static(&[4, 5, 6])).unwrap()
    else {
        panic!("binary packet expected");
    };
    out.clear();
    let id = bp.packet().ack_id().unwrap();
    let atts = encode_ack_into(
        &mut out,
        Some(MESSAGE_PREFIX),
        bp.packet().nsp(),
        id,
        Args::Values(bp.args()),
    );
    assert_eq!(s(&out), format!(r#"462-789[{PH0},{PH1}]"#));
    assert_eq!(atts.len(), 2);
}

/// protocol.md §2.3: placeholder numbering of outgoing values.
#[test]
fn outgoing_binary_examples() {
    let mut out = BytesMut::new();
    let buf = Value::Binary(Bytes::from_static(&[1, 2, 3, 4]));
    let atts = encode_event_into(
        &mut out,
        None,
        &Namespace::main(),
        None,
        "baz",
        Args::Values(std::slice::from_ref(&buf)),
    );
    assert_eq!(s(&out), format!(r#"51-["baz",{PH0}]"#));
    assert_eq!(atts, [Bytes::from_static(&[1, 2, 3, 4])]);

    out.clear();
    let two = [buf.clone(), buf.clone()];
    encode_event_into(
        &mut out,
        None,
        &nsp("/admin"),
        None,
        "baz",
        Args::Values(&two),
    );
    assert_eq!(s(&out), format!(r#"52-/admin,["baz",{PH0},{PH1}]"#));

    out.clear();
    encode_ack_into(
        &mut out,
        Some(b'4'),
        &nsp("/admin"),
        1,
        Args::Values(&[Value::from(vec![buf])]),
    );
    assert_eq!(s(&out), format!(r#"461-/admin,1[[{PH0}]]"#));
}

#[test]
fn event_packets_built_in_rust_match_the_encoder() {
    let args = crate::raw::RawArgs::new(r#"1,"2""#).unwrap();
    let p = Packet::event(nsp("/admin"), "é\"", &args, Some(3)).unwrap();
    let mut out = BytesMut::new();
    encode_event_into(
        &mut out,
        None,
        &nsp("/admin"),
        Some(3),
        "é\"",
        Args::Raw(&args),
    );
    assert_eq!(&encode(&p)[..], &out[..]);
    assert_eq!(s(&out), r#"2/admin,3["é\"",1,"2"]"#);
}
