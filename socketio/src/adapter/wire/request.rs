//! Requests on `k-request#nsp#` and responses on `k-response#nsp#`: JSON, except
//! BROADCAST (7) and BROADCAST_ACK (9), which are msgpack; either is accepted.

use bytes::Bytes;

use super::{Options, Packet, WireError, decode_any, msgpack, rooms, rooms_value, target_value};
use crate::adapter::{RemoteSocket, Target};
use crate::rooms::Room;
use crate::value::{Map, Value};

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
