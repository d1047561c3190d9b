//! Several nodes in one process on the in-process pub/sub: broadcasts, room operations,
//! socket listings and server-side events cross nodes.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio::adapter::{Adapter, InProcessHub};
use socketio::server::{Config, Io, Payload};
use support::Client;

fn node(hub: &Arc<InProcessHub>) -> Io {
    let io = Io::with_adapter(Config::default(), Adapter::cluster(hub.clone()));
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

async fn join(c: &mut Client, room: &str) {
    c.send(&format!("21[\"join\",\"{room}\"]")).await;
    assert_eq!(c.recv().await, "31[]");
}

#[tokio::test]
async fn broadcast_and_room_operations_cross_nodes() {
    let hub = InProcessHub::new();
    let (a, b) = (node(&hub), node(&hub));
    let (addr_a, addr_b) = (support::serve(&a).await, support::serve(&b).await);
    let mut ca = Client::connect(addr_a).await;
    let mut cb = Client::connect(addr_b).await;
    let mut cb2 = Client::connect(addr_b).await;
    join(&mut ca, "r").await;
    join(&mut cb, "r").await;

    // A broadcast to a room from node A reaches the members on both nodes, once.
    let local = a.of("/").to("r").emit("hello", Payload::one(1));
    assert_eq!(local, 1);
    assert_eq!(ca.recv().await, r#"2["hello",1]"#);
    assert_eq!(cb.recv().await, r#"2["hello",1]"#);

    // `except` is honoured on the remote node too.
    a.of("/")
        .broadcast()
        .except("r")
        .emit("others", Payload::empty());
    assert_eq!(cb2.recv().await, r#"2["others"]"#);

    // Socket listings cover every node.
    let all = a.of("/").broadcast().fetch_all_sockets().await;
    assert_eq!(all.len(), 3);
    let in_r = b.of("/").to("r").fetch_all_sockets().await;
    assert_eq!(in_r.len(), 2);

    // Remote join: node B puts every socket in "x"; node A's broadcast to "x" reaches cb2.
    b.of("/").broadcast().sockets_join("x");
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.of("/").to("x").emit("x", Payload::empty());
    for c in [&mut ca, &mut cb, &mut cb2] {
        assert_eq!(c.recv().await, r#"2["x"]"#);
    }

    // A local broadcast stays on its node.
    assert_eq!(a.of("/").to("r").local().emit("local", Payload::empty()), 1);
    assert_eq!(ca.recv().await, r#"2["local"]"#);
    b.of("/").to("r").local().emit("marker", Payload::empty());
    assert_eq!(
        cb.recv().await,
        r#"2["marker"]"#,
        "cb got nothing from A's local emit"
    );

    // Remote disconnect.
    a.of("/").to("r").disconnect_sockets(false);
    assert_eq!(cb.recv().await, "1");
}

#[tokio::test]
async fn server_side_emit_reaches_the_other_nodes_only() {
    let hub = InProcessHub::new();
    let (a, b) = (node(&hub), node(&hub));
    let got_a = Arc::new(Mutex::new(Vec::new()));
    let got_b = Arc::new(Mutex::new(Vec::new()));
    for (io, got) in [(&a, got_a.clone()), (&b, got_b.clone())] {
        io.of("/").on_server_side(move |event, _payload| {
            got.lock().unwrap().push(event.to_string());
        });
    }
    a.of("/").server_side_emit("sync", Payload::empty());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*got_b.lock().unwrap(), vec!["sync".to_string()]);
    assert!(got_a.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_named_server_side_handler_takes_its_event_and_the_general_one_the_rest() {
    let hub = InProcessHub::new();
    let (a, b) = (node(&hub), node(&hub));
    let general = Arc::new(Mutex::new(Vec::new()));
    let named = Arc::new(Mutex::new(Vec::new()));
    {
        let general = general.clone();
        b.of("/").on_server_side(move |event, _payload| {
            general.lock().unwrap().push(event.to_string());
        });
        let named = named.clone();
        b.of("/")
            .on_server_side_event("lib:internal", move |event, _payload, _ack| {
                named.lock().unwrap().push(event.to_string());
            });
    }
    a.of("/").server_side_emit("lib:internal", Payload::empty());
    a.of("/").server_side_emit("app", Payload::empty());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*named.lock().unwrap(), ["lib:internal"]);
    assert_eq!(*general.lock().unwrap(), ["app"]);
}

#[tokio::test]
async fn a_lone_node_answers_listings_at_once() {
    let hub = InProcessHub::new();
    let a = node(&hub);
    let addr = support::serve(&a).await;
    let _c = Client::connect(addr).await;
    let all = tokio::time::timeout(
        Duration::from_secs(1),
        a.of("/").broadcast().fetch_all_sockets(),
    )
    .await
    .expect("no remote node to wait for");
    assert_eq!(all.len(), 1);
}
