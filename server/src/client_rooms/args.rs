//! The arguments of client room events: parsing (`{room, name}` objects and the lobby
//! form's bare room string) and validation of room names, member names and message
//! sizes. Every failure is an [`OpError`] with a stable code and a message that says
//! what to send instead.

use std::collections::HashMap;

use serde_json::value::RawValue;
use socketio::raw::{JsonKind, RawJson};
use socketio::server::Payload;
use socketio::value::Value;

use crate::config::ClientRoomLimits;

/// A client room operation (the client's event name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `JOIN {room, name}` or `JOIN "<room>"`.
    Join,
    /// `NOTIFY {room, message}`.
    Notify,
    /// `LEAVE {room}` or `LEAVE "<room>"`.
    Leave,
    /// `CLIENTS {room}` or `CLIENTS "<room>"`.
    Clients,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 4] = [Op::Join, Op::Notify, Op::Leave, Op::Clients];

    /// The event name.
    pub fn event(self) -> &'static str {
        match self {
            Op::Join => "JOIN",
            Op::Notify => "NOTIFY",
            Op::Leave => "LEAVE",
            Op::Clients => "CLIENTS",
        }
    }

    /// The accepted argument shapes, for error messages.
    fn usage(self) -> &'static str {
        match self {
            Op::Join => {
                "JOIN takes {\"room\": \"<room>\", \"name\": \"<name>\"} or a room name string"
            }
            Op::Notify => "NOTIFY takes {\"room\": \"<room>\", \"message\": <any JSON>}",
            Op::Leave => "LEAVE takes {\"room\": \"<room>\"} or a room name string",
            Op::Clients => "CLIENTS takes {\"room\": \"<room>\"} or a room name string",
        }
    }
}

/// A refused operation: a stable `code` and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    /// `bad_args`, `bad_room`, `bad_name`, `message_too_large`, `not_joined`,
    /// `too_many_rooms`, `rate_limited` or `client_rooms_disabled`.
    pub code: &'static str,
    /// What happened and what to do.
    pub message: String,
}

impl OpError {
    /// An error with this code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        OpError {
            code,
            message: message.into(),
        }
    }

    fn bad_args(op: Op, what: &str) -> Self {
        OpError::new("bad_args", format!("{what}: {}", op.usage()))
    }
}

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// The client-facing room name (not yet validated).
    pub room: String,
    /// `JOIN`: the member name, `None` in the lobby form (or when left out).
    pub name: Option<String>,
    /// `NOTIFY`: the message, as the client's JSON.
    pub message: Option<RawJson>,
}

/// The first argument as JSON; binary is refused.
fn first_arg(op: Op, payload: &Payload) -> Result<RawJson, OpError> {
    match payload.get_raw(0) {
        None => Err(OpError::bad_args(op, "no argument given")),
        Some(Value::Raw(raw)) => Ok(raw),
        Some(v) if v.has_binary() => Err(OpError::bad_args(
            op,
            "binary data is not supported in client room events",
        )),
        Some(v) => RawJson::new(v.to_json())
            .map_err(|_| OpError::bad_args(op, "the argument is not valid JSON")),
    }
}

fn string_field(
    op: Op,
    fields: &HashMap<String, &RawValue>,
    key: &str,
) -> Result<Option<String>, OpError> {
    match fields.get(key) {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .map(Some)
            .map_err(|_| OpError::bad_args(op, &format!("\"{key}\" must be a string"))),
    }
}

