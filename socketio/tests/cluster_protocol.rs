//! The classic Redis adapter protocol through the in-process hub (N nodes in one
//! process): the bytes a node publishes, emitter messages, requests with answers and
//! timeouts, broadcasts with acks across nodes, and bad input.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use socketio::adapter::wire::{self, Broadcast, Options, Packet};
use socketio::adapter::{Adapter, ClusterConfig, InProcessHub, PubSub};
use socketio::server::{AckError, Config, Io, Payload};
use socketio::value::Value;
use support::Client;

fn node_with(hub: &Arc<InProcessHub>, config: ClusterConfig) -> Io {
    let io = Io::with_adapter(
        Config::default(),
        Adapter::cluster_with(hub.clone(), config),
    );
    io.of("/").on_connection(|socket| {
        socket.on("join", |socket, args, ack| {
            if let Some(room) = args.get(0).and_then(|v| v.as_str().map(str::to_string)) {
                socket.join(&room);
            }
            if let Some(ack) = ack {
                ack.send(Payload::empty());
            }
        });
    });
    io
}

fn node(hub: &Arc<InProcessHub>) -> Io {
    node_with(hub, ClusterConfig::default())
}

fn hex(s: &str) -> Bytes {
    Bytes::from(
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>(),
    )
}

async fn join(c: &mut Client, room: &str) {
    c.send(&format!("21[\"join\",\"{room}\"]")).await;
    assert_eq!(c.recv().await, "31[]");
}

/// The ack id of an event packet `2<id>[...]`.
fn ack_id(packet: &str) -> u64 {
    packet[1..packet.find('[').unwrap()].parse().unwrap()
}

#[tokio::test]
async fn a_node_publishes_what_the_node_adapter_publishes() {
    let hub = InProcessHub::new();
    let a = node(&hub);
    let mut tap = hub.tap("*");
    a.of("/").to("room1").emit("ev2", Payload::one(42));
    let (channel, bytes) = tap.recv().await.unwrap();
    assert_eq!(channel, "socket.io#/#room1#");
    let uid = a.of("/").cluster_uid().unwrap().to_string();
    let want = wire::encode_broadcast(&Broadcast {
        uid: uid.clone(),
        packet: Packet::event("/", "ev2", vec![Value::from(42)]),
        opts: Options {
            rooms: vec!["room1".into()],
            ..Options::default()
        },
    });
    assert_eq!(bytes, want);
    // The uid is per namespace.
    let admin = a.of("/admin");
    assert_ne!(admin.cluster_uid().unwrap(), uid);
    // One subscription of each request channel per node: the cluster size is right.
    let _b = node(&hub);
    assert_eq!(hub.numsub("socket.io-request#/#".into()).await, Some(2));
    assert_eq!(
        hub.numsub("socket.io-request#/admin#".into()).await,
        Some(1)
    );
}

