//! The Engine.IO server on hyper 1 and tokio: request routing, the handshake, polling,
//! WebSocket (direct, and the upgrade from polling), one driver task per session.
//!
//! The application implements [`Handler`] (accept or refuse handshakes, create the
//! per-session [`Connection`]) and talks to a session through its [`Socket`] handle.
//! [`Engine::handle`] answers one HTTP request and can sit behind any hyper service;
//! [`Engine::serve`] runs a plain accept loop.

mod driver;
mod http;
mod query;
mod queue;
mod registry;
mod ws;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use ::http::header::{self, HeaderMap, HeaderValue};
use ::http::{Method, Request, Response, StatusCode};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::{debug, warn};

pub use self::http::Body;
pub use self::query::Query;
#[doc(hidden)]
pub use ::http::Uri;
use driver::{Command, Driver, PollAnswer};
use registry::Registry;
pub use registry::TransportCounts;

use crate::config::Config;
use crate::error::RequestError;
use crate::handshake;
use crate::packet::Frame;
use crate::proto::{CloseReason, Message, Session, TransportKind};

/// The request of a handshake, as the [`Handler`] sees it.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The new session's id.
    pub sid: Arc<str>,
    /// The transport the session opened on.
    pub transport: TransportKind,
    /// The request target (`/engine.io/?EIO=4&transport=polling&t=…`).
    pub uri: Uri,
    /// The request headers.
    pub headers: HeaderMap,
    /// The decoded query parameters.
    pub query: Query,
    /// The client's address, when the caller of [`Engine::handle`] knows it.
    pub remote_addr: Option<SocketAddr>,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// When the session was created.
    pub issued: SystemTime,
}

/// Context of a received message.
#[derive(Debug)]
pub struct MessageContext<'a> {
    headers: Option<&'a HeaderMap>,
}

impl MessageContext<'static> {
    /// A context without POST headers, as for a WebSocket message: for harnesses and
    /// tests that drive a [`Connection`] directly (not a stable API).
    #[doc(hidden)]
    pub fn detached() -> Self {
        MessageContext { headers: None }
    }
}

impl MessageContext<'_> {
    /// The headers of the polling POST that carried this message (`None` over WebSocket).
    pub fn post_headers(&self) -> Option<&HeaderMap> {
        self.headers
    }
}

/// The verdict of [`Handler::allow_request`].
pub enum Verdict {
    /// Accept the handshake.
    Allow,
    /// Refuse it with this message (403 `{"code":4,"message":…}` on polling).
    Deny(String),
    /// Decide later (an async check such as a lookup or a delay).
    Later(Pin<Box<dyn Future<Output = Result<(), String>> + Send>>),
}

/// The application side of the engine: decides on handshakes and creates the per-session
/// state.
pub trait Handler: Send + Sync + 'static {
    /// The per-session state, owned by the session's task.
    type Connection: Connection;

    /// Runs on handshake requests only (no `sid`), after the protocol checks. The default
    /// accepts everything.
    fn allow_request(&self, _req: &Handshake) -> Verdict {
        Verdict::Allow
    }

    /// Headers to add to the handshake response (the polling GET that opens a session,
    /// or the 101 of a WebSocket-only handshake). The default adds none.
    fn initial_headers(&self, _req: &Handshake, _headers: &mut HeaderMap) {}

    /// A session opened. Called on the session's task before any of its messages.
    fn on_open(&self, socket: Socket, handshake: Handshake) -> Self::Connection;
}

/// Per-session callbacks, run on the session's own task, in order.
pub trait Connection: Send + 'static {
    /// A message from the client.
    fn on_message(&mut self, msg: Message, ctx: &MessageContext<'_>);
    /// The session moved to WebSocket.
    fn on_upgrade(&mut self) {}
    /// The session closed; nothing follows.
    fn on_close(&mut self, reason: CloseReason);
    /// When [`Connection::on_deadline`] should run next (`None`: no timer). Asked after
    /// every callback; the session's own timer serves it, so a per-connection timeout
    /// needs no task of its own.
    fn deadline(&self) -> Option<std::time::Instant> {
        None
    }
    /// The [`Connection::deadline`] has passed (`now` is at or after it).
    fn on_deadline(&mut self, _now: std::time::Instant) {}
}

