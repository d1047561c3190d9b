//! The publish API: `POST /send`, `POST /send/batch` and `POST /disconnect`, each with
//! `?site=NAME` and an API key (`Authorization: Bearer KEY`, `X-API-Key: KEY`, or the
//! `apiKey` query parameter). Errors are JSON `{"error":{"code":…,"message":…}}`.

use bytes::Bytes;
use engineio::server::{Body, Query};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use socketio::packet::is_reserved_event;
use socketio::raw::{RawArgs, RawJson};
use socketio::server::Payload;

use crate::metrics::Metrics;
use crate::site::{Site, Sites};

/// Largest accepted request body.
pub const MAX_BODY: usize = 1 << 20;
/// Most rooms (and except rooms) one message may name.
pub const MAX_ROOMS: usize = 1000;
/// Most messages in one `/send/batch`.
pub const MAX_BATCH: usize = 1000;

/// Event names a publisher may not use: the protocol's own and Herald's.
const HERALD_RESERVED: &[&str] = &["batch", "resync", "auth_expired", "error"];

/// The events of client room messaging: a publisher may not forge them.
const CLIENT_ROOM_EVENTS: &[&str] = &[
    crate::client_rooms::EVENT,
    crate::client_rooms::CLIENTS,
    crate::client_rooms::ERROR,
];

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// The error code of the JSON answer (`bad_json`, `reserved_event`, …).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn response(&self) -> Response<Body> {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        json(self.status, &body)
    }
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from(value.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// Whether `path` is one of the API's routes.
pub fn matches(path: &str) -> bool {
    matches!(path, "/send" | "/send/batch" | "/disconnect" | "/tokens")
}

/// Answers an API request.
pub async fn handle(sites: &Sites, metrics: &Metrics, req: Request<Incoming>) -> Response<Body> {
    let res = match route(sites, metrics, req).await {
        Ok(res) => res,
        Err(e) => e.response(),
    };
    metrics.send_request(res.status().as_u16());
    res
}

async fn route(
    sites: &Sites,
    metrics: &Metrics,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST",
        ));
    }
    let query = Query::parse(req.uri().query());
    let site_name = query.get("site").ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_site",
            "the site query parameter is required: POST /send?site=NAME",
        )
    })?;
    let site = sites.get(site_name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_site",
            format!("no site is named {site_name:?}"),
        )
    })?;
    let key = api_key(&req, &query).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "send the API key as `Authorization: Bearer KEY` or `X-API-Key: KEY`",
        )
    })?;
    if !site.check_api_key(&key) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "the API key is not valid for this site",
        ));
    }
    let path = req.uri().path().to_string();
    let form = content_kind(&req)?;
    let body = read_body(req).await?;
    // `resync=true` in the query, as the service herald replaces took it.
    let resync_query = matches!(query.get("resync"), Some("true" | "1"));
    match path.as_str() {
        "/send" => {
            let mut msg = parse_message(&body, form)?;
            msg.resync |= resync_query;
            let id = deliver(site, msg).await?;
            metrics.message_sent(&site.name);
            Ok(json(StatusCode::ACCEPTED, &serde_json::json!({ "id": id })))
        }
        "/tokens" => {
            let Some(store) = &site.tokens else {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "no_token_auth",
                    "this site does not use auth mode \"token\"",
                ));
            };
            if form {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "/tokens takes application/json",
                ));
            }
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct TokenRequest {
                user: String,
            }
            let r: TokenRequest = serde_json::from_slice(&body).map_err(bad_json)?;
            if r.user.is_empty() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "missing_user",
                    "\"user\" (a non-empty string) is required",
                ));
            }
            let token = store.issue(&r.user, std::time::Instant::now());
            Ok(json(
                StatusCode::CREATED,
                &serde_json::json!({ "token": token, "expires_in": store.ttl().as_secs() }),
            ))
        }
        "/send/batch" => {
            if form {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "/send/batch takes application/json",
                ));
            }
            let msgs = parse_batch(&body)?;
            let mut ids = Vec::with_capacity(msgs.len());
            for mut m in msgs {
                m.resync |= resync_query;
                metrics.message_sent(&site.name);
                ids.push(deliver(site, m).await?);
            }
            Ok(json(
                StatusCode::ACCEPTED,
                &serde_json::json!({ "ids": ids }),
            ))
        }
        _ => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Disconnect {
                user: Option<String>,
                #[serde(default)]
                rooms: Vec<String>,
            }
            let d: Disconnect = serde_json::from_slice(&body).map_err(bad_json)?;
            let mut rooms = d.rooms;
            if let Some(user) = d.user {
                rooms.push(site.user_room(&user));
            }
            if rooms.is_empty() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "missing_target",
                    "give \"user\" or \"rooms\"",
                ));
            }
            let mut op = site.namespace.broadcast();
            for r in &rooms {
                op = op.to(r);
            }
            // Every node's sockets (with Redis, the others answer within the request timeout).
            let n = op.fetch_all_sockets().await.len();
            op.disconnect_sockets(true);
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "disconnected": n }),
            ))
        }
    }
}

