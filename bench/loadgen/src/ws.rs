//! WebSocket clients: a TCP connection from a chosen source address, the Engine.IO
//! handshake and the Socket.IO CONNECT to `/`.
//!
//! A small hand-written RFC 6455 client, cheap per operation so the generator's core is
//! not the limit: a fixed upgrade request (constant key; the answer is checked for
//! `101` only), one reused read buffer per connection that frames are parsed from in
//! place, and one reused write buffer that every frame is masked into and written from
//! with a single write. Pings are answered with pongs, close frames with a close frame.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::proto::{Packet, classify};

/// A TCP connection to `server` from `src` (bound before connect), zero linger (closing
/// resets, so no TIME_WAIT piles up between runs), Nagle off.
pub async fn tcp(
    server: SocketAddr,
    src: IpAddr,
    rcvbuf: Option<u32>,
) -> Result<TcpStream, String> {
    let s = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    s.set_zero_linger().map_err(|e| format!("SO_LINGER: {e}"))?;
    if let Some(b) = rcvbuf {
        s.set_recv_buffer_size(b)
            .map_err(|e| format!("SO_RCVBUF: {e}"))?;
    }
    s.bind(SocketAddr::new(src, 0))
        .map_err(|e| format!("bind {src}: {e}"))?;
    let stream = s
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Initial size of a connection's read buffer: room for the upgrade answer and the
/// first packets (small, so 10,000 idle clients touch few pages).
const READ_BUF: usize = 512;
/// The size it grows to when a read fills it (a backlog to drain); it also grows to
/// hold any larger frame.
const READ_BUF_BUSY: usize = 4096;
/// The largest frame or message accepted from the server.
const MAX_MESSAGE: usize = 64 << 20;
/// The largest HTTP upgrade answer accepted.
const MAX_HEADERS: usize = 8192;
/// A constant, valid `Sec-WebSocket-Key` (16 bytes, base64): the answer's
/// `Sec-WebSocket-Accept` is not checked.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

const OP_CONT: u8 = 0;
const OP_TEXT: u8 = 1;
const OP_BINARY: u8 = 2;
const OP_CLOSE: u8 = 8;
const OP_PING: u8 = 9;
const OP_PONG: u8 = 10;

/// Seeds of the per-connection mask key generators.
static SEED: AtomicU32 = AtomicU32::new(0x2545_f491);

/// Where the current message is.
#[derive(Clone, Copy)]
enum Msg {
    /// `rbuf[start..end]`.
    Buf(usize, usize),
    /// `frag` (a fragmented message, reassembled).
    Frag,
}

/// A client's WebSocket.
pub struct Ws {
    stream: TcpStream,
    /// Received bytes not yet parsed are `rbuf[start..end]`; `rbuf.len()` is the size.
    rbuf: Vec<u8>,
    start: usize,
    end: usize,
    /// A fragmented message being reassembled (`frag_text`: it is text, not binary).
    frag: Vec<u8>,
    in_frag: bool,
    frag_text: bool,
    /// Frames not yet written are `wbuf[wpos..]`.
    wbuf: Vec<u8>,
    wpos: usize,
    /// xorshift32 state for the mask keys.
    mask: u32,
    closed: bool,
    /// The last read filled the read buffer.
    full: bool,
}

impl Ws {
    /// The WebSocket upgrade on `stream` (`host`: the Host header).
    async fn handshake(stream: TcpStream, host: SocketAddr) -> Result<Ws, String> {
        let mut ws = Ws {
            stream,
            rbuf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            frag: Vec::new(),
            in_frag: false,
            frag_text: false,
            wbuf: Vec::with_capacity(256),
            wpos: 0,
            mask: SEED.fetch_add(0x9e37_79b9, Ordering::Relaxed) | 1,
            closed: false,
            full: false,
        };
        use std::io::Write;
        write!(
            ws.wbuf,
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: {KEY}\r\n\r\n"
        )
        .expect("writing to a Vec");
        ws.flush().await?;
        let head_end = loop {
            if let Some(i) = find(&ws.rbuf[..ws.end], b"\r\n\r\n") {
                break i + 4;
            }
            if ws.end >= MAX_HEADERS {
                return Err("websocket handshake: answer headers too long".into());
            }
            if !ws.fill().await? {
                return Err("websocket handshake: closed before the answer".into());
            }
        };
        let head = &ws.rbuf[..head_end];
        if !head.starts_with(b"HTTP/1.1 101") {
            let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
            return Err(format!(
                "websocket handshake: got {:?}",
                String::from_utf8_lossy(line)
            ));
        }
        // Whatever follows the headers (often the open packet) stays buffered.
        ws.start = head_end;
        Ok(ws)
    }

    /// Writes out `wbuf[wpos..]`. Cancel-safe: progress is kept in `wpos`.
    async fn flush(&mut self) -> Result<(), String> {
        while self.wpos < self.wbuf.len() {
            let n = self
                .stream
                .write(&self.wbuf[self.wpos..])
                .await
                .map_err(|e| format!("write: {e}"))?;
            if n == 0 {
                return Err("write: connection closed".into());
            }
            self.wpos += n;
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(())
    }

    /// Appends one masked frame to the write buffer.
    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let n = payload.len();
        let w = &mut self.wbuf;
        w.reserve(14 + n);
        w.push(0x80 | opcode);
        if n < 126 {
            w.push(0x80 | n as u8);
        } else if n <= 0xffff {
            w.push(0x80 | 126);
            w.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            w.push(0x80 | 127);
            w.extend_from_slice(&(n as u64).to_be_bytes());
        }
        let mut x = self.mask;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask = x;
        let key = x.to_ne_bytes();
        w.extend_from_slice(&key);
        let at = w.len();
        w.extend_from_slice(payload);
        mask(&mut w[at..], key);
    }

    /// Sends one text message (one frame, one write when the socket takes it).
    pub async fn send(&mut self, text: &str) -> Result<(), String> {
        self.frame(OP_TEXT, text.as_bytes());
        self.flush().await
    }

    /// Reads more bytes into `rbuf[end..]` (making room first). `false` at end of stream.
    /// Cancel-safe.
    async fn fill(&mut self) -> Result<bool, String> {
        if self.full && self.rbuf.len() < READ_BUF_BUSY {
            self.rbuf.resize(READ_BUF_BUSY, 0);
        }
        if self.end == self.rbuf.len() {
            if self.start > 0 {
                self.rbuf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let n = (self.rbuf.len() * 2).min(MAX_MESSAGE + 14);
                if n == self.rbuf.len() {
                    return Err("read: frame too large".into());
                }
                self.rbuf.resize(n, 0);
            }
        }
        let n = self
            .stream
            .read(&mut self.rbuf[self.end..])
            .await
            .map_err(|e| format!("read: {e}"))?;
        self.full = self.end + n == self.rbuf.len();
        self.end += n;
        Ok(n > 0)
    }

    /// Makes room for a frame of `len` bytes starting at `start`.
    fn room_for(&mut self, len: usize) {
        if self.start + len > self.rbuf.len() {
            self.rbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if len > self.rbuf.len() {
                self.rbuf.resize(len, 0);
            }
        }
    }

    /// The next complete text or binary message; control frames are answered here.
    /// `None` when the server closed the WebSocket. Cancel-safe.
    async fn next_msg(&mut self) -> Result<Option<(Msg, bool)>, String> {
        if self.closed {
            return Ok(None);
        }
        // A pong or close answer that a cancelled call did not finish writing.
        self.flush().await?;
        loop {
            let avail = &self.rbuf[self.start..self.end];
            let Some((head, len)) = parse_header(avail)? else {
                if self.start + 14 > self.rbuf.len() {
                    self.room_for(14);
                }
                if !self.fill().await? {
                    return Err("read: connection closed without a close frame".into());
                }
                continue;
            };
            if len > MAX_MESSAGE {
                return Err(format!("read: frame of {len} bytes is too large"));
            }
            let total = head + len;
            if avail.len() < total {
                self.room_for(total);
                if !self.fill().await? {
                    return Err("read: connection closed without a close frame".into());
                }
                continue;
            }
            let b0 = avail[0];
            let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0f);
            let p = self.start + head;
            self.start += total;
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
            // Note: `start`/`end` may have been reset; the payload bytes stay in place
            // until the next `fill` or `room_for`, which only happen on the next call.
            let payload = p..p + len;
            match opcode {
                OP_TEXT | OP_BINARY if !self.in_frag => {
                    if fin {
                        return Ok(Some((
                            Msg::Buf(payload.start, payload.end),
                            opcode == OP_TEXT,
                        )));
                    }
                    self.in_frag = true;
                    self.frag_text = opcode == OP_TEXT;
                    self.frag.clear();
                    self.frag.extend_from_slice(&self.rbuf[payload]);
                }
                OP_CONT if self.in_frag => {
                    if self.frag.len() + len > MAX_MESSAGE {
                        return Err("read: message too large".into());
                    }
                    self.frag.extend_from_slice(&self.rbuf[payload]);
                    if fin {
                        self.in_frag = false;
                        return Ok(Some((Msg::Frag, self.frag_text)));
                    }
                }
                OP_PING => {
                    let ping = self.rbuf[payload].to_vec();
                    self.frame(OP_PONG, &ping);
                    self.flush().await?;
                }
                OP_PONG => {}
                OP_CLOSE => {
                    self.closed = true;
                    let code = self.rbuf[payload].get(..2).unwrap_or_default().to_vec();
                    self.frame(OP_CLOSE, &code);
                    let _ = self.flush().await;
                    return Ok(None);
                }
                _ => return Err(format!("read: unexpected frame (opcode {opcode})")),
            }
        }
    }

    /// The next text packet; binary messages are skipped. `None` when closed.
    pub async fn next_text(&mut self) -> Result<Option<&str>, String> {
        loop {
            let Some((m, text)) = self.next_msg().await? else {
                return Ok(None);
            };
            if !text {
                continue;
            }
            let bytes = match m {
                Msg::Buf(a, b) => &self.rbuf[a..b],
                Msg::Frag => &self.frag[..],
            };
            return std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|e| format!("read: text frame is not UTF-8: {e}"));
        }
    }
}

