//! The session driver: one tokio task per session owns its [`Session`] and is the only
//! code that awaits. It selects over requests routed to the session and application
//! commands (one ordered channel), the session's next deadline, the held GET's
//! connection, a POST body being read, and the WebSocket(s); after every step it drains
//! the session's transmits and events.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::oneshot;
use tracing::{Instrument, debug};

use super::queue::Receiver;
use super::ws::{WsConn, WsEvent};
use super::{Connection, MessageContext, Registry};
use crate::error::RequestError;
use crate::fifo::Fifo;
use crate::packet::Frame;
use crate::proto::{CloseReason, Event, GetOutcome, Session, Transmit};

/// How long a closing WebSocket may take to flush and send its close frame.
const WS_LINGER: Duration = Duration::from_secs(2);

/// The answer to a polling request, turned into an HTTP response by the router
/// (`Ok` of a POST is `ok`).
pub(crate) type PollAnswer = Result<Bytes, RequestError>;

/// Why reading a POST body failed (either way the session is closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Larger than `max_payload` (answered 413).
    TooLarge,
    /// The connection broke before the body was complete.
    Broken,
}

/// A POST body being read, at most `max_payload` bytes.
pub(crate) type BodyFuture = Pin<Box<dyn Future<Output = Result<Bytes, BodyError>> + Send>>;

/// What reaches a session's task, in arrival order.
pub(crate) enum Command {
    /// A polling GET.
    Get(oneshot::Sender<PollAnswer>),
    /// A polling POST whose body is being read (boxed: a queued command is as large as
    /// its largest variant).
    Post(Box<PostRequest>),
    /// A WebSocket opened with this sid (an upgrade attempt).
    Ws(Box<WsConn>),
    /// A frame from the application.
    Send(Frame),
    /// Frames that must stay together (a binary packet and its attachments).
    SendMany(Vec<Frame>),
    /// Close the session from the server side.
    Close(CloseReason),
}

/// A polling POST: its headers, its body being read, and its responder; `refused`
/// answers it with that error (and closes the session) once the body is read.
pub(crate) struct PostRequest {
    pub(crate) headers: HeaderMap,
    pub(crate) body: BodyFuture,
    pub(crate) refused: Option<RequestError>,
    pub(crate) respond: oneshot::Sender<PollAnswer>,
}

pub(crate) struct Driver<C> {
    pub(crate) sid: Arc<str>,
    pub(crate) session: Session,
    pub(crate) conn: C,
    pub(crate) rx: Receiver<Command>,
    /// Commands taken from `rx` and not handled yet (the rest of a batch, when one of
    /// them closed the session).
    cmds: Fifo<Command>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) active_ws: Option<WsConn>,
    pub(crate) held_get: Option<oneshot::Sender<PollAnswer>>,
    post: Option<Box<PostRequest>>,
    /// Boxed: it only exists during an upgrade, and inline it would cost every session.
    probe: Option<Box<WsConn>>,
}

/// What woke the driver, in the order it looks (the commands first).
enum Step {
    Commands(Fifo<Command>),
    ActiveWs(WsEvent),
    Probe(WsEvent),
    PostBody(Result<Bytes, BodyError>),
    GetDropped,
    Timeout,
}

fn now() -> std::time::Instant {
    std::time::Instant::now()
}

impl<C: Connection> Driver<C> {
    pub(crate) fn new(
        sid: Arc<str>,
        session: Session,
        conn: C,
        rx: Receiver<Command>,
        registry: Arc<Registry>,
        active_ws: Option<WsConn>,
    ) -> Self {
        Driver {
            sid,
            session,
            conn,
            rx,
            cmds: Fifo::new(),
            registry,
            active_ws,
            held_get: None,
            post: None,
            probe: None,
        }
    }

    pub(crate) fn spawn(self) {
        let span = tracing::debug_span!("eio_session", sid = %self.sid);
        let fut = self.run().instrument(span);
        // Every byte of this future is paid by every live session (it was 11 KB when the
        // wind-down was laid out inline, 2.5 KB as an `async fn`; 1.3 KB now); the tests,
        // which spawn sessions, keep it small.
        debug_assert!(
            std::mem::size_of_val(&fut) <= 2048,
            "session task future is {} bytes",
            std::mem::size_of_val(&fut)
        );
        tokio::spawn(fut);
    }