/// A handle to one session: cheap to clone, usable from any task.
#[derive(Debug, Clone)]
pub struct Socket {
    sid: Arc<str>,
    tx: queue::Sender<Command>,
}

impl Socket {
    /// The session id.
    pub fn sid(&self) -> &Arc<str> {
        &self.sid
    }

    /// Queues a frame. Returns false when the session is gone.
    pub fn send(&self, frame: Frame) -> bool {
        self.tx.send(Command::Send(frame)).is_ok()
    }

    /// Queues frames that must reach the client back to back (a binary Socket.IO packet
    /// and its attachments): nothing from another sender comes between them.
    pub fn send_many(&self, frames: Vec<Frame>) -> bool {
        self.tx.send(Command::SendMany(frames)).is_ok()
    }

    /// Sends a text message.
    pub fn send_text(&self, text: &str) -> bool {
        self.send(Frame::message(text))
    }

    /// Sends a binary message.
    pub fn send_binary(&self, data: impl Into<Bytes>) -> bool {
        self.send(Frame::binary(data))
    }

    /// Closes the session (buffered packets are delivered first).
    pub fn close(&self) {
        let _ = self.tx.send(Command::Close(CloseReason::ForcedClose));
    }

    /// Closes the session with a given reason.
    pub fn close_with(&self, reason: CloseReason) {
        let _ = self.tx.send(Command::Close(reason));
    }

