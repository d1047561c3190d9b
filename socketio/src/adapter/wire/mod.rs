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
#[cfg(test)]
mod tests;

use bytes::Bytes;

pub use msgpack::timestamp_bytes;

pub(crate) use date::{epoch_ms, js_string};

use crate::adapter::{RemoteSocket, Target};
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

/// Which sockets a remote join, leave or disconnect is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// The sockets in `rooms` except `except` (`opts`).
    Target(Target),
    /// One socket, by id (the form of adapters before 8.0).
    Socket(String),
}

/// A request on `k-request#nsp#`. Type numbers are the adapter's `RequestType`.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// 0 SOCKETS: the ids of the sockets in `rooms` (adapters before 8.0).
    Sockets {
        /// Requester.
        uid: String,
        /// Request id.
        request_id: String,
        /// Rooms (all sockets when empty).
        rooms: Vec<Room>,
    },
    /// 1 ALL_ROOMS.
    AllRooms {
        /// Requester.
        uid: String,
        /// Request id.
        request_id: String,
    },
    /// 2 REMOTE_JOIN.
    Join {
        /// Requester (absent from the emitter).
        uid: Option<String>,
        /// Only in the legacy one-socket form, which wants a reply.
        request_id: Option<String>,
        /// Which sockets.
        select: Selector,
        /// The rooms to join.
        rooms: Vec<Room>,
    },
    /// 3 REMOTE_LEAVE.
    Leave {
        /// Requester (absent from the emitter).
        uid: Option<String>,
        /// Only in the legacy one-socket form, which wants a reply.
        request_id: Option<String>,
        /// Which sockets.
        select: Selector,
        /// The rooms to leave.
        rooms: Vec<Room>,
    },
    /// 4 REMOTE_DISCONNECT.
    Disconnect {
        /// Requester (absent from the emitter).
        uid: Option<String>,
        /// Only in the legacy one-socket form, which wants a reply.
        request_id: Option<String>,
        /// Which sockets.
        select: Selector,
        /// Close the underlying connections too.
        close: bool,
    },
    /// 5 REMOTE_FETCH.
    Fetch {
        /// Requester.
        uid: String,
        /// Request id.
        request_id: String,
        /// Which sockets.
        target: Target,
    },
    /// 6 SERVER_SIDE_EMIT; with a request id when the sender wants acks.
    ServerSideEmit {
        /// Sender (`emitter` for the emitter).
        uid: Option<String>,
        /// Present iff an ack is wanted.
        request_id: Option<String>,
        /// `[event, ...args]`.
        data: Vec<Value>,
    },
    /// 7 BROADCAST with acks (msgpack).
    Broadcast {
        /// Requester.
        uid: String,
        /// Request id.
        request_id: String,
        /// The packet.
        packet: Packet,
        /// Rooms, except, flags (`timeout`).
        opts: Options,
    },
}

impl Request {
    /// The sender's uid, when it gave one.
    pub fn uid(&self) -> Option<&str> {
        match self {
            Request::Sockets { uid, .. }
            | Request::AllRooms { uid, .. }
            | Request::Fetch { uid, .. }
            | Request::Broadcast { uid, .. } => Some(uid),
            Request::Join { uid, .. }
            | Request::Leave { uid, .. }
            | Request::Disconnect { uid, .. }
            | Request::ServerSideEmit { uid, .. } => uid.as_deref(),
        }
    }

    /// The request id, when the request wants replies.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Request::Sockets { request_id, .. }
            | Request::AllRooms { request_id, .. }
            | Request::Fetch { request_id, .. }
            | Request::Broadcast { request_id, .. } => Some(request_id),
            Request::Join { request_id, .. }
            | Request::Leave { request_id, .. }
            | Request::Disconnect { request_id, .. }
            | Request::ServerSideEmit { request_id, .. } => request_id.as_deref(),
        }
    }
}

fn head(uid: Option<&str>, request_id: Option<&str>, kind: u8) -> Map {
    let mut m = Map::with_capacity(5);
    if let Some(uid) = uid {
        m.insert("uid", uid);
    }
    if let Some(id) = request_id {
        m.insert("requestId", id);
    }
    m.insert("type", kind);
    m
}

