//! The sans-IO Engine.IO session: one session's whole state, no I/O, no clock.
//!
//! Inputs are `handle_*` calls (a GET or POST arrived, a WebSocket frame arrived, a
//! transport went away, time passed) each taking `now`; outputs are drained with
//! [`Session::poll_transmit`] (what to write where), [`Session::poll_event`] (what the
//! application sees) and [`Session::poll_timeout`] (when to call
//! [`Session::handle_timeout`] next). The driver in [`crate::server`] owns one `Session`
//! per task and is the only code that awaits.
//!
//! ```text
//!              polling handshake                    websocket handshake
//!                     │                                     │
//!                     ▼       WS+sid, 2probe→3probe         ▼
//!   ┌──────────── Polling ──────────────► Upgrading ──5──► WebSocket
//!   │                 ▲  upgrade timeout /    │               │
//!   │                 └── probe closed/bad ───┘               │
//!   │ server close()                                          │
//!   ▼ (no GET pending)                                        │
//! Closing ── GET gets `1`, or close timeout ──► Closed ◄──────┘ any close
//! ```
//!
//! Heartbeat (v4, server pings): the first ping is due `ping_interval` after creation;
//! after a ping, a pong is due within `ping_timeout`; each pong schedules the next ping
//! `ping_interval` later. Deadlines are also checked at the start of every `handle_*`
//! call, so a late timer can never let a request slip past an expired deadline.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::config::Config;
use crate::error::RequestError;
use crate::fifo::Fifo;
use crate::packet::{Frame, Packet, PacketType, control};
use crate::payload;

#[cfg(test)]
mod tests;

/// The transport a session currently uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }
}

/// Why a session closed. The names match the reference server's close reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client closed the transport (close packet, WebSocket close, dropped socket).
    TransportClose,
    /// The transport failed: overlapping requests, a dropped long-poll, an I/O error,
    /// a client ping on v4, a WebSocket message over `max_payload`.
    TransportError,
    /// No pong within `ping_timeout` of a ping.
    PingTimeout,
    /// The client sent a packet that does not parse.
    ParseError,
    /// The application closed the session.
    ForcedClose,
    /// The server is shutting down.
    ServerShutdown,
    /// The client did not read fast enough and its queue passed `max_buffered_bytes`.
    BufferFull,
}

impl CloseReason {
    /// The reason as the reference server words it ("transport close", "ping timeout", …).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
            CloseReason::BufferFull => "send buffer full",
        }
    }
}

/// An application message received from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (the data after the `4`); always valid UTF-8.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The text of a text message (`None` for binary).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(b) => std::str::from_utf8(b).ok(),
            Message::Binary(_) => None,
        }
    }
}

/// What the application learns about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message from the client.
    Message(Message),
    /// The session moved from polling to WebSocket.
    Upgraded,
    /// The session closed; emitted exactly once, and nothing follows it.
    Closed(CloseReason),
}

/// What the driver must write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Answer the pending GET: 200 with this polling payload.
    PollResponse(Bytes),
    /// Answer the pending GET with an error.
    PollError(RequestError),
    /// Write a frame on the active WebSocket.
    WsFrame(Frame),
    /// Write a frame on the probe WebSocket (the one being upgraded to).
    ProbeFrame(Frame),
    /// The probe WebSocket becomes the active transport (the upgrade completed). Frames
    /// queued during the upgrade follow as [`Transmit::WsFrame`].
    PromoteProbe,
    /// Close the probe WebSocket; the session stays on polling.
    CloseProbe,
    /// Close the active WebSocket with a close frame (after the frames before it).
    CloseWs,
}

/// The result of a GET on the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetOutcome {
    /// Answer now, 200 with this payload.
    Reply(Bytes),
    /// Hold the request: its answer comes later as [`Transmit::PollResponse`] or
    /// [`Transmit::PollError`]. Tell the session if its connection drops
    /// ([`Session::handle_get_dropped`]).
    Held,
    /// Answer now with this error.
    Reject(RequestError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// A server-initiated close on polling, waiting for a GET to carry the close packet.
    Closing,
    Closed,
}

#[derive(Debug, Clone, Copy)]
struct Upgrade {
    /// When the upgrade is abandoned if `5` has not arrived.
    deadline: Instant,
    /// `2probe` was answered: the session is "upgrading".
    probed: bool,
    /// Next time a pending GET is released with a noop.
    next_noop: Option<Instant>,
}

