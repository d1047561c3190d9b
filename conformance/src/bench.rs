//! `bench`: the handlers of the side-by-side load benchmarks (`bench/README.md`), the
//! same as in the Node socket.io and socketioxide peers of `bench/peers/`.
//!
//! Engine.IO at `/socket.io/` with the production defaults (pingInterval 25 s,
//! pingTimeout 20 s, maxPayload 1e6, polling and websocket); namespace `/` with
//! `join(room) → ack "ok"`, `echo(arg) → ack arg`, and
//! `broadcast(room, payload) → to(room).emit("msg", payload); ack "ok"`.

use engineio::{Config as EngineConfig, Engine};
use socketio::server::{Config, Io, IoHandler, Payload};

/// The bench server.
pub(crate) fn bench() -> Engine<IoHandler> {
    let io = Io::new(Config::default());
    io.of("/").on_connection(|socket| {
        socket.on("join", |socket, args, ack| {
            if let Some(room) = args.get(0).as_ref().and_then(|r| r.as_str()) {
                socket.join(room);
            }
            if let Some(ack) = ack {
                ack.send(Payload::one("ok"));
            }
        });
        socket.on("echo", |_socket, args, ack| {
            if let Some(ack) = ack {
                ack.send(args);
            }
        });
        socket.on("broadcast", |socket, args, ack| {
            let room = args.get(0).and_then(|r| r.as_str().map(str::to_owned));
            if let (Some(room), Some(payload)) = (room, args.get_raw(1)) {
                socket.to(&room).emit("msg", Payload::one(payload));
            }
            if let Some(ack) = ack {
                ack.send(Payload::one("ok"));
            }
        });
    });
    io.engine(EngineConfig {
        path: "/socket.io/".into(),
        ..EngineConfig::default()
    })
}
