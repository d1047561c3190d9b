//! Replays the committed fuzz corpus on stable: every file of `fuzz/corpus/eio_*/` and of
//! `fuzz/regressions/eio_*/` (crashes found by fuzzing, kept forever) goes through the
//! same `engineio::fuzzing` harness as its cargo-fuzz target.
//!
//! The test fails when a known target's corpus directory is missing or empty, or when an
//! `eio_*` directory has no harness here, so it can never pass on nothing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// A fuzz harness: takes the raw input, panics on a bug.
type Harness = fn(&[u8]);

/// The cargo-fuzz targets of `fuzz/fuzz_targets/eio_*.rs` and the harness each calls.
const TARGETS: &[(&str, Harness)] = &[
    ("eio_packet", engineio::fuzzing::packet),
    (
        "eio_payload_roundtrip",
        engineio::fuzzing::payload_roundtrip,
    ),
    ("eio_session_ops", engineio::fuzzing::session_ops),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The regular files of `dir`, sorted; empty when `dir` does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Runs `harness` on every file, collecting the ones that panic.
fn replay(harness: Harness, inputs: &[PathBuf], failures: &mut Vec<String>) {
    for path in inputs {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| harness(&data))) {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            failures.push(format!("{}: {msg} (input {:02x?})", path.display(), data));
        }
    }
}

#[test]
fn every_eio_corpus_dir_has_a_harness() {
    let corpus = fuzz_dir().join("corpus");
    let entries = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("fuzz corpus {} is missing: {e}", corpus.display()));
    for entry in entries {
        let name = entry.expect("readable entry").file_name();
        let name = name.to_string_lossy();
        if name.starts_with("eio_") {
            assert!(
                TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz/corpus/{name} has no harness in engineio/tests/fuzz_corpus.rs"
            );
        }
    }
}

#[test]
fn replays_committed_corpus_and_regressions() {
    let dir = fuzz_dir();
    let mut failures = Vec::new();
    let mut total = 0;
    for (target, harness) in TARGETS {
        let seeds = files(&dir.join("corpus").join(target));
        assert!(
            !seeds.is_empty(),
            "fuzz/corpus/{target} is missing or empty: the corpus replay would test nothing"
        );
        let regressions = files(&dir.join("regressions").join(target));
        replay(*harness, &seeds, &mut failures);
        replay(*harness, &regressions, &mut failures);
        println!(
            "{target}: replayed {} corpus + {} regression inputs",
            seeds.len(),
            regressions.len()
        );
        total += seeds.len() + regressions.len();
    }
    println!("replayed {total} fuzz inputs");
    assert!(
        failures.is_empty(),
        "{} fuzz input(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
