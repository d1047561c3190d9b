//! Codec benchmarks: decode and encode of text and binary packets.
//!
//! `cargo bench -p socketio --bench codec`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use socketio::codec::{
    self, Args, Incoming, MESSAGE_PREFIX, Reassembler, deconstruct, reconstruct,
};
use socketio::packet::Namespace;
use socketio::raw::RawJson;
use socketio::value::{Map, Value};

const SMALL: &[u8] = br#"2["message",1,"2",{"3":[true]}]"#;

/// An EVENT of about 1.3 KB: a list of chat messages.
fn large_event() -> Bytes {
    let mut s = String::from(r#"2/chat,42["history",["#);
    for i in 0..12 {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"id":{i},"user":"user-{i}","text":"hello world, this is message number {i} é","ts":1700000000{i:03},"tags":["a","b"],"score":{i}.5}}"#
        ));
    }
    s.push_str("]]");
    Bytes::from(s)
}

fn chat_values() -> Vec<Value> {
    let mut m = Map::new();
    m.insert("user", "alice");
    m.insert("text", "hello world, this is a message é");
    m.insert("ts", 1_700_000_000_123u64);
    m.insert("score", 12.5);
    m.insert("tags", Value::from(vec!["a", "b"]));
    vec![Value::Object(m), Value::from(42)]
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    let small = Bytes::from_static(SMALL);
    g.throughput(Throughput::Bytes(small.len() as u64));
    g.bench_function("event_small", |b| {
        b.iter(|| codec::decode(black_box(small.clone())).unwrap())
    });
    let large = large_event();
    g.throughput(Throughput::Bytes(large.len() as u64));
    g.bench_function("event_1k", |b| {
        b.iter(|| codec::decode(black_box(large.clone())).unwrap())
    });
    // The large event with insignificant whitespace: decoding is as fast, and the args
    // are known not to be canonical.
    let spaced = Bytes::from(String::from_utf8_lossy(&large).replace(",\"", ", \""));
    g.throughput(Throughput::Bytes(spaced.len() as u64));
    g.bench_function("event_1k_not_canonical", |b| {
        b.iter(|| codec::decode(black_box(spaced.clone())).unwrap())
    });
    let connect = Bytes::from_static(br#"0/admin,{"token":"abc"}"#);
    g.throughput(Throughput::Bytes(connect.len() as u64));
    g.bench_function("connect", |b| {
        b.iter(|| codec::decode(black_box(connect.clone())).unwrap())
    });

    let header = Bytes::from_static(
        br#"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    );
    let a = Bytes::from(vec![1u8; 1024]);
    let b2 = Bytes::from(vec![2u8; 1024]);
    g.throughput(Throughput::Bytes((header.len() + 2048) as u64));
    g.bench_function("binary_event_2x1k", |b| {
        b.iter(|| {
            let mut r = Reassembler::default();
            r.handle_text(black_box(header.clone())).unwrap();
            r.handle_binary(a.clone()).unwrap();
            match r.handle_binary(b2.clone()).unwrap() {
                Some(Incoming::Binary(p)) => p,
                _ => unreachable!(),
            }
        })
    });
    g.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let packet = codec::decode(Bytes::from_static(SMALL)).unwrap();
    let args = packet.args().unwrap().clone();
    let main = Namespace::main();
    let mut buf = BytesMut::with_capacity(4096);

    g.throughput(Throughput::Bytes(SMALL.len() as u64 + 6));
    g.bench_function("echo_raw_args", |b| {
        b.iter(|| {
            buf.clear();
            codec::encode_event_into(
                &mut buf,
                Some(MESSAGE_PREFIX),
                &main,
                None,
                "message-back",
                Args::Raw(black_box(&args)),
            );
            black_box(&buf);
        })
    });

    // The same arguments written loosely (whitespace, `1.0`, `\/`): not canonical, so the
    // encoder writes them normalized, as the reference server would.
    let loose = codec::decode(Bytes::from_static(
        br#"2["message", 1.0, "\/2", {"3" : [true]}]"#,
    ))
    .unwrap();
    let loose_args = loose.args().unwrap().clone();
    assert!(args.is_canonical() && !loose_args.is_canonical());
    g.bench_function("echo_raw_args_normalized", |b| {
        b.iter(|| {
            buf.clear();
            codec::encode_event_into(
                &mut buf,
                Some(MESSAGE_PREFIX),
                &main,
                None,
                "message-back",
                Args::Raw(black_box(&loose_args)),
            );
            black_box(&buf);
        })
    });

    let large = codec::decode(large_event()).unwrap();
    g.throughput(Throughput::Bytes(codec::encoded_len(&large) as u64));
    g.bench_function("packet_1k", |b| {
        b.iter(|| {
            buf.clear();
            codec::encode_into(black_box(&large), Some(MESSAGE_PREFIX), &mut buf);
            black_box(&buf);
        })
    });

    let values = chat_values();
    buf.clear();
    codec::encode_event_into(
        &mut buf,
        Some(MESSAGE_PREFIX),
        &main,
        Some(7),
        "chat",
        Args::Values(&values),
    );
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.bench_function("event_values", |b| {
        b.iter(|| {
            buf.clear();
            codec::encode_event_into(
                &mut buf,
                Some(MESSAGE_PREFIX),
                &main,
                Some(7),
                "chat",
                Args::Values(black_box(&values)),
            );
            black_box(&buf);
        })
    });

    let binary = vec![
        Value::from("x"),
        Value::Binary(Bytes::from(vec![1u8; 1024])),
        Value::from(vec![Value::Binary(Bytes::from(vec![2u8; 1024]))]),
    ];
    g.throughput(Throughput::Bytes(2048 + 80));
    g.bench_function("binary_event_2x1k", |b| {
        b.iter(|| {
            buf.clear();
            let atts = codec::encode_event_into(
                &mut buf,
                Some(MESSAGE_PREFIX),
                &main,
                None,
                "file",
                Args::Values(black_box(&binary)),
            );
            black_box((&buf, atts));
        })
    });

    // The broadcast pattern: one frame, frozen once, cloned per recipient.
    g.throughput(Throughput::Elements(1000));
    g.bench_function("broadcast_frame_1000_recipients", |b| {
        b.iter(|| {
            let mut frame = BytesMut::with_capacity(64);
            codec::encode_event_into(
                &mut frame,
                Some(MESSAGE_PREFIX),
                &main,
                None,
                "news",
                Args::Raw(&args),
            );
            let frame = frame.freeze();
            let queued: Vec<Bytes> = (0..1000).map(|_| frame.clone()).collect();
            black_box(queued);
        })
    });
    g.finish();
}

fn bench_binary(c: &mut Criterion) {
    let mut g = c.benchmark_group("placeholders");
    let mut inner = Map::new();
    inner.insert("name", "file.bin");
    inner.insert("data", Value::Binary(Bytes::from_static(&[1, 2, 3])));
    let value = Value::from(vec![
        Value::from("upload"),
        Value::Object(inner),
        Value::Binary(Bytes::from_static(&[4, 5, 6])),
    ]);
    g.throughput(Throughput::Elements(1));
    g.bench_function("deconstruct", |b| b.iter(|| deconstruct(black_box(&value))));
    let (json, buffers): (RawJson, Vec<Bytes>) = deconstruct(&value);
    g.bench_function("reconstruct", |b| {
        b.iter(|| reconstruct(black_box(&json), black_box(&buffers)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_encode, bench_binary);
criterion_main!(benches);
