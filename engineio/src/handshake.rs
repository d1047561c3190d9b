//! The handshake: session ids and the OPEN packet.

use bytes::{BufMut, BytesMut};

use crate::config::Config;
use crate::packet::Frame;

/// Length of a session id: 15 bytes in URL-safe base64, as the reference `base64id`.
pub const SID_LEN: usize = 20;

/// Builds a session id from 15 bytes (12 random bytes and a 3-byte counter in the
/// reference; any unguessable bytes work). URL-safe base64 without padding, 20 chars.
pub fn sid_from_bytes(bytes: &[u8; 15]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The OPEN packet: `0{"sid":…,"upgrades":[…],"pingInterval":…,"pingTimeout":…,"maxPayload":…}`,
/// with exactly these keys in this order.
///
/// `upgrades` is `["websocket"]` on a polling handshake when WebSocket is enabled and
/// upgrades are allowed, `[]` otherwise (always `[]` on a WebSocket handshake).
pub fn open_packet(sid: &str, offer_websocket_upgrade: bool, config: &Config) -> Frame {
    let mut out = BytesMut::with_capacity(128);
    out.put_u8(b'0');
    out.extend_from_slice(b"{\"sid\":\"");
    // Session ids are URL-safe base64: nothing to escape.
    out.extend_from_slice(sid.as_bytes());
    out.extend_from_slice(b"\",\"upgrades\":");
    out.extend_from_slice(if offer_websocket_upgrade {
        b"[\"websocket\"]".as_slice()
    } else {
        b"[]".as_slice()
    });
    out.extend_from_slice(
        format!(
            ",\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
            config.ping_interval.as_millis(),
            config.ping_timeout.as_millis(),
            config.max_payload
        )
        .as_bytes(),
    );
    Frame::Text(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn open_packet_is_byte_exact() {
        let config = Config {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            ..Config::default()
        };
        let Frame::Text(b) = open_packet("abc", true, &config) else {
            panic!("text")
        };
        assert_eq!(
            &b[..],
            br#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#
        );
        let Frame::Text(b) = open_packet("abc", false, &Config::default()) else {
            panic!("text")
        };
        assert_eq!(
            &b[..],
            br#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
    }

    #[test]
    fn sids_are_20_url_safe_chars() {
        let sid = sid_from_bytes(&[0xff; 15]);
        assert_eq!(sid.len(), SID_LEN);
        assert!(
            sid.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
