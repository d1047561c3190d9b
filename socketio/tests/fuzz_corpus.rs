//! Replays the committed fuzz corpus of the Socket.IO targets on stable
//! (`fuzz/corpus/sio_*/`, `fuzz/regressions/sio_*/`).

use engineio::fuzzing::{Harness, replay_corpus};

/// The cargo-fuzz targets of `fuzz/fuzz_targets/sio_*.rs` and the harness each calls.
const TARGETS: &[(&str, Harness)] = &[
    ("sio_decode", socketio::fuzzing::decode),
    ("sio_roundtrip", socketio::fuzzing::roundtrip),
    ("sio_reassembly", socketio::fuzzing::reassembly),
    ("sio_redis_decode", socketio::fuzzing::redis_decode),
];

#[test]
fn replays_committed_corpus_and_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    match replay_corpus(&dir, "sio_", TARGETS) {
        Ok(n) => println!("replayed {n} fuzz inputs"),
        Err(e) => panic!("{e}"),
    }
}