/// The timers and limits of a session: the relevant [`Config`] fields, shared by every
/// session of a server ([`Session::with_limits`]) rather than copied into each (96 bytes
/// of every session's task).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    ping_interval: Duration,
    ping_timeout: Duration,
    upgrade_timeout: Duration,
    upgrade_noop_interval: Duration,
    close_timeout: Duration,
    max_buffered_bytes: usize,
    allow_upgrades: bool,
}

impl Limits {
    /// The limits `config` sets.
    pub fn new(config: &Config) -> Limits {
        Limits {
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            upgrade_timeout: config.upgrade_timeout,
            upgrade_noop_interval: config.upgrade_noop_interval,
            close_timeout: config.close_timeout,
            max_buffered_bytes: config.max_buffered_bytes,
            allow_upgrades: config.allow_upgrades && config.transports.websocket,
        }
    }
}

/// One Engine.IO session. See the [module docs](self).
#[derive(Debug)]
pub struct Session {
    limits: Arc<Limits>,
    transport: TransportKind,
    state: State,
    /// Packets waiting for a GET (polling only; WebSocket frames go out at once).
    outbox: VecDeque<Frame>,
    outbox_bytes: usize,
    get_pending: bool,
    post_active: bool,
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
    upgrade: Option<Upgrade>,
    close_deadline: Option<Instant>,
    transmits: Fifo<Transmit>,
    events: Fifo<Event>,
}

impl Session {
    /// A new session opened at `now` over `transport`. The driver has already sent the
    /// OPEN packet (as the handshake GET's answer, or as the first WebSocket frame).
    pub fn new(now: Instant, config: &Config, transport: TransportKind) -> Session {
        Session::with_limits(now, Arc::new(Limits::new(config)), transport)
    }

    /// [`Session::new`] with limits shared with other sessions.
    pub fn with_limits(now: Instant, limits: Arc<Limits>, transport: TransportKind) -> Session {
        let next_ping = Some(now + limits.ping_interval);
        Session {
            limits,
            transport,
            state: State::Open,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            get_pending: false,
            post_active: false,
            next_ping,
            pong_deadline: None,
            upgrade: None,
            close_deadline: None,
            transmits: Fifo::new(),
            events: Fifo::new(),
        }
    }

    /// The active transport.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// True once the session is closed and nothing more will happen. The driver stops
    /// after draining the last transmits.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True while a GET is held.
    pub fn has_pending_get(&self) -> bool {
        self.get_pending
    }

    /// Bytes waiting in the polling buffer.
    pub fn buffered_bytes(&self) -> usize {
        self.outbox_bytes
    }

    // ----- outputs -------------------------------------------------------------------

    /// The next thing to write, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next application event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let upgrade = self
            .upgrade
            .map(|u| u.next_noop.map_or(u.deadline, |n| n.min(u.deadline)));
        [
            self.next_ping,
            self.pong_deadline,
            upgrade,
            self.close_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- time ----------------------------------------------------------------------

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        if let Some(deadline) = self.close_deadline
            && deadline <= now
        {
            // A closing polling session whose close packet was never fetched.
            self.close_deadline = None;
            self.finish();
            return;
        }
        if let Some(deadline) = self.pong_deadline
            && deadline <= now
        {
            self.fail(CloseReason::PingTimeout);
            return;
        }
        if let Some(at) = self.next_ping
            && at <= now
            && self.state == State::Open
        {
            self.next_ping = None;
            self.pong_deadline = Some(now + self.limits.ping_timeout);
            self.enqueue(control::PING);
        }
        if let Some(mut up) = self.upgrade {
            if up.deadline <= now {
                self.upgrade = None;
                self.transmits.push_back(Transmit::CloseProbe);
            } else if let Some(at) = up.next_noop
                && at <= now
            {
                if self.get_pending {
                    self.get_pending = false;
                    self.transmits
                        .push_back(Transmit::PollResponse(noop_payload()));
                }
                up.next_noop = Some(now + self.limits.upgrade_noop_interval);
                self.upgrade = Some(up);
            }
        }
    }

    // ----- application commands ------------------------------------------------------

    /// Queues a frame for the client. Dropped once the session is closing or closed.
    pub fn send(&mut self, frame: Frame) {
        if self.state == State::Open {
            self.enqueue(frame);
        }
    }

