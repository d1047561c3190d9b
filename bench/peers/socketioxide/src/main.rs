//! socketioxide with the bench handlers of `bench/README.md`.
//!
//! `socketioxide-peer --port N`: listens on 127.0.0.1:N, path `/socket.io/`,
//! pingInterval 25 s, pingTimeout 20 s, max payload 1e6, a per-socket buffer of
//! 10,000 packets (the default 128 drops broadcasts under fan-out load). Prints
//! `listening PORT` when ready.

use std::time::Duration;

use hyper_util::rt::TokioIo;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use tokio::net::TcpListener;

async fn on_connect(socket: SocketRef) {
    socket.on(
        "join",
        async |s: SocketRef, Data(room): Data<String>, ack: AckSender| {
            s.join(room);
            let _ = ack.send("ok");
        },
    );
    socket.on("echo", async |Data(arg): Data<Value>, ack: AckSender| {
        let _ = ack.send(&arg);
    });
    socket.on(
        "broadcast",
        async |s: SocketRef, Data((room, payload)): Data<(String, Value)>, ack: AckSender| {
            let _ = s.to(room).emit("msg", &payload).await;
            let _ = ack.send("ok");
        },
    );
}

#[tokio::main]
async fn main() {
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--port" {
            port = args.next().and_then(|p| p.parse().ok()).expect("--port N");
        }
    }
    let (svc, io) = SocketIo::builder()
        .req_path("/socket.io/")
        .ping_interval(Duration::from_secs(25))
        .ping_timeout(Duration::from_secs(20))
        .max_payload(1_000_000)
        .max_buffer_size(10_000)
        .build_svc();
    io.ns("/", on_connect);

    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    println!("listening {}", listener.local_addr().expect("addr").port());
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    loop {
        tokio::select! {
            _ = term.recv() => return,
            r = listener.accept() => {
                let Ok((stream, _)) = r else { continue };
                let _ = stream.set_nodelay(true);
                let svc = svc.clone();
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        }
    }
}
