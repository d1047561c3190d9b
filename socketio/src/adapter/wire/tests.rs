//! Golden vectors: every hex string here was captured from the wire (Redis 7.0, socket.io
//! 4.8.1, @socket.io/redis-adapter 8.3.0, @socket.io/redis-emitter 5.1.0,
//! socket.io-emitter 3.2.0; see shared/docs/reference/redis-wire.md), unless marked.

use super::*;
use crate::value::Number;

fn hex(s: &str) -> Bytes {
    assert!(s.len().is_multiple_of(2), "odd hex");
    Bytes::from(
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>(),
    )
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn s(v: &str) -> Value {
    Value::from(v)
}

fn rooms(r: &[&str]) -> Vec<Room> {
    r.iter().map(|r| Room::from(*r)).collect()
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    pairs.into_iter().collect()
}

/// `io.emit("ev1", 1, "two", {three: 3})` from node uid `cWnDa7`.
const EV1: &str = "93a663576e44613783a47479706502a46461746194a365763101a374776f81a5746872656503a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380";

#[test]
fn node_adapter_broadcasts_encode_byte_for_byte() {
    let ev1 = Broadcast {
        uid: "cWnDa7".into(),
        packet: Packet::event(
            "/",
            "ev1",
            vec![1.into(), s("two"), obj(vec![("three", 3.into())])],
        ),
        opts: Options::default(),
    };
    assert_eq!(to_hex(&encode_broadcast(&ev1)), EV1);
    assert_eq!(decode_broadcast(&hex(EV1)).unwrap(), ev1);

    // io.to("room1").emit("ev2", 42), on socket.io#/#room1#
    let ev2 = Broadcast {
        uid: "cWnDa7".into(),
        packet: Packet::event("/", "ev2", vec![42.into()]),
        opts: Options {
            rooms: rooms(&["room1"]),
            ..Options::default()
        },
    };
    let want = "93a663576e44613783a47479706502a46461746192a36576322aa36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380";
    assert_eq!(to_hex(&encode_broadcast(&ev2)), want);
    assert_eq!(decode_broadcast(&hex(want)).unwrap(), ev2);
    // 42.0 as a float is still written as the integer 42, as notepack does.
    let mut ev2f = ev2.clone();
    ev2f.packet.data[1] = Value::Number(Number::from_f64(42.0));
    assert_eq!(to_hex(&encode_broadcast(&ev2f)), want);
    let ch = Channels::new("socket.io", "/", "cWnDa7");
    assert_eq!(ch.broadcast_channel(&ev2.opts.rooms), "socket.io#/#room1#");
    assert_eq!(ch.room_of("socket.io#/#room1#"), Some("room1"));
    assert_eq!(ch.room_of("socket.io#/#"), Some(""));
    assert_eq!(ch.room_of("socket.io#/admin#x#"), None);

    // io.to(["room1","room2"]).except("room3").emit("ev3","x"), on socket.io#/#
    let ev3 = Broadcast {
        uid: "cWnDa7".into(),
        packet: Packet::event("/", "ev3", vec![s("x")]),
        opts: Options {
            rooms: rooms(&["room1", "room2"]),
            except: rooms(&["room3"]),
            flags: Flags::default(),
        },
    };
    let want = "93a663576e44613783a47479706502a46461746192a3657633a178a36e7370a12f83a5726f6f6d7392a5726f6f6d31a5726f6f6d32a665786365707491a5726f6f6d33a5666c61677380";
    assert_eq!(to_hex(&encode_broadcast(&ev3)), want);
    assert_eq!(ch.broadcast_channel(&ev3.opts.rooms), "socket.io#/#");

    // io.volatile.compress(false).emit("ev5"): the captured flags suffix, after the
    // header every broadcast of cWnDa7 has (assembled, not captured whole).
    let ev5 = Broadcast {
        uid: "cWnDa7".into(),
        packet: Packet::event("/", "ev5", vec![]),
        opts: Options {
            flags: Flags {
                volatile: true,
                compress: Some(false),
                timeout: None,
            },
            ..Options::default()
        },
    };
    let got = to_hex(&encode_broadcast(&ev5));
    assert!(
        got.ends_with("a5666c61677382a8766f6c6174696c65c3a8636f6d7072657373c2"),
        "{got}"
    );
    assert_eq!(decode_broadcast(&hex(&got)).unwrap(), ev5);

    // io.of("/admin").emit("ev7","adm"), uid Bgt0SN, on socket.io#/admin#
    let ev7 = Broadcast {
        uid: "Bgt0SN".into(),
        packet: Packet::event("/admin", "ev7", vec![s("adm")]),
        opts: Options::default(),
    };
    let want = "93a642677430534e83a47479706502a46461746192a3657637a361646da36e7370a62f61646d696e83a5726f6f6d7390a665786365707490a5666c61677380";
    assert_eq!(to_hex(&encode_broadcast(&ev7)), want);
}

#[test]
fn binary_dates_floats_decode_as_clients_see_them() {
    // io.emit("ev6", Buffer[1,2,3], new Date(1700000000123), 1.5, -7, null, true)
    let b = decode_broadcast(&hex("93a663576e44613783a47479706502a46461746197a3657636c403010203d7ff1d5353006553f100cb3ff8000000000000f9c0c3a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380")).unwrap();
    assert_eq!(b.packet.event_name(), Some("ev6"));
    assert_eq!(
        b.packet.args(),
        &[
            Value::Binary(Bytes::from_static(&[1, 2, 3])),
            s("2023-11-14T22:13:20.123Z"),
            Value::from(1.5),
            Value::from(-7),
            Value::Null,
            Value::Bool(true),
        ]
    );
    // Binary, float and negative ints re-encode as Node wrote them (the Date is text now).
    let enc = to_hex(&encode_broadcast(&b));
    assert!(enc.contains("c403010203"), "{enc}");
    assert!(enc.contains("cb3ff8000000000000f9c0c3"), "{enc}");
}

#[test]
fn emitter_5_broadcasts_decode() {
    // emit("em1","a",2) → socket.io#/#; key order rooms, flags, except.
    let b = decode_broadcast(&hex("93a7656d697474657283a47479706502a46461746193a3656d31a16102a36e7370a12f83a5726f6f6d7390a5666c61677380a665786365707490")).unwrap();
    assert_eq!(b.uid, EMITTER_UID);
    assert_eq!(b.packet.data, vec![s("em1"), s("a"), 2.into()]);
    assert_eq!(b.opts, Options::default());
    // to("room1").except("room2").volatile.emit("em2", Buffer("hi"), new Date(1700000000000))
    let b = decode_broadcast(&hex("93a7656d697474657283a47479706502a46461746193a3656d32c4026869d6ff6553f100a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677381a8766f6c6174696c65c3a665786365707491a5726f6f6d32")).unwrap();
    assert_eq!(
        b.packet.args(),
        &[
            Value::Binary(Bytes::from_static(b"hi")),
            s("2023-11-14T22:13:20.000Z")
        ]
    );
    assert_eq!(b.opts.rooms, rooms(&["room1"]));
    assert_eq!(b.opts.except, rooms(&["room2"]));
    assert!(b.opts.flags.volatile);
    // of("admin").to(["r1","r2"]).emit("em3") → socket.io#/admin#
    let b = decode_broadcast(&hex("93a7656d697474657283a47479706502a46461746191a3656d33a36e7370a62f61646d696e83a5726f6f6d7392a27231a27232a5666c61677380a665786365707490")).unwrap();
    assert_eq!(b.packet.nsp, "/admin");
    assert_eq!(b.packet.data, vec![s("em3")]);
    assert_eq!(b.opts.rooms, rooms(&["r1", "r2"]));
}

#[test]
fn old_emitter_3_2_broadcasts_decode() {
    // emit("old1","a",{b:1}): no `except` key.
    let b = decode_broadcast(&hex("93a7656d697474657283a47479706502a46461746193a46f6c6431a16181a16201a36e7370a12f82a5726f6f6d7390a5666c61677380")).unwrap();
    assert_eq!(
        b.packet.data,
        vec![s("old1"), s("a"), obj(vec![("b", 1.into())])]
    );
    assert!(b.opts.except.is_empty());
    // to("room1").broadcast.emit("old2",3): flags {broadcast:true} is ignored.
    let b = decode_broadcast(&hex("93a7656d697474657283a47479706502a46461746192a46f6c643203a36e7370a12f82a5726f6f6d7391a5726f6f6d31a5666c61677381a962726f616463617374c3")).unwrap();
    assert_eq!(b.opts.rooms, rooms(&["room1"]));
    assert_eq!(b.opts.flags, Flags::default());
    // of("/admin").to("r1").to("r2").emit("old3", Buffer[9], new Date(1700000000000)):
    // the legacy Date is fixext8 type 0 with i64 milliseconds.
    let b = decode_broadcast(&hex("93a7656d697474657283a47479706502a46461746193a46f6c6433c40109d7000000018bcfe56800a36e7370a62f61646d696e82a5726f6f6d7392a27231a27232a5666c61677380")).unwrap();
    assert_eq!(
        b.packet.args(),
        &[
            Value::Binary(Bytes::from_static(&[9])),
            s("2023-11-14T22:13:20.000Z")
        ]
    );
}

#[test]
fn legacy_ext_forms() {
    // (constructed) [d4 00 00, {"a": d4 00 00, "b": 1}, c7 03 00 010203, d5 05 abcd]
    let v = msgpack::decode(&hex("94d4000082a161d40000a16201c70300010203d505abcd")).unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            Value::Null,
            obj(vec![("b", 1.into())]),
            Value::Binary(Bytes::from_static(&[1, 2, 3])),
            Value::Array(vec![
                5.into(),
                Value::Binary(Bytes::from_static(&[0xab, 0xcd]))
            ]),
        ])
    );
    // Timestamps, as notepack 3 writes Dates.
    assert_eq!(to_hex(&timestamp_bytes(1_700_000_000_000)), "d6ff6553f100");
    assert_eq!(
        to_hex(&timestamp_bytes(1_700_000_000_123)),
        "d7ff1d5353006553f100"
    );
    let t96 = timestamp_bytes(-1);
    assert_eq!(to_hex(&t96), "c70cff3b8b87c0ffffffffffffffff");
    assert_eq!(
        msgpack::decode(&Bytes::from(t96)).unwrap(),
        s("1969-12-31T23:59:59.999Z")
    );
}

