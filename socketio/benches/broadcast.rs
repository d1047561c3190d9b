//! Broadcast to 10,000 in-process sockets: the packet is encoded once and every
//! recipient gets a clone of the same frame (no payload bytes copied per recipient).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use socketio::server::{Config, Io, Payload};

fn broadcast(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let io = Io::new(Config::default());
    let ns = io.of("/");
    let mut sockets = socketio::testing::attach_detached(&ns, 10_000);
    let payload = Payload::one("x".repeat(100));
    let mut group = c.benchmark_group("broadcast");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("emit_100B_to_10k_sockets", |b| {
        b.iter(|| {
            let n = ns.broadcast().emit("news", payload.clone());
            for (_, rx) in sockets.iter_mut() {
                rx.drain();
            }
            n
        })
    });
    group.finish();
}

criterion_group!(benches, broadcast);
criterion_main!(benches);
