//! Property tests: packet round trips, binary deconstruct/reconstruct, `JSON.stringify`
//! invariants, and the fuzz harnesses on generated input.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::fuzzing;
use crate::packet::{Namespace, Packet, PacketType, is_reserved_event};
use crate::raw::RawJson;
use crate::value::{Map, Value};

/// Object keys, including JavaScript array-index keys (which reorder) and the placeholder
/// keys when `placeholder_keys` is set.
fn key(placeholder_keys: bool) -> BoxedStrategy<String> {
    let common = prop_oneof![
        "[a-z_]{0,6}",
        "[0-9]{1,3}",
        "\\PC{0,4}",
        Just("4294967295".to_owned()),
    ];
    if placeholder_keys {
        prop_oneof![
            common,
            Just("_placeholder".to_owned()),
            Just("num".to_owned())
        ]
        .boxed()
    } else {
        common.boxed()
    }
}

/// Values; `binary` allows buffers at any depth.
fn value(binary: bool, placeholder_keys: bool) -> BoxedStrategy<Value> {
    let mut leaves = vec![
        Just(Value::Null).boxed(),
        any::<bool>().prop_map(Value::Bool).boxed(),
        any::<i64>().prop_map(Value::from).boxed(),
        any::<u64>().prop_map(Value::from).boxed(),
        any::<f64>().prop_map(Value::from).boxed(),
        "\\PC{0,8}".prop_map(Value::String).boxed(),
        any::<String>().prop_map(Value::String).boxed(),
    ];
    if binary {
        leaves.push(
            vec(any::<u8>(), 0..6)
                .prop_map(|b| Value::Binary(Bytes::from(b)))
                .boxed(),
        );
    }
    let leaf = proptest::strategy::Union::new(leaves);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((key(placeholder_keys), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map>())),
        ]
    })
    .boxed()
}

fn json(v: &Value) -> RawJson {
    RawJson::new(v.to_json()).expect("to_json writes valid JSON")
}

fn namespace() -> impl Strategy<Value = Namespace> {
    prop_oneof![
        Just(Namespace::main()),
        Just(Namespace::from_static("/admin").unwrap()),
        "/[^,]{0,8}".prop_map(|s| Namespace::new(s).unwrap()),
    ]
}

fn event_name() -> impl Strategy<Value = Value> {
    prop_oneof![
        "\\PC{0,10}"
            .prop_filter("reserved", |n| !is_reserved_event(n))
            .prop_map(Value::String),
        any::<i32>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
    ]
}

/// A payload of the right shape for each type (or none).
fn packet() -> impl Strategy<Value = Packet> {
    let ty = (0u8..7).prop_map(|d| PacketType::from_digit(b'0' + d).unwrap());
    (
        ty,
        namespace(),
        proptest::option::of(any::<u64>()),
        1usize..=10,
    )
        .prop_flat_map(|(ty, nsp, id, att)| {
            let object = vec(("[a-z]{0,4}", value(false, true)), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map>()));
            let array = vec(value(false, true), 0..4).prop_map(Value::Array);
            let payload: BoxedStrategy<Option<Value>> = match ty {
                PacketType::Connect => proptest::option::of(object).boxed(),
                PacketType::Disconnect => Just(None).boxed(),
                PacketType::ConnectError => {
                    proptest::option::of(prop_oneof!["\\PC{0,8}".prop_map(Value::String), object])
                        .boxed()
                }
                PacketType::Event | PacketType::BinaryEvent => proptest::option::of(
                    (event_name(), vec(value(false, true), 0..4)).prop_map(|(name, mut args)| {
                        args.insert(0, name);
                        Value::Array(args)
                    }),
                )
                .boxed(),
                PacketType::Ack | PacketType::BinaryAck => proptest::option::of(array).boxed(),
            };
            payload.prop_map(move |payload| {
                let att = if ty.is_binary() { att } else { 0 };
                Packet::from_parts(ty, nsp.clone(), id, att, payload.as_ref().map(json))
                    .expect("generated packets are valid")
            })
        })
}

/// The reference encoder's output, written out naively.
fn reference_encoding(p: &Packet) -> String {
    let mut s = char::from(p.packet_type().digit()).to_string();
    if p.packet_type().is_binary() {
        s += &format!("{}-", p.attachments());
    }
    if p.nsp().as_str() != "/" {
        s += &format!("{},", p.nsp());
    }
    if let Some(id) = p.ack_id() {
        s += &id.to_string();
    }
    if let Some(payload) = p.payload() {
        s += payload.as_str();
    }
    s
}

