//! HTTP long-polling clients (hyper 1, one keep-alive connection for GETs and one for
//! POSTs, both from the client's source address).

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use crate::proto::{Packet, classify};

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    pub async fn open(server: SocketAddr, src: IpAddr) -> Result<Conn, String> {
        let stream = crate::ws::tcp(server, src, None).await?;
        let (send, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("http handshake: {e}"))?;
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            send,
            host: server.to_string(),
        })
    }

    /// A request; the body of a 2xx answer, an error naming the status otherwise.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Result<Bytes, String> {
        self.send
            .ready()
            .await
            .map_err(|e| format!("connection closed: {e}"))?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("request: {e}"))?;
        let res = self
            .send
            .send_request(req)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = res.status();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "{method} {}: {status} {}",
                path.split('?').next().unwrap_or(path),
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body)
    }
}

/// A Socket.IO client over long-polling.
pub struct Polling {
    get: Conn,
    post: Conn,
    base: String,
}

impl Polling {
    /// Handshake and CONNECT to `/`.
    pub async fn connect(server: SocketAddr, src: IpAddr) -> Result<Polling, String> {
        let mut get = Conn::open(server, src).await?;
        let post = Conn::open(server, src).await?;
        let open = get
            .request("GET", "/socket.io/?EIO=4&transport=polling", &[], None)
            .await?;
        let open = String::from_utf8_lossy(&open).to_string();
        let first = open.split('\x1e').next().unwrap_or("");
        let Packet::Open(json) = classify(first) else {
            return Err(format!("expected the open packet, got {open:?}"));
        };
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("open packet: {e}"))?;
        let sid = v["sid"].as_str().ok_or("open packet without sid")?;
        let mut p = Polling {
            get,
            post,
            base: format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        };
        p.post("40".into()).await?;
        let mut connected = false;
        while !connected {
            for pkt in p.poll().await? {
                match classify(&pkt) {
                    Packet::Connected => connected = true,
                    Packet::ConnectError(e) => return Err(format!("connect_error {e}")),
                    _ => {}
                }
            }
        }
        Ok(p)
    }

    pub async fn post(&mut self, body: String) -> Result<(), String> {
        let path = self.base.clone();
        self.post
            .request("POST", &path, &[("content-type", "text/plain")], Some(body))
            .await
            .map(|_| ())
    }

    /// One long-poll: the packets it carried.
    pub async fn poll(&mut self) -> Result<Vec<String>, String> {
        let path = self.base.clone();
        let body = self.get.request("GET", &path, &[], None).await?;
        let text = std::str::from_utf8(&body).map_err(|_| "non-UTF-8 payload")?;
        Ok(text.split('\x1e').map(str::to_string).collect())
    }

    /// Emits with an ack id and waits for the ack (other packets go to `other`).
    pub async fn call(
        &mut self,
        id: u64,
        event: &str,
        args: &str,
        mut other: impl FnMut(&str),
    ) -> Result<(), String> {
        self.post(crate::proto::emit_with_ack(id, event, args))
            .await?;
        loop {
            let mut pong = false;
            let mut done = false;
            for pkt in self.poll().await? {
                match classify(&pkt) {
                    Packet::Ack(got, _) if got == id => done = true,
                    Packet::Ping => pong = true,
                    Packet::Close => return Err("server closed".into()),
                    _ => other(&pkt),
                }
            }
            if pong {
                self.post("3".into()).await?;
            }
            if done {
                return Ok(());
            }
        }
    }
}
