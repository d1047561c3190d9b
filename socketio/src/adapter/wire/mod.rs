//! The Redis wire format of the official Node packages, pure: bytes in, typed messages
//! out and back, no I/O.
//!
//! This is the **classic** protocol of `@socket.io/redis-adapter` 8.3 (`createAdapter`,
//! formerly `socket.io-redis`), which both official emitters speak
//! (`@socket.io/redis-emitter` 5.1.0 and the old `socket.io-emitter` 3.2.0). With the
//! channel prefix `k` (default `socket.io`) and a namespace `nsp`:
//!
//! | channel | payload |
//! |---|---|
//! | `k#nsp#` (0 or ≥ 2 rooms), `k#nsp#room#` (exactly one room) | [`Broadcast`]: msgpack `[uid, packet, opts]` |
//! | `k-request#nsp#` | [`Request`]: JSON, except BROADCAST (type 7) which is msgpack |
//! | `k-response#nsp#` (and `k-response#nsp#uid#`) | [`Response`]: JSON, except BROADCAST_ACK (9) which is msgpack |
//!
//! Receivers accept JSON (first byte `{`) or msgpack for every request and response, as
//! Node does. Encoding writes the same bytes as Node (key order included), so the golden
//! tests compare bytes; see `tests.rs` for the captured vectors.
//!
//! Decoding is of untrusted bytes: every error is a [`WireError`], nothing panics, nesting
//! and lengths are bounded (the size of a whole message is bounded by the caller, see
//! [`ClusterConfig::max_message_size`](crate::adapter::ClusterConfig)).

mod date;
mod msgpack;
mod request;
#[cfg(test)]
mod tests;

use bytes::Bytes;

pub use msgpack::timestamp_bytes;
pub use request::{
    Request, Response, Selector, decode_request, decode_response, encode_request, encode_response,
};

pub(crate) use date::{epoch_ms, js_string};

use crate::adapter::Target;
use crate::rooms::Room;
use crate::value::{Map, Value};

/// The uid the emitters publish with.
pub const EMITTER_UID: &str = "emitter";

/// Why bytes are not a message of this protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The msgpack ends inside a value.
    Truncated,
    /// Bytes are left after the value (notepack refuses them too).
    TrailingBytes(usize),
    /// Arrays and maps nested deeper than the limit.
    TooDeep,
    /// A byte that is no msgpack marker (`0xc1`).
    InvalidMarker(u8),
    /// A map key that is neither a string nor a number.
    BadMapKey,
    /// A timestamp extension of the wrong length.
    BadTimestamp,
    /// The JSON does not parse.
    Json(String),
    /// The value has the wrong shape (the field named).
    Shape(&'static str),
    /// A request or response type this protocol does not know.
    UnknownType(u64),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("msgpack truncated"),
            WireError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the msgpack value"),
            WireError::TooDeep => f.write_str("nested too deeply"),
            WireError::InvalidMarker(b) => write!(f, "invalid msgpack marker 0x{b:02x}"),
            WireError::BadMapKey => f.write_str("map key is not a string or number"),
            WireError::BadTimestamp => f.write_str("timestamp extension of a wrong length"),
            WireError::Json(e) => write!(f, "invalid JSON: {e}"),
            WireError::Shape(what) => write!(f, "unexpected shape: {what}"),
            WireError::UnknownType(t) => write!(f, "unknown message type {t}"),
        }
    }
}

impl std::error::Error for WireError {}

/// The channel names of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// `k#nsp#`: broadcasts to everyone or to several rooms; the prefix of room channels.
    pub broadcast: String,
    /// `k#nsp#*`: the pattern that receives every broadcast of the namespace.
    pub pattern: String,
    /// `k-request#nsp#`.
    pub request: String,
    /// `k-response#nsp#`: the shared response channel.
    pub response: String,
    /// `k-response#nsp#uid#`: responses meant for this node only.
    pub own_response: String,
}

