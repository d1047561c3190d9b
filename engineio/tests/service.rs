//! Tier 4: the real hyper service in process. Each test starts [`Engine::serve`] on
//! 127.0.0.1:0 with an echo [`Handler`] that also records what the application sees, and
//! drives it with a hyper 1 client (`client::conn::http1`), raw TCP where a client must
//! misbehave, and tokio-tungstenite as the WebSocket client.
//!
//! No test asserts a duration: waits are bounded by generous deadlines ([`WAIT`]) and
//! the one ordering this black box cannot observe (which of two racing GETs the session
//! saw first) is checked order-independently.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use engineio::server::{Connection, Handler, Handshake, MessageContext, Socket, Verdict};
use engineio::{CloseReason, Config, Engine, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The most any single step may take before the test fails (protocol deadlines in these
/// tests are at most a few hundred milliseconds; this is slack for a loaded machine).
const WAIT: Duration = Duration::from_secs(5);

const RS: char = '\u{1e}';

// ----- the application: echo + event recorder ----------------------------------------

/// What the application saw, per session.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Open,
    Message(Message),
    Upgraded,
    Closed(CloseReason),
}

/// Echoes every message; refuses handshakes with a `deny` query parameter.
struct Recorder {
    seen: mpsc::UnboundedSender<(Arc<str>, Seen)>,
}

struct RecorderConn {
    socket: Socket,
    seen: mpsc::UnboundedSender<(Arc<str>, Seen)>,
}

impl RecorderConn {
    fn record(&self, what: Seen) {
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

struct Server {
    addr: SocketAddr,
    engine: Engine<Recorder>,
    seen: mpsc::UnboundedReceiver<(Arc<str>, Seen)>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(config: Config) -> Server {
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

async fn start_default() -> Server {
    start(Config::default()).await
}

/// An HTTP response, fully read.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ASCII content type"))
    }

    /// Asserts the Engine.IO JSON error answer `{"code":N,"message":"..."}`.
    #[track_caller]
    fn assert_error(&self, status: u16, code: u8, message: &str) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(
            self.text(),
            format!(r#"{{"code":{code},"message":"{message}"}}"#)
        );
        assert_eq!(self.content_type(), Some("application/json"));
    }

    /// Asserts a bare status with an empty body.
    #[track_caller]
    fn assert_empty(&self, status: u16) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(self.text(), "", "body of {self:?}");
    }
}

fn poll_path(sid: &str) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={sid}")
}

impl Server {
    /// One request on its own connection.
    async fn request(
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

    async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, &[], Bytes::new()).await
    }

    async fn poll(&self, sid: &str) -> Resp {
        self.get(&poll_path(sid)).await
    }

    async fn post(&self, sid: &str, body: impl Into<Bytes>) -> Resp {
        self.request(
            Method::POST,
            &poll_path(sid),
            &[("content-type", "text/plain;charset=UTF-8")],
            body,
        )
        .await
    }

    /// A GET on its own task, answered later.
    fn spawn_poll(&self, sid: &str) -> tokio::task::JoinHandle<Resp> {
        let addr = self.addr;
        let path = poll_path(sid);
        tokio::spawn(async move { raw_get(addr, &path).await })
    }

    /// A polling handshake; returns the sid after checking the OPEN packet byte for byte.
    async fn handshake(&self) -> String {
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

    async fn ws(&self, sid: Option<&str>) -> Ws {
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
    async fn ws_session(&self) -> (Ws, String) {
        let mut ws = self.ws(None).await;
        let open = ws.text().await;
        let sid = open_sid(&open, "[]", self.engine.config());
        (ws, sid)
    }

    /// The next thing the application saw for `sid`, skipping other sessions.
    async fn seen(&mut self, sid: &str) -> Seen {
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
    async fn closed(&mut self, sid: &str) -> CloseReason {
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
fn open_sid(open: &str, upgrades: &str, config: &Config) -> String {
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
async fn raw_get(addr: SocketAddr, path: &str) -> Resp {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    read_response(&mut stream).await
}

/// Reads one `Connection: close` or Content-Length response from raw TCP.
async fn read_response(stream: &mut TcpStream) -> Resp {
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
struct Ws(WebSocketStream<TcpStream>);

impl Ws {
    async fn send_text(&mut self, text: &str) {
        self.0.send(WsMessage::text(text)).await.expect("ws send");
    }

    async fn send_binary(&mut self, data: &[u8]) {
        self.0
            .send(WsMessage::binary(data.to_vec()))
            .await
            .expect("ws send");
    }

    /// The next data or close message (control frames are skipped).
    async fn next(&mut self) -> Option<WsMessage> {
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

    async fn text(&mut self) -> String {
        match self.next().await {
            Some(WsMessage::Text(t)) => t.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    async fn binary(&mut self) -> Vec<u8> {
        match self.next().await {
            Some(WsMessage::Binary(b)) => b.to_vec(),
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }

    /// Waits for the server's close frame and returns its code (`None`: no status).
    async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.next().await {
                Some(WsMessage::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Some(_) => continue,
                None => panic!("websocket ended without a close frame"),
            }
        }
    }
}

// ----- handshake ---------------------------------------------------------------------

#[tokio::test]
async fn polling_handshake_sends_the_open_packet() {
    let mut server = start_default().await;
    let a = server.handshake().await;
    assert_eq!(server.seen(&a).await, Seen::Open);
    let b = server.handshake().await;
    assert_ne!(a, b, "every session has its own sid");
    assert_eq!(server.engine.session_count(), 2);
}

#[tokio::test]
async fn handshake_reflects_the_config() {
    let server = start(Config {
        ping_interval: Duration::from_millis(1234),
        ping_timeout: Duration::from_millis(567),
        max_payload: 890,
        allow_upgrades: false,
        ..Config::default()
    })
    .await;
    // `handshake` checks every key; without upgrades the list is empty.
    server.handshake().await;
}

#[tokio::test]
async fn websocket_handshake_sends_the_open_packet_first() {
    let mut server = start_default().await;
    let (mut ws, sid) = server.ws_session().await;
    assert_eq!(server.seen(&sid).await, Seen::Open);
    ws.send_text("4hi").await;
    assert_eq!(ws.text().await, "4hi");
}

// ----- messages ----------------------------------------------------------------------

#[tokio::test]
async fn polling_echo() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    let res = server.post(&sid, format!("4hello{RS}4world")).await;
    assert_eq!((res.status, res.text()), (200, "ok"));
    assert_eq!(res.content_type(), Some("text/html"));
    let res = server.poll(&sid).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), format!("4hello{RS}4world"));
    assert_eq!(res.content_type(), Some("text/plain; charset=UTF-8"));
    assert_eq!(server.seen(&sid).await, Seen::Open);
    assert_eq!(
        server.seen(&sid).await,
        Seen::Message(Message::Text(Bytes::from_static(b"hello")))
    );

    // A held GET is answered by the next packet, whichever request the session sees first.
    let pending = server.spawn_poll(&sid);
    assert_eq!(server.post(&sid, "4later").await.text(), "ok");
    let res = pending.await.expect("poll task");
    assert_eq!((res.status, res.text()), (200, "4later"));
}

#[tokio::test]
async fn binary_over_polling_is_base64() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    assert_eq!(server.post(&sid, "bAQIDBA==").await.text(), "ok");
    assert_eq!(server.poll(&sid).await.text(), "bAQIDBA==");
    assert_eq!(server.seen(&sid).await, Seen::Open);
    assert_eq!(
        server.seen(&sid).await,
        Seen::Message(Message::Binary(Bytes::from_static(&[1, 2, 3, 4])))
    );
}

#[tokio::test]
async fn binary_over_websocket() {
    let server = start_default().await;
    let (mut ws, _sid) = server.ws_session().await;
    ws.send_binary(&[1, 2, 3, 4]).await;
    assert_eq!(ws.binary().await, vec![1, 2, 3, 4]);
    // a `b<base64>` text frame is a binary message too; it comes back as a binary frame
    ws.send_text("bAQIDBA==").await;
    assert_eq!(ws.binary().await, vec![1, 2, 3, 4]);
    ws.send_text("4h\u{e9}llo \u{20ac}").await;
    assert_eq!(ws.text().await, "4h\u{e9}llo \u{20ac}");
}

// ----- errors ------------------------------------------------------------------------

#[tokio::test]
async fn error_codes_and_bodies() {
    let server = start_default().await;
    server
        .get("/engine.io/?EIO=4&transport=carrier-pigeon")
        .await
        .assert_error(400, 0, "Transport unknown");
    server
        .get("/engine.io/?EIO=4")
        .await
        .assert_error(400, 0, "Transport unknown");
    server
        .poll("AAAAAAAAAAAAAAAAAAAA")
        .await
        .assert_error(400, 1, "Session ID unknown");
    server
        .request(
            Method::POST,
            "/engine.io/?EIO=4&transport=polling",
            &[],
            "4x",
        )
        .await
        .assert_error(400, 2, "Bad handshake method");
    server
        .get("/engine.io/?EIO=4&transport=websocket")
        .await
        .assert_error(400, 3, "Bad request");
    server
        .get("/engine.io/?EIO=4&transport=polling&deny")
        .await
        .assert_error(403, 4, "Go away");
    server
        .get("/engine.io/?EIO=3&transport=polling")
        .await
        .assert_error(400, 5, "Unsupported protocol version");
    server.get("/elsewhere/").await.assert_empty(404);
    assert_eq!(server.engine.session_count(), 0);
}

/// A POST over `max_payload` gets 413 with an empty body and ends the session, as
/// engine.io >= 6.6.13 does (6.6.12 kept it; see `RequestError::PayloadTooLarge`).
#[tokio::test]
async fn oversized_post_is_413_and_closes_the_session() {
    let mut server = start(Config {
        max_payload: 1000,
        ..Config::default()
    })
    .await;
    // a body of exactly max_payload bytes is fine
    let sid = server.handshake().await;
    let exact = format!("4{}", "b".repeat(999));
    assert_eq!(server.post(&sid, exact.clone()).await.text(), "ok");
    assert_eq!(server.poll(&sid).await.text(), exact);
    // declared too large (Content-Length)
    server
        .post(&sid, format!("4{}", "a".repeat(1000)))
        .await
        .assert_empty(413);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");

    // found too large while reading (chunked, no Content-Length)
    let sid = server.handshake().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let chunk = "a".repeat(1500);
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n4\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        poll_path(&sid),
        chunk.len()
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    read_response(&mut stream).await.assert_empty(413);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn other_method_with_sid_is_500_and_keeps_the_session() {
    let server = start_default().await;
    let sid = server.handshake().await;
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        server
            .request(method, &poll_path(&sid), &[], "4x")
            .await
            .assert_empty(500);
    }
    assert_eq!(server.post(&sid, "4alive").await.text(), "ok");
    assert_eq!(server.poll(&sid).await.text(), "4alive");
}

#[tokio::test]
async fn octet_stream_post_is_400_and_closes_the_session() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    server
        .request(
            Method::POST,
            &poll_path(&sid),
            &[("content-type", "application/octet-stream")],
            vec![4u8, 1, 2, 3],
        )
        .await
        .assert_empty(400);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn bad_payload_closes_the_session_after_the_good_packets() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    let res = server.post(&sid, format!("4first{RS}abc{RS}4never")).await;
    assert_eq!((res.status, res.text()), (200, "ok"));
    assert_eq!(server.seen(&sid).await, Seen::Open);
    assert_eq!(
        server.seen(&sid).await,
        Seen::Message(Message::Text(Bytes::from_static(b"first")))
    );
    assert_eq!(
        server.seen(&sid).await,
        Seen::Closed(CloseReason::ParseError)
    );
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

// ----- long-polling races --------------------------------------------------------------

#[tokio::test]
async fn duplicate_get_closes_the_session() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    let first = server.spawn_poll(&sid);
    // Give the first GET time to be held; if it still loses the race the roles swap, so
    // the check below does not depend on which GET the session saw first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = server.spawn_poll(&sid);
    let first = first.await.expect("first GET");
    let second = second.await.expect("second GET");
    let (held, other) = if first.status == 200 {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!((held.status, held.text()), (200, "1"), "held GET");
    other.assert_empty(400);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn dropped_long_poll_closes_the_session() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        poll_path(&sid),
        server.addr
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    drop(stream);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
    assert_eq!(server.engine.session_count(), 0);
}

// ----- upgrade -----------------------------------------------------------------------

#[tokio::test]
async fn upgrade_from_polling_to_websocket() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    assert_eq!(server.seen(&sid).await, Seen::Open);
    let pending = server.spawn_poll(&sid);
    let mut ws = server.ws(Some(&sid)).await;
    ws.send_text("2probe").await;
    // no OPEN packet on the probe: its first frame answers the probe
    assert_eq!(ws.text().await, "3probe");
    // the GET held during the upgrade is released with a noop
    let res = pending.await.expect("poll task");
    assert_eq!((res.status, res.text()), (200, "6"));
    // a message posted while upgrading waits for the new transport
    assert_eq!(server.post(&sid, "4during").await.text(), "ok");
    ws.send_text("5").await;
    assert_eq!(ws.text().await, "4during");
    ws.send_text("4sync").await;
    assert_eq!(ws.text().await, "4sync");
    assert_eq!(
        server.seen(&sid).await,
        Seen::Message(Message::Text(Bytes::from_static(b"during")))
    );
    assert_eq!(server.seen(&sid).await, Seen::Upgraded);
    // once upgraded, polling is refused with code 3 and the session lives on
    server.poll(&sid).await.assert_error(400, 3, "Bad request");
    server
        .post(&sid, "4polling")
        .await
        .assert_error(400, 3, "Bad request");
    ws.send_text("4still").await;
    assert_eq!(ws.text().await, "4still");
    // a second WebSocket for the upgraded session is closed at once
    let mut second = server.ws(Some(&sid)).await;
    assert_eq!(second.close_code().await, None);
    ws.send_text("4after").await;
    assert_eq!(ws.text().await, "4after");
}

// ----- heartbeat ---------------------------------------------------------------------

fn fast_heartbeat() -> Config {
    Config {
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(50),
        ..Config::default()
    }
}

#[tokio::test]
async fn polling_ping_timeout() {
    let mut server = start(fast_heartbeat()).await;
    let sid = server.handshake().await;
    // the first ping comes to a held GET; answering it schedules the next one
    assert_eq!(server.poll(&sid).await.text(), "2");
    assert_eq!(server.post(&sid, "3").await.text(), "ok");
    assert_eq!(server.poll(&sid).await.text(), "2");
    // no pong this time
    assert_eq!(server.closed(&sid).await, CloseReason::PingTimeout);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn websocket_ping_timeout() {
    let mut server = start(fast_heartbeat()).await;
    let (mut ws, sid) = server.ws_session().await;
    assert_eq!(ws.text().await, "2");
    ws.send_text("3").await;
    assert_eq!(ws.text().await, "2");
    assert_eq!(server.closed(&sid).await, CloseReason::PingTimeout);
    assert_eq!(ws.close_code().await, None);
}

// ----- websocket limits --------------------------------------------------------------

#[tokio::test]
async fn oversized_websocket_message_closes_with_1009() {
    let mut server = start(Config {
        max_payload: 1000,
        ..Config::default()
    })
    .await;
    let (mut ws, sid) = server.ws_session().await;
    // exactly max_payload is accepted
    let exact = format!("4{}", "a".repeat(999));
    ws.send_text(&exact).await;
    assert_eq!(ws.text().await, exact);
    ws.send_text(&format!("4{}", "a".repeat(1000))).await;
    assert_eq!(ws.close_code().await, Some(u16::from(CloseCode::Size)));
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
}

// ----- regressions (found by fuzzing) ----------------------------------------------------

/// A second GET that reaches the session while a GET is held and the ping is due: the
/// session first runs the due timer (the ping answers the held GET), then holds the new
/// GET. The driver stores the new GET before it applies that answer, so the ping goes to
/// the NEW GET, the held one gets 400 "Session ID unknown", and the session believes a
/// GET is held that the driver no longer has: the next message is lost. The driver now
/// applies the session's transmits before it holds the new GET.
#[tokio::test]
async fn get_arriving_when_a_ping_is_due_does_not_steal_the_held_answer() {
    let server = start(Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_secs(5),
        ..Config::default()
    })
    .await;
    let sid = server.handshake().await;
    // An idle keep-alive connection, so its next request is read as soon as it arrives.
    let mut b = TcpStream::connect(server.addr).await.expect("connect");
    b.write_all(b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    read_response(&mut b).await.assert_empty(404);
    let first = server.spawn_poll(&sid);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let req = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", poll_path(&sid));
    b.write_all(req.as_bytes()).await.expect("write");
    // Block this runtime's only thread past the ping deadline: when it resumes, the I/O
    // of the second GET is handled before the session's timer, so the session sees the
    // second GET with the ping due (a GET racing with a timer, made deterministic).
    std::thread::sleep(Duration::from_millis(400));
    let first = first.await.expect("first GET");
    assert_eq!(
        (first.status, first.text()),
        (200, "2"),
        "the held GET gets the ping"
    );
    assert_eq!(server.post(&sid, "4next").await.text(), "ok");
    let second = read_response(&mut b).await;
    assert_eq!((second.status, second.text()), (200, "4next"));
}