proptest! {
    // 512 cases by default; `PROPTEST_CASES=100000 cargo test -p socketio` for a long run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn decode_encode_round_trip(p in packet()) {
        let encoded = encode(&p);
        prop_assert_eq!(std::str::from_utf8(&encoded).unwrap(), reference_encoding(&p));
        let decoded = decode(encoded.clone()).unwrap();
        prop_assert_eq!(&decoded, &p);
        prop_assert_eq!(decoded.event_name(), p.event_name());
        prop_assert_eq!(decoded.args(), p.args());
        let mut framed = BytesMut::new();
        encode_into(&p, Some(MESSAGE_PREFIX), &mut framed);
        prop_assert_eq!(&framed[1..], &encoded[..]);
        fuzzing::roundtrip(&encoded);
    }

    #[test]
    fn events_encoded_from_values_decode_to_the_same_event(
        nsp in namespace(),
        id in proptest::option::of(any::<u64>()),
        name in "\\PC{0,10}".prop_filter("reserved", |n| !is_reserved_event(n)),
        args in vec(value(true, false), 0..4),
    ) {
        let mut out = BytesMut::new();
        let atts = encode_event_into(&mut out, None, &nsp, id, &name, Args::Values(&args));
        let total: usize = args.iter().map(Value::binary_count).sum();
        prop_assert_eq!(atts.len(), total);
        let mut r = Reassembler::default();
        let mut got = r.handle_text(out.freeze()).unwrap();
        for a in atts {
            prop_assert!(got.is_none());
            got = r.handle_binary(a).unwrap();
        }
        let (packet, values) = match got.unwrap() {
            Incoming::Packet(p) => {
                let values = p.args().unwrap().iter().map(Value::Raw).collect::<Vec<_>>();
                (p, values)
            }
            Incoming::Binary(b) => {
                let values = b.args().to_vec();
                (b.packet().clone(), values)
            }
        };
        prop_assert_eq!(packet.event_name().unwrap().as_str(), Some(name.as_str()));
        prop_assert_eq!(packet.ack_id(), id);
        prop_assert_eq!(packet.nsp(), &nsp);
        // What JavaScript makes of the text sent: the same, but for integers beyond 2^53,
        // which `Value` writes exactly and JavaScript rounds.
        let got_json: Vec<String> = values.iter().map(Value::to_json).collect();
        let want_json: Vec<String> = args
            .iter()
            .map(|v| json(v).normalized().as_str().to_owned())
            .collect();
        prop_assert_eq!(got_json, want_json);
    }

    #[test]
    fn deconstruct_reconstruct(v in value(true, false)) {
        let wrapped = Value::Array(vec![Value::from("e"), v]);
        let (text, buffers) = deconstruct(&wrapped);
        prop_assert_eq!(buffers.len(), wrapped.binary_count());
        let rebuilt = reconstruct(&text, &buffers).unwrap();
        // Same value (binary written as Buffer JSON), and the same deconstruction.
        prop_assert_eq!(rebuilt.to_json(), wrapped.to_json());
        prop_assert_eq!(deconstruct(&rebuilt), (text, buffers));
        prop_assert_eq!(rebuilt.expand().to_json(), wrapped.to_json());
    }

    #[test]
    fn stringify_is_valid_json_and_a_fixed_point(v in value(false, true)) {
        let once = v.to_json();
        let raw = RawJson::new(once.clone()).unwrap();
        prop_assert_eq!(Value::parse_raw(&raw).to_json(), once);
    }

    #[test]
    fn stringify_matches_serde_json_without_floats_or_index_keys(v in value(false, false)) {
        // serde_json differs only in float formatting and in not reordering index keys.
        let serde = v.to_serde().unwrap();
        if !has_floats(&serde) && !has_index_keys(&serde) {
            prop_assert_eq!(serde_json::to_string(&serde).unwrap(), v.to_json());
        }
    }

    #[test]
    fn harnesses_never_panic_on_bytes(data in vec(any::<u8>(), 0..64)) {
        fuzzing::decode(&data);
        fuzzing::roundtrip(&data);
        fuzzing::reassembly(&data);
    }

    #[test]
    fn harnesses_on_protocol_shaped_text(
        s in "[0-6]([0-9]{0,2}-)?(/[a-z ]{0,4},?)?[0-9 ]{0,3}[\\[\\]{}\":,0-9a-z_ \\\\.e-]{0,24}"
    ) {
        fuzzing::decode(s.as_bytes());
        fuzzing::roundtrip(s.as_bytes());
    }

    #[test]
    fn reassembly_on_shaped_sequences(
        msgs in vec(prop_oneof![
            "[56][0-3]-(/a,)?[0-9]?\\[\"e\",(\\{\"_placeholder\":true,\"num\":[0-3]\\},?){0,3}1\\]"
                .prop_map(|s| (true, s.into_bytes())),
            "2\\[\"e\"\\]".prop_map(|s| (true, s.into_bytes())),
            vec(any::<u8>(), 0..4).prop_map(|b| (false, b)),
        ], 0..8)
    ) {
        let mut data = Vec::new();
        for (text, bytes) in msgs {
            let len = bytes.len().min(127);
            data.push(((len as u8) << 1) | u8::from(!text));
            data.extend_from_slice(&bytes[..len]);
        }
        fuzzing::reassembly(&data);
    }
}

fn has_floats(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(a) => a.iter().any(has_floats),
        serde_json::Value::Object(o) => o.values().any(has_floats),
        _ => false,
    }
}

fn has_index_keys(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(a) => a.iter().any(has_index_keys),
        serde_json::Value::Object(o) => o
            .iter()
            .any(|(k, v)| crate::json::array_index(k).is_some() || has_index_keys(v)),
        _ => false,
    }
}
