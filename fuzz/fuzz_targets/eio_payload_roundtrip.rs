//! A polling payload decodes, re-encodes and decodes again to the same packets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| engineio::fuzzing::payload_roundtrip(data));
