//! Client room messaging: clients of a site with `client_rooms = true` join rooms
//! (`JOIN`), message the other members (`NOTIFY`, relayed as `EVENT {sender, room,
//! message}`), list the members (`CLIENTS`) and leave (`LEAVE`).
//!
//! A client room `R` is the Socket.IO room [`ROOM_PREFIX`]` + R`, so a client can never
//! name a user room, the broadcast room or a socket-id room; a backend reaches the
//! members of `R` with `POST /send` to `room:R`. The name a socket joined a room with is
//! kept in its data ([`members`]), so `CLIENTS` lists the members of every node through
//! the adapter's socket listing.
//!
//! Every operation is answered: through the client's ack callback when it passed one
//! (`{ok: true, …}` or `{error: {code, message}}`), otherwise, for refusals only, with an
//! `ERROR {op, room, code, message}` event (`CLIENTS` answers with a `CLIENTS` event).

pub mod args;
pub mod members;
pub mod rate;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use socketio::raw::RawJson;
use socketio::server::{AckSender, Payload, Socket};

use crate::config::{ClientRoomLimits, SiteSection};
use args::{Op, OpError};
use rate::TokenBucket;

/// The prefix that maps a client room to its Socket.IO room.
pub const ROOM_PREFIX: &str = "room:";

/// The Socket.IO room of the client room `room`.
pub fn internal_room(room: &str) -> String {
    format!("{ROOM_PREFIX}{room}")
}

/// The event members receive for a `NOTIFY`.
pub const EVENT: &str = "EVENT";
/// The event that answers `CLIENTS` without an ack.
pub const CLIENTS: &str = "CLIENTS";
/// The event that reports a refused operation without an ack.
pub const ERROR: &str = "ERROR";

/// A site's client room policy.
#[derive(Debug)]
pub struct ClientRooms {
    enabled: bool,
    limits: ClientRoomLimits,
}

/// How an accepted operation is answered.
enum Done {
    /// Ack with `{ok: true, …these fields}`; nothing without an ack.
    Ok(serde_json::Value),
    /// List the members of this room (asynchronously, cluster-wide).
    List(String),
}

impl ClientRooms {
    /// The policy of `cfg`.
    pub fn from_site(cfg: &SiteSection) -> Arc<ClientRooms> {
        Arc::new(ClientRooms {
            enabled: cfg.client_rooms,
            limits: cfg.client_room_limits.clone(),
        })
    }

    /// Whether the site has client rooms.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Registers the `JOIN`, `NOTIFY`, `LEAVE` and `CLIENTS` handlers on a new socket.
    /// A site without client rooms answers them with `client_rooms_disabled`.
    pub fn attach(self: &Arc<Self>, socket: &Socket) {
        let bucket = Arc::new(Mutex::new(TokenBucket::new(
            self.limits.ops_per_second,
            self.limits.burst,
            Instant::now(),
        )));
        for op in Op::ALL {
            let me = self.clone();
            let bucket = bucket.clone();
            socket.on(op.event(), move |socket, payload, ack| {
                let reply = Reply {
                    op,
                    socket: socket.clone(),
                    room: args::room_hint(&payload),
                    ack,
                };
                match me.run(op, socket, &payload, &bucket) {
                    Ok(Done::Ok(fields)) => reply.ok(fields),
                    Ok(Done::List(room)) => reply.list(room),
                    Err(e) => reply.error(e),
                }
            });
        }
    }