    /// True once the session's task has ended.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Resolves once the session's task has ended. A task that holds a `Socket` only to
    /// act on it later (a timer) should also wait for this, and drop the `Socket` then:
    /// each live handle keeps the session's queue allocated.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

impl Socket {
    /// A socket whose frames go to the returned receiver instead of a client: for
    /// benchmarks and tests of code that sends (no session, no transport).
    #[doc(hidden)]
    pub fn detached(sid: &str) -> (Socket, DetachedReceiver) {
        let (tx, rx) = queue::queue();
        (
            Socket {
                sid: sid.into(),
                tx,
            },
            DetachedReceiver(rx),
        )
    }
}

/// The receiving end of [`Socket::detached`].
#[doc(hidden)]
#[derive(Debug)]
pub struct DetachedReceiver(queue::Receiver<Command>);

impl DetachedReceiver {
    /// The frames sent so far, in order (commands other than sends are skipped).
    pub fn drain(&mut self) -> Vec<Frame> {
        let mut out = Vec::new();
        for cmd in self.0.take() {
            match cmd {
                Command::Send(f) => out.push(f),
                Command::SendMany(fs) => out.extend(fs),
                _ => {}
            }
        }
        out
    }
}

/// The Engine.IO server. Clone it freely; clones share the sessions.
pub struct Engine<H: Handler> {
    inner: Arc<Inner<H>>,
}

impl<H: Handler> Clone for Engine<H> {
    fn clone(&self) -> Self {
        Engine {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<H> {
    config: Config,
    limits: Arc<crate::proto::Limits>,
    handler: H,
    registry: Arc<Registry>,
}

impl<H: Handler> Engine<H> {
    /// A new engine with this configuration and handler.
    pub fn new(config: Config, handler: H) -> Self {
        Engine {
            inner: Arc::new(Inner {
                limits: Arc::new(crate::proto::Limits::new(&config)),
                config,
                handler,
                registry: Arc::new(Registry::default()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.inner.handler
    }

    /// How many open sessions use each transport.
    pub fn transport_counts(&self) -> TransportCounts {
        self.inner.registry.transport_counts()
    }

    /// Of the sessions `sids` (unknown ones skipped), how many use each transport.
    pub fn count_transports<'a>(&self, sids: impl IntoIterator<Item = &'a str>) -> TransportCounts {
        self.inner.registry.count_transports(sids)
    }

    /// The number of open sessions.
    pub fn session_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Closes every session with `reason` (graceful shutdown).
    pub fn close_all(&self, reason: CloseReason) {
        for tx in self.inner.registry.all() {
            let _ = tx.send(Command::Close(reason));
        }
    }

    /// True when `path` belongs to this engine (prefix match on the configured path).
    pub fn matches(&self, path: &str) -> bool {
        path.starts_with(self.inner.config.path.as_str())
    }

    /// Runs an accept loop on `listener` until the listener fails. Requests outside the
    /// engine's path get 404.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) if is_transient_accept_error(&e) => {
                    warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let _ = stream.set_nodelay(true);
            let engine = self.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let engine = engine.clone();
                    async move {
                        if engine.matches(req.uri().path()) {
                            Ok::<_, std::convert::Infallible>(engine.handle(req, Some(peer)).await)
                        } else {
                            Ok(http::not_found())
                        }
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .keep_alive(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .with_upgrades();
                if let Err(e) = conn.await {
                    debug!(error = %e, "http connection ended with an error");
                }
            });
        }
    }

    /// Answers one request to the engine's path.
    pub async fn handle(&self, req: Request<Incoming>, peer: Option<SocketAddr>) -> Response<Body> {
        let cors = http::cors_headers(&self.inner.config.cors, &req);
        if req.method() == Method::OPTIONS
            && let Some(h) = cors.clone()
        {
            return http::preflight(h);
        }
        let is_ws = http::is_websocket_upgrade(&req);
        let mut res = match self.route(req, peer, is_ws).await {
            Ok(res) => res,
            Err(e) if is_ws => http::upgrade_error(&e),
            Err(e) => http::polling_error(&e),
        };
        if let Some(h) = cors {
            res.headers_mut().extend(h);
        }
        res
    }

    async fn route(
        &self,
        req: Request<Incoming>,
        peer: Option<SocketAddr>,
        is_ws: bool,
    ) -> Result<Response<Body>, RequestError> {
        let config = &self.inner.config;
        let query = Query::parse(req.uri().query());
        let transport = match query.get("transport") {
            Some("polling") if config.transports.polling => TransportKind::Polling,
            Some("websocket") if config.transports.websocket => TransportKind::WebSocket,
            _ => return Err(RequestError::UnknownTransport),
        };
        if let Some(origin) = req.headers().get(header::ORIGIN)
            && origin.to_str().is_err()
        {
            return Err(RequestError::BadRequest);
        }
        if let Some(sid) = query.get("sid").filter(|s| !s.is_empty()) {
            let tx = self
                .inner
                .registry
                .get(sid)
                .ok_or(RequestError::UnknownSid)?;
            // A request for a session must speak the session's protocol version.
            if query.get("EIO") != Some("4") {
                return Err(RequestError::BadRequest);
            }
            return match transport {
                TransportKind::WebSocket if is_ws => {
                    let sid: Arc<str> = sid.into();
                    self.upgrade(req, move |ws| {
                        let _ = tx.send(Command::Ws(Box::new(ws)));
                        debug!(%sid, "websocket opened for an existing session");
                    })
                }
                TransportKind::WebSocket => Err(RequestError::BadRequest),
                TransportKind::Polling => self.polling(req, tx).await,
            };
        }
        if req.method() != Method::GET {
            return Err(RequestError::BadHandshakeMethod);
        }
        if transport == TransportKind::WebSocket && !is_ws {
            return Err(RequestError::BadRequest);
        }
        let mut hs = Handshake {
            sid: self.new_sid().into(),
            transport,
            uri: owned_uri(req.uri()),
            headers: owned_headers(req.headers()),
            query,
            remote_addr: peer,
            secure: false,
            issued: SystemTime::now(),
        };
        match self.inner.handler.allow_request(&hs) {
            Verdict::Allow => {}
            Verdict::Deny(msg) => return Err(RequestError::Forbidden(msg)),
            Verdict::Later(fut) => fut.await.map_err(RequestError::Forbidden)?,
        }
        if hs.query.get("EIO") != Some("4") {
            return Err(RequestError::UnsupportedProtocolVersion);
        }
        hs.remote_addr = peer.map(|p| SocketAddr::new(p.ip().to_canonical(), p.port()));
        if !self.inner.registry.has_room(
            hs.remote_addr.map(|a| a.ip()),
            config.max_sessions,
            config.max_sessions_per_ip,
        ) {
            return Err(RequestError::Forbidden("Too many connections".into()));
        }
        let mut extra = HeaderMap::new();
        self.inner.handler.initial_headers(&hs, &mut extra);
        match transport {
            TransportKind::Polling => {
                let open = handshake::open_packet(
                    &hs.sid,
                    config.allow_upgrades && config.transports.websocket,
                    config,
                );
                self.start_session(hs, None);
                let Frame::Text(body) = open else {
                    unreachable!("open packet is text")
                };
                let mut res = http::polling_payload(body);
                append(res.headers_mut(), extra);
                Ok(res)
            }
            TransportKind::WebSocket => {
                let engine = self.clone();
                let mut res = self.upgrade(req, move |mut ws| {
                    ws.push(handshake::open_packet(&hs.sid, false, &engine.inner.config));
                    engine.start_session(hs, Some(ws));
                })?;
                append(res.headers_mut(), extra);
                Ok(res)
            }
        }
    }

    fn start_session(&self, hs: Handshake, ws: Option<ws::WsConn>) {
        let (tx, rx) = queue::queue();
        let sid = hs.sid.clone();
        let session = Session::with_limits(
            std::time::Instant::now(),
            self.inner.limits.clone(),
            hs.transport,
        );
        self.inner.registry.insert(
            sid.clone(),
            tx.clone(),
            hs.remote_addr.map(|a| a.ip()),
            hs.transport == TransportKind::WebSocket,
        );
        let socket = Socket {
            sid: sid.clone(),
            tx,
        };
        let conn = self.inner.handler.on_open(socket, hs);
        Driver::new(sid, session, conn, rx, self.inner.registry.clone(), ws).spawn();
    }

    /// Answers the 101 and hands the WebSocket to `then` once the upgrade completes.
    fn upgrade(
        &self,
        mut req: Request<Incoming>,
        then: impl FnOnce(ws::WsConn) + Send + 'static,
    ) -> Result<Response<Body>, RequestError> {
        let key = req
            .headers()
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or(RequestError::BadRequest)?;
        if req
            .headers()
            .get(header::SEC_WEBSOCKET_VERSION)
            .map(|v| v.as_bytes())
            != Some(b"13")
        {
            return Err(RequestError::BadRequest);
        }
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let on_upgrade = hyper::upgrade::on(&mut req);
        let config = self.inner.config.clone();
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(io) => then(ws::accept(io, &config).await),
                Err(e) => debug!(error = %e, "websocket upgrade failed"),
            }
        });
        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = res.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        Ok(res)
    }

    async fn polling(
        &self,
        req: Request<Incoming>,
        tx: queue::Sender<Command>,
    ) -> Result<Response<Body>, RequestError> {
        let (respond, answer) = oneshot::channel::<PollAnswer>();
        let is_get = match *req.method() {
            Method::GET => {
                tx.send(Command::Get(respond))
                    .map_err(|_| RequestError::UnknownSid)?;
                true
            }
            Method::POST => {
                let max = self.inner.config.max_payload;
                let binary = req
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"application/octet-stream"));
                // A binary body is refused (v4 polling is text); it is still read, like
                // an oversized one up to a bound, so the client sees the answer instead of
                // a reset connection.
                let refused = binary.then_some(RequestError::Overlap);
                let (parts, body) = req.into_parts();
                let cmd = Command::Post(Box::new(driver::PostRequest {
                    headers: parts.headers,
                    body: Box::pin(read_body(body, max)),
                    refused,
                    respond,
                }));
                tx.send(cmd).map_err(|_| RequestError::UnknownSid)?;
                false
            }
            _ => return Err(RequestError::BadMethod),
        };
        match answer.await {
            Ok(Ok(body)) if is_get => Ok(http::polling_payload(body)),
            Ok(Ok(_)) => Ok(http::post_ok()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(RequestError::UnknownSid),
        }
    }