fn select_into(m: &mut Map, select: &Selector) {
    match select {
        Selector::Target(t) => {
            m.insert("opts", target_value(t));
        }
        Selector::Socket(sid) => {
            m.insert("sid", sid.as_str());
        }
    }
}

/// Encodes a request as the Node adapter does (JSON; BROADCAST as msgpack).
pub fn encode_request(r: &Request) -> Vec<u8> {
    let json = |m: Map| Value::Object(m).to_json().into_bytes();
    match r {
        Request::Sockets {
            uid,
            request_id,
            rooms,
        } => {
            let mut m = head(Some(uid), Some(request_id), 0);
            m.insert("rooms", rooms_value(rooms));
            json(m)
        }
        Request::AllRooms { uid, request_id } => json(head(Some(uid), Some(request_id), 1)),
        Request::Join {
            uid,
            request_id,
            select,
            rooms,
        }
        | Request::Leave {
            uid,
            request_id,
            select,
            rooms,
        } => {
            let kind = if matches!(r, Request::Join { .. }) {
                2
            } else {
                3
            };
            let mut m = head(uid.as_deref(), request_id.as_deref(), kind);
            select_into(&mut m, select);
            match select {
                Selector::Socket(_) => {
                    let room = rooms.first().map_or("", |r| &**r);
                    m.insert("room", room);
                }
                Selector::Target(_) => {
                    m.insert("rooms", rooms_value(rooms));
                }
            }
            json(m)
        }
        Request::Disconnect {
            uid,
            request_id,
            select,
            close,
        } => {
            let mut m = head(uid.as_deref(), request_id.as_deref(), 4);
            select_into(&mut m, select);
            m.insert("close", *close);
            json(m)
        }
        Request::Fetch {
            uid,
            request_id,
            target,
        } => {
            let mut m = head(Some(uid), Some(request_id), 5);
            m.insert("opts", target_value(target));
            json(m)
        }
        Request::ServerSideEmit {
            uid,
            request_id,
            data,
        } => {
            let mut m = head(uid.as_deref(), request_id.as_deref(), 6);
            m.insert("data", Value::Array(data.clone()));
            json(m)
        }
        Request::Broadcast {
            uid,
            request_id,
            packet,
            opts,
        } => {
            let mut m = head(Some(uid), Some(request_id), 7);
            m.insert("packet", packet.to_value());
            m.insert("opts", opts.to_value());
            msgpack::encode(&Value::Object(m))
        }
    }
}