    /// Closes the session from the server side: buffered packets are delivered first,
    /// then the close packet (polling) or a close frame (WebSocket).
    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        if self.state != State::Open {
            return;
        }
        self.events.push_back(Event::Closed(reason));
        if self.upgrade.take().is_some() {
            self.transmits.push_back(Transmit::CloseProbe);
        }
        match self.transport {
            TransportKind::WebSocket => {
                self.transmits.push_back(Transmit::CloseWs);
                self.state = State::Closed;
            }
            TransportKind::Polling => {
                if self.get_pending {
                    self.get_pending = false;
                    let body = self.take_payload_with(Some(&control::CLOSE));
                    self.transmits.push_back(Transmit::PollResponse(body));
                    self.state = State::Closed;
                } else {
                    self.state = State::Closing;
                    self.next_ping = None;
                    self.pong_deadline = None;
                    self.close_deadline = Some(now + self.limits.close_timeout);
                }
            }
        }
    }

    // ----- polling -------------------------------------------------------------------

    /// A polling GET arrived for this session.
    pub fn handle_get(&mut self, now: Instant) -> GetOutcome {
        self.handle_timeout(now);
        match self.state {
            State::Closed => return GetOutcome::Reject(RequestError::UnknownSid),
            State::Closing => {
                let body = self.take_payload_with(Some(&control::CLOSE));
                self.close_deadline = None;
                self.finish();
                return GetOutcome::Reply(body);
            }
            State::Open => {}
        }
        if self.transport != TransportKind::Polling {
            return GetOutcome::Reject(RequestError::BadRequest);
        }
        if self.get_pending {
            // "overlap from client": the pending GET gets the close packet, the new one
            // 400, and the session is destroyed.
            self.get_pending = false;
            self.transmits
                .push_back(Transmit::PollResponse(Bytes::from_static(b"1")));
            self.fail(CloseReason::TransportError);
            return GetOutcome::Reject(RequestError::Overlap);
        }
        if !self.outbox.is_empty() {
            return GetOutcome::Reply(self.take_payload_with(None));
        }
        self.get_pending = true;
        GetOutcome::Held
    }

    /// The connection of the held GET closed before it was answered.
    pub fn handle_get_dropped(&mut self, now: Instant) {
        self.handle_timeout(now);
        if self.get_pending {
            self.get_pending = false;
            self.fail(CloseReason::TransportError);
        }
    }

    /// A polling POST arrived; its body will follow ([`Session::handle_post`]).
    pub fn handle_post_begin(&mut self, now: Instant) -> Result<(), RequestError> {
        self.handle_timeout(now);
        match self.state {
            State::Closed => return Err(RequestError::UnknownSid),
            State::Closing => return Ok(()),
            State::Open => {}
        }
        if self.transport != TransportKind::Polling {
            return Err(RequestError::BadRequest);
        }
        if self.post_active {
            self.fail(CloseReason::TransportError);
            return Err(RequestError::Overlap);
        }
        self.post_active = true;
        Ok(())
    }

    /// The POST failed before its body was complete. `fatal`: the connection broke or the
    /// body was refused in a way that closes the session (a binary content type, a body
    /// over `max_payload`, as engine.io 6.6.13 does); otherwise the session stays.
    pub fn handle_post_failed(&mut self, now: Instant, fatal: bool) {
        self.handle_timeout(now);
        self.post_active = false;
        if fatal {
            self.fail(CloseReason::TransportError);
        }
    }

    /// The complete body of a POST. The POST is answered `ok` whatever it held (the
    /// reference does the same); a bad payload closes the session after the packets
    /// before the bad record were processed.
    pub fn handle_post(&mut self, now: Instant, body: Bytes) {
        self.handle_timeout(now);
        self.post_active = false;
        if self.state != State::Open {
            return;
        }
        let decoded = payload::decode(body);
        for packet in decoded.packets {
            if self.state != State::Open {
                return;
            }
            if packet == Packet::Text(PacketType::Close, Bytes::new()) {
                // A client close over polling: a pending GET is released with a noop.
                if self.get_pending {
                    self.get_pending = false;
                    self.transmits
                        .push_back(Transmit::PollResponse(noop_payload()));
                }
                self.fail(CloseReason::TransportClose);
                return;
            }
            self.on_packet(now, packet);
        }
        if decoded.error.is_some() {
            self.fail(CloseReason::ParseError);
        }
    }

    // ----- websocket -----------------------------------------------------------------

    /// A WebSocket with this session's sid was opened (an upgrade attempt). Returns
    /// false when it must be closed at once (already upgrading or upgraded, upgrades not
    /// allowed, session closing).
    pub fn handle_probe_open(&mut self, now: Instant) -> bool {
        self.handle_timeout(now);
        if self.state != State::Open
            || self.transport != TransportKind::Polling
            || self.upgrade.is_some()
            || !self.limits.allow_upgrades
        {
            return false;
        }
        self.upgrade = Some(Upgrade {
            deadline: now + self.limits.upgrade_timeout,
            probed: false,
            next_noop: None,
        });
        true
    }

    /// A packet arrived on the probe WebSocket.
    pub fn handle_probe_packet(&mut self, now: Instant, packet: Packet) {
        self.handle_timeout(now);
        let Some(mut up) = self.upgrade else { return };
        if self.state != State::Open {
            return;
        }
        match packet {
            Packet::Text(PacketType::Ping, data) if &data[..] == b"probe" => {
                self.transmits
                    .push_back(Transmit::ProbeFrame(control::PONG_PROBE));
                if !up.probed {
                    up.probed = true;
                    up.next_noop = Some(now + self.limits.upgrade_noop_interval);
                }
                self.upgrade = Some(up);
            }
            Packet::Text(PacketType::Upgrade, _) => {
                self.upgrade = None;
                self.transport = TransportKind::WebSocket;
                self.transmits.push_back(Transmit::PromoteProbe);
                if self.get_pending {
                    // A GET that raced with `5`: never a noop after the upgrade.
                    self.get_pending = false;
                    self.transmits
                        .push_back(Transmit::PollError(RequestError::BadRequest));
                }
                self.outbox_bytes = 0;
                while let Some(frame) = self.outbox.pop_front() {
                    self.transmits.push_back(Transmit::WsFrame(frame));
                }
                self.events.push_back(Event::Upgraded);
            }
            _ => {
                // Anything else before `5`: the probe is closed, polling goes on.
                self.upgrade = None;
                self.transmits.push_back(Transmit::CloseProbe);
            }
        }
    }

    /// The probe WebSocket closed or failed; the session stays on polling.
    pub fn handle_probe_closed(&mut self, now: Instant) {
        self.handle_timeout(now);
        self.upgrade = None;
    }

    /// A packet arrived on the active WebSocket.
    pub fn handle_ws_packet(&mut self, now: Instant, packet: Packet) {
        self.handle_timeout(now);
        if self.state != State::Open || self.transport != TransportKind::WebSocket {
            return;
        }
        if let Packet::Text(PacketType::Close, _) = packet {
            // The reference ignores `1` over WebSocket; the spec says it closes.
            self.fail(CloseReason::TransportClose);
            return;
        }
        self.on_packet(now, packet);
    }

    /// The active WebSocket closed (`error`: it failed rather than closed cleanly).
    pub fn handle_ws_closed(&mut self, now: Instant, error: bool) {
        self.handle_timeout(now);
        if self.transport == TransportKind::WebSocket {
            self.fail(if error {
                CloseReason::TransportError
            } else {
                CloseReason::TransportClose
            });
        }
    }

    /// A frame that does not decode arrived on the active WebSocket.
    pub fn handle_parse_error(&mut self, now: Instant) {
        self.handle_timeout(now);
        self.fail(CloseReason::ParseError);
    }

    /// The driver's own WebSocket send queue passed `max_buffered_bytes`.
    pub fn handle_send_queue_full(&mut self) {
        self.fail(CloseReason::BufferFull);
    }

    /// The most bytes the driver may keep queued for a WebSocket.
    pub fn max_buffered_bytes(&self) -> usize {
        self.limits.max_buffered_bytes
    }

    // ----- internals -----------------------------------------------------------------

    fn on_packet(&mut self, now: Instant, packet: Packet) {
        match packet {
            Packet::Text(PacketType::Pong, _) => {
                // A pong with no ping outstanding is harmless.
                if self.pong_deadline.take().is_some() {
                    self.next_ping = Some(now + self.limits.ping_interval);
                }
            }
            Packet::Text(PacketType::Ping, _) => {
                // v4: the server pings; a client ping is "invalid heartbeat direction".
                self.fail(CloseReason::TransportError);
            }
            Packet::Text(PacketType::Message, data) => {
                self.events.push_back(Event::Message(Message::Text(data)));
            }
            Packet::Binary(data) => {
                self.events.push_back(Event::Message(Message::Binary(data)));
            }
            // open / upgrade / noop on the active transport: ignored, as the reference.
            Packet::Text(_, _) => {}
        }
    }

    fn enqueue(&mut self, frame: Frame) {
        match self.transport {
            TransportKind::WebSocket => self.transmits.push_back(Transmit::WsFrame(frame)),
            TransportKind::Polling => {
                self.outbox_bytes += frame.len();
                self.outbox.push_back(frame);
                if self.outbox_bytes > self.limits.max_buffered_bytes {
                    self.fail(CloseReason::BufferFull);
                    return;
                }
                if self.get_pending {
                    self.get_pending = false;
                    let body = self.take_payload_with(None);
                    self.transmits.push_back(Transmit::PollResponse(body));
                }
            }
        }
    }

    fn take_payload_with(&mut self, last: Option<&Frame>) -> Bytes {
        let mut out = BytesMut::with_capacity(self.outbox_bytes + 2 * self.outbox.len() + 2);
        payload::encode(self.outbox.iter().chain(last), &mut out);
        self.outbox.clear();
        self.outbox_bytes = 0;
        out.freeze()
    }

    /// Closes at once (errors, client close): no close packet is waited for; a pending
    /// GET gets the close packet, a probe and an active WebSocket are closed.
    fn fail(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        if self.state == State::Open {
            self.events.push_back(Event::Closed(reason));
        }
        if self.get_pending {
            self.get_pending = false;
            self.transmits
                .push_back(Transmit::PollResponse(Bytes::from_static(b"1")));
        }
        if self.upgrade.take().is_some() {
            self.transmits.push_back(Transmit::CloseProbe);
        }
        if self.transport == TransportKind::WebSocket {
            self.transmits.push_back(Transmit::CloseWs);
        }
        self.finish();
    }

    fn finish(&mut self) {
        self.state = State::Closed;
        self.outbox.clear();
        self.outbox_bytes = 0;
        self.next_ping = None;
        self.pong_deadline = None;
        self.close_deadline = None;
        self.upgrade = None;
    }
}

