//! The harness of the in-process service tests: an echo handler that records what the
//! application sees, the server under test, and small HTTP/WebSocket clients.
#![allow(dead_code)]

pub(crate) use std::net::SocketAddr;
pub(crate) use std::sync::Arc;
pub(crate) use std::time::Duration;

pub(crate) use bytes::Bytes;
pub(crate) use engineio::server::{
    Connection, Handler, Handshake, MessageContext, Socket, Verdict,
};
pub(crate) use engineio::{CloseReason, Config, Engine, Frame, Message};
pub(crate) use futures_util::{SinkExt, StreamExt};
pub(crate) use http_body_util::{BodyExt, Full};
pub(crate) use hyper::header::{self, HeaderMap};
pub(crate) use hyper::{Method, Request};
pub(crate) use hyper_util::rt::TokioIo;
pub(crate) use tokio::io::{AsyncReadExt, AsyncWriteExt};
pub(crate) use tokio::net::{TcpListener, TcpStream};
pub(crate) use tokio::sync::mpsc;
pub(crate) use tokio_tungstenite::WebSocketStream;
pub(crate) use tokio_tungstenite::tungstenite::Message as WsMessage;
pub(crate) use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The most any single step may take before the test fails (protocol deadlines in these
/// tests are at most a few hundred milliseconds; this is slack for a loaded machine).
pub(crate) const WAIT: Duration = Duration::from_secs(5);

pub(crate) const RS: char = '\u{1e}';

// ----- the application: echo + event recorder ----------------------------------------

/// What the application saw, per session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    Open,
    Message(Message),
    Upgraded,
    Closed(CloseReason),
}

/// Echoes every message; refuses handshakes with a `deny` query parameter.
pub(crate) struct Recorder {
    pub(crate) seen: mpsc::UnboundedSender<(Arc<str>, Seen)>,
}

pub(crate) struct RecorderConn {
    pub(crate) socket: Socket,
    pub(crate) seen: mpsc::UnboundedSender<(Arc<str>, Seen)>,
}

impl RecorderConn {
    pub(crate) fn record(&self, what: Seen) {
        let _ = self.seen.send((self.socket.sid().clone(), what));
    }
}

impl Handler for Recorder {
    type Connection = RecorderConn;

    fn allow_request(&self, req: &Handshake) -> Verdict {
        if req.query.contains("deny") {
            Verdict::Deny("Go away".into())
        } else {
            Verdict::Allow
        }
    }

    fn on_open(&self, socket: Socket, _handshake: Handshake) -> RecorderConn {
        let conn = RecorderConn {
            socket,
            seen: self.seen.clone(),
        };
        conn.record(Seen::Open);
        conn
    }
}

impl Connection for RecorderConn {
    fn on_message(&mut self, msg: Message, _ctx: &MessageContext<'_>) {
        match &msg {
            Message::Text(t) => {
                let mut buf = Vec::with_capacity(t.len() + 1);
                buf.push(b'4');
                buf.extend_from_slice(t);
                let frame = Frame::from_encoded_message(buf.into()).expect("text is UTF-8");
                self.socket.send(frame);
            }
            Message::Binary(b) => {
                self.socket.send(Frame::Binary(b.clone()));
            }
        }
        self.record(Seen::Message(msg));
    }

    fn on_upgrade(&mut self) {
        self.record(Seen::Upgraded);
    }

    fn on_close(&mut self, reason: CloseReason) {
        self.record(Seen::Closed(reason));
    }
}

// ----- the server under test ---------------------------------------------------------

pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) engine: Engine<Recorder>,
    pub(crate) seen: mpsc::UnboundedReceiver<(Arc<str>, Seen)>,
    pub(crate) task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn start(config: Config) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (tx, seen) = mpsc::unbounded_channel();
    let engine = Engine::new(config, Recorder { seen: tx });
    let task = tokio::spawn(engine.clone().serve(listener));
    Server {
        addr,
        engine,
        seen,
        task,
    }
}

pub(crate) async fn start_default() -> Server {
    start(Config::default()).await
}