fn api_key(req: &Request<Incoming>, query: &Query) -> Option<String> {
    if let Some(v) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut parts = v.splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (parts.next(), parts.next())
            && scheme.eq_ignore_ascii_case("bearer")
        {
            return Some(token.trim().to_string());
        }
    }
    if let Some(v) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    query.get("apiKey").map(str::to_string)
}

/// True for a form body, false for JSON; 415 otherwise.
fn content_kind(req: &Request<Incoming>) -> Result<bool, ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Ok(false),
        "application/x-www-form-urlencoded" => Ok(true),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send Content-Type: application/json or application/x-www-form-urlencoded",
        )),
    }
}

/// Announced bodies over [`MAX_BODY`] up to this size are drained before the 413.
const DRAIN_LIMIT: usize = 8 << 20;
/// The longest a refused body is drained.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {MAX_BODY} bytes"),
        )
    };
    // A Content-Length over the limit is refused without keeping the body. A moderately
    // large one is read and dropped first (bounded in size and time), so a client that is
    // still sending reads the 413 instead of a connection reset; a huge one (or a slow
    // one) is refused at once.
    let announced = hyper::body::Body::size_hint(req.body()).lower();
    if announced > MAX_BODY as u64 {
        if announced <= DRAIN_LIMIT as u64 {
            let drain = Limited::new(req.into_body(), DRAIN_LIMIT).collect();
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
        }
        return Err(too_large());
    }
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "the request body could not be read",
        )),
    }
}

fn bad_json(e: serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_json",
        format!("the body is not valid JSON for this request: {e}"),
    )
}

/// One message to deliver.
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) rooms: Vec<String>,
    pub(crate) except: Vec<String>,
    pub(crate) event: String,
    pub(crate) args: RawArgs,
    pub(crate) reliable: bool,
    pub(crate) resync: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// The messages of a `/send/batch` body (all or none).
pub(crate) fn parse_batch(body: &[u8]) -> Result<Vec<Message>, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch<'a> {
        #[serde(borrow)]
        messages: Vec<&'a RawValue>,
    }
    let batch: Batch<'_> = serde_json::from_slice(body).map_err(bad_json)?;
    if batch.messages.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_messages",
            format!("at most {MAX_BATCH} messages per batch"),
        ));
    }
    batch
        .messages
        .iter()
        .map(|m| parse_message(m.get().as_bytes(), false))
        .collect()
}

