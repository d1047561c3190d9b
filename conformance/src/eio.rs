//! The plain Engine.IO profiles: the `/engine.io/` echo of `protocol` and the server of
//! the `engine.io-client` tests (`eio-client`).

use std::time::{Duration, SystemTime};

use engineio::server::{Connection, Handler, Handshake, MessageContext, Socket, Verdict};
use engineio::{CloseReason, Config, Cors, Frame, Message};
use http::{HeaderMap, HeaderValue, header};

/// `protocol` §2.1: pingInterval 300, pingTimeout 200, maxPayload 1e6, CORS `*`.
pub(crate) fn protocol_config() -> Config {
    Config {
        path: "/engine.io/".into(),
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        cors: Cors {
            origins: vec!["*".into()],
        },
        ..Config::default()
    }
}

/// `eio-client` §4: pingInterval 500, pingTimeout 20000, maxPayload 100.
pub(crate) fn eio_client_config() -> Config {
    Config {
        path: "/engine.io/".into(),
        ping_interval: Duration::from_millis(500),
        ping_timeout: Duration::from_millis(20_000),
        max_payload: 100,
        ..Config::default()
    }
}

fn echo(socket: &Socket, msg: Message) {
    match msg {
        Message::Text(t) => {
            let mut buf = Vec::with_capacity(t.len() + 1);
            buf.push(b'4');
            buf.extend_from_slice(&t);
            if let Some(f) = Frame::from_encoded_message(buf.into()) {
                socket.send(f);
            }
        }
        Message::Binary(b) => {
            socket.send(Frame::Binary(b));
        }
    }
}

/// Echoes every message once, unchanged.
pub(crate) struct Echo;

/// The echo server's per-session state.
pub(crate) struct EchoConn(Socket);

impl Handler for Echo {
    type Connection = EchoConn;
    fn on_open(&self, socket: Socket, _hs: Handshake) -> EchoConn {
        EchoConn(socket)
    }
}

impl Connection for EchoConn {
    fn on_message(&mut self, msg: Message, _ctx: &MessageContext<'_>) {
        echo(&self.0, msg);
    }
    fn on_close(&mut self, _reason: CloseReason) {}
}

/// The `engine.io-client` suite's server.
pub(crate) struct EioClient;

/// Its per-session state.
pub(crate) struct EioClientConn(Socket);

impl Handler for EioClient {
    type Connection = EioClientConn;

    fn allow_request(&self, req: &Handshake) -> Verdict {
        if req.query.contains("deny") {
            Verdict::Deny("Forbidden".into())
        } else {
            Verdict::Allow
        }
    }

    fn initial_headers(&self, _req: &Handshake, headers: &mut HeaderMap) {
        let expires = format!(
            "4=4; Expires={}",
            httpdate::fmt_http_date(SystemTime::now())
        );
        for v in [
            "1=1; Max-Age=86400".to_string(),
            "2=2; Path=/; HttpOnly; Secure; SameSite=Strict".to_string(),
            "3=3; Max-Age=0".to_string(),
            expires,
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                headers.append(header::SET_COOKIE, v);
            }
        }
    }

    fn on_open(&self, socket: Socket, _hs: Handshake) -> EioClientConn {
        socket.send_text("hi");
        EioClientConn(socket)
    }
}

impl Connection for EioClientConn {
    fn on_message(&mut self, msg: Message, ctx: &MessageContext<'_>) {
        match msg.as_text() {
            Some("give binary") => {
                self.0.send_binary(vec![0u8, 1, 2, 3, 4]);
            }
            Some("give utf8") => {
                self.0.send_text("пойду спать всем спокойной ночи");
            }
            Some("sendHeaders") => {
                if let Some(h) = ctx.post_headers() {
                    let mut obj = serde_json::Map::new();
                    for (name, value) in h {
                        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
                        match obj.get_mut(name.as_str()) {
                            Some(serde_json::Value::String(prev)) => {
                                prev.push_str(", ");
                                prev.push_str(&v);
                            }
                            _ => {
                                obj.insert(name.as_str().to_string(), serde_json::Value::String(v));
                            }
                        }
                    }
                    self.0
                        .send_text(&serde_json::Value::Object(obj).to_string());
                }
            }
            _ => echo(&self.0, msg),
        }
    }
    fn on_close(&mut self, _reason: CloseReason) {}
}