    fn run(
        &self,
        op: Op,
        socket: &Socket,
        payload: &Payload,
        bucket: &Mutex<TokenBucket>,
    ) -> Result<Done, OpError> {
        if !self.enabled {
            return Err(OpError::new(
                "client_rooms_disabled",
                "client rooms are disabled on this site (the server's site config needs client_rooms = true)",
            ));
        }
        let l = &self.limits;
        let allowed = bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_take(Instant::now());
        if !allowed {
            return Err(OpError::new(
                "rate_limited",
                format!(
                    "more than {} client room operations per second (bursts of {}): slow down and retry",
                    l.ops_per_second, l.burst
                ),
            ));
        }
        let a = args::parse(op, payload)?;
        let room = a.room;
        args::check_room(&room, l)?;
        let data = socket.data();
        let joined = members::name_in(&data, &room).map(str::to_string);
        let not_joined = || {
            OpError::new(
                "not_joined",
                format!("this connection has not joined room {room:?}: JOIN it first"),
            )
        };
        match op {
            Op::Join => {
                let name = match a.name {
                    Some(n) => {
                        args::check_name(&n, l)?;
                        n
                    }
                    None => default_name(socket, &data),
                };
                if joined.is_none() && members::count(&data) >= l.max_rooms {
                    return Err(OpError::new(
                        "too_many_rooms",
                        format!(
                            "a connection may be in at most {} client rooms: LEAVE one first",
                            l.max_rooms
                        ),
                    ));
                }
                socket.join(&internal_room(&room));
                socket.set_data(members::with_room(data, &room, &name));
                Ok(Done::Ok(json!({ "room": room, "name": name })))
            }
            Op::Notify => {
                let sender = joined.ok_or_else(not_joined)?;
                let message = a.message.unwrap_or_else(|| RawJson::from(&json!(null)));
                args::check_message(&message, l)?;
                let payload = event_payload(&sender, &room, &message)?;
                socket.to(&internal_room(&room)).emit(EVENT, payload);
                Ok(Done::Ok(json!({ "room": room })))
            }
            Op::Leave => {
                joined.ok_or_else(not_joined)?;
                socket.leave(&internal_room(&room));
                socket.set_data(members::without_room(data, &room));
                Ok(Done::Ok(json!({ "room": room })))
            }
            Op::Clients => {
                joined.ok_or_else(not_joined)?;
                Ok(Done::List(room))
            }
        }
    }
}

/// The name of a lobby-form `JOIN`: the user id, or the socket id when anonymous.
fn default_name(socket: &Socket, data: &serde_json::Value) -> String {
    data.get("user")
        .and_then(|u| u.as_str())
        .map_or_else(|| socket.id().to_string(), str::to_string)
}

/// `EVENT {sender, room, message}` with the client's message JSON as it came.
fn event_payload(sender: &str, room: &str, message: &RawJson) -> Result<Payload, OpError> {
    #[derive(Serialize)]
    struct Event<'a> {
        sender: &'a str,
        room: &'a str,
        message: &'a RawValue,
    }
    let internal = |_| OpError::new("bad_args", "the message could not be relayed");
    let message: &RawValue = serde_json::from_str(message.as_str()).map_err(internal)?;
    Payload::from_serialize(&[Event {
        sender,
        room,
        message,
    }])
    .map_err(internal)
}

/// The answer to one operation.
struct Reply {
    op: Op,
    socket: Socket,
    room: Option<String>,
    ack: Option<AckSender>,
}

impl Reply {
    fn ok(self, mut fields: serde_json::Value) {
        if let Some(ack) = self.ack {
            if let Some(map) = fields.as_object_mut() {
                map.insert("ok".into(), json!(true));
            }
            ack.send(Payload::one(fields));
        }
    }

    fn error(self, e: OpError) {
        match self.ack {
            Some(ack) => {
                ack.send(Payload::one(
                    json!({ "error": { "code": e.code, "message": e.message } }),
                ));
            }
            None => {
                self.socket.emit(
                    ERROR,
                    Payload::one(json!({
                        "op": self.op.event(),
                        "room": self.room,
                        "code": e.code,
                        "message": e.message,
                    })),
                );
            }
        }
    }

    /// Lists the members of `room` on every node, then answers.
    fn list(self, room: String) {
        let listing = self
            .socket
            .namespace()
            .to(&internal_room(&room))
            .fetch_all_sockets();
        tokio::spawn(async move {
            let sockets = listing.await;
            let (names, truncated) = members::names(&room, &sockets);
            let mut body = json!({ "room": room, "clients": names });
            if truncated {
                body["truncated"] = json!(true);
            }
            match self.ack {
                Some(ack) => {
                    body["ok"] = json!(true);
                    ack.send(Payload::one(body));
                }
                None => {
                    self.socket.emit(CLIENTS, Payload::one(body));
                }
            }
        });
    }
}