impl Channels {
    /// The channels of namespace `nsp` under `prefix`, for the node `uid`.
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> Channels {
        Channels {
            broadcast: format!("{prefix}#{nsp}#"),
            pattern: format!("{prefix}#{nsp}#*"),
            request: format!("{prefix}-request#{nsp}#"),
            response: format!("{prefix}-response#{nsp}#"),
            own_response: format!("{prefix}-response#{nsp}#{uid}#"),
        }
    }

    /// Where a broadcast to `rooms` is published: the room channel for exactly one room.
    pub fn broadcast_channel(&self, rooms: &[Room]) -> String {
        match rooms {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }

    /// The room of a broadcast channel (`""` for the main one); `None` when the channel
    /// is not a broadcast channel of this namespace (a pattern over-match).
    pub fn room_of<'c>(&self, channel: &'c str) -> Option<&'c str> {
        let rest = channel.strip_prefix(self.broadcast.as_str())?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_suffix('#')
        }
    }
}

/// Packet types inside broadcasts.
pub const EVENT: u8 = 2;
/// An ACK packet type.
pub const ACK: u8 = 3;

/// A Socket.IO packet as the Node adapter carries it: `{type, data, nsp}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// `2` EVENT or `3` ACK (BINARY_EVENT 5 and BINARY_ACK 6 are normalized to these).
    pub kind: u8,
    /// `[event, ...args]` for an event.
    pub data: Vec<Value>,
    /// The namespace (`/` when absent).
    pub nsp: String,
    /// An ack id (never set by the adapters for broadcasts).
    pub id: Option<u64>,
}

impl Packet {
    /// An EVENT packet.
    pub fn event(nsp: &str, event: &str, args: Vec<Value>) -> Packet {
        let mut data = Vec::with_capacity(1 + args.len());
        data.push(Value::from(event));
        data.extend(args);
        Packet {
            kind: EVENT,
            data,
            nsp: nsp.to_string(),
            id: None,
        }
    }

    /// The event name, for an event whose first data element is a string.
    pub fn event_name(&self) -> Option<&str> {
        self.data.first().and_then(Value::as_str)
    }

    /// The event arguments (after the name).
    pub fn args(&self) -> &[Value] {
        self.data.get(1..).unwrap_or(&[])
    }

    fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(4);
        m.insert("type", self.kind);
        m.insert("data", Value::Array(self.data.clone()));
        m.insert("nsp", self.nsp.as_str());
        if let Some(id) = self.id {
            m.insert("id", id);
        }
        Value::Object(m)
    }

    fn from_value(v: Value) -> Result<Packet, WireError> {
        let Value::Object(mut m) = v else {
            return Err(WireError::Shape("packet is not a map"));
        };
        let kind = match m
            .get("type")
            .and_then(Value::as_number)
            .and_then(|n| n.as_u64())
        {
            Some(2 | 5) => EVENT,
            Some(3 | 6) => ACK,
            _ => return Err(WireError::Shape("packet.type is not an event or ack")),
        };
        let data = match m.remove("data") {
            Some(Value::Array(a)) => a,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(WireError::Shape("packet.data is not an array")),
        };
        let nsp = match m.get("nsp") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => "/".to_string(),
            Some(_) => return Err(WireError::Shape("packet.nsp is not a string")),
        };
        let id = m
            .get("id")
            .and_then(Value::as_number)
            .and_then(|n| n.as_u64());
        Ok(Packet {
            kind,
            data,
            nsp,
            id,
        })
    }
}

/// Broadcast flags. Unknown flags (`broadcast`, `json` of the old emitter) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// May be lost.
    pub volatile: bool,
    /// The per-message compression hint, when set.
    pub compress: Option<bool>,
    /// The ack timeout (ms) of a broadcast with acks.
    pub timeout: Option<u64>,
}