    fn new_sid(&self) -> String {
        random_id()
    }
}

/// A fresh unguessable id in the reference's `base64id` form: 15 bytes (12 random bytes
/// from the operating system and a 3-byte process-wide counter), URL-safe base64, 20
/// characters. Used for Engine.IO session ids and by the Socket.IO layer for socket ids.
///
/// The random bytes come from a per-thread pool refilled from the operating system
/// 1,020 bytes at a time (as the reference's `base64id` pools `crypto.randomBytes`):
/// one `getrandom` call per 85 ids instead of one per id (two per connection). Each
/// pooled byte is handed out once.
pub fn random_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let mut bytes = [0u8; 15];
    RANDOM_POOL.with_borrow_mut(|pool| pool.take(&mut bytes[..12]));
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    bytes[12..].copy_from_slice(&n.to_be_bytes()[1..]);
    handshake::sid_from_bytes(&bytes)
}

/// Random bytes from the operating system, handed out once each.
struct RandomPool {
    bytes: [u8; 1020],
    used: usize,
}

thread_local! {
    static RANDOM_POOL: std::cell::RefCell<RandomPool> = const {
        std::cell::RefCell::new(RandomPool { bytes: [0; 1020], used: 1020 })
    };
}

impl RandomPool {
    fn take(&mut self, out: &mut [u8]) {
        if self.used + out.len() > self.bytes.len() {
            if getrandom::fill(&mut self.bytes).is_err() {
                // No OS randomness is a broken machine; refuse to mint guessable ids.
                panic!("the operating system's random number generator failed");
            }
            self.used = 0;
        }
        let end = self.used + out.len();
        out.copy_from_slice(&self.bytes[self.used..end]);
        // Handed out: never again (a refill overwrites the whole pool).
        self.bytes[self.used..end].fill(0);
        self.used = end;
    }
}