#[tokio::test]
async fn emitter_messages_reach_the_right_sockets() {
    let hub = InProcessHub::new();
    let a = node(&hub);
    let addr = support::serve(&a).await;
    let mut c1 = Client::connect(addr).await;
    let mut c2 = Client::connect(addr).await;
    join(&mut c1, "room1").await;
    join(&mut c2, "room1").await;
    join(&mut c2, "room2").await;
    // @socket.io/redis-emitter 5.1.0: emit("em1","a",2) to everyone.
    hub.publish(
        "socket.io#/#".into(),
        hex("93a7656d697474657283a47479706502a46461746193a3656d31a16102a36e7370a12f83a5726f6f6d7390a5666c61677380a665786365707490"),
    );
    assert_eq!(c1.recv().await, r#"2["em1","a",2]"#);
    assert_eq!(c2.recv().await, r#"2["em1","a",2]"#);
    // to("room1").except("room2").volatile.emit("em2", Buffer("hi"), Date): c1 only.
    hub.publish(
        "socket.io#/#room1#".into(),
        hex("93a7656d697474657283a47479706502a46461746193a3656d32c4026869d6ff6553f100a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677381a8766f6c6174696c65c3a665786365707491a5726f6f6d32"),
    );
    assert_eq!(
        c1.recv().await,
        r#"51-["em2",{"_placeholder":true,"num":0},"2023-11-14T22:13:20.000Z"]"#
    );
    assert_eq!(c1.recv_raw().await, "baGk=");
    // Garbage and a message for another namespace are dropped; the node carries on.
    hub.publish("socket.io#/#".into(), Bytes::from_static(b"\x93\xa1"));
    hub.publish(
        "socket.io#/#".into(),
        Bytes::from_static(b"{\"not\":\"msgpack\"}"),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stats = a.adapter().as_cluster().unwrap().stats();
    assert_eq!(stats.dropped_malformed(), 2);
    // socketsJoin from the emitter (no uid), then a broadcast to the new room.
    hub.publish(
        "socket.io-request#/#".into(),
        Bytes::from_static(
            br#"{"type":2,"opts":{"rooms":["room2"],"except":[]},"rooms":["room8"]}"#,
        ),
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.of("/").to("room8").emit("r8", Payload::empty());
    assert_eq!(c2.recv().await, r#"2["r8"]"#);
    // serverSideEmit from the emitter reaches the handler.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    a.of("/").on_server_side(move |event, payload| {
        let _ = tx.send((event.to_string(), payload.values()));
    });
    hub.publish(
        "socket.io-request#/#".into(),
        Bytes::from_static(br#"{"uid":"emitter","type":6,"data":["hello","from-emitter"]}"#),
    );
    let (event, args) = rx.recv().await.unwrap();
    assert_eq!(
        (event.as_str(), args),
        ("hello", vec![Value::from("from-emitter")])
    );
    // disconnectSockets(false) on room1.
    hub.publish(
        "socket.io-request#/#".into(),
        Bytes::from_static(
            br#"{"type":4,"opts":{"rooms":["room1"],"except":["room2"]},"close":false}"#,
        ),
    );
    assert_eq!(c1.recv().await, "1");
    assert_eq!(a.of("/").socket_count(), 1);
}

#[tokio::test]
async fn oversized_messages_are_dropped_and_counted() {
    let hub = InProcessHub::new();
    let a = node_with(
        &hub,
        ClusterConfig {
            max_message_size: 64,
            ..ClusterConfig::default()
        },
    );
    let addr = support::serve(&a).await;
    let mut c = Client::connect(addr).await;
    let big = Payload::one("x".repeat(100));
    let other = node(&hub);
    other.of("/").emit("big", big);
    other.of("/").emit("small", Payload::empty());
    assert_eq!(c.recv().await, r#"2["small"]"#);
    assert_eq!(
        a.adapter()
            .as_cluster()
            .unwrap()
            .stats()
            .dropped_oversized(),
        1
    );
}

#[tokio::test]
async fn nodes_on_another_prefix_do_not_hear_each_other() {
    let hub = InProcessHub::new();
    let custom = ClusterConfig {
        prefix: "custom".into(),
        ..ClusterConfig::default()
    };
    let a = node_with(&hub, custom.clone());
    let b = node_with(&hub, custom);
    let plain = node(&hub);
    let (ab, pb) = (support::serve(&b).await, support::serve(&plain).await);
    let mut cb = Client::connect(ab).await;
    let mut cp = Client::connect(pb).await;
    a.of("/").emit("custom-only", Payload::empty());
    plain
        .of("/")
        .broadcast()
        .local()
        .emit("marker", Payload::empty());
    assert_eq!(cb.recv().await, r#"2["custom-only"]"#);
    assert_eq!(cp.recv().await, r#"2["marker"]"#);
}

#[tokio::test]
async fn broadcast_with_acks_collects_every_node() {
    let hub = InProcessHub::new();
    let (a, b, _empty) = (node(&hub), node(&hub), node(&hub));
    let (addr_a, addr_b) = (support::serve(&a).await, support::serve(&b).await);
    let mut ca = Client::connect(addr_a).await;
    let mut cb = Client::connect(addr_b).await;
    let acks = tokio::spawn(
        a.of("/")
            .broadcast()
            .timeout(Duration::from_secs(3))
            .emit_with_ack("q", Payload::one(1)),
    );
    let pa = ca.recv().await;
    let pb = cb.recv().await;
    assert!(pa.ends_with(r#"["q",1]"#), "{pa}");
    assert!(pb.ends_with(r#"["q",1]"#), "{pb}");
    ca.send(&format!("3{}[\"from-a\"]", ack_id(&pa))).await;
    // Only the first ack argument crosses nodes, as in Node.
    cb.send(&format!("3{}[\"from-b\",\"dropped\"]", ack_id(&pb)))
        .await;
    // The third node has no client and still answers (client count 0): no timeout.
    let started = tokio::time::Instant::now();
    let mut got: Vec<String> = acks
        .await
        .unwrap()
        .expect("every node answered")
        .iter()
        .map(|p| p.get(0).unwrap().as_str().unwrap().to_string())
        .collect();
    assert!(started.elapsed() < Duration::from_secs(2));
    got.sort();
    assert_eq!(got, ["from-a", "from-b"]);

    // A client that never answers: a timeout with the answers that came.
    let acks = tokio::spawn(
        a.of("/")
            .broadcast()
            .timeout(Duration::from_millis(300))
            .emit_with_ack("q2", Payload::empty()),
    );
    let pa = ca.recv().await;
    let _ = cb.recv().await;
    ca.send(&format!("3{}[\"a2\"]", ack_id(&pa))).await;
    let (err, partial) = acks.await.unwrap().unwrap_err();
    assert_eq!(err, AckError::Timeout);
    assert_eq!(partial.len(), 1);
    // The unanswered ack is forgotten on both nodes (B's waiter ends at the same timeout).
    tokio::time::sleep(Duration::from_millis(100)).await;
    for io in [&a, &b] {
        let sockets = io.of("/").broadcast().fetch_sockets();
        assert_eq!(sockets[0].pending_ack_count(), 0);
    }
}

#[tokio::test]
async fn server_side_emit_with_ack_and_all_rooms() {
    let hub = InProcessHub::new();
    let (a, b, c) = (node(&hub), node(&hub), node(&hub));
    for (io, answer) in [(&b, "pong-b"), (&c, "pong-c")] {
        io.of("/").on_server_side_with_ack(move |event, _p, ack| {
            if event == "ping"
                && let Some(ack) = ack
            {
                ack.send(Payload::one(answer));
            }
        });
    }
    let mut got = a
        .of("/")
        .server_side_emit_with_ack("ping", Payload::empty(), Duration::from_secs(2))
        .await
        .unwrap();
    got.sort_by_key(|v| v.as_str().unwrap_or_default().to_string());
    assert_eq!(got, vec![Value::from("pong-b"), Value::from("pong-c")]);
    // An event nobody acks times out with the partial answers.
    let (err, partial) = a
        .of("/")
        .server_side_emit_with_ack("silence", Payload::empty(), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!((err, partial.len()), (AckError::Timeout, 0));

    // allRooms merges every node's rooms.
    let (addr_b, addr_c) = (support::serve(&b).await, support::serve(&c).await);
    let mut cb = Client::connect(addr_b).await;
    let mut cc = Client::connect(addr_c).await;
    join(&mut cb, "room-b").await;
    join(&mut cc, "room-c").await;
    let rooms = a.of("/").all_rooms().await;
    assert!(rooms.iter().any(|r| &**r == "room-b"), "{rooms:?}");
    assert!(rooms.iter().any(|r| &**r == "room-c"), "{rooms:?}");
    assert_eq!(
        rooms.len(),
        4,
        "two socket-id rooms and two named rooms: {rooms:?}"
    );
}

#[tokio::test]
async fn fetched_sockets_carry_the_handshake() {
    let hub = InProcessHub::new();
    let (a, b) = (node(&hub), node(&hub));
    let addr_b = support::serve(&b).await;
    let _cb = Client::connect(addr_b).await;
    let all = a.of("/").broadcast().fetch_all_sockets().await;
    assert_eq!(all.len(), 1);
    let hs = &all[0].handshake;
    assert_eq!(hs["query"]["EIO"], "4");
    assert_eq!(hs["address"], "127.0.0.1");
    assert!(hs["issued"].as_u64().unwrap() > 1_600_000_000_000);
    assert!(
        hs["time"]
            .as_str()
            .unwrap()
            .ends_with("GMT+0000 (Coordinated Universal Time)")
    );
    assert!(hs["url"].as_str().unwrap().starts_with("/socket.io/?EIO=4"));
    assert_eq!(hs["auth"], serde_json::json!({}));
}

/// An emitter broadcast to `rooms`, as `@socket.io/redis-emitter` publishes it.
fn emitter_broadcast(rooms: &[&str], event: &str, arg: &str) -> Bytes {
    Bytes::from(wire::encode_broadcast(&Broadcast {
        uid: wire::EMITTER_UID.into(),
        packet: Packet::event("/", event, vec![Value::from(arg)]),
        opts: Options {
            rooms: rooms.iter().map(|r| (*r).into()).collect(),
            ..Options::default()
        },
    }))
}

#[tokio::test]
async fn a_remote_broadcast_hook_sees_every_remote_broadcast_and_decides_delivery() {
    use socketio::server::RemoteVerdict;
    let hub = InProcessHub::new();
    let a = node(&hub);
    let b = node(&hub);
    let addr = support::serve(&a).await;
    let mut c1 = Client::connect(addr).await;
    let mut c2 = Client::connect(addr).await;
    join(&mut c1, "user:1").await;
    join(&mut c1, "news").await;
    join(&mut c2, "news").await;
    let (tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    a.of("/").on_remote_broadcast(move |m| {
        let _ = tx.send((
            m.uid.to_string(),
            m.event.to_string(),
            m.rooms.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            m.bytes.len(),
        ));
        match m.event {
            "skip" => RemoteVerdict::Skip,
            "narrow" => RemoteVerdict::DeliverExcept(vec!["user:1".into()]),
            _ => RemoteVerdict::Deliver,
        }
    });
    // A room nobody on this node is in still reaches the hook (the cheap channel filter
    // is off while a hook is set).
    let nobody = emitter_broadcast(&["user:9"], "plain", "x");
    hub.publish("socket.io#/#user:9#".into(), nobody.clone());
    let (uid, event, rooms, len) = seen.recv().await.unwrap();
    assert_eq!(
        (uid.as_str(), event.as_str(), rooms, len),
        ("emitter", "plain", vec!["user:9".to_string()], nobody.len())
    );
    // Skip: nobody here gets it.
    hub.publish(
        "socket.io#/#user:1#".into(),
        emitter_broadcast(&["user:1"], "skip", "s"),
    );
    assert_eq!(seen.recv().await.unwrap().1, "skip");
    // DeliverExcept: news minus user:1 → c2 only.
    hub.publish(
        "socket.io#/#".into(),
        emitter_broadcast(&["news", "user:1"], "narrow", "n"),
    );
    assert_eq!(seen.recv().await.unwrap().1, "narrow");
    assert_eq!(c2.recv().await, r#"2["narrow","n"]"#);
    // Deliver: as usual; c1 got neither the skipped nor the narrowed message before it.
    hub.publish(
        "socket.io#/#".into(),
        emitter_broadcast(&["news"], "plain", "p"),
    );
    assert_eq!(seen.recv().await.unwrap().1, "plain");
    assert_eq!(c1.recv().await, r#"2["plain","p"]"#);
    assert_eq!(c2.recv().await, r#"2["plain","p"]"#);
    // Another node's broadcast reaches the hook with that node's uid; this node's own
    // broadcasts never do.
    b.of("/").to("news").emit("from-b", Payload::empty());
    let (uid, event, ..) = seen.recv().await.unwrap();
    assert_eq!(
        (uid.as_str(), event.as_str()),
        (b.of("/").cluster_uid().unwrap(), "from-b")
    );
    a.of("/").to("news").emit("from-a", Payload::empty());
    assert_eq!(c1.recv().await, r#"2["from-b"]"#);
    assert_eq!(c1.recv().await, r#"2["from-a"]"#);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        seen.try_recv().is_err(),
        "the hook saw this node's own broadcast"
    );
}
