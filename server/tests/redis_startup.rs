//! `[redis]` with Redis unreachable: `startup = "fail"` exits with an error naming the
//! fix; `startup = "retry"` serves at once with /readyz 503 until Redis is there.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("response within 5 s")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (text[9..12].parse().unwrap(), body)
}

fn config(port: u16, startup: &str) -> herald::Config {
    let text = format!(
        "[redis]\nurl = \"redis://127.0.0.1:{port}\"\nstartup = \"{startup}\"\nstartup_timeout = \"300ms\"\n\
         [[sites]]\nname = \"dev\"\n[sites.auth]\nmode = \"none\"\n"
    );
    herald::config::load(Some(&text), &Default::default(), &Default::default()).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn unreachable_redis_fails_or_retries_as_configured() {
    let port = free_port();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = herald::run_with_ops(listener, None, config(port, "fail"), std::future::pending())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot reach Redis"), "{err}");
    assert!(err.to_string().contains("startup = \"retry\""), "{err}");

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(herald::run_with_ops(
        listener,
        None,
        config(port, "retry"),
        async {
            let _ = stop_rx.await;
        },
    ));
    // Serving, but not ready.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(s) = TcpStream::connect(addr).await {
            drop(s);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(
        get(addr, "/readyz").await,
        (503, "redis not connected\n".into())
    );
    let (status, open) = get(addr, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(status, 200, "{open}");
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}