/// Parses the arguments of `op`.
pub fn parse(op: Op, payload: &Payload) -> Result<Args, OpError> {
    let arg = first_arg(op, payload)?;
    match arg.kind() {
        JsonKind::String if op != Op::Notify => {
            let room: String = arg
                .deserialize()
                .map_err(|_| OpError::bad_args(op, "the room name is not a valid string"))?;
            Ok(Args {
                room,
                name: None,
                message: None,
            })
        }
        JsonKind::Object => {
            let fields: HashMap<String, &RawValue> = arg
                .deserialize()
                .map_err(|_| OpError::bad_args(op, "the argument is not a valid object"))?;
            let room = string_field(op, &fields, "room")?
                .ok_or_else(|| OpError::bad_args(op, "\"room\" is missing"))?;
            let name = if op == Op::Join {
                string_field(op, &fields, "name")?
            } else {
                None
            };
            let message = if op == Op::Notify {
                let raw = fields
                    .get("message")
                    .ok_or_else(|| OpError::bad_args(op, "\"message\" is missing"))?;
                Some(
                    RawJson::new(raw.get().to_string())
                        .map_err(|_| OpError::bad_args(op, "\"message\" is not valid JSON"))?,
                )
            } else {
                None
            };
            Ok(Args {
                room,
                name,
                message,
            })
        }
        _ => Err(OpError::bad_args(op, "the argument has the wrong type")),
    }
}

/// Longest room a refusal echoes back (a longer one is reported as null).
const MAX_HINT: usize = 256;

/// The best-effort room of a (maybe malformed) event, for error replies.
pub fn room_hint(payload: &Payload) -> Option<String> {
    let arg = payload.get(0)?;
    let room = match &arg {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("room").and_then(|r| r.as_str()).map(str::to_string),
        _ => None,
    };
    room.filter(|r| r.len() <= MAX_HINT)
}

/// Whether a byte may appear in a room name.
fn room_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'@' | b'-')
}

/// Checks a client-facing room name.
pub fn check_room(room: &str, limits: &ClientRoomLimits) -> Result<(), OpError> {
    let max = limits.max_room_bytes;
    if room.is_empty() || room.len() > max || !room.bytes().all(room_byte) {
        return Err(OpError::new(
            "bad_room",
            format!("room names are 1 to {max} characters of A-Z a-z 0-9 _ . : @ -"),
        ));
    }
    Ok(())
}

/// Checks a member name.
pub fn check_name(name: &str, limits: &ClientRoomLimits) -> Result<(), OpError> {
    let max = limits.max_name_bytes;
    if name.is_empty() || name.len() > max || name.chars().any(char::is_control) {
        return Err(OpError::new(
            "bad_name",
            format!("names are 1 to {max} bytes of UTF-8 without control characters"),
        ));
    }
    Ok(())
}

