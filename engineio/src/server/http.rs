//! HTTP responses of the Engine.IO endpoint, and CORS.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::config::Cors;
use crate::error::RequestError;

/// The body type of every response.
pub type Body = Full<Bytes>;

pub(crate) fn polling_payload(body: Bytes) -> Response<Body> {
    let mut res = Response::new(Full::new(body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub(crate) fn post_ok() -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from_static(b"ok")));
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    res
}

/// The polling error answer: JSON body for coded errors, empty otherwise.
pub(crate) fn polling_error(err: &RequestError) -> Response<Body> {
    let body = err.json_body();
    let has_body = !body.is_empty();
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
    if *err == RequestError::PayloadTooLarge {
        // The rest of the body is not read: the connection cannot be reused.
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if has_body {
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    res
}

/// The answer to a refused WebSocket upgrade: a plain 400 (403 when forbidden) with the
/// message as a text/html body, and the connection closed.
pub(crate) fn upgrade_error(err: &RequestError) -> Response<Body> {
    let msg = match err {
        RequestError::Forbidden(_) => "Forbidden".to_string(),
        other => other.message().to_string(),
    };
    let mut res = Response::new(Full::new(Bytes::from(msg)));
    *res.status_mut() = if matches!(err, RequestError::Forbidden(_)) {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

pub(crate) fn not_found() -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// True for a WebSocket upgrade request (`Upgrade: websocket`).
pub(crate) fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The CORS headers for a request, or `None` when CORS is off or the origin not allowed.
pub(crate) fn cors_headers<B>(cors: &Cors, req: &Request<B>) -> Option<HeaderMap> {
    if cors.origins.is_empty() {
        return None;
    }
    let origin = req.headers().get(header::ORIGIN);
    let mut h = HeaderMap::new();
    if cors.origins.iter().any(|o| o == "*") {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else {
        let origin = origin?;
        let allowed = origin
            .to_str()
            .is_ok_and(|o| o != "null" && cors.origins.iter().any(|a| a == o));
        if !allowed {
            return None;
        }
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    if req.method() == Method::OPTIONS {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
        );
        if let Some(req_headers) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, req_headers.clone());
            h.append(
                header::VARY,
                HeaderValue::from_static("Access-Control-Request-Headers"),
            );
        }
    }
    Some(h)
}

/// A CORS preflight: 204 with the CORS headers.
pub(crate) fn preflight(headers: HeaderMap) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NO_CONTENT;
    res.headers_mut().extend(headers);
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    res
}
