//! Replays the committed fuzz corpus of the herald targets on stable
//! (`fuzz/corpus/herald_*/`, `fuzz/regressions/herald_*/`).

use engineio::fuzzing::{Harness, replay_corpus};

/// The cargo-fuzz targets of `fuzz/fuzz_targets/herald_*.rs` and the harness each calls.
const TARGETS: &[(&str, Harness)] = &[
    ("herald_send_body", herald::fuzzing::send_body),
    ("herald_jwt", herald::fuzzing::jwt),
];

#[test]
fn replays_committed_corpus_and_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    match replay_corpus(&dir, "herald_", TARGETS) {
        Ok(n) => println!("replayed {n} fuzz inputs"),
        Err(e) => panic!("{e}"),
    }
}
