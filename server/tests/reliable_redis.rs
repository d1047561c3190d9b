//! The Redis reliable store against a real `redis-server` (started here on a free port;
//! `scripts/setup.sh` installs it): the same rules as the in-memory store — order, acks,
//! batch acks, expiry on a virtual clock, caps with resync, out-of-order resync acks —
//! and ids that keep increasing across store instances (nodes, restarts).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use herald::reliable::RedisStore;
use herald::reliable::store::{Acked, Limits};

struct RedisServer {
    port: u16,
    child: Child,
}

impl RedisServer {
    fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is needed: run scripts/setup.sh (apt-get install redis-server)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const T0: u64 = 1_800_000_000_000;

fn store(
    redis: &RedisServer,
    site: &str,
    ttl_ms: Option<u64>,
    max_pending: usize,
    max_bytes: usize,
) -> RedisStore {
    RedisStore::new(
        &redis.url(),
        "test:reliable",
        site,
        Limits {
            ttl: ttl_ms.map(Duration::from_millis),
            max_pending,
            max_pending_bytes: max_bytes,
        },
    )
    .unwrap()
}

async fn push(
    s: &RedisStore,
    user: &str,
    event: &str,
    args: &str,
    resync: bool,
    now: u64,
) -> (u64, usize) {
    let id = s.new_id(now).await.unwrap();
    let dropped = s.push(user, id, event, args, resync, now).await.unwrap();
    (id, dropped)
}

async fn ids(s: &RedisStore, user: &str, now: u64) -> Vec<u64> {
    s.pending(user, now)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect()
}

#[tokio::test]
async fn the_redis_store_keeps_the_in_memory_rules() {
    let redis = RedisServer::start();

    // Order, per-user queues, acks, foreign and repeated acks.
    let s = store(&redis, "order", None, 100, 1 << 20);
    let (a, _) = push(&s, "u1", "e", "1,{\"x\":[1,2]}", false, T0).await;
    let (b, _) = push(&s, "u1", "e", "2", false, T0).await;
    let (c, _) = push(&s, "u2", "e", "3", false, T0).await;
    assert!(a < b && b < c);
    assert_eq!(ids(&s, "u1", T0).await, [a, b]);
    let first = &s.pending("u1", T0).await.unwrap()[0];
    assert_eq!(
        (first.event.as_str(), first.args.as_str()),
        ("e", "1,{\"x\":[1,2]}")
    );
    assert_eq!(
        s.ack("u2", a, T0).await.unwrap(),
        Acked::Unknown,
        "another user's id"
    );
    assert_eq!(s.ack("u1", a, T0).await.unwrap(), Acked::Removed);
    assert_eq!(s.ack("u1", a, T0).await.unwrap(), Acked::Unknown, "twice");
    assert_eq!(ids(&s, "u1", T0).await, [b]);

    // A batch ack removes exactly the batch.
    let batch = ids(&s, "u1", T0).await;
    let (d, _) = push(&s, "u1", "e", "4", false, T0).await;
    assert_eq!(s.ack_all("u1", &batch).await.unwrap(), 1);
    assert_eq!(ids(&s, "u1", T0).await, [d]);

    // Ids keep increasing for another store on the same site (another node, a restart),
    // even when its clock is behind.
    let other = store(&redis, "order", None, 100, 1 << 20);
    assert!(other.new_id(T0 - 60_000).await.unwrap() > d);

    // Expiry on the virtual clock; expiry alone is no resync.
    let s = store(&redis, "ttl", Some(60_000), 100, 1 << 20);
    push(&s, "u", "e", "\"old\"", false, T0).await;
    let (young, _) = push(&s, "u", "e", "\"young\"", false, T0 + 30_000).await;
    assert_eq!(ids(&s, "u", T0 + 59_999).await.len(), 2);
    assert_eq!(ids(&s, "u", T0 + 60_000).await, [young]);
    assert!(!s.take_resync("u").await.unwrap());

    // Count cap: the oldest go, the flag is set once.
    let s = store(&redis, "caps", None, 2, 1 << 20);
    push(&s, "u", "e", "1", false, T0).await;
    let (b, _) = push(&s, "u", "e", "2", false, T0).await;
    let (c, dropped) = push(&s, "u", "e", "3", false, T0).await;
    assert_eq!(dropped, 1);
    assert_eq!(ids(&s, "u", T0).await, [b, c]);
    assert!(s.take_resync("u").await.unwrap());
    assert!(!s.take_resync("u").await.unwrap());

    // Byte cap, and an oversized message is not kept.
    let s = store(&redis, "bytes", None, 100, 10);
    push(&s, "v", "e", "1234", false, T0).await;
    let (b, _) = push(&s, "v", "e", "1234", false, T0).await;
    let (c, dropped) = push(&s, "v", "e", "12", false, T0).await;
    assert_eq!(dropped, 1);
    assert_eq!(ids(&s, "v", T0).await, [b, c]);
    let (_, dropped) = push(&s, "v", "e", "0123456789abc", false, T0).await;
    assert_eq!(dropped, 3);
    assert!(ids(&s, "v", T0).await.is_empty());

    // Resync: an ack of a resync message while an older one of its event is pending.
    let s = store(&redis, "resync", None, 100, 1 << 20);
    let (a, _) = push(&s, "u", "price", "1", true, T0).await;
    let (other_event, _) = push(&s, "u", "chat", "\"x\"", true, T0).await;
    let (b, _) = push(&s, "u", "price", "2", true, T0).await;
    assert_eq!(s.ack("u", other_event, T0).await.unwrap(), Acked::Removed);
    assert_eq!(
        s.ack("u", b, T0).await.unwrap(),
        Acked::Resync { cleared: 2 }
    );
    assert!(ids(&s, "u", T0).await.is_empty());
    assert_eq!(s.ack("u", a, T0).await.unwrap(), Acked::Unknown);

    // Without the resync flag, an out-of-order ack just removes.
    let (a, _) = push(&s, "w", "e", "1", false, T0).await;
    let (b, _) = push(&s, "w", "e", "2", false, T0).await;
    assert_eq!(s.ack("w", b, T0).await.unwrap(), Acked::Removed);
    assert_eq!(ids(&s, "w", T0).await, [a]);
}

#[tokio::test]
async fn operations_fail_clearly_while_redis_is_down() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = RedisStore::new(
        &format!("redis://127.0.0.1:{port}/"),
        "test:reliable",
        "down",
        Limits {
            ttl: None,
            max_pending: 10,
            max_pending_bytes: 1000,
        },
    )
    .unwrap();
    let e = s.new_id(T0).await.unwrap_err();
    assert!(
        e.to_string().starts_with("reliable store (Redis): new id:"),
        "{e}"
    );
}

#[tokio::test]
async fn a_claim_is_won_by_one_node_and_expires() {
    let redis = RedisServer::start();
    let a = store(&redis, "claims", None, 10, 1 << 20);
    let b = store(&redis, "claims", None, 10, 1 << 20);
    let ttl = Duration::from_millis(300);
    let first = a.claim_id(T0, "digest:1", ttl).await.unwrap();
    assert!(first.is_some(), "the first node to claim gets an id");
    assert_eq!(b.claim_id(T0, "digest:1", ttl).await.unwrap(), None);
    assert_eq!(a.claim_id(T0, "digest:1", ttl).await.unwrap(), None);
    // Another occurrence of the same bytes is another message.
    let second = b.claim_id(T0, "digest:2", ttl).await.unwrap();
    assert!(
        second > first,
        "claimed ids share the sequence: {second:?} > {first:?}"
    );
    let plain = a.new_id(T0).await.unwrap();
    assert!(Some(plain) > second);
    // Another site claims on its own.
    let other = store(&redis, "other", None, 10, 1 << 20);
    assert!(other.claim_id(T0, "digest:1", ttl).await.unwrap().is_some());
    // The claim is forgotten after its time.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(b.claim_id(T0, "digest:1", ttl).await.unwrap().is_some());
}
