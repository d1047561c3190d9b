//! Decoding one Engine.IO packet (WebSocket text frame / polling record) never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| engineio::fuzzing::packet(data));