pub(crate) fn parse_message(body: &[u8], form: bool) -> Result<Message, ApiError> {
    let (rooms, except, event, args_text, reliable, resync) = if form {
        let mut rooms = Vec::new();
        let mut except = Vec::new();
        let mut event = None;
        let mut args = None;
        let mut reliable = false;
        let mut resync = false;
        for (k, v) in form_urlencoded::parse(body) {
            match k.as_ref() {
                "rooms" | "rooms[]" | "room" => {
                    rooms.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string))
                }
                "except" | "except[]" => {
                    except.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string))
                }
                "event" => event = Some(v.into_owned()),
                "args" => args = Some(v.into_owned()),
                "reliable" => reliable = form_bool("reliable", &v)?,
                "resync" => resync = form_bool("resync", &v)?,
                other => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "unknown_field",
                        format!("unknown form field {other:?}"),
                    ));
                }
            }
        }
        (rooms, except, event, args, reliable, resync)
    } else {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body<'a> {
            rooms: Option<OneOrMany>,
            except: Option<OneOrMany>,
            event: Option<String>,
            #[serde(borrow)]
            args: Option<&'a RawValue>,
            #[serde(default)]
            reliable: bool,
            #[serde(default)]
            resync: bool,
        }
        let b: Body<'_> = serde_json::from_slice(body).map_err(bad_json)?;
        (
            b.rooms.map(OneOrMany::into_vec).unwrap_or_default(),
            b.except.map(OneOrMany::into_vec).unwrap_or_default(),
            b.event,
            b.args.map(|a| a.get().to_string()),
            b.reliable,
            b.resync,
        )
    };
    let event = event.filter(|e| !e.is_empty()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_event",
            "\"event\" (a non-empty string) is required",
        )
    })?;
    if CLIENT_ROOM_EVENTS.contains(&event.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reserved_event",
            format!(
                "the event name {event:?} is reserved for client room messaging (clients relay to each other as EVENT, CLIENTS and ERROR answer them); use another event name"
            ),
        ));
    }
    if is_reserved_event(&event) || HERALD_RESERVED.contains(&event.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reserved_event",
            format!("the event name {event:?} is reserved"),
        ));
    }
    if rooms.len() > MAX_ROOMS || except.len() > MAX_ROOMS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_rooms",
            format!("at most {MAX_ROOMS} rooms per message"),
        ));
    }
    let args = match args_text {
        None => RawArgs::empty(),
        Some(text) => {
            let raw = RawJson::new(Bytes::from(text)).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_json",
                    format!("\"args\" is not valid JSON: {e}"),
                )
            })?;
            RawArgs::from_array(&raw).ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_args",
                    "\"args\" must be an array of the event's arguments",
                )
            })?
        }
    };
    Ok(Message {
        rooms,
        except,
        event,
        args,
        reliable,
        resync,
    })
}

fn form_bool(field: &str, v: &str) -> Result<bool, ApiError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_field",
            format!("form field {field:?} must be true or false"),
        )),
    }
}

async fn deliver(site: &Site, msg: Message) -> Result<String, ApiError> {
    let reliable = match &site.reliable {
        Some(r) if msg.reliable || (r.always() && !msg.rooms.is_empty()) => Some(r),
        None if msg.reliable => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "reliable_disabled",
                "reliable delivery is not enabled for this site (set [sites.reliable] enabled = true)",
            ));
        }
        _ => None,
    };
    let Some(reliable) = reliable else {
        broadcast(site, &msg.rooms, &msg.except, &msg.event, msg.args);
        return Ok(engineio::server::random_id());
    };
    // User rooms get the stored, acknowledged delivery; any other room a plain
    // broadcast that skips those users (so nobody gets it twice).
    let (user_rooms, other_rooms): (Vec<&String>, Vec<&String>) = msg
        .rooms
        .iter()
        .partition(|r| reliable.user_of(r).is_some());
    if user_rooms.is_empty() {
        if msg.reliable {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "reliable_needs_user_rooms",
                format!(
                    "reliable messages go to user rooms (\"{}<user>\"): give them in \"rooms\"",
                    site.user_room_prefix
                ),
            ));
        }
        broadcast(site, &msg.rooms, &msg.except, &msg.event, msg.args);
        return Ok(engineio::server::random_id());
    }
    if !msg.except.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reliable_except",
            "\"except\" is not supported with reliable delivery: list the user rooms to deliver to",
        ));
    }
    let args = msg.args;
    let users: Vec<&str> = user_rooms
        .iter()
        .filter_map(|r| reliable.user_of(r))
        .collect();
    let id = reliable
        .send(&site.namespace, &users, &msg.event, &args, msg.resync)
        .await
        .map_err(|e| {
            tracing::warn!(site = %site.name, "{e}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the reliable store (Redis) is unavailable; nothing was delivered, retry later",
            )
        })?;
    if !other_rooms.is_empty() {
        let others: Vec<String> = other_rooms.into_iter().cloned().collect();
        let skip: Vec<String> = user_rooms.into_iter().cloned().collect();
        broadcast(site, &others, &skip, &msg.event, args);
    }
    Ok(id.to_string())
}

fn broadcast(site: &Site, rooms: &[String], except: &[String], event: &str, args: RawArgs) {
    let mut op = site.namespace.broadcast();
    if rooms.is_empty() {
        op = op.to(&site.broadcast_room);
    }
    for r in rooms {
        op = op.to(r);
    }
    for r in except {
        op = op.except(r);
    }
    op.emit(event, Payload::from_raw(args, Vec::new()));
}
