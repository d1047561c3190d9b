//! socketio::fuzzing::client_ops: operation sequences on the per-connection Socket.IO state.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| socketio::fuzzing::client_ops(data));