fn noop_payload() -> Bytes {
    Bytes::from_static(b"6")
}

#[doc(hidden)]
pub mod fuzzing {
    //! Operation sequences on the session state machine for the fuzz crate.
    use super::*;

    /// Interprets `data` as a sequence of operations and checks the invariants: no panic,
    /// exactly one `Closed` event at most, nothing after it, no transmit to a GET that
    /// is not held.
    pub fn session_ops(data: &[u8]) {
        let config = Config {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            max_buffered_bytes: 64,
            ..Config::default()
        };
        let t0 = Instant::now();
        let mut now = t0;
        let mut s = Session::new(now, &config, TransportKind::Polling);
        let mut closed = 0;
        let mut held = false;
        let mut probe = false;
        for chunk in data.chunks(2) {
            let op = chunk[0];
            let arg = chunk.get(1).copied().unwrap_or(0);
            match op % 12 {
                0 => now += Duration::from_millis(u64::from(arg) * 4),
                1 => {
                    let outcome = s.handle_get(now);
                    // This call's transmits answer the GET held before it (a due timer runs
                    // first); the driver applies them before it holds the new GET.
                    while let Some(t) = s.poll_transmit() {
                        if matches!(t, Transmit::PollResponse(_) | Transmit::PollError(_)) {
                            assert!(held, "answer to a GET that is not held");
                            held = false;
                        }
                    }
                    if outcome == GetOutcome::Held {
                        held = true;
                    }
                }
                2 => {
                    if s.handle_post_begin(now).is_ok() {
                        let body: &[u8] = match arg % 6 {
                            0 => b"3",
                            1 => b"4hi",
                            2 => b"1",
                            3 => b"2",
                            4 => b"x",
                            _ => b"4a\x1ebAQ==",
                        };
                        s.handle_post(now, Bytes::from_static(body));
                    }
                }
                3 => s.send(Frame::message("hello")),
                4 => probe = s.handle_probe_open(now) || probe,
                5 if probe => s.handle_probe_packet(
                    now,
                    Packet::Text(PacketType::Ping, Bytes::from_static(b"probe")),
                ),
                6 if probe => {
                    s.handle_probe_packet(now, Packet::Text(PacketType::Upgrade, Bytes::new()))
                }
                7 => s.handle_ws_packet(now, Packet::Text(PacketType::Pong, Bytes::new())),
                8 => s.close(now, CloseReason::ForcedClose),
                9 if held => s.handle_get_dropped(now),
                10 => s.handle_timeout(now),
                _ => s.handle_ws_closed(now, arg % 2 == 0),
            }
            while let Some(t) = s.poll_transmit() {
                match t {
                    Transmit::PollResponse(_) | Transmit::PollError(_) => {
                        assert!(held, "answer to a GET that is not held");
                        held = false;
                    }
                    Transmit::CloseProbe | Transmit::PromoteProbe => probe = false,
                    _ => {}
                }
            }
            while let Some(e) = s.poll_event() {
                assert_eq!(closed, 0, "event after Closed: {e:?}");
                if matches!(e, Event::Closed(_)) {
                    closed += 1;
                }
            }
            if let Some(t) = s.poll_timeout() {
                assert!(t >= t0);
            }
        }
    }
}
