//! A minimal Engine.IO polling client over raw HTTP/1.1, for in-process tests of the
//! Socket.IO server (one request per connection; `Connection: close`).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use socketio::server::{Io, IoHandler};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves `io` on 127.0.0.1:0 and returns the address.
pub(crate) async fn serve(io: &Io) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let engine: engineio::Engine<IoHandler> = io.engine(engineio::Config {
        path: "/socket.io/".into(),
        ..engineio::Config::default()
    });
    tokio::spawn(engine.serve(listener));
    addr
}

async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A polling client: one Engine.IO session.
pub(crate) struct Client {
    addr: SocketAddr,
    url: String,
    /// Packets received and not yet taken.
    queue: std::collections::VecDeque<String>,
}

impl Client {
    /// Opens a session and connects to the main namespace.
    pub(crate) async fn connect(addr: SocketAddr) -> Client {
        let (status, open) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        assert_eq!(status, 200, "{open}");
        let sid = open[9..29].to_string();
        let mut c = Client {
            addr,
            url: format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
            queue: Default::default(),
        };
        c.send("0").await;
        let reply = c.recv().await;
        assert!(reply.starts_with("0{\"sid\":"), "{reply}");
        c
    }

    /// Opens a session without joining a namespace.
    pub(crate) async fn open_only(addr: SocketAddr) -> Client {
        let (status, open) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        assert_eq!(status, 200, "{open}");
        Client {
            addr,
            url: format!("/socket.io/?EIO=4&transport=polling&sid={}", &open[9..29]),
            queue: Default::default(),
        }
    }

    /// Closes the Engine.IO session (a close packet `1`).
    pub(crate) async fn close(&mut self) {
        let (status, body) = http(self.addr, "POST", &self.url, "1").await;
        assert_eq!((status, body.as_str()), (200, "ok"));
    }

    /// The next Engine.IO packet, as is.
    pub(crate) async fn recv_raw(&mut self) -> String {
        if let Some(p) = self.queue.pop_front() {
            return p;
        }
        let (status, body) = http(self.addr, "GET", &self.url, "").await;
        assert_eq!(status, 200, "{body}");
        self.queue.extend(body.split('\u{1e}').map(str::to_string));
        self.queue.pop_front().unwrap_or_default()
    }

    /// POSTs one packet (Engine.IO message text without the `4`, e.g. `2["x"]`).
    pub(crate) async fn send(&mut self, sio_packet: &str) {
        let (status, body) = http(self.addr, "POST", &self.url, &format!("4{sio_packet}")).await;
        assert_eq!((status, body.as_str()), (200, "ok"));
    }

    /// The next Socket.IO packet (pings are answered and skipped).
    pub(crate) async fn recv(&mut self) -> String {
        loop {
            if let Some(p) = self.queue.pop_front() {
                if p == "2" {
                    let (status, _) = http(self.addr, "POST", &self.url, "3").await;
                    assert_eq!(status, 200);
                    continue;
                }
                return p.strip_prefix('4').unwrap_or(&p).to_string();
            }
            let (status, body) = http(self.addr, "GET", &self.url, "").await;
            assert_eq!(status, 200, "{body}");
            self.queue.extend(body.split('\u{1e}').map(str::to_string));
        }
    }

    /// Waits for a packet with this prefix, skipping others.
    pub(crate) async fn recv_starting(&mut self, prefix: &str) -> String {
        loop {
            let p = self.recv().await;
            if p.starts_with(prefix) {
                return p;
            }
        }
    }
}
