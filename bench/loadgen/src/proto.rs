//! Engine.IO v4 / Socket.IO v5 text packets as the generator needs them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (the clock every process of the machine shares).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A ~100-byte JSON object carrying the send time: `{"t":<µs>,"p":"xxx…"}`.
pub fn stamped(size: usize) -> String {
    let mut s = String::with_capacity(size);
    stamped_into(&mut s, now_us(), size);
    s
}

/// Appends `{"t":<t>,"p":"xxx…"}`, `size` bytes long (longer when `size` is too small).
pub fn stamped_into(out: &mut String, t: u64, size: usize) {
    let at = out.len();
    out.push_str("{\"t\":");
    push_u64(out, t);
    out.push_str(",\"p\":\"");
    let mut pad = size.saturating_sub(out.len() - at + 2);
    while pad > 0 {
        let n = pad.min(PAD.len());
        out.push_str(&PAD[..n]);
        pad -= n;
    }
    out.push_str("\"}");
}

/// Padding for [`stamped_into`].
const PAD: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// Appends the decimal digits of `n` (no allocation: `String` is a `fmt::Write`).
pub fn push_u64(out: &mut String, n: u64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{n}");
}

/// The `"t":<digits>` timestamp inside a packet.
pub fn parse_t(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let i = b.windows(4).position(|w| w == b"\"t\":")? + 4;
    let mut t: u64 = 0;
    let mut n = 0;
    for &d in &b[i..] {
        if !d.is_ascii_digit() {
            break;
        }
        t = t.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        n += 1;
    }
    (n > 0).then_some(t)
}

/// What a received text packet is.
#[derive(Debug, PartialEq)]
pub enum Packet<'a> {
    /// Engine.IO open (`0{…}`), with its JSON.
    Open(&'a str),
    /// Engine.IO close (`1`).
    Close,
    /// Engine.IO ping (`2`): answer `3`.
    Ping,
    /// Engine.IO noop (`6`).
    Noop,
    /// Socket.IO CONNECT to `/` accepted (`40…`).
    Connected,
    /// Socket.IO CONNECT_ERROR (`44…`).
    ConnectError(&'a str),
    /// Socket.IO EVENT without ack id: the JSON array.
    Event(&'a str),
    /// Socket.IO ACK: id and the JSON array.
    Ack(u64, &'a str),
    /// Anything else.
    Other,
}

/// Classifies one Engine.IO text packet.
pub fn classify(s: &str) -> Packet<'_> {
    let b = s.as_bytes();
    match b.first() {
        Some(b'0') => Packet::Open(&s[1..]),
        Some(b'1') => Packet::Close,
        Some(b'2') => Packet::Ping,
        Some(b'6') => Packet::Noop,
        Some(b'4') => match b.get(1) {
            Some(b'0') => Packet::Connected,
            Some(b'4') => Packet::ConnectError(&s[2..]),
            Some(b'2') => {
                let rest = &s[2..];
                if rest.starts_with('[') {
                    Packet::Event(rest)
                } else {
                    Packet::Other
                }
            }
            Some(b'3') => {
                let rest = &s[2..];
                let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                match rest[..n].parse() {
                    Ok(id) => Packet::Ack(id, &rest[n..]),
                    Err(_) => Packet::Other,
                }
            }
            _ => Packet::Other,
        },
        _ => Packet::Other,
    }
}

/// True for the events whose delivery latency is measured (`msg`, `push`).
pub fn is_measured(event: &str) -> bool {
    event.starts_with("[\"msg\",") || event.starts_with("[\"push\",")
}

/// `42<id>["event",args…]` with the given JSON arguments text (without brackets).
pub fn emit_with_ack(id: u64, event: &str, args: &str) -> String {
    let mut s = String::with_capacity(args.len() + event.len() + 16);
    emit_head(&mut s, id, event);
    s.push_str(args);
    s.push(']');
    s
}

/// Appends `42<id>["event",` (the arguments and `]` follow).
pub fn emit_head(out: &mut String, id: u64, event: &str) {
    out.push_str("42");
    push_u64(out, id);
    out.push_str("[\"");
    out.push_str(event);
    out.push_str("\",");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets() {
        assert_eq!(classify("2"), Packet::Ping);
        assert_eq!(classify("40{\"sid\":\"x\"}"), Packet::Connected);
        assert_eq!(classify("431[\"ok\"]"), Packet::Ack(1, "[\"ok\"]"));
        assert_eq!(classify("42[\"msg\",{}]"), Packet::Event("[\"msg\",{}]"));
        assert_eq!(
            classify("44{\"message\":\"no\"}"),
            Packet::ConnectError("{\"message\":\"no\"}")
        );
        let s = stamped(100);
        assert_eq!(s.len(), 100);
        assert_eq!(stamped(1000).len(), 1000);
        assert!(stamped(1000).ends_with("xxx\"}"));
        let mut e = String::new();
        emit_head(&mut e, 7, "echo");
        stamped_into(&mut e, 1_700_000_000_123_456, 100);
        e.push(']');
        assert_eq!(e, emit_with_ack(7, "echo", &e[11..e.len() - 1]));
        assert!(e.starts_with("427[\"echo\",{\"t\":1700000000123456,\"p\":\"xx"));
        assert_eq!(parse_t(&e), Some(1_700_000_000_123_456));
        assert_eq!(parse_t("[{\"t\":x}]"), None);
        let mut n = String::new();
        push_u64(&mut n, 0);
        push_u64(&mut n, u64::MAX);
        assert_eq!(n, format!("0{}", u64::MAX));
        assert!(parse_t(&s).unwrap() > 1_600_000_000_000_000);
        assert!(serde_json::from_str::<serde_json::Value>(&s).is_ok());
    }
}