    /// The session's task. Not an `async fn`: that would keep its argument (the whole
    /// driver) twice in the future, once as the argument and once as the local it is
    /// moved into (2.5 KB instead of 1.3 KB per session); an `async move` block uses its
    /// capture in place.
    fn run(self) -> impl Future<Output = ()> + Send + 'static {
        let mut this = self;
        async move {
            let sleep = tokio::time::sleep(Duration::from_secs(3600));
            tokio::pin!(sleep);
            loop {
                this.apply_transmits();
                this.dispatch_events(None);
                if this.session.is_closed() {
                    // Transmits of the handlers' last sends are dropped by the session.
                    break;
                }
                let deadline = match (this.session.poll_timeout(), this.conn.deadline()) {
                    (Some(a), Some(b)) => a.min(b),
                    (a, b) => a.or(b).unwrap_or_else(|| now() + Duration::from_secs(3600)),
                };
                sleep
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(deadline));
                // One hand-written poll instead of `select!`: nothing but the driver and the
                // timer is kept across the wait (smaller task, less work per wake-up).
                match poll_fn(|cx| this.poll_step(cx, sleep.as_mut())).await {
                    Step::Commands(batch) => {
                        this.cmds = batch;
                        while let Some(cmd) = this.cmds.pop_front() {
                            this.command(cmd);
                            if this.session.is_closed() {
                                break;
                            }
                        }
                    }
                    Step::ActiveWs(ev) => this.active_ws_event(ev),
                    Step::Probe(ev) => this.probe_event(ev),
                    Step::PostBody(result) => this.post_done(result),
                    Step::GetDropped => {
                        this.held_get = None;
                        this.session.handle_get_dropped(now());
                    }
                    Step::Timeout => {
                        let now = now();
                        this.session.handle_timeout(now);
                        if !this.session.is_closed()
                            && this.conn.deadline().is_some_and(|d| d <= now)
                        {
                            this.conn.on_deadline(now);
                        }
                    }
                }
            }
            // Boxed: the wind-down (flushing and closing WebSockets, with its read buffer)
            // would otherwise be laid out inside every live session's task (11 KB of it).
            Box::pin(this.finish()).await;
        }
    }

    /// Polls everything the session waits on, commands first.
    fn poll_step(
        &mut self,
        cx: &mut Context<'_>,
        sleep: Pin<&mut tokio::time::Sleep>,
    ) -> Poll<Step> {
        if let Poll::Ready(batch) = self.rx.poll_take(cx) {
            return Poll::Ready(Step::Commands(batch));
        }
        if let Some(ws) = self.active_ws.as_mut()
            && let Poll::Ready(ev) = ws.poll_event(cx)
        {
            return Poll::Ready(Step::ActiveWs(ev));
        }
        if let Some(ws) = self.probe.as_mut()
            && let Poll::Ready(ev) = ws.poll_event(cx)
        {
            return Poll::Ready(Step::Probe(ev));
        }
        if let Some(p) = self.post.as_mut()
            && let Poll::Ready(result) = p.body.as_mut().poll(cx)
        {
            return Poll::Ready(Step::PostBody(result));
        }
        if let Some(tx) = self.held_get.as_mut()
            && tx.poll_closed(cx).is_ready()
        {
            return Poll::Ready(Step::GetDropped);
        }
        if sleep.poll(cx).is_ready() {
            return Poll::Ready(Step::Timeout);
        }
        Poll::Pending
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Get(respond) => match self.session.handle_get(now()) {
                GetOutcome::Reply(body) => {
                    let _ = respond.send(Ok(body));
                }
                GetOutcome::Reject(e) => {
                    // An overlap also answers the held GET: apply that first.
                    self.apply_transmits();
                    let _ = respond.send(Err(e));
                }
                GetOutcome::Held => {
                    // A timer run by `handle_get` may have answered the GET held so far.
                    self.apply_transmits();
                    self.held_get = Some(respond);
                }
            },
            Command::Post(post) => match self.session.handle_post_begin(now()) {
                Ok(()) => self.post = Some(post),
                Err(e) => {
                    let _ = post.respond.send(Err(e));
                }
            },
            Command::Ws(ws) => {
                if self.session.handle_probe_open(now()) {
                    self.probe = Some(ws);
                } else {
                    debug!("second websocket for the session refused");
                    tokio::spawn(ws.shutdown(None, WS_LINGER));
                }
            }
            Command::Send(f) => self.session.send(f),
            Command::SendMany(fs) => {
                for f in fs {
                    self.session.send(f);
                }
            }
            Command::Close(reason) => self.session.close(now(), reason),
        }
    }

    fn active_ws_event(&mut self, ev: WsEvent) {
        match ev {
            WsEvent::Packet(p) => self.session.handle_ws_packet(now(), p),
            WsEvent::ParseError => self.session.handle_parse_error(now()),
            WsEvent::Fail(code) => {
                if let Some(ws) = self.active_ws.take() {
                    tokio::spawn(ws.shutdown(Some(code), WS_LINGER));
                }
                self.session.handle_ws_closed(now(), true);
            }
            WsEvent::Closed { error } => {
                self.active_ws = None;
                self.session.handle_ws_closed(now(), error);
            }
        }
    }

    fn probe_event(&mut self, ev: WsEvent) {
        match ev {
            WsEvent::Packet(p) => self.session.handle_probe_packet(now(), p),
            WsEvent::ParseError | WsEvent::Fail(_) => {
                let code = match ev {
                    WsEvent::Fail(code) => Some(code),
                    _ => None,
                };
                if let Some(ws) = self.probe.take() {
                    tokio::spawn(ws.shutdown(code, WS_LINGER));
                }
                self.session.handle_probe_closed(now());
            }
            WsEvent::Closed { .. } => {
                self.probe = None;
                self.session.handle_probe_closed(now());
            }
        }
    }

    fn post_done(&mut self, result: Result<Bytes, BodyError>) {
        let Some(p) = self.post.take() else { return };
        let error = match (result, p.refused) {
            (Ok(body), None) => {
                self.session.handle_post(now(), body);
                // The POST is answered after its packets were handled.
                self.dispatch_events(Some(&p.headers));
                let _ = p.respond.send(Ok(Bytes::new()));
                return;
            }
            (Err(BodyError::TooLarge), _) => RequestError::PayloadTooLarge,
            (Err(BodyError::Broken), _) => RequestError::Overlap,
            (Ok(_), Some(refused)) => refused,
        };
        // engine.io >= 6.6.13 ends the session on a body over max_payload too.
        self.session.handle_post_failed(now(), true);
        let _ = p.respond.send(Err(error));
    }

    fn apply_transmits(&mut self) {
        while let Some(t) = self.session.poll_transmit() {
            match t {
                Transmit::PollResponse(body) => {
                    if let Some(tx) = self.held_get.take() {
                        let _ = tx.send(Ok(body));
                    }
                }
                Transmit::PollError(e) => {
                    if let Some(tx) = self.held_get.take() {
                        let _ = tx.send(Err(e));
                    }
                }
                Transmit::WsFrame(f) => {
                    if let Some(ws) = self.active_ws.as_mut() {
                        ws.push(f);
                        if ws.queued_bytes() > self.session.max_buffered_bytes() {
                            debug!("websocket send queue full, closing");
                            self.session.handle_send_queue_full();
                        }
                    }
                }
                Transmit::ProbeFrame(f) => {
                    if let Some(ws) = self.probe.as_mut() {
                        ws.push(f);
                    }
                }
                Transmit::PromoteProbe => {
                    if let Some(old) = self.active_ws.take() {
                        tokio::spawn(old.shutdown(None, WS_LINGER));
                    }
                    self.active_ws = self.probe.take().map(|ws| *ws);
                }
                Transmit::CloseProbe => {
                    if let Some(ws) = self.probe.take() {
                        tokio::spawn(ws.shutdown(None, WS_LINGER));
                    }
                }
                Transmit::CloseWs => {
                    if let Some(ws) = self.active_ws.take() {
                        tokio::spawn(ws.shutdown(None, WS_LINGER));
                    }
                }
            }
        }
    }

    fn dispatch_events(&mut self, headers: Option<&HeaderMap>) {
        while let Some(ev) = self.session.poll_event() {
            match ev {
                Event::Message(msg) => self.conn.on_message(msg, &MessageContext { headers }),
                Event::Upgraded => {
                    self.registry.mark_websocket(&self.sid);
                    self.conn.on_upgrade();
                }
                Event::Closed(reason) => {
                    debug!(reason = reason.as_str(), "session closed");
                    self.conn.on_close(reason);
                }
            }
        }
    }

    async fn finish(mut self) {
        self.registry.remove(&self.sid);
        self.rx.close();
        let mut raced = std::mem::take(&mut self.cmds);
        raced.append(self.rx.take());
        if let Some(p) = self.post.take() {
            let _ = p.respond.send(Err(RequestError::UnknownSid));
        }
        if let Some(tx) = self.held_get.take() {
            let _ = tx.send(Err(RequestError::UnknownSid));
        }
        // Requests that raced with the end of the session.
        while let Some(cmd) = raced.pop_front() {
            match cmd {
                Command::Get(tx) => {
                    let _ = tx.send(Err(RequestError::UnknownSid));
                }
                Command::Post(post) => {
                    let _ = post.respond.send(Err(RequestError::UnknownSid));
                }
                Command::Ws(ws) => {
                    tokio::spawn(ws.shutdown(None, WS_LINGER));
                }
                Command::Send(_) | Command::SendMany(_) | Command::Close(_) => {}
            }
        }
        if let Some(ws) = self.probe.take() {
            tokio::spawn(ws.shutdown(None, WS_LINGER));
        }
        if let Some(ws) = self.active_ws.take() {
            ws.shutdown(None, WS_LINGER).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Command;

    #[test]
    fn commands_stay_small() {
        // Each queued command takes this much of the batch's buffer.
        assert!(
            std::mem::size_of::<Command>() <= 48,
            "{}",
            std::mem::size_of::<Command>()
        );
    }
}