/// An HTTP response, fully read.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Resp {
    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub(crate) fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ASCII content type"))
    }

    /// Asserts the Engine.IO JSON error answer `{"code":N,"message":"..."}`.
    #[track_caller]
    pub(crate) fn assert_error(&self, status: u16, code: u8, message: &str) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(
            self.text(),
            format!(r#"{{"code":{code},"message":"{message}"}}"#)
        );
        assert_eq!(self.content_type(), Some("application/json"));
    }

    /// Asserts a bare status with an empty body.
    #[track_caller]
    pub(crate) fn assert_empty(&self, status: u16) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(self.text(), "", "body of {self:?}");
    }
}

pub(crate) fn poll_path(sid: &str) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={sid}")
}

impl Server {
    /// One request on its own connection.
    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Resp {
        let work = async {
            let stream = TcpStream::connect(self.addr).await.expect("connect");
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                    .await
                    .expect("http handshake");
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, self.addr.to_string());
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let req = req.body(Full::new(body.into())).expect("request");
            let res = sender.send_request(req).await.expect("response");
            let status = res.status().as_u16();
            let headers = res.headers().clone();
            let body = res
                .into_body()
                .collect()
                .await
                .expect("response body")
                .to_bytes();
            Resp {
                status,
                headers,
                body,
            }
        };
        tokio::time::timeout(WAIT, work)
            .await
            .unwrap_or_else(|_| panic!("no answer to {path} within {WAIT:?}"))
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    pub(crate) async fn poll(&self, sid: &str) -> Resp {
        self.get(&poll_path(sid)).await
    }

    pub(crate) async fn post(&self, sid: &str, body: impl Into<Bytes>) -> Resp {
        self.request(
            Method::POST,
            &poll_path(sid),
            &[("content-type", "text/plain;charset=UTF-8")],
            body,
        )
        .await
    }

    /// A GET on its own task, answered later.
    pub(crate) fn spawn_poll(&self, sid: &str) -> tokio::task::JoinHandle<Resp> {
        let addr = self.addr;
        let path = poll_path(sid);
        tokio::spawn(async move { raw_get(addr, &path).await })
    }

    /// A polling handshake; returns the sid after checking the OPEN packet byte for byte.
    pub(crate) async fn handshake(&self) -> String {
        let res = self.get("/engine.io/?EIO=4&transport=polling").await;
        assert_eq!(res.status, 200, "{res:?}");
        assert_eq!(res.content_type(), Some("text/plain; charset=UTF-8"));
        let config = self.engine.config();
        let upgrades = if config.allow_upgrades && config.transports.websocket {
            r#"["websocket"]"#
        } else {
            "[]"
        };
        open_sid(res.text(), upgrades, config)
    }

    pub(crate) async fn ws(&self, sid: Option<&str>) -> Ws {
        let url = match sid {
            Some(sid) => format!(
                "ws://{}/engine.io/?EIO=4&transport=websocket&sid={sid}",
                self.addr
            ),
            None => format!("ws://{}/engine.io/?EIO=4&transport=websocket", self.addr),
        };
        let work = async {
            let stream = TcpStream::connect(self.addr).await.expect("connect");
            let (ws, res) = tokio_tungstenite::client_async(url.as_str(), stream)
                .await
                .expect("websocket handshake");
            assert_eq!(res.status().as_u16(), 101);
            ws
        };
        Ws(tokio::time::timeout(WAIT, work)
            .await
            .expect("websocket opens in time"))
    }

    /// A WebSocket-only session: returns the socket and the sid of its OPEN frame.
    pub(crate) async fn ws_session(&self) -> (Ws, String) {
        let mut ws = self.ws(None).await;
        let open = ws.text().await;
        let sid = open_sid(&open, "[]", self.engine.config());
        (ws, sid)
    }

    /// The next thing the application saw for `sid`, skipping other sessions.
    pub(crate) async fn seen(&mut self, sid: &str) -> Seen {
        loop {
            let next = tokio::time::timeout(WAIT, self.seen.recv())
                .await
                .unwrap_or_else(|_| panic!("nothing seen for {sid} within {WAIT:?}"))
                .expect("engine alive");
            if &*next.0 == sid {
                return next.1;
            }
        }
    }

