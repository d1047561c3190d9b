//! socketio::fuzzing::reassembly on arbitrary bytes: never panics (and round trips hold).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| socketio::fuzzing::reassembly(data));
