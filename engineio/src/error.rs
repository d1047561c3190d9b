//! Errors of the codec and of request handling, and the ONE mapping from a request error
//! to the HTTP status and body the reference server answers with.

use std::fmt;

/// Why a packet or payload could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// An empty packet (an empty body, or an empty record between separators).
    Empty,
    /// The first character is not a packet type.
    UnknownType(u8),
    /// A `b` packet whose base64 is malformed.
    InvalidBase64,
    /// A polling body that is not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty packet"),
            DecodeError::UnknownType(c) => write!(f, "unknown packet type {:?}", *c as char),
            DecodeError::InvalidBase64 => f.write_str("invalid base64 in binary packet"),
            DecodeError::InvalidUtf8 => f.write_str("payload is not valid UTF-8"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A request the server refuses, with the reference server's answer.
///
/// Codes 0–5 are the Engine.IO error codes (`{"code":N,"message":"..."}` bodies); the
/// others are the bare statuses the reference server uses for the same situations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Code 0: `transport` missing, unknown or not enabled.
    UnknownTransport,
    /// Code 1: `sid` not found (also after close or timeout).
    UnknownSid,
    /// Code 2: a handshake (no `sid`) with a method other than GET.
    BadHandshakeMethod,
    /// Code 3: `transport` not matching the session, websocket without `Upgrade`, a bad
    /// `Origin`, polling after the upgrade.
    BadRequest,
    /// Code 4 (403): refused by the allow-request hook, with its message.
    Forbidden(String),
    /// Code 5: `EIO` other than `4`.
    UnsupportedProtocolVersion,
    /// 400 with an empty body: overlapping GET or POST, binary content type on v4 polling.
    /// The session is closed.
    Overlap,
    /// 413 with an empty body: a POST body larger than `max_payload`. The session is closed
    /// (as engine.io 6.6.13; 6.6.12 kept it).
    PayloadTooLarge,
    /// 500 with an empty body: a method other than GET/POST on a session. It stays.
    BadMethod,
}

impl RequestError {
    /// The Engine.IO error code, for errors that have one.
    pub fn code(&self) -> Option<u8> {
        Some(match self {
            RequestError::UnknownTransport => 0,
            RequestError::UnknownSid => 1,
            RequestError::BadHandshakeMethod => 2,
            RequestError::BadRequest => 3,
            RequestError::Forbidden(_) => 4,
            RequestError::UnsupportedProtocolVersion => 5,
            _ => return None,
        })
    }

    /// The message of the JSON error body.
    pub fn message(&self) -> &str {
        match self {
            RequestError::UnknownTransport => "Transport unknown",
            RequestError::UnknownSid => "Session ID unknown",
            RequestError::BadHandshakeMethod => "Bad handshake method",
            RequestError::BadRequest => "Bad request",
            RequestError::Forbidden(m) => m,
            RequestError::UnsupportedProtocolVersion => "Unsupported protocol version",
            RequestError::Overlap => "",
            RequestError::PayloadTooLarge => "",
            RequestError::BadMethod => "",
        }
    }

    /// The HTTP status code of the answer.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::Forbidden(_) => 403,
            RequestError::PayloadTooLarge => 413,
            RequestError::BadMethod => 500,
            _ => 400,
        }
    }

    /// The JSON body `{"code":N,"message":"..."}` for coded errors, empty otherwise.
    pub fn json_body(&self) -> String {
        match self.code() {
            Some(code) => {
                let mut body = format!("{{\"code\":{code},\"message\":");
                push_json_string(&mut body, self.message());
                body.push('}');
                body
            }
            None => String::new(),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Overlap => f.write_str("overlapping request"),
            RequestError::PayloadTooLarge => f.write_str("payload too large"),
            RequestError::BadMethod => f.write_str("bad method"),
            other => f.write_str(other.message()),
        }
    }
}

impl std::error::Error for RequestError {}

/// Appends `s` as a JSON string literal (the escapes `JSON.stringify` uses).
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_reference() {
        assert_eq!(
            RequestError::UnknownSid.json_body(),
            r#"{"code":1,"message":"Session ID unknown"}"#
        );
        assert_eq!(
            RequestError::Forbidden("Forbidden".into()).json_body(),
            r#"{"code":4,"message":"Forbidden"}"#
        );
        assert_eq!(RequestError::Forbidden("x".into()).status(), 403);
        assert_eq!(RequestError::PayloadTooLarge.status(), 413);
        assert_eq!(RequestError::PayloadTooLarge.json_body(), "");
        assert_eq!(RequestError::BadMethod.status(), 500);
        assert_eq!(
            RequestError::UnsupportedProtocolVersion.json_body(),
            r#"{"code":5,"message":"Unsupported protocol version"}"#
        );
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\\u{1}");
        assert_eq!(s, r#""a\"b\\\u0001""#);
    }
}
