//! Building the Engine.IO frames of outgoing Socket.IO packets with the codec: the text
//! packet is written once, Engine.IO `4` prefix included, into one buffer, followed by
//! its binary attachments. Every recipient then gets clones of the same
//! reference-counted frames.

use bytes::{BufMut, BytesMut};
use engineio::Frame;

use super::payload::Payload;
use crate::codec::{self, MESSAGE_PREFIX};
use crate::json::write::write_str;
use crate::packet::{Namespace as NspName, PacketType};

/// The frames of one packet: the text packet and its attachments, sent together.
#[derive(Debug, Clone)]
pub(crate) struct Frames {
    pub(crate) head: Frame,
    pub(crate) attachments: Vec<Frame>,
}

impl Frames {
    /// Sends these frames on one Engine.IO session, back to back.
    pub(crate) fn send(&self, socket: &engineio::Socket) -> bool {
        if self.attachments.is_empty() {
            socket.send(self.head.clone())
        } else {
            let mut all = Vec::with_capacity(1 + self.attachments.len());
            all.push(self.head.clone());
            all.extend(self.attachments.iter().cloned());
            socket.send_many(all)
        }
    }
}

fn text(buf: BytesMut) -> Frame {
    // The encoder writes UTF-8 behind the `4` prefix; the check cannot fail.
    Frame::from_encoded_message(buf.freeze()).unwrap_or_else(|| Frame::message(""))
}

fn nsp_name(nsp: &str) -> NspName {
    NspName::new(nsp).unwrap_or_else(|_| NspName::main())
}

/// EVENT / BINARY_EVENT `["event", ...args]`.
pub(crate) fn event(nsp: &str, event: &str, payload: &Payload, ack: Option<u64>) -> Frames {
    let mut buf = BytesMut::new();
    let attachments = codec::encode_event_into(
        &mut buf,
        Some(MESSAGE_PREFIX),
        &nsp_name(nsp),
        ack,
        event,
        payload.as_args(),
    );
    Frames {
        head: text(buf),
        attachments: attachments.into_iter().map(Frame::Binary).collect(),
    }
}

/// ACK / BINARY_ACK `[...args]`.
pub(crate) fn ack(nsp: &str, id: u64, payload: &Payload) -> Frames {
    let mut buf = BytesMut::new();
    let attachments = codec::encode_ack_into(
        &mut buf,
        Some(MESSAGE_PREFIX),
        &nsp_name(nsp),
        id,
        payload.as_args(),
    );
    Frames {
        head: text(buf),
        attachments: attachments.into_iter().map(Frame::Binary).collect(),
    }
}

/// The packet header `4<type>[<nsp>,]`, for packets that carry an object payload. The
/// namespace is written as the client wrote it (CONNECT_ERROR of an unknown namespace).
fn header(kind: PacketType, nsp: &str, extra: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(4 + nsp.len() + extra);
    buf.put_u8(MESSAGE_PREFIX);
    buf.put_u8(kind.digit());
    if nsp != "/" {
        buf.extend_from_slice(nsp.as_bytes());
        buf.put_u8(b',');
    }
    buf
}

/// CONNECT reply `{"sid":…}` (and `"pid"` with connection state recovery).
pub(crate) fn connect(nsp: &str, sid: &str, pid: Option<&str>) -> Frame {
    let mut buf = header(PacketType::Connect, nsp, 64);
    buf.extend_from_slice(b"{\"sid\":");
    write_str(&mut buf, sid);
    if let Some(pid) = pid {
        buf.extend_from_slice(b",\"pid\":");
        write_str(&mut buf, pid);
    }
    buf.put_u8(b'}');
    text(buf)
}

/// CONNECT_ERROR `{"message":…[,"data":…]}` for the namespace as the client wrote it.
pub(crate) fn connect_error(nsp: &str, message: &str, data: Option<&str>) -> Frame {
    let mut buf = header(PacketType::ConnectError, nsp, message.len() + 16);
    buf.extend_from_slice(b"{\"message\":");
    write_str(&mut buf, message);
    if let Some(data) = data {
        buf.extend_from_slice(b",\"data\":");
        buf.extend_from_slice(data.as_bytes());
    }
    buf.put_u8(b'}');
    text(buf)
}

/// DISCONNECT.
pub(crate) fn disconnect(nsp: &str) -> Frame {
    text(header(PacketType::Disconnect, nsp, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::RawArgs;
    use crate::value::Value;
    use bytes::Bytes;

    fn s(frame: &Frame) -> String {
        match frame {
            Frame::Text(b) => String::from_utf8_lossy(b).into_owned(),
            Frame::Binary(b) => format!("<bin {b:?}>"),
        }
    }

    fn raw(text: &'static str) -> Payload {
        Payload::from_raw(
            RawArgs::new(Bytes::from_static(text.as_bytes())).unwrap(),
            vec![],
        )
    }

    #[test]
    fn frames_are_byte_exact() {
        assert_eq!(
            s(&event("/", "hi", &Payload::empty(), None).head),
            r#"42["hi"]"#
        );
        assert_eq!(
            s(&event("/admin", "x", &raw(r#"1,"2",{"3":[true]}"#), Some(13)).head),
            r#"42/admin,13["x",1,"2",{"3":[true]}]"#
        );
        assert_eq!(s(&ack("/", 456, &raw(r#"1,"2""#)).head), r#"43456[1,"2"]"#);
        assert_eq!(s(&connect("/", "abc", None)), r#"40{"sid":"abc"}"#);
        assert_eq!(
            s(&connect("/c", "a", Some("p"))),
            r#"40/c,{"sid":"a","pid":"p"}"#
        );
        assert_eq!(
            s(&connect_error("/random", "Invalid namespace", None)),
            r#"44/random,{"message":"Invalid namespace"}"#
        );
        assert_eq!(
            s(&connect_error("/", "no", Some(r#"{"a":1}"#))),
            r#"44{"message":"no","data":{"a":1}}"#
        );
        assert_eq!(s(&disconnect("/admin")), "41/admin,");
        assert_eq!(s(&disconnect("/")), "41");
        let f = event(
            "/",
            "doge",
            &Payload::one(Value::Binary(Bytes::from_static(b"ab"))).with_trailing_string("o1"),
            None,
        );
        assert_eq!(
            s(&f.head),
            r#"451-["doge",{"_placeholder":true,"num":0},"o1"]"#
        );
        assert_eq!(
            f.attachments,
            vec![Frame::Binary(Bytes::from_static(b"ab"))]
        );
    }
}