#[test]
fn integers_use_notepack_markers() {
    let cases: &[(Value, &str)] = &[
        (0.into(), "00"),
        (127.into(), "7f"),
        (128.into(), "cc80"),
        (255.into(), "ccff"),
        (256.into(), "cd0100"),
        (65536.into(), "ce00010000"),
        (4_294_967_296u64.into(), "cf0000000100000000"),
        ((-1).into(), "ff"),
        ((-32).into(), "e0"),
        ((-33).into(), "d0df"),
        ((-129).into(), "d1ff7f"),
        ((-32769).into(), "d2ffff7fff"),
        ((-2_147_483_649i64).into(), "d3ffffffff7fffffff"),
        (Value::from(-0.0), "00"),
        (Value::from(1.5), "cb3ff8000000000000"),
        (Value::Null, "c0"),
        (s(&"x".repeat(40)), &format!("d928{}", "78".repeat(40))),
    ];
    for (v, want) in cases {
        assert_eq!(to_hex(&msgpack::encode(v)), *want, "{v:?}");
    }
}

#[test]
fn requests_and_responses_match_node() {
    // type 7 BROADCAST (msgpack)
    let t7 = "85a3756964a663576e446137a9726571756573744964a6636978656b6ea47479706507a67061636b657483a47479706502a46461746192a661636b2d6576a77061796c6f6164a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd03e8";
    let r = Request::Broadcast {
        uid: "cWnDa7".into(),
        request_id: "cixekn".into(),
        packet: Packet::event("/", "ack-ev", vec![s("payload")]),
        opts: Options {
            flags: Flags {
                timeout: Some(1000),
                ..Flags::default()
            },
            ..Options::default()
        },
    };
    assert_eq!(to_hex(&encode_request(&r)), t7);
    assert_eq!(decode_request(&hex(t7)).unwrap(), r);

    // type 8 and 9 replies
    let r8 = Response::ClientCount {
        request_id: "cixekn".into(),
        count: 1,
    };
    let j8 = r#"{"type":8,"requestId":"cixekn","clientCount":1}"#;
    assert_eq!(encode_response(&r8), j8.as_bytes());
    assert_eq!(
        decode_response(&Bytes::from_static(j8.as_bytes())).unwrap(),
        r8
    );
    let t9 = "83a47479706509a9726571756573744964a6636978656b6ea67061636b6574b061636b2d66726f6d2d636c69656e7442";
    let r9 = Response::Ack {
        request_id: "cixekn".into(),
        packet: Some(s("ack-from-clientB")),
    };
    assert_eq!(to_hex(&encode_response(&r9)), t9);
    assert_eq!(decode_response(&hex(t9)).unwrap(), r9);

    let json_cases: Vec<(&str, Request)> = vec![
        (
            r#"{"uid":"cWnDa7","type":6,"data":["hello","world",1]}"#,
            Request::ServerSideEmit {
                uid: Some("cWnDa7".into()),
                request_id: None,
                data: vec![s("hello"), s("world"), 1.into()],
            },
        ),
        (
            r#"{"uid":"cWnDa7","requestId":"0-cbjj","type":6,"data":["ping-srv"]}"#,
            Request::ServerSideEmit {
                uid: Some("cWnDa7".into()),
                request_id: Some("0-cbjj".into()),
                data: vec![s("ping-srv")],
            },
        ),
        (
            r#"{"uid":"cWnDa7","requestId":"6Geiyt","type":5,"opts":{"rooms":[],"except":[]}}"#,
            Request::Fetch {
                uid: "cWnDa7".into(),
                request_id: "6Geiyt".into(),
                target: Target::default(),
            },
        ),
        (
            r#"{"uid":"cWnDa7","requestId":"XAVamr","type":1}"#,
            Request::AllRooms {
                uid: "cWnDa7".into(),
                request_id: "XAVamr".into(),
            },
        ),
        (
            r#"{"uid":"cWnDa7","type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room9"]}"#,
            Request::Join {
                uid: Some("cWnDa7".into()),
                request_id: None,
                select: Selector::Target(Target {
                    rooms: rooms(&["room1"]),
                    except: vec![],
                }),
                rooms: rooms(&["room9"]),
            },
        ),
        (
            r#"{"uid":"cWnDa7","type":3,"opts":{"rooms":["room1"],"except":[]},"rooms":["room9"]}"#,
            Request::Leave {
                uid: Some("cWnDa7".into()),
                request_id: None,
                select: Selector::Target(Target {
                    rooms: rooms(&["room1"]),
                    except: vec![],
                }),
                rooms: rooms(&["room9"]),
            },
        ),
        (
            r#"{"uid":"cWnDa7","type":4,"opts":{"rooms":["nosuchroom"],"except":[]},"close":false}"#,
            Request::Disconnect {
                uid: Some("cWnDa7".into()),
                request_id: None,
                select: Selector::Target(Target {
                    rooms: rooms(&["nosuchroom"]),
                    except: vec![],
                }),
                close: false,
            },
        ),
        // The emitter 5.1.0: no uid.
        (
            r#"{"type":4,"opts":{"rooms":["nosuchroom"],"except":[]},"close":true}"#,
            Request::Disconnect {
                uid: None,
                request_id: None,
                select: Selector::Target(Target {
                    rooms: rooms(&["nosuchroom"]),
                    except: vec![],
                }),
                close: true,
            },
        ),
        (
            r#"{"uid":"emitter","type":6,"data":["hello","from-emitter"]}"#,
            Request::ServerSideEmit {
                uid: Some("emitter".into()),
                request_id: None,
                data: vec![s("hello"), s("from-emitter")],
            },
        ),
    ];
    for (json, req) in json_cases {
        assert_eq!(
            decode_request(&Bytes::from_static(json.as_bytes())).unwrap(),
            req,
            "{json}"
        );
        assert_eq!(
            String::from_utf8(encode_request(&req)).unwrap(),
            json,
            "{req:?}"
        );
    }
    // The emitter's socketsJoin: no uid, rooms after opts.
    let join = decode_request(&Bytes::from_static(
        br#"{"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room8"]}"#,
    ))
    .unwrap();
    assert_eq!(join.uid(), None);
    // Legacy one-socket join (adapter < 8.0) wants an empty reply.
    let legacy = decode_request(&Bytes::from_static(
        br#"{"uid":"old","requestId":"r1","type":2,"sid":"abc","room":"x"}"#,
    ))
    .unwrap();
    assert_eq!(
        legacy,
        Request::Join {
            uid: Some("old".into()),
            request_id: Some("r1".into()),
            select: Selector::Socket("abc".into()),
            rooms: rooms(&["x"]),
        }
    );

    // Replies without a type.
    let rooms_reply = Response::AllRooms {
        request_id: "XAVamr".into(),
        rooms: rooms(&["Bsegx3Zm6Ik9IengAAAB", "room1"]),
    };
    let j = r#"{"requestId":"XAVamr","rooms":["Bsegx3Zm6Ik9IengAAAB","room1"]}"#;
    assert_eq!(encode_response(&rooms_reply), j.as_bytes());
    assert_eq!(
        decode_response(&Bytes::from_static(j.as_bytes())).unwrap(),
        rooms_reply
    );
    let pong = Response::ServerSideEmit {
        request_id: "0-cbjj".into(),
        data: Some(s("B-pong")),
    };
    let j = r#"{"type":6,"requestId":"0-cbjj","data":"B-pong"}"#;
    assert_eq!(encode_response(&pong), j.as_bytes());
    assert_eq!(
        decode_response(&Bytes::from_static(j.as_bytes())).unwrap(),
        pong
    );
    let empty = decode_response(&Bytes::from_static(
        br#"{"type":6,"requestId":"s-empty-ack"}"#,
    ))
    .unwrap();
    assert_eq!(
        empty,
        Response::ServerSideEmit {
            request_id: "s-empty-ack".into(),
            data: None
        }
    );
    let fetch = r#"{"requestId":"6Geiyt","sockets":[{"id":"Bsegx3Zm6Ik9IengAAAB","handshake":{"headers":{"host":"127.0.0.1:3102"},"time":"Mon Nov 23 2026 00:07:14 GMT+0000 (Coordinated Universal Time)","address":"::ffff:127.0.0.1","xdomain":false,"secure":false,"issued":1795392434962,"url":"/socket.io/?EIO=4&transport=websocket","query":{"EIO":"4","transport":"websocket"},"auth":{}},"rooms":["Bsegx3Zm6Ik9IengAAAB","room1"],"data":{"user":"B-user","n":1}}]}"#;
    let r = decode_response(&Bytes::from_static(fetch.as_bytes())).unwrap();
    let Response::Fetch { sockets, .. } = &r else {
        panic!("{r:?}")
    };
    assert_eq!(&*sockets[0].id, "Bsegx3Zm6Ik9IengAAAB");
    assert_eq!(sockets[0].data["user"], "B-user");
    assert_eq!(sockets[0].handshake["issued"], 1_795_392_434_962u64);
    assert_eq!(String::from_utf8(encode_response(&r)).unwrap(), fetch);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let bad: &[(&str, &str)] = &[
        ("", "empty"),
        ("93a663576e446137", "truncated"),
        (&format!("{EV1}00"), "trailing byte"),
        ("92a17880", "2 elements"),
        ("93a17882a47479706502a464617461910005", "non-map opts"),
        ("93a17881a4747970650480", "packet type 4"),
        ("dd7fffffff", "array length beyond the input"),
        ("df7fffffff", "map length beyond the input"),
        ("c6ffffffff00", "bin length beyond the input"),
        ("c1", "reserved marker"),
        ("93c0c0c0", "nil uid"),
        ("d6ff0102", "short timestamp"),
        ("81c3c3", "bool map key"),
        ("5b312c32", "JSON that is not a broadcast"),
    ];
    for (h, what) in bad {
        assert!(decode_broadcast(&hex(h)).is_err(), "{what}");
        let _ = decode_request(&hex(h));
        let _ = decode_response(&hex(h));
    }
    let deep = format!("{}c0", "91".repeat(200));
    assert_eq!(msgpack::decode(&hex(&deep)), Err(WireError::TooDeep));
    assert!(decode_request(&Bytes::from_static(b"{\"type\":99}")).is_err());
    assert!(decode_request(&Bytes::from_static(b"{not json")).is_err());
    assert!(decode_response(&Bytes::from_static(b"{\"sockets\":[]}")).is_err());
}

#[test]
fn lenient_where_node_is() {
    // type 5 (BINARY_EVENT, ancient emitters) is normalized to 2; no nsp means "/";
    // opts with rooms only.
    let b = decode_broadcast(&hex("93a17882a47479706505a46461746191a16181a5726f6f6d7390"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.packet.kind, EVENT);
    assert_eq!(b.packet.nsp, "/");
    // A JSON broadcast (emitter 5.1.0 with a JSON parser) is accepted.
    let b = decode_broadcast(&Bytes::from_static(
        br#"["emitter",{"type":2,"data":["j",1],"nsp":"/"},{"rooms":[5],"flags":{}}]"#,
    ))
    .unwrap();
    assert_eq!(b.packet.data, vec![s("j"), 1.into()]);
    assert_eq!(b.opts.rooms, rooms(&["5"]));
    // A msgpack request is accepted as well as JSON.
    let req = Request::AllRooms {
        uid: "u".into(),
        request_id: "r".into(),
    };
    let mp = Bytes::from(msgpack::encode(&obj(vec![
        ("uid", s("u")),
        ("requestId", s("r")),
        ("type", 1.into()),
    ])));
    assert_eq!(decode_request(&mp).unwrap(), req);
}
