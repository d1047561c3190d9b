//! Operation sequences on the sans-IO session keep its invariants (one `Closed`, nothing
//! after it, no answer to a GET that is not held).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| engineio::fuzzing::session_ops(data));