/// How much of a body past `max_payload` is read (and dropped) before answering 413, so
/// the client can read the answer rather than a reset connection.
const DRAIN_LIMIT: usize = 1 << 20;

/// Reads a POST body of at most `max` bytes.
async fn read_body(mut body: Incoming, max: usize) -> Result<Bytes, driver::BodyError> {
    use hyper::body::Body as _;
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => break,
            Some(Err(_)) => return Err(driver::BodyError::Broken),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    total += data.len();
                    if total <= max {
                        buf.extend_from_slice(&data);
                    } else if total > max + DRAIN_LIMIT {
                        return Err(driver::BodyError::TooLarge);
                    }
                }
            }
        }
    }
    if total > max {
        return Err(driver::BodyError::TooLarge);
    }
    Ok(buf.freeze())
}

fn append(target: &mut HeaderMap, extra: HeaderMap) {
    let mut last = None;
    for (name, value) in extra {
        if let Some(n) = name {
            last = Some(n);
        }
        if let Some(n) = &last {
            target.append(n.clone(), value);
        }
    }
}

fn is_transient_accept_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || e.raw_os_error() == Some(24) // EMFILE: wait for descriptors to free up
        || e.raw_os_error() == Some(23)
}

/// A copy of `headers` that owns its bytes. hyper's header values (and URI) are slices
/// of the connection's 8 KiB read buffer: a session keeping them (in its handshake)
/// would keep that whole buffer alive, 8 KiB per idle session.
///
/// The values are copied into one buffer that the copies share (one allocation, not
/// one per header).
fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    let total = headers.iter().map(|(_, v)| v.len()).sum();
    let mut buf = bytes::BytesMut::with_capacity(total);
    for (_, value) in headers {
        buf.extend_from_slice(value.as_bytes());
    }
    let buf = buf.freeze();
    let mut copy = HeaderMap::with_capacity(headers.len());
    let mut at = 0;
    for (name, value) in headers {
        let end = at + value.len();
        let owned =
            HeaderValue::from_maybe_shared(buf.slice(at..end)).unwrap_or_else(|_| value.clone());
        at = end;
        copy.append(name.clone(), owned);
    }
    copy
}

