//! herald::fuzzing::send_body: POST /send, form and /send/batch bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| herald::fuzzing::send_body(data));