    /// Waits for the session to close and returns why, skipping its other events.
    pub(crate) async fn closed(&mut self, sid: &str) -> CloseReason {
        loop {
            if let Seen::Closed(reason) = self.seen(sid).await {
                return reason;
            }
        }
    }
}

/// Checks `0{"sid":…,"upgrades":…,"pingInterval":…,"pingTimeout":…,"maxPayload":…}`
/// exactly (keys, order, values) and returns the sid.
#[track_caller]
pub(crate) fn open_sid(open: &str, upgrades: &str, config: &Config) -> String {
    let prefix = r#"0{"sid":""#;
    assert!(open.starts_with(prefix), "not an OPEN packet: {open:?}");
    let sid = &open[prefix.len()..prefix.len() + 20];
    assert!(
        sid.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "sid {sid:?} is URL-safe base64"
    );
    let expected = format!(
        r#"0{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
        config.ping_interval.as_millis(),
        config.ping_timeout.as_millis(),
        config.max_payload
    );
    assert_eq!(open, expected);
    sid.to_string()
}

/// A GET over raw TCP (own connection), for the tasks that hold one.
pub(crate) async fn raw_get(addr: SocketAddr, path: &str) -> Resp {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    read_response(&mut stream).await
}

/// Reads one `Connection: close` or Content-Length response from raw TCP.
pub(crate) async fn read_response(stream: &mut TcpStream) -> Resp {
    let mut buf = Vec::new();
    let work = async {
        loop {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.expect("read");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&buf[..end])
                    .expect("ASCII head")
                    .to_string();
                let mut lines = head.split("\r\n");
                let status: u16 = lines
                    .next()
                    .and_then(|l| l.split(' ').nth(1))
                    .and_then(|s| s.parse().ok())
                    .expect("status line");
                let mut headers = HeaderMap::new();
                for line in lines {
                    let (k, v) = line.split_once(':').expect("header line");
                    headers.append(
                        header::HeaderName::from_bytes(k.trim().as_bytes()).expect("name"),
                        v.trim().parse().expect("value"),
                    );
                }
                let len: usize = headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .expect("content-length");
                if buf.len() >= end + 4 + len {
                    let body = Bytes::copy_from_slice(&buf[end + 4..end + 4 + len]);
                    return Resp {
                        status,
                        headers,
                        body,
                    };
                }
            }
            assert!(n > 0, "connection closed mid-response: {buf:?}");
        }
    };
    tokio::time::timeout(WAIT, work)
        .await
        .expect("raw response in time")
}

/// A WebSocket client with bounded waits.
pub(crate) struct Ws(WebSocketStream<TcpStream>);

impl Ws {
    pub(crate) async fn send_text(&mut self, text: &str) {
        self.0.send(WsMessage::text(text)).await.expect("ws send");
    }

    /// A text frame with these bytes as they are (UTF-8 or not).
    pub(crate) async fn send_text_bytes(&mut self, data: &[u8]) {
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        let frame = Frame::message(data.to_vec(), OpCode::Data(Data::Text), true);
        self.0.send(WsMessage::Frame(frame)).await.expect("ws send");
    }

    /// Bytes written to the socket under the WebSocket framing (for broken frames).
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.0.get_mut().write_all(bytes).await.expect("raw write");
    }

    pub(crate) async fn send_binary(&mut self, data: &[u8]) {
        self.0
            .send(WsMessage::binary(data.to_vec()))
            .await
            .expect("ws send");
    }

    /// The next data or close message (control frames are skipped).
    pub(crate) async fn next(&mut self) -> Option<WsMessage> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.0.next())
                .await
                .expect("websocket message in time");
            match msg {
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(m)) => return Some(m),
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub(crate) async fn text(&mut self) -> String {
        match self.next().await {
            Some(WsMessage::Text(t)) => t.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    pub(crate) async fn binary(&mut self) -> Vec<u8> {
        match self.next().await {
            Some(WsMessage::Binary(b)) => b.to_vec(),
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }

    /// Waits for the server's close frame and returns its code (`None`: no status).
    pub(crate) async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.next().await {
                Some(WsMessage::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Some(_) => continue,
                None => panic!("websocket ended without a close frame"),
            }
        }
    }
}
