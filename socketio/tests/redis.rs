//! The Redis glue against a real `redis-server` (started here on a free port; install it
//! with `scripts/setup.sh`): two nodes exchange broadcasts, the cluster size is right,
//! and after a Redis restart both reconnect, subscribe again and deliver again.
#![cfg(feature = "redis")]

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use socketio::adapter::redis::{RedisOptions, RedisPubSub};
use socketio::adapter::{Adapter, PubSub};
use socketio::server::{Config, Io, Payload};
use support::Client;

struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    fn start(port: Option<u16>) -> RedisServer {
        let port = port.unwrap_or_else(|| {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        });
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is needed for this test: run scripts/setup.sh (apt-get install redis-server)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer {
            port,
            child: Some(child),
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn options() -> RedisOptions {
    RedisOptions {
        reconnect_max: Duration::from_millis(500),
        ..RedisOptions::default()
    }
}

async fn node(url: &str) -> (Io, Arc<RedisPubSub>) {
    let pubsub = RedisPubSub::start(url, options()).unwrap();
    let io = Io::with_adapter(Config::default(), Adapter::cluster(pubsub.clone()));
    io.of("/");
    assert!(
        pubsub.wait_ready(Duration::from_secs(10)).await,
        "not ready"
    );
    (io, pubsub)
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_over_redis_survive_a_restart() {
    let mut redis = RedisServer::start(None);
    let url = redis.url();
    let (a, pa) = node(&url).await;
    let (b, pb) = node(&url).await;
    let addr_b = support::serve(&b).await;
    let mut cb = Client::connect(addr_b).await;
    // Subscriptions are confirmed before readiness, so NUMSUB sees both nodes.
    let numsub = || pa.numsub("socket.io-request#/#".into());
    assert_eq!(numsub().await, Some(2));
    a.of("/").emit("before", Payload::one(1));
    assert_eq!(cb.recv().await, r#"2["before",1]"#);
    assert_eq!(a.of("/").broadcast().fetch_all_sockets().await.len(), 1);

    redis.kill();
    until("both nodes notice", || !pa.is_ready() && !pb.is_ready()).await;
    // Local delivery keeps working without Redis.
    b.of("/").emit("local", Payload::empty());
    assert_eq!(cb.recv().await, r#"2["local"]"#);
    // Requests answer with this node only instead of hanging.
    assert!(a.of("/").broadcast().fetch_all_sockets().await.is_empty());

    let _redis = RedisServer::start(Some(redis.port));
    until("both nodes are back", || pa.is_ready() && pb.is_ready()).await;
    assert!(pa.reconnects() >= 1 && pb.reconnects() >= 1);
    assert_eq!(numsub().await, Some(2));
    a.of("/").emit("after", Payload::one(2));
    assert_eq!(cb.recv().await, r#"2["after",2]"#);
}

#[tokio::test]
async fn a_bad_url_is_a_clear_error_and_an_unreachable_server_is_retried() {
    let err = RedisPubSub::start("http://nope", options()).unwrap_err();
    assert!(err.to_string().contains("invalid Redis URL"), "{err}");
    // Nothing listens on this port: not ready, and publishes are dropped and counted.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = RedisPubSub::start(&format!("redis://127.0.0.1:{port}"), options()).unwrap();
    assert!(!p.wait_ready(Duration::from_millis(300)).await);
    p.publish("x".into(), bytes::Bytes::from_static(b"y"));
    assert_eq!(p.publish_dropped(), 1);
    // It connects once Redis is there.
    let _redis = RedisServer::start(Some(port));
    assert!(p.wait_ready(Duration::from_secs(10)).await);
}