/// A string field; numbers are accepted and written as JavaScript would.
fn string_field(m: &Map, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn type_of(m: &Map) -> Option<u64> {
    m.get("type")
        .and_then(Value::as_number)
        .and_then(|n| n.as_u64())
}

fn object(bytes: &Bytes) -> Result<Map, WireError> {
    match decode_any(bytes, b'{')? {
        Value::Object(m) => Ok(m),
        _ => Err(WireError::Shape("message is not a map")),
    }
}

fn selector(m: &mut Map) -> Result<Selector, WireError> {
    if let Some(sid) = string_field(m, "sid") {
        return Ok(Selector::Socket(sid));
    }
    Ok(Selector::Target(
        Options::from_value(m.remove("opts"))?.target(),
    ))
}

/// Decodes a request (JSON or msgpack).
pub fn decode_request(bytes: &Bytes) -> Result<Request, WireError> {
    let mut m = object(bytes)?;
    let kind = type_of(&m).ok_or(WireError::Shape("request type is not a number"))?;
    let uid = string_field(&m, "uid");
    let request_id = string_field(&m, "requestId");
    let need = |v: Option<String>, what| v.ok_or(WireError::Shape(what));
    Ok(match kind {
        0 => Request::Sockets {
            uid: need(uid, "uid missing")?,
            request_id: need(request_id, "requestId missing")?,
            rooms: rooms(m.remove("rooms"))?,
        },
        1 => Request::AllRooms {
            uid: need(uid, "uid missing")?,
            request_id: need(request_id, "requestId missing")?,
        },
        2 | 3 => {
            let select = selector(&mut m)?;
            let rooms = match &select {
                Selector::Socket(_) => {
                    vec![Room::from(need(string_field(&m, "room"), "room missing")?)]
                }
                Selector::Target(_) => rooms(m.remove("rooms"))?,
            };
            if kind == 2 {
                Request::Join {
                    uid,
                    request_id,
                    select,
                    rooms,
                }
            } else {
                Request::Leave {
                    uid,
                    request_id,
                    select,
                    rooms,
                }
            }
        }
        4 => Request::Disconnect {
            uid,
            request_id,
            select: selector(&mut m)?,
            close: m.get("close").and_then(Value::as_bool).unwrap_or(false),
        },
        5 => Request::Fetch {
            uid: need(uid, "uid missing")?,
            request_id: need(request_id, "requestId missing")?,
            target: Options::from_value(m.remove("opts"))?.target(),
        },
        6 => Request::ServerSideEmit {
            uid,
            request_id,
            data: match m.remove("data") {
                Some(Value::Array(a)) => a,
                _ => return Err(WireError::Shape("data is not an array")),
            },
        },
        7 => Request::Broadcast {
            uid: need(uid, "uid missing")?,
            request_id: need(request_id, "requestId missing")?,
            packet: Packet::from_value(m.remove("packet").unwrap_or_default())?,
            opts: Options::from_value(m.remove("opts"))?,
        },
        t => return Err(WireError::UnknownType(t)),
    })
}

/// A response on `k-response#nsp#` (or the requester's own response channel).
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// To SOCKETS: socket ids.
    Sockets {
        /// Request id.
        request_id: String,
        /// Socket ids.
        sockets: Vec<String>,
    },
    /// To ALL_ROOMS.
    AllRooms {
        /// Request id.
        request_id: String,
        /// The responder's rooms.
        rooms: Vec<Room>,
    },
    /// To REMOTE_FETCH.
    Fetch {
        /// Request id.
        request_id: String,
        /// The responder's matching sockets.
        sockets: Vec<RemoteSocket>,
    },
    /// To SERVER_SIDE_EMIT with ack: the first ack argument (`None`: undefined).
    ServerSideEmit {
        /// Request id.
        request_id: String,
        /// The first argument the handler acked with.
        data: Option<Value>,
    },
    /// 8 BROADCAST_CLIENT_COUNT: how many clients the responder sent the broadcast to.
    ClientCount {
        /// Request id.
        request_id: String,
        /// Number of clients.
        count: u64,
    },
    /// 9 BROADCAST_ACK: one client's first ack argument (`None`: undefined).
    Ack {
        /// Request id.
        request_id: String,
        /// The first argument.
        packet: Option<Value>,
    },
    /// The empty reply to a legacy one-socket join/leave/disconnect.
    Done {
        /// Request id.
        request_id: String,
    },
}

impl Response {
    /// The request answered.
    pub fn request_id(&self) -> &str {
        match self {
            Response::Sockets { request_id, .. }
            | Response::AllRooms { request_id, .. }
            | Response::Fetch { request_id, .. }
            | Response::ServerSideEmit { request_id, .. }
            | Response::ClientCount { request_id, .. }
            | Response::Ack { request_id, .. }
            | Response::Done { request_id } => request_id,
        }
    }
}

fn socket_value(s: &RemoteSocket) -> Value {
    let mut m = Map::with_capacity(4);
    m.insert("id", &*s.id);
    m.insert("handshake", Value::from(&s.handshake));
    m.insert("rooms", rooms_value(&s.rooms));
    m.insert("data", Value::from(&s.data));
    Value::Object(m)
}

