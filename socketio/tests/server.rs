//! The server framework driven in-process by a raw polling client: middleware with data,
//! dynamic namespaces, acks both ways (with timeouts), broadcast with acks, rooms,
//! server-side disconnect, the connect timeout.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio::server::{AckError, Config, ConnectError, DisconnectReason, Io, Payload};
use support::Client;

#[tokio::test]
async fn middleware_rejects_with_data_and_dynamic_namespaces_match() {
    let io = Io::new(Config::default());
    io.of("/");
    io.of("/private").use_middleware(|req| {
        if req.auth.as_str().contains("secret") {
            Ok(())
        } else {
            Err(ConnectError::new("not allowed").with_data(serde_json::json!({"code": 42})))
        }
    });
    io.dynamic(
        |name| name.starts_with("/room-"),
        |ns| {
            ns.on_connection(|s| {
                s.emit("welcome", Payload::one(s.namespace().name().to_string()));
            });
        },
    );
    let addr = support::serve(&io).await;
    let mut c = Client::connect(addr).await;
    c.send("0/private,").await;
    assert_eq!(
        c.recv().await,
        r#"4/private,{"message":"not allowed","data":{"code":42}}"#
    );
    c.send(r#"0/private,{"token":"secret"}"#).await;
    assert!(c.recv().await.starts_with("0/private,{\"sid\":"));
    c.send("0/room-7,").await;
    assert!(c.recv().await.starts_with("0/room-7,{\"sid\":"));
    assert_eq!(c.recv().await, r#"2/room-7,["welcome","/room-7"]"#);
    c.send("0/nope,").await;
    assert_eq!(c.recv().await, r#"4/nope,{"message":"Invalid namespace"}"#);
}

#[tokio::test]
async fn acks_both_ways_with_timeouts() {
    let io = Io::new(Config::default());
    let results: Arc<Mutex<Vec<String>>> = Arc::default();
    let r = results.clone();
    io.of("/").on_connection(move |socket| {
        socket.on("add", |_s, args, ack| {
            let (a, b): (i64, i64) = args.deserialize().unwrap();
            if let Some(ack) = ack {
                ack.send(Payload::one(a + b));
            }
        });
        let r = r.clone();
        socket.on("ask", move |s, _args, _ack| {
            let answered = s.emit_with_ack("question", Payload::empty(), Duration::from_secs(5));
            let unanswered =
                s.emit_with_ack("ignored", Payload::empty(), Duration::from_millis(50));
            let r = r.clone();
            tokio::spawn(async move {
                let a = answered.await.map(|p| p.get(0).unwrap().to_json());
                let b = unanswered.await.map(|p| p.len());
                r.lock().unwrap().push(format!("{a:?} {b:?}"));
            });
        });
    });
    let addr = support::serve(&io).await;
    let mut c = Client::connect(addr).await;
    c.send(r#"27["add",2,3]"#).await;
    assert_eq!(c.recv().await, "37[5]");
    // no handler: never acked (the client's ack would time out)
    c.send(r#"28["unknown"]"#).await;
    c.send(r#"2["ask"]"#).await;
    let q = c.recv().await;
    let id = q
        .strip_prefix("2")
        .unwrap()
        .split('[')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(&q[1 + id.len()..], r#"["question"]"#);
    let ignored = c.recv().await;
    assert!(ignored.ends_with(r#"["ignored"]"#), "{ignored}");
    c.send(&format!(r#"3{id}["yes"]"#)).await;
    // an ack for an unknown id is ignored
    c.send(r#"3999["late"]"#).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        *results.lock().unwrap(),
        vec![format!("Ok(\"\\\"yes\\\"\") Err({:?})", AckError::Timeout)]
    );
}

#[tokio::test]
async fn broadcast_with_acks_collects_every_answer() {
    let io = Io::new(Config::default());
    io.of("/").on_connection(|s| s.join("team"));
    let addr = support::serve(&io).await;
    let mut c1 = Client::connect(addr).await;
    let mut c2 = Client::connect(addr).await;
    let pending = io
        .of("/")
        .to("team")
        .timeout(Duration::from_secs(5))
        .emit_with_ack("vote", Payload::empty());
    let task = tokio::spawn(pending);
    for (c, answer) in [(&mut c1, "1"), (&mut c2, "2")] {
        let p = c.recv().await;
        let id = p[1..].split('[').next().unwrap().to_string();
        c.send(&format!("3{id}[{answer}]")).await;
    }
    let mut answers: Vec<String> = task
        .await
        .unwrap()
        .unwrap()
        .iter()
        .map(|p| p.get(0).unwrap().to_json())
        .collect();
    answers.sort();
    assert_eq!(answers, vec!["1", "2"]);
}

#[tokio::test]
async fn rooms_except_and_server_disconnect() {
    let io = Io::new(Config::default());
    let reasons: Arc<Mutex<Vec<DisconnectReason>>> = Arc::default();
    let r = reasons.clone();
    io.of("/").on_connection(move |s| {
        let r = r.clone();
        s.on_disconnect(move |_s, reason| r.lock().unwrap().push(reason));
        s.on("join", |s, args, _| {
            let room = args.get(0).unwrap().as_str().unwrap().to_string();
            s.join(&room);
        });
        s.on("shout", |s, args, _| {
            // to everyone in the sender's rooms but the sender
            s.to("a").emit("shout", args);
        });
    });
    let addr = support::serve(&io).await;
    let mut c1 = Client::connect(addr).await;
    let mut c2 = Client::connect(addr).await;
    let mut c3 = Client::connect(addr).await;
    for c in [&mut c1, &mut c2] {
        c.send(r#"2["join","a"]"#).await;
    }
    c3.send(r#"2["join","b"]"#).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    c1.send(r#"2["shout",{"x":[1,2]}]"#).await;
    assert_eq!(c2.recv().await, r#"2["shout",{"x":[1,2]}]"#);
    io.of("/")
        .broadcast()
        .except("a")
        .emit("only-b", Payload::empty());
    assert_eq!(c3.recv().await, r#"2["only-b"]"#);
    io.of("/").to("b").disconnect_sockets(false);
    assert_eq!(c3.recv().await, "1");
    c1.send("1").await; // client namespace disconnect
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut got = reasons.lock().unwrap().clone();
    got.sort_by_key(|r| r.as_str());
    assert_eq!(
        got,
        vec![
            DisconnectReason::ClientNamespaceDisconnect,
            DisconnectReason::ServerNamespaceDisconnect
        ]
    );
    assert_eq!(io.of("/").socket_count(), 1);
}

#[tokio::test]
async fn connect_timeout_closes_a_silent_connection() {
    let io = Io::new(Config {
        connect_timeout: Duration::from_millis(100),
        ..Config::default()
    });
    io.of("/");
    let addr = support::serve(&io).await;
    let mut raw = support::Client::open_only(addr).await;
    assert_eq!(raw.recv_raw().await, "1");
}

/// A connection that joined in time outlives the connect timeout.
#[tokio::test]
async fn connect_timeout_spares_a_connection_that_joined() {
    let io = Io::new(Config {
        connect_timeout: Duration::from_millis(100),
        ..Config::default()
    });
    io.of("/").on_connection(|socket| {
        socket.on("hi", |socket, _args, _ack| {
            socket.emit("hello", Payload::empty());
        });
    });
    let addr = support::serve(&io).await;
    let mut c = support::Client::connect(addr).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    c.send(r#"2["hi"]"#).await;
    assert_eq!(c.recv().await, r#"2["hello"]"#);
    assert_eq!(io.of("/").socket_count(), 1);
}

/// Nothing of a session that closes before joining outlives it. Its connect-timeout
/// timer once was a task that slept out the whole timeout holding the session's handle
/// (and so its channel): 10,000 abandoned handshakes kept ~35 MB for `connect_timeout`
/// after they were gone. (The timeout is now a deadline of the session's own task.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_timer_ends_with_its_session() {
    let io = Io::new(Config {
        connect_timeout: Duration::from_secs(600),
        ..Config::default()
    });
    io.of("/");
    let addr = support::serve(&io).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(support::Client::open_only(addr).await);
    }
    assert!(metrics.num_alive_tasks() >= before + 20);
    for c in &mut clients {
        c.close().await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metrics.num_alive_tasks() > before && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        metrics.num_alive_tasks() <= before,
        "{} tasks alive, {before} before the sessions",
        metrics.num_alive_tasks()
    );
}

#[tokio::test]
async fn a_broadcast_is_encoded_once_and_shared_by_every_recipient() {
    let io = Io::new(Config::default());
    let ns = io.of("/");
    let mut sockets = socketio::testing::attach_detached(&ns, 1000);
    assert_eq!(
        ns.broadcast().emit("news", Payload::one("x".repeat(100))),
        1000
    );
    let frames: Vec<engineio::Frame> = sockets.iter_mut().flat_map(|(_, rx)| rx.drain()).collect();
    assert_eq!(frames.len(), 1000);
    let engineio::Frame::Text(first) = &frames[0] else {
        panic!("text frame")
    };
    for f in &frames {
        let engineio::Frame::Text(b) = f else {
            panic!("text frame")
        };
        // the same buffer: zero bytes of the payload copied per recipient
        assert_eq!(b.as_ptr(), first.as_ptr());
        assert_eq!(b.len(), first.len());
    }
}

/// A WebSocket client that connects to `/` and then never reads again.
async fn stalled_websocket(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n\
          Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 101"));
    // a masked text frame "40": CONNECT to the main namespace
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | 2];
    frame.extend_from_slice(&mask);
    frame.extend(b"40".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).await.unwrap();
    s
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_others_are_not() {
    let io = Io::new(Config::default());
    let reasons: Arc<Mutex<Vec<DisconnectReason>>> = Arc::default();
    let r = reasons.clone();
    io.of("/").on_connection(move |s| {
        let r = r.clone();
        s.on_disconnect(move |_s, reason| r.lock().unwrap().push(reason));
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let engine = io.engine(engineio::Config {
        path: "/socket.io/".into(),
        max_buffered_bytes: 256 * 1024,
        ..engineio::Config::default()
    });
    tokio::spawn(engine.serve(listener));
    let _stalled = stalled_websocket(addr).await;
    let mut healthy = Client::connect(addr).await;
    while io.of("/").socket_count() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // 64 MiB for the stalled client: far past the kernel's socket buffers and the cap.
    let chunk = Payload::one("x".repeat(64 * 1024));
    for _ in 0..1024 {
        let stalled: Vec<_> = io
            .of("/")
            .broadcast()
            .fetch_sockets()
            .into_iter()
            .filter(|s| s.handshake().transport == engineio::TransportKind::WebSocket)
            .collect();
        let Some(s) = stalled.first() else { break };
        s.emit("flood", chunk.clone());
        tokio::task::yield_now().await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reasons.lock().unwrap().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        *reasons.lock().unwrap(),
        vec![DisconnectReason::SendBufferFull]
    );
    // the healthy polling client is unaffected
    io.of("/").emit("still-there", Payload::empty());
    assert_eq!(healthy.recv().await, r#"2["still-there"]"#);
}

#[tokio::test]
async fn a_flood_of_acks_for_unknown_ids_closes_the_connection_when_limited() {
    for (limit, closed) in [(None, false), (Some(5), true)] {
        let io = Io::new(Config {
            max_stray_acks_per_minute: limit,
            ..Config::default()
        });
        io.of("/");
        let addr = support::serve(&io).await;
        let mut c = Client::connect(addr).await;
        // Six stray acks: one over a budget of five.
        for id in 100..106 {
            c.send(&format!("3{id}[]")).await;
        }
        if closed {
            assert_eq!(c.recv_raw().await, "1", "closed past the budget");
        } else {
            c.send(r#"2["still here"]"#).await;
            assert_eq!(
                io.of("/").socket_count(),
                1,
                "ignored, as the reference does"
            );
        }
    }
}

#[tokio::test]
async fn ack_callbacks_run_in_arrival_order_and_never_after_the_timeout() {
    let io = Io::new(Config::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    {
        let seen = seen.clone();
        io.of("/").on_connection(move |s| {
            for i in 0..3 {
                let seen = seen.clone();
                s.emit_with_ack_callback("n", Payload::one(i), Duration::from_secs(5), move |_| {
                    seen.lock().unwrap().push(i);
                });
            }
            let seen = seen.clone();
            s.emit_with_ack_callback(
                "late",
                Payload::empty(),
                Duration::from_millis(50),
                move |_| {
                    seen.lock().unwrap().push(99);
                },
            );
        });
    }
    let addr = support::serve(&io).await;
    let mut c = Client::connect(addr).await;
    for _ in 0..4 {
        c.recv().await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Three acks in one payload, then the late one after its timeout.
    c.send("30[]\u{1e}431[]\u{1e}432[]\u{1e}433[]").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*seen.lock().unwrap(), [0, 1, 2]);
}
