//! Engine.IO v4 server, written from the wire protocol up.
//!
//! What it does: the Engine.IO v4 transport layer that Socket.IO runs on — the packet
//! and polling-payload codec ([`packet`], [`payload`]), the handshake ([`handshake`]), a
//! sans-IO session state machine ([`proto`]) covering long-polling, WebSocket, the
//! polling→WebSocket upgrade, heartbeats and close, and (feature `server`, on by default)
//! a hyper 1 / tokio driver with one task per session ([`server`]). It behaves as the
//! reference Node `engine.io` 6.6 server: same status codes, error bodies, timers and
//! quirks, so official clients cannot tell the difference.
//!
//! What it does not do: Socket.IO (namespaces, events, acks: the `socketio` crate),
//! Engine.IO v3, WebTransport, HTTP compression of polling bodies, TLS (put the engine
//! behind a TLS acceptor).
//!
//! Shape: codec (pure) → [`proto::Session`] (pure state machine; time is an input) →
//! the driver (the only code that awaits). Build with `--no-default-features` to get the
//! first two alone.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
mod fifo;
pub mod handshake;
pub mod idhash;
pub mod packet;
pub mod payload;
pub mod proto;
#[cfg(feature = "server")]
pub mod server;

pub use config::{Config, Cors, Transports};
pub use error::{DecodeError, RequestError};
pub use packet::{Frame, Packet, PacketType};
pub use proto::{CloseReason, Message, TransportKind};
#[cfg(feature = "server")]
pub use server::{
    Connection, Engine, Handler, Handshake, MessageContext, Socket, TransportCounts, Verdict,
};

#[doc(hidden)]
pub mod fuzzing {
    //! Harness functions for the fuzz crate (`fuzz/`); not a stable API.
    use bytes::Bytes;

    pub use crate::proto::fuzzing::session_ops;

    /// A fuzz harness: takes the raw input, panics on a bug.
    pub type Harness = fn(&[u8]);

    /// Replays the committed corpus of every target (`fuzz/corpus/<target>/`, which must
    /// be non-empty) and its kept crashes (`fuzz/regressions/<target>/`) through its
    /// harness, on stable. Fails when a `<prefix>*` corpus directory has no harness, so a
    /// replay can never pass on nothing. Returns how many inputs ran.
    pub fn replay_corpus(
        fuzz_dir: &std::path::Path,
        prefix: &str,
        targets: &[(&str, Harness)],
    ) -> Result<usize, String> {
        use std::panic::{AssertUnwindSafe, catch_unwind};
        let files = |dir: std::path::PathBuf| -> Vec<std::path::PathBuf> {
            let mut out: Vec<_> = std::fs::read_dir(dir)
                .map(|es| {
                    es.filter_map(|e| e.ok())
                        .map(|e| e.path())
                        .filter(|p| p.is_file())
                        .collect()
                })
                .unwrap_or_default();
            out.sort();
            out
        };
        let corpus = fuzz_dir.join("corpus");
        let entries = std::fs::read_dir(&corpus)
            .map_err(|e| format!("fuzz corpus {} is missing: {e}", corpus.display()))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && !targets.iter().any(|(t, _)| *t == name) {
                return Err(format!(
                    "fuzz/corpus/{name} has no harness in the replay test"
                ));
            }
        }
        let mut failures = Vec::new();
        let mut total = 0;
        for (target, harness) in targets {
            let seeds = files(corpus.join(target));
            if seeds.is_empty() {
                return Err(format!("fuzz/corpus/{target} is missing or empty"));
            }
            let regressions = files(fuzz_dir.join("regressions").join(target));
            for path in seeds.iter().chain(&regressions) {
                let data =
                    std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| harness(&data))) {
                    let msg = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("(non-string panic)");
                    failures.push(format!("{}: {msg} (input {data:02x?})", path.display()));
                }
            }
            println!(
                "{target}: replayed {} corpus + {} regression inputs",
                seeds.len(),
                regressions.len()
            );
            total += seeds.len() + regressions.len();
        }
        if failures.is_empty() {
            Ok(total)
        } else {
            Err(format!(
                "{} fuzz input(s) failed:\n{}",
                failures.len(),
                failures.join("\n")
            ))
        }
    }

    /// Decodes one packet: must never panic.
    pub fn packet(data: &[u8]) {
        if let Ok(s) = std::str::from_utf8(data) {
            let _ = crate::packet::Packet::decode_text(Bytes::copy_from_slice(s.as_bytes()));
        }
    }

    /// Decodes a polling payload, re-encodes the packets and checks they decode the same.
    pub fn payload_roundtrip(data: &[u8]) {
        let decoded = crate::payload::decode(Bytes::copy_from_slice(data));
        let mut out = bytes::BytesMut::new();
        for (i, p) in decoded.packets.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(&[crate::payload::SEPARATOR]);
            }
            p.encode_text(&mut out);
        }
        if decoded.packets.is_empty() {
            return;
        }
        let again = crate::payload::decode(out.freeze());
        assert_eq!(again.error, None);
        assert_eq!(again.packets, decoded.packets);
    }
}
