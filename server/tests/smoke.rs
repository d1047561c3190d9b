//! The service started in-process on port 0: health check, and a Socket.IO client
//! connecting to the main namespace over polling.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One HTTP/1.1 request on a fresh connection; returns (status, body).
async fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("response within 5 s")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn serves_health_and_socketio_main_namespace() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = herald::config::load(
        Some("[[sites]]\nname = \"dev\"\n[sites.auth]\nmode = \"none\"\n"),
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    let server = tokio::spawn(herald::run(listener, config, async {
        let _ = stop_rx.await;
    }));

    assert_eq!(
        http(addr, "GET", "/healthz", "").await,
        (200, "ok\n".into())
    );
    assert_eq!(http(addr, "GET", "/nope", "").await.0, 404);

    let (status, open) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", "").await;
    assert_eq!(status, 200);
    assert!(open.starts_with("0{\"sid\":\""), "{open}");
    let sid = &open[9..29];
    let url = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(http(addr, "POST", &url, "40").await, (200, "ok".into()));
    let (status, reply) = http(addr, "GET", &url, "").await;
    assert_eq!(status, 200);
    assert!(reply.starts_with("40{\"sid\":\""), "{reply}");
    // an unknown namespace is refused and the connection kept
    assert_eq!(http(addr, "POST", &url, "40/nope,").await.1, "ok");
    assert_eq!(
        http(addr, "GET", &url, "").await.1,
        "44/nope,{\"message\":\"Invalid namespace\"}"
    );

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("shutdown within 5 s")
        .unwrap()
        .unwrap();
}