/// Checks the size of a `NOTIFY` message.
pub fn check_message(message: &RawJson, limits: &ClientRoomLimits) -> Result<(), OpError> {
    let (len, max) = (message.as_bytes().len(), limits.max_message_bytes);
    if len > max {
        return Err(OpError::new(
            "message_too_large",
            format!("the message is {len} bytes of JSON; at most {max} are allowed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use socketio::raw::RawArgs;

    fn payload(args: &str) -> Payload {
        Payload::from_raw(RawArgs::new(args.to_string()).unwrap(), Vec::new())
    }

    fn code(r: Result<Args, OpError>) -> (&'static str, String) {
        let e = r.unwrap_err();
        (e.code, e.message)
    }

    #[test]
    fn join_object_and_lobby_forms() {
        let a = parse(Op::Join, &payload(r#"{"room":"lobby","name":"Ann"}"#)).unwrap();
        assert_eq!(a.room, "lobby");
        assert_eq!(a.name.as_deref(), Some("Ann"));
        let a = parse(Op::Join, &payload(r#""lobby""#)).unwrap();
        assert_eq!((a.room.as_str(), a.name), ("lobby", None));
        let a = parse(Op::Join, &payload(r#"{"room":"r"}"#)).unwrap();
        assert_eq!(a.name, None);
        // Extra fields are ignored; escapes are decoded.
        let a = parse(Op::Leave, &payload(r#"{"room":"a\u0062","x":1}"#)).unwrap();
        assert_eq!(a.room, "ab");
        let a = parse(Op::Clients, &payload(r#""r""#)).unwrap();
        assert_eq!(a.room, "r");
    }

    #[test]
    fn notify_keeps_the_message_json() {
        let a = parse(
            Op::Notify,
            &payload(r#"{"room":"r","message":{"t":"hi","n":[1,2]}}"#),
        )
        .unwrap();
        assert_eq!(a.message.unwrap().as_str(), r#"{"t":"hi","n":[1,2]}"#);
        // null is a message too.
        let a = parse(Op::Notify, &payload(r#"{"room":"r","message":null}"#)).unwrap();
        assert_eq!(a.message.unwrap().as_str(), "null");
    }

    #[test]
    fn malformed_arguments_are_bad_args() {
        for (op, args, says) in [
            (Op::Join, "", "no argument given"),
            (Op::Join, "42", "wrong type"),
            (Op::Join, "[\"r\"]", "wrong type"),
            (Op::Join, "null", "wrong type"),
            (Op::Join, r#"{"name":"x"}"#, "\"room\" is missing"),
            (Op::Join, r#"{"room":7}"#, "\"room\" must be a string"),
            (
                Op::Join,
                r#"{"room":"r","name":false}"#,
                "\"name\" must be a string",
            ),
            (Op::Notify, r#""r""#, "wrong type"),
            (Op::Notify, r#"{"room":"r"}"#, "\"message\" is missing"),
            (Op::Leave, r#"{}"#, "\"room\" is missing"),
        ] {
            let (c, m) = code(parse(op, &payload(args)));
            assert_eq!(c, "bad_args", "{op:?} {args}");
            assert!(m.contains(says), "{op:?} {args}: {m}");
            assert!(m.contains(op.event()), "the usage is named: {m}");
        }
        let bin = Payload::one(Value::Binary(bytes::Bytes::from_static(b"x")));
        let (c, m) = code(parse(Op::Join, &bin));
        assert_eq!(c, "bad_args");
        assert!(m.contains("binary"), "{m}");
    }

    #[test]
    fn room_hints() {
        assert_eq!(room_hint(&payload(r#""a""#)).as_deref(), Some("a"));
        assert_eq!(room_hint(&payload(r#"{"room":"b"}"#)).as_deref(), Some("b"));
        assert_eq!(room_hint(&payload(r#"{"room":1}"#)), None);
        assert_eq!(room_hint(&payload("")), None);
        let long = format!("\"{}\"", "x".repeat(MAX_HINT + 1));
        assert_eq!(room_hint(&payload(&long)), None, "not echoed back");
    }

    #[test]
    fn room_names() {
        let l = ClientRoomLimits::default();
        for ok in ["lobby", "a", "Team_7.chat:general@eu-1", &"x".repeat(64)] {
            assert_eq!(check_room(ok, &l), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", "a\n", "#x", &"x".repeat(65)] {
            let e = check_room(bad, &l).unwrap_err();
            assert_eq!(e.code, "bad_room", "{bad:?}");
            assert!(e.message.contains("1 to 64"), "{}", e.message);
        }
        let tight = ClientRoomLimits {
            max_room_bytes: 3,
            ..l
        };
        assert!(check_room("abcd", &tight).is_err());
    }

    #[test]
    fn member_names() {
        let l = ClientRoomLimits::default();
        for ok in ["Ann", "Zoë Smith", "🙂", &"n".repeat(64)] {
            assert_eq!(check_name(ok, &l), Ok(()), "{ok}");
        }
        // 64 bytes, not characters: 33 two-byte characters are too many.
        for bad in ["", "a\u{0}b", "tab\there", &"n".repeat(65), &"é".repeat(33)] {
            assert_eq!(check_name(bad, &l).unwrap_err().code, "bad_name", "{bad:?}");
        }
    }

    #[test]
    fn message_sizes() {
        let l = ClientRoomLimits {
            max_message_bytes: 10,
            ..ClientRoomLimits::default()
        };
        assert!(check_message(&RawJson::new("\"12345678\"").unwrap(), &l).is_ok());
        let e = check_message(&RawJson::new("\"123456789\"").unwrap(), &l).unwrap_err();
        assert_eq!(e.code, "message_too_large");
        assert_eq!(
            e.message,
            "the message is 11 bytes of JSON; at most 10 are allowed"
        );
    }
}
