//! Replays the committed fuzz corpus on stable: every file of `fuzz/corpus/eio_*/` and of
//! `fuzz/regressions/eio_*/` (crashes found by fuzzing, kept forever) goes through the
//! same `engineio::fuzzing` harness as its cargo-fuzz target.

use engineio::fuzzing::{Harness, replay_corpus};

/// The cargo-fuzz targets of `fuzz/fuzz_targets/eio_*.rs` and the harness each calls.
const TARGETS: &[(&str, Harness)] = &[
    ("eio_packet", engineio::fuzzing::packet),
    (
        "eio_payload_roundtrip",
        engineio::fuzzing::payload_roundtrip,
    ),
    ("eio_session_ops", engineio::fuzzing::session_ops),
];

#[test]
fn replays_committed_corpus_and_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    match replay_corpus(&dir, "eio_", TARGETS) {
        Ok(n) => println!("replayed {n} fuzz inputs"),
        Err(e) => panic!("{e}"),
    }
}