impl Flags {
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        if self.volatile {
            m.insert("volatile", true);
        }
        if let Some(c) = self.compress {
            m.insert("compress", c);
        }
        if let Some(t) = self.timeout {
            m.insert("timeout", t);
        }
        Value::Object(m)
    }

    fn from_value(v: Option<Value>) -> Flags {
        let Some(Value::Object(m)) = v else {
            return Flags::default();
        };
        Flags {
            volatile: m.get("volatile").and_then(Value::as_bool).unwrap_or(false),
            compress: m.get("compress").and_then(Value::as_bool),
            timeout: m
                .get("timeout")
                .and_then(Value::as_number)
                .and_then(|n| n.as_u64()),
        }
    }
}

/// Which sockets and how: `{rooms, except, flags}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Target rooms (all sockets when empty).
    pub rooms: Vec<Room>,
    /// Excluded rooms.
    pub except: Vec<Room>,
    /// Flags.
    pub flags: Flags,
}

impl Options {
    /// The target of these options.
    pub fn target(&self) -> Target {
        Target {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
        }
    }

    fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(3);
        m.insert("rooms", rooms_value(&self.rooms));
        m.insert("except", rooms_value(&self.except));
        m.insert("flags", self.flags.to_value());
        Value::Object(m)
    }

    fn from_value(v: Option<Value>) -> Result<Options, WireError> {
        let mut m = match v {
            Some(Value::Object(m)) => m,
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Err(WireError::Shape("opts is not a map")),
        };
        Ok(Options {
            rooms: rooms(m.remove("rooms"))?,
            except: rooms(m.remove("except"))?,
            flags: Flags::from_value(m.remove("flags")),
        })
    }
}

fn rooms_value(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
}

/// A room list: strings, or numbers (Node allows numeric rooms); absent is empty.
fn rooms(v: Option<Value>) -> Result<Vec<Room>, WireError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|r| match r {
                Value::String(s) => Ok(Room::from(s)),
                Value::Number(n) => Ok(Room::from(n.to_string())),
                _ => Err(WireError::Shape("a room is not a string")),
            })
            .collect(),
        Some(_) => Err(WireError::Shape("rooms is not an array")),
    }
}

fn target_value(t: &Target) -> Value {
    let mut m = Map::with_capacity(2);
    m.insert("rooms", rooms_value(&t.rooms));
    m.insert("except", rooms_value(&t.except));
    Value::Object(m)
}

/// A broadcast: `[uid, packet, opts]` on a broadcast channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Broadcast {
    /// The publisher (`emitter` for the emitters).
    pub uid: String,
    /// The packet.
    pub packet: Packet,
    /// Rooms, except, flags.
    pub opts: Options,
}

/// Encodes a broadcast as the Node adapter does.
pub fn encode_broadcast(b: &Broadcast) -> Vec<u8> {
    msgpack::encode(&Value::Array(vec![
        Value::from(b.uid.as_str()),
        b.packet.to_value(),
        b.opts.to_value(),
    ]))
}

/// Decodes a broadcast (msgpack; a JSON array is accepted too, for emitters configured
/// with a JSON parser).
pub fn decode_broadcast(bytes: &Bytes) -> Result<Broadcast, WireError> {
    let v = decode_any(bytes, b'[')?;
    let Value::Array(items) = v else {
        return Err(WireError::Shape("broadcast is not an array"));
    };
    if items.len() != 3 {
        return Err(WireError::Shape("broadcast is not [uid, packet, opts]"));
    }
    let mut it = items.into_iter();
    let uid = match it.next() {
        Some(Value::String(s)) => s,
        _ => return Err(WireError::Shape("broadcast uid is not a string")),
    };
    let packet = Packet::from_value(it.next().unwrap_or_default())?;
    let opts = Options::from_value(it.next())?;
    Ok(Broadcast { uid, packet, opts })
}

/// JSON when the first byte is `json_start`, msgpack otherwise.
fn decode_any(bytes: &Bytes, json_start: u8) -> Result<Value, WireError> {
    if bytes.first() == Some(&json_start) {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| WireError::Json(e.to_string()))?;
        Ok(Value::from(v))
    } else {
        msgpack::decode(bytes)
    }
}
