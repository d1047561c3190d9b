//! Client room messaging across two nodes in one process: two `Io`s with herald's sites
//! installed, joined by the in-process pub/sub, each served on 127.0.0.1:0 and driven by
//! a raw Engine.IO polling client. NOTIFY from one node reaches the members on the
//! other; CLIENTS lists the members of both nodes; the sender does not get its own EVENT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use socketio::adapter::{Adapter, InProcessHub};
use socketio::server::{Config, Io};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SITE: &str = r#"
[[sites]]
name = "app"
client_rooms = true
[sites.auth]
mode = "none"
"#;

async fn node(hub: &Arc<InProcessHub>) -> SocketAddr {
    let config =
        herald::config::load(Some(SITE), &Default::default(), &Default::default()).expect("config");
    let io = Io::with_adapter(Config::default(), Adapter::cluster(hub.clone()));
    let metrics = Arc::new(herald::metrics::Metrics::default());
    herald::site::Sites::install(&io, &config.sites, &metrics, None).expect("sites");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(io.engine(herald::engine_config(&config)).serve(listener));
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

/// One Engine.IO polling session connected to `/`.
struct Client {
    addr: SocketAddr,
    url: String,
    queue: std::collections::VecDeque<String>,
    acks: u64,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let (status, open) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
        assert_eq!(status, 200, "{open}");
        let mut c = Client {
            addr,
            url: format!("/socket.io/?EIO=4&transport=polling&sid={}", &open[9..29]),
            queue: Default::default(),
            acks: 0,
        };
        c.send("0").await;
        let reply = c.recv().await;
        assert!(reply.starts_with("0{\"sid\":"), "{reply}");
        c
    }

    async fn send(&mut self, packet: &str) {
        let (status, body) = http(self.addr, "POST", &self.url, &format!("4{packet}")).await;
        assert_eq!((status, body.as_str()), (200, "ok"));
    }

    /// The next Socket.IO packet (pings answered and skipped).
    async fn recv(&mut self) -> String {
        loop {
            if let Some(p) = self.queue.pop_front() {
                if p == "2" {
                    http(self.addr, "POST", &self.url, "3").await;
                    continue;
                }
                return p.strip_prefix('4').unwrap_or(&p).to_string();
            }
            let (status, body) = http(self.addr, "GET", &self.url, "").await;
            assert_eq!(status, 200, "{body}");
            self.queue.extend(body.split('\u{1e}').map(str::to_string));
        }
    }

    /// Emits `event` with `arg` and an ack request; returns the ack's argument.
    async fn call(&mut self, event: &str, arg: Value) -> Value {
        self.acks += 1;
        let id = self.acks;
        self.send(&format!("2{id}{}", json!([event, arg]))).await;
        let packet = self.recv().await;
        let body = packet
            .strip_prefix(&format!("3{id}"))
            .unwrap_or_else(|| panic!("ack {id} expected, got {packet}"));
        let mut args: Vec<Value> = serde_json::from_str(body).unwrap();
        args.remove(0)
    }

    /// Emits without an ack.
    async fn emit(&mut self, event: &str, arg: Value) {
        self.send(&format!("2{}", json!([event, arg]))).await;
    }

    /// The next event: (name, first argument).
    async fn event(&mut self) -> (String, Value) {
        let packet = self.recv().await;
        let body = packet
            .strip_prefix('2')
            .unwrap_or_else(|| panic!("an event expected, got {packet}"));
        let mut v: Vec<Value> = serde_json::from_str(body).unwrap();
        let arg = v.remove(1);
        (v[0].as_str().unwrap().to_string(), arg)
    }
}

#[tokio::test]
async fn join_notify_and_clients_cross_nodes() {
    tokio::time::timeout(Duration::from_secs(30), two_nodes())
        .await
        .expect("the exchange finishes within 30 s (a missing packet would hang it)");
}

async fn two_nodes() {
    let hub = InProcessHub::new();
    let (a, b) = (node(&hub).await, node(&hub).await);
    let mut ann = Client::connect(a).await;
    let mut bob = Client::connect(b).await;
    let mut cid = Client::connect(b).await;

    let r = ann
        .call("JOIN", json!({"room": "lobby", "name": "ann"}))
        .await;
    assert_eq!(r, json!({"ok": true, "room": "lobby", "name": "ann"}));
    let r = bob
        .call("JOIN", json!({"room": "lobby", "name": "bob"}))
        .await;
    assert_eq!(r["ok"], true);
    // cid is in another room only.
    let r = cid
        .call("JOIN", json!({"room": "other", "name": "cid"}))
        .await;
    assert_eq!(r["ok"], true);

    // NOTIFY on node A reaches bob on node B, as EVENT with the sender's JOIN name.
    let r = ann
        .call(
            "NOTIFY",
            json!({"room": "lobby", "message": {"t": "hi", "n": [1, 2]}}),
        )
        .await;
    assert_eq!(r, json!({"ok": true, "room": "lobby"}));
    let (event, arg) = bob.event().await;
    assert_eq!(event, "EVENT");
    assert_eq!(
        arg,
        json!({"sender": "ann", "room": "lobby", "message": {"t": "hi", "n": [1, 2]}})
    );

    // CLIENTS lists the members of both nodes, via the ack...
    let r = bob.call("CLIENTS", json!({"room": "lobby"})).await;
    assert_eq!(
        r,
        json!({"ok": true, "room": "lobby", "clients": ["ann", "bob"]})
    );
    // ... or as a CLIENTS event. It is ann's next packet: she got no EVENT of her own.
    ann.emit("CLIENTS", json!("lobby")).await;
    let (event, arg) = ann.event().await;
    assert_eq!(event, "CLIENTS");
    assert_eq!(arg, json!({"room": "lobby", "clients": ["ann", "bob"]}));

    // bob answers on node B; ann (node A) gets it, cid (other room) does not: its next
    // packet is the answer to its own CLIENTS.
    bob.emit("NOTIFY", json!({"room": "lobby", "message": "back"}))
        .await;
    let (event, arg) = ann.event().await;
    assert_eq!((event.as_str(), &arg["message"]), ("EVENT", &json!("back")));
    let r = cid.call("CLIENTS", json!({"room": "other"})).await;
    assert_eq!(r["clients"], json!(["cid"]));

    // After LEAVE, the listing on the other node no longer has ann.
    let r = ann.call("LEAVE", json!("lobby")).await;
    assert_eq!(r, json!({"ok": true, "room": "lobby"}));
    let r = bob.call("CLIENTS", json!("lobby")).await;
    assert_eq!(r["clients"], json!(["bob"]));
}
