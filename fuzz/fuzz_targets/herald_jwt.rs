//! herald::fuzzing::jwt: untrusted tokens against HS256/RS256/ES256/EdDSA sites.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| herald::fuzzing::jwt(data));
