//! Asynchronous connect middlewares: they admit with data or refuse with CONNECT_ERROR,
//! run in order with synchronous ones, hold the CONNECT reply until they finish, and a
//! connection that goes away meanwhile leaves no socket behind.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio::server::{Config, ConnectError, Io, Payload};
use support::Client;

#[tokio::test]
async fn async_middleware_admits_with_data_after_sync_ones() {
    let io = Io::new(Config::default());
    let order = Arc::new(Mutex::new(Vec::new()));
    let ns = io.of("/");
    {
        let order = order.clone();
        ns.use_middleware(move |req| {
            order.lock().unwrap().push("sync-1");
            req.set_data(serde_json::json!({"from": "sync"}));
            Ok(())
        });
    }
    {
        let order = order.clone();
        ns.use_async_middleware(move |info| {
            let order = order.clone();
            async move {
                order.lock().unwrap().push("async");
                tokio::time::sleep(Duration::from_millis(50)).await;
                let token: serde_json::Value = info.auth.deserialize().unwrap();
                Ok(Some(serde_json::json!({"user": token["token"]})))
            }
        });
    }
    {
        let order = order.clone();
        ns.use_middleware(move |_req| {
            order.lock().unwrap().push("sync-2");
            Ok(())
        });
    }
    ns.on_connection(|s| {
        let user = s.data()["user"].as_str().unwrap_or("?").to_string();
        s.on("hello", move |s, _payload, _ack| {
            s.emit("hi", Payload::one(user.clone()));
        });
    });
    let addr = support::serve(&io).await;
    let mut c = Client::open_only(addr).await;
    c.send(r#"0{"token":"alice"}"#).await;
    assert!(c.recv().await.starts_with("0{\"sid\":"));
    // The very next packet reaches the handler the connection handler registered.
    c.send(r#"2["hello"]"#).await;
    assert_eq!(c.recv().await, r#"2["hi","alice"]"#);
    assert_eq!(*order.lock().unwrap(), ["sync-1", "async", "sync-2"]);
}

#[tokio::test]
async fn async_middleware_refusal_is_a_connect_error_and_the_client_may_retry() {
    let io = Io::new(Config::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    io.of("/private").use_async_middleware(move |info| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::task::yield_now().await;
            if n == 0 {
                Err(ConnectError::new("auth service says no")
                    .with_data(serde_json::json!({"retry": true})))
            } else {
                assert_eq!(&*info.namespace, "/private");
                Ok(None)
            }
        }
    });
    let addr = support::serve(&io).await;
    let mut c = Client::open_only(addr).await;
    c.send("0/private,").await;
    assert_eq!(
        c.recv().await,
        r#"4/private,{"message":"auth service says no","data":{"retry":true}}"#
    );
    c.send("0/private,").await;
    assert!(c.recv().await.starts_with("0/private,{\"sid\":"));
    assert_eq!(io.of("/private").socket_count(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_second_connect_while_the_first_is_pending_closes_the_connection() {
    let io = Io::new(Config::default());
    io.of("/").use_async_middleware(|_info| async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(None)
    });
    let addr = support::serve(&io).await;
    let mut c = Client::open_only(addr).await;
    c.send("0").await;
    c.send("0").await;
    // A duplicate CONNECT is a protocol error: the session ends (a close packet).
    assert_eq!(c.recv_raw().await, "1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(io.of("/").socket_count(), 0, "no socket after the close");
}

/// A connect admitted by an asynchronous middleware before the connect timeout keeps
/// the connection open past it (the admission reaches the connection through its inbox).
#[tokio::test]
async fn an_async_admission_in_time_is_not_closed_by_the_connect_timeout() {
    let io = Io::new(Config {
        connect_timeout: Duration::from_millis(200),
        ..Config::default()
    });
    io.of("/").use_async_middleware(|_info| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(None)
    });
    let addr = support::serve(&io).await;
    let mut c = Client::open_only(addr).await;
    c.send("0").await;
    let reply = c.recv().await;
    assert!(reply.starts_with("0{\"sid\":"), "{reply}");
    // No packet from the client after the CONNECT: the deadline finds the admission in
    // the inbox, not in the connection's sockets yet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(io.of("/").socket_count(), 1, "still connected");
    c.send("0/nobody,").await;
    let answer = c.recv().await;
    assert!(answer.starts_with("4/nobody,"), "{answer}");
}

#[tokio::test]
async fn a_connection_closed_during_the_middleware_leaves_no_socket() {
    let io = Io::new(Config {
        connect_timeout: Duration::from_millis(100),
        ..Config::default()
    });
    let admitted = Arc::new(AtomicUsize::new(0));
    let count = admitted.clone();
    io.of("/").use_async_middleware(|_info| async {
        // Slower than the connect timeout: the connection is closed first.
        tokio::time::sleep(Duration::from_millis(400)).await;
        Ok(None)
    });
    io.of("/").on_connection(move |_s| {
        count.fetch_add(1, Ordering::SeqCst);
    });
    let addr = support::serve(&io).await;
    let mut c = Client::open_only(addr).await;
    c.send("0").await;
    assert_eq!(c.recv_raw().await, "1", "closed by the connect timeout");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(io.of("/").socket_count(), 0);
    assert_eq!(admitted.load(Ordering::SeqCst), 0, "never admitted");
}
