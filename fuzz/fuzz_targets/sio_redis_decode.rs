//! socketio::fuzzing::redis_decode on arbitrary bytes: the Redis wire format of the Node
//! adapter and emitters never panics, and what decodes re-encodes stably.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| socketio::fuzzing::redis_decode(data));
