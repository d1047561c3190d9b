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
    let t = now_us();
    let head = format!("{{\"t\":{t},\"p\":\"");
    let pad = size.saturating_sub(head.len() + 2);
    let mut s = String::with_capacity(size);
    s.push_str(&head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str("\"}");
    s
}

/// The `"t":<digits>` timestamp inside a packet.
pub fn parse_t(s: &str) -> Option<u64> {
    let i = s.find("\"t\":")? + 4;
    let digits = s[i..].bytes().take_while(u8::is_ascii_digit).count();
    s[i..i + digits].parse().ok()
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
    format!("42{id}[\"{event}\",{args}]")
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
        assert!(parse_t(&s).unwrap() > 1_600_000_000_000_000);
        assert!(serde_json::from_str::<serde_json::Value>(&s).is_ok());
    }
}