fn socket_from(v: Value) -> Result<RemoteSocket, WireError> {
    let Value::Object(mut m) = v else {
        return Err(WireError::Shape("a fetched socket is not a map"));
    };
    let id = string_field(&m, "id").ok_or(WireError::Shape("socket id missing"))?;
    let to_serde = |v: Option<Value>| {
        v.map_or(Ok(serde_json::Value::Null), |v| v.to_serde())
            .map_err(|_| WireError::Shape("socket data is not JSON"))
    };
    Ok(RemoteSocket {
        id: id.into(),
        rooms: rooms(m.remove("rooms"))?,
        data: to_serde(m.remove("data"))?,
        handshake: to_serde(m.remove("handshake"))?,
    })
}

/// Encodes a response as the Node adapter does (JSON; BROADCAST_ACK as msgpack).
pub fn encode_response(r: &Response) -> Vec<u8> {
    let json = |m: Map| Value::Object(m).to_json().into_bytes();
    let mut m = Map::with_capacity(3);
    match r {
        Response::Sockets {
            request_id,
            sockets,
        } => {
            m.insert("requestId", request_id.as_str());
            m.insert(
                "sockets",
                Value::Array(sockets.iter().map(|s| Value::from(s.as_str())).collect()),
            );
            json(m)
        }
        Response::AllRooms { request_id, rooms } => {
            m.insert("requestId", request_id.as_str());
            m.insert("rooms", rooms_value(rooms));
            json(m)
        }
        Response::Fetch {
            request_id,
            sockets,
        } => {
            m.insert("requestId", request_id.as_str());
            m.insert(
                "sockets",
                Value::Array(sockets.iter().map(socket_value).collect()),
            );
            json(m)
        }
        Response::ServerSideEmit { request_id, data } => {
            m.insert("type", 6u8);
            m.insert("requestId", request_id.as_str());
            if let Some(d) = data {
                m.insert("data", d.clone());
            }
            json(m)
        }
        Response::ClientCount { request_id, count } => {
            m.insert("type", 8u8);
            m.insert("requestId", request_id.as_str());
            m.insert("clientCount", *count);
            json(m)
        }
        Response::Ack { request_id, packet } => {
            m.insert("type", 9u8);
            m.insert("requestId", request_id.as_str());
            if let Some(p) = packet {
                m.insert("packet", p.clone());
            }
            msgpack::encode(&Value::Object(m))
        }
        Response::Done { request_id } => {
            m.insert("requestId", request_id.as_str());
            json(m)
        }
    }
}

/// Decodes a response (JSON or msgpack). Responses to 0, 1 and 5 carry no `type`; they
/// are told apart by their fields.
pub fn decode_response(bytes: &Bytes) -> Result<Response, WireError> {
    let mut m = object(bytes)?;
    let request_id = string_field(&m, "requestId").ok_or(WireError::Shape("requestId missing"))?;
    Ok(match type_of(&m) {
        Some(6) => Response::ServerSideEmit {
            request_id,
            data: m.remove("data"),
        },
        Some(8) => Response::ClientCount {
            request_id,
            count: m
                .get("clientCount")
                .and_then(Value::as_number)
                .and_then(|n| n.as_u64())
                .ok_or(WireError::Shape("clientCount is not a count"))?,
        },
        Some(9) => Response::Ack {
            request_id,
            packet: m.remove("packet"),
        },
        Some(t) => return Err(WireError::UnknownType(t)),
        None => {
            if let Some(r) = m.remove("rooms") {
                Response::AllRooms {
                    request_id,
                    rooms: rooms(Some(r))?,
                }
            } else if let Some(s) = m.remove("sockets") {
                let Value::Array(items) = s else {
                    return Err(WireError::Shape("sockets is not an array"));
                };
                if !items.is_empty() && items.iter().all(|i| i.as_str().is_some()) {
                    Response::Sockets {
                        request_id,
                        sockets: items
                            .into_iter()
                            .filter_map(|i| i.as_str().map(str::to_string))
                            .collect(),
                    }
                } else {
                    Response::Fetch {
                        request_id,
                        sockets: items
                            .into_iter()
                            .map(socket_from)
                            .collect::<Result<_, _>>()?,
                    }
                }
            } else {
                Response::Done { request_id }
            }
        }
    })
}