/// The header of the frame at the start of `b`: (header length, payload length), or
/// `None` when incomplete.
fn parse_header(b: &[u8]) -> Result<Option<(usize, usize)>, String> {
    if b.len() < 2 {
        return Ok(None);
    }
    if b[1] & 0x80 != 0 {
        return Err("read: the server sent a masked frame".into());
    }
    if b[0] & 0x70 != 0 {
        return Err("read: frame with reserved bits set".into());
    }
    match b[1] & 0x7f {
        126 => Ok(b
            .get(2..4)
            .map(|l| (4, u16::from_be_bytes([l[0], l[1]]) as usize))),
        127 => Ok(b.get(2..10).map(|l| {
            let n = u64::from_be_bytes(l.try_into().expect("8 bytes"));
            (10, usize::try_from(n).unwrap_or(usize::MAX))
        })),
        n => Ok(Some((2, n as usize))),
    }
}

/// XORs `buf` with the repeated 4-byte `key`.
fn mask(buf: &mut [u8], key: [u8; 4]) {
    let k8 = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes((&*c).try_into().expect("8 bytes")) ^ k8;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Connects a Socket.IO client to `/` over WebSocket (`auth`: the CONNECT payload).
pub async fn connect(
    server: SocketAddr,
    src: IpAddr,
    rcvbuf: Option<u32>,
    auth: Option<&str>,
) -> Result<Ws, String> {
    let stream = tcp(server, src, rcvbuf).await?;
    let mut ws = Ws::handshake(stream, server).await?;
    match ws.next_text().await? {
        Some(t) if t.starts_with('0') => {}
        other => return Err(format!("expected the open packet, got {other:?}")),
    }
    match auth {
        Some(a) => ws.send(&format!("40{a}")).await?,
        None => ws.send("40").await?,
    }
    loop {
        let Some(t) = ws.next_text().await? else {
            return Err("closed before CONNECT".into());
        };
        match classify(t) {
            Packet::Connected => return Ok(ws),
            Packet::ConnectError(e) => return Err(format!("connect_error {e}")),
            Packet::Ping => ws.send("3").await?,
            _ => {}
        }
    }
}

/// Sends `packet` (an emit of `event` with ack id `id`) and waits for that ack
/// (answering pings). Returns what `on_ack` makes of the ack's JSON array.
pub async fn call<R>(
    ws: &mut Ws,
    id: u64,
    event: &str,
    packet: &str,
    on_ack: impl FnOnce(&str) -> R,
) -> Result<R, String> {
    ws.send(packet).await?;
    loop {
        let Some(t) = ws.next_text().await? else {
            return Err(format!("closed while waiting for the ack of {event}"));
        };
        match classify(t) {
            Packet::Ack(got, body) if got == id => return Ok(on_ack(body)),
            Packet::Ping => ws.send("3").await?,
            Packet::Close => {
                return Err(format!(
                    "server closed while waiting for the ack of {event}"
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "ws_tests.rs"]
mod tests;