/// A copy of `uri` that owns its bytes (see [`owned_headers`]).
fn owned_uri(uri: &::http::Uri) -> ::http::Uri {
    if uri.scheme().is_none() && uri.authority().is_none() {
        // The usual origin-form request target: only the path and query to copy.
        if let Some(pq) = uri.path_and_query() {
            let copy = ::http::uri::PathAndQuery::from_maybe_shared(Bytes::copy_from_slice(
                pq.as_str().as_bytes(),
            ));
            if let Ok(pq) = copy {
                return ::http::Uri::from(pq);
            }
        }
    }
    uri.to_string().parse().unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod owned_tests {
    use super::*;

    #[test]
    fn handshake_copies_equal_the_request() {
        let mut headers = HeaderMap::new();
        headers.append(header::HOST, HeaderValue::from_static("127.0.0.1:1"));
        headers.append("x-multi", HeaderValue::from_static("one"));
        headers.append("x-multi", HeaderValue::from_static(""));
        headers.append("x-multi", HeaderValue::from_static("three \t3"));
        headers.append(header::COOKIE, HeaderValue::from_bytes(b"a=\xe9").unwrap());
        let copy = owned_headers(&headers);
        assert_eq!(copy, headers);
        let values: Vec<_> = copy.get_all("x-multi").iter().collect();
        assert_eq!(values, ["one", "", "three \t3"]);

        let uri: ::http::Uri = "/socket.io/?EIO=4&transport=websocket&x=%20y"
            .parse()
            .unwrap();
        let copy = owned_uri(&uri);
        assert_eq!(copy, uri);
        assert_eq!(copy.query(), Some("EIO=4&transport=websocket&x=%20y"));
        let absolute: ::http::Uri = "http://h:1/socket.io/?EIO=4".parse().unwrap();
        assert_eq!(owned_uri(&absolute), absolute);
    }
}

#[cfg(test)]
mod random_id_tests {
    use super::*;
    use base64::Engine as _;
    use std::collections::HashSet;

    fn random_part(id: &str) -> [u8; 12] {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id)
            .unwrap();
        raw[..12].try_into().unwrap()
    }

    #[test]
    fn ids_never_repeat_their_random_bytes_across_refills_and_threads() {
        // 1,000 ids per thread cross eleven pool refills; the random parts alone must
        // all differ (a pool handing a byte out twice would repeat them).
        let per_thread: Vec<Vec<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..1000).map(|_| random_id()).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut ids = HashSet::new();
        let mut randoms = HashSet::new();
        for id in per_thread.iter().flatten() {
            assert_eq!(id.len(), 20, "{id}");
            assert!(ids.insert(id.clone()), "id {id} twice");
            let r = random_part(id);
            assert_ne!(r, [0u8; 12], "zeroed pool bytes handed out in {id}");
            assert!(randoms.insert(r), "random bytes of {id} twice");
        }
        assert_eq!(ids.len(), 4000);
    }
}
