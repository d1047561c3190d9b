//! Codec throughput: single packets and polling payloads, text and binary, from a few
//! bytes to 64 KiB. Throughput is in wire bytes (the encoded form: `4…` text records,
//! `b`+base64 binary records, 0x1e separators).
//!
//! `cargo bench -p engineio --bench codec` (add `-- --quick` for a short run).

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use engineio::{Frame, Packet, payload};

/// (label, payload size in bytes).
const SIZES: &[(&str, usize)] = &[("small", 5), ("1KiB", 1024), ("64KiB", 64 * 1024)];

/// Printable ASCII text of `len` bytes (no 0x1e).
fn text(len: usize) -> String {
    (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

/// Bytes of `len` that cover every value.
fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// The encoded polling record of a frame.
fn record(frame: &Frame) -> Bytes {
    let mut out = BytesMut::new();
    frame.encode_polling(&mut out);
    out.freeze()
}

fn packets(c: &mut Criterion) {
    let mut g = c.benchmark_group("packet");
    for &(label, size) in SIZES {
        let text_frame = Frame::message(&text(size));
        let bin_frame = Frame::binary(binary(size));
        let text_wire = record(&text_frame);
        let bin_wire = record(&bin_frame);

        g.throughput(Throughput::Bytes(text_wire.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("decode_text", label),
            &text_wire,
            |b, wire| b.iter(|| Packet::decode_text(black_box(wire.clone()))),
        );
        let s = text(size);
        g.bench_with_input(BenchmarkId::new("encode_text", label), &s, |b, s| {
            let mut out = BytesMut::with_capacity(size + 16);
            b.iter(|| {
                out.clear();
                Frame::message(black_box(s)).encode_polling(&mut out);
                black_box(out.len())
            })
        });

        g.throughput(Throughput::Bytes(bin_wire.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("decode_binary_b64", label),
            &bin_wire,
            |b, wire| b.iter(|| Packet::decode_text(black_box(wire.clone()))),
        );
        g.bench_with_input(
            BenchmarkId::new("encode_binary_b64", label),
            &bin_frame,
            |b, frame| {
                let mut out = BytesMut::with_capacity(bin_wire.len() + 16);
                b.iter(|| {
                    out.clear();
                    black_box(frame).encode_polling(&mut out);
                    black_box(out.len())
                })
            },
        );
    }
    g.finish();
}

/// Payload shapes: (label, records, bytes per record's data).
const PAYLOADS: &[(&str, usize, usize)] = &[
    ("small_4x5B", 4, 5),
    ("1KiB_16x64B", 16, 64),
    ("64KiB_64x1KiB", 64, 1024),
];

fn payloads(c: &mut Criterion) {
    let mut g = c.benchmark_group("payload");
    for &(label, count, size) in PAYLOADS {
        for (kind, frames) in [
            (
                "text",
                (0..count)
                    .map(|_| Frame::message(&text(size)))
                    .collect::<Vec<_>>(),
            ),
            (
                "binary",
                (0..count)
                    .map(|_| Frame::binary(binary(size)))
                    .collect::<Vec<_>>(),
            ),
        ] {
            let mut wire = BytesMut::new();
            payload::encode(&frames, &mut wire);
            let wire = wire.freeze();
            assert_eq!(payload::decode(wire.clone()).packets.len(), count);
            g.throughput(Throughput::Bytes(wire.len() as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("decode_{kind}"), label),
                &wire,
                |b, wire| b.iter(|| payload::decode(black_box(wire.clone()))),
            );
            g.bench_with_input(
                BenchmarkId::new(format!("encode_{kind}"), label),
                &frames,
                |b, frames| {
                    let mut out = BytesMut::with_capacity(wire.len() + 16);
                    b.iter(|| {
                        out.clear();
                        payload::encode(black_box(frames), &mut out);
                        black_box(out.len())
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, packets, payloads);
criterion_main!(benches);
