//! The Socket.IO profiles: `/socket.io/` of `protocol` (§2.2) and `sio-client` (§3).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use engineio::server::{Handshake, Verdict};
use engineio::{Config as EngineConfig, Engine};
use socketio::server::{Config, ConnectError, Io, IoHandler, Payload, RecoveryConfig, Socket};
use socketio::value::{Map, Value};

use crate::jsdate;

/// `protocol` §2.2: Engine.IO as §2.1, connectTimeout 1000, no recovery, `/` and `/custom`.
pub(crate) fn protocol() -> Engine<IoHandler> {
    let io = Io::new(Config {
        connect_timeout: Duration::from_millis(1000),
        ..Config::default()
    });
    for name in ["/", "/custom"] {
        io.of(name).on_connection(|socket| {
            socket.emit("auth", auth_arg(socket));
            if socket.namespace().name() == "/" {
                socket.on("message", |socket, args, _ack| {
                    socket.emit("message-back", args);
                });
                socket.on("message-with-ack", |_socket, args, ack| {
                    if let Some(ack) = ack {
                        ack.send(args);
                    }
                });
            }
        });
    }
    io.engine(EngineConfig {
        path: "/socket.io/".into(),
        ..crate::eio::protocol_config()
    })
}

/// The auth object of the CONNECT as the single argument.
fn auth_arg(socket: &Socket) -> Payload {
    Payload::one(Value::Raw(socket.auth().clone()))
}

/// `sio-client` §3: pingInterval 2000, recovery on, the namespaces and events of §3.1–3.2.
pub(crate) fn sio_client() -> Engine<IoHandler> {
    let io = Io::new(Config {
        connect_timeout: Duration::from_millis(45_000),
        recovery: Some(RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(120_000),
            skip_middlewares: true,
        }),
        ..Config::default()
    });
    // Accept every handshake, after 10 ms (a timer, not a blocking sleep).
    io.set_allow_request(|_hs: &Handshake| {
        Verdict::Later(Box::pin(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        }))
    });

    io.of("/")
        .use_middleware(|req| {
            if req
                .handshake
                .query
                .get("fail")
                .is_some_and(|v| !v.is_empty())
            {
                Err(ConnectError::new("Auth failed (main namespace)"))
            } else {
                Ok(())
            }
        })
        .on_connection(main_events);
    io.of("/foo").on_connection(|socket| {
        socket.on("getId", |socket, _args, ack| {
            if let Some(ack) = ack {
                ack.send(Payload::one(socket.id().to_string()));
            }
        });
    });
    for name in ["/timeout_socket", "/valid", "/asd"] {
        io.of(name);
    }
    io.of("/abc").on_connection(|socket| {
        socket.emit("handshake", Payload::one(handshake_object(socket)));
    });
    io.of("/no")
        .use_middleware(|_req| Err(ConnectError::new("Auth failed (custom namespace)")));

    io.engine(EngineConfig {
        path: "/socket.io/".into(),
        ping_interval: Duration::from_millis(2000),
        ping_timeout: Duration::from_millis(20_000),
        max_payload: 1_000_000,
        ..EngineConfig::default()
    })
}

fn is_binary(v: Option<Value>) -> bool {
    v.is_some_and(|v| v.as_binary().is_some())
}

/// `{hello:"lol", message:<binary>, goodbye:"gotcha"}`
fn is_jsonbuff(v: Option<Value>) -> bool {
    let Some(v) = v else { return false };
    v.get("hello").and_then(Value::as_str) == Some("lol")
        && v.get("message").and_then(Value::as_binary).is_some()
        && v.get("goodbye").and_then(Value::as_str) == Some("gotcha")
}

const ASDF: &[u8] = b"asdfasdf";

fn main_events(socket: &Socket) {
    let abuff1 = Arc::new(AtomicBool::new(false));
    let blob1 = Arc::new(AtomicBool::new(false));
    let blob2 = Arc::new(AtomicBool::new(false));

    socket.on("hi", |s, _a, _ack| {
        s.emit("hi", Payload::empty());
    });
    socket.on("echo", |_s, args, ack| {
        if let (Some(ack), Some(first)) = (ack, args.get_raw(0)) {
            ack.send(Payload::one(first));
        }
    });
    socket.on("ack", |s, _a, _ack| {
        let s = s.clone();
        let reply = s.emit_with_ack("ack", Payload::empty(), Duration::from_secs(60));
        tokio::spawn(async move {
            if let Ok(args) = reply.await {
                let five = args
                    .get(0)
                    .and_then(|v| v.as_number())
                    .and_then(|n| n.as_u64())
                    == Some(5);
                let test = args
                    .get(1)
                    .and_then(|v| v.get("test").map(truthy))
                    .unwrap_or(false);
                if five && test {
                    s.emit("got it", Payload::empty());
                }
            }
        });
    });
    socket.on("getAckDate", |_s, _a, ack| {
        if let Some(ack) = ack {
            ack.send(Payload::one(jsdate::to_json(SystemTime::now())));
        }
    });
    socket.on("getDate", |s, _a, _ack| {
        s.emit("takeDate", Payload::one(jsdate::to_json(SystemTime::now())));
    });
    socket.on("getDateObj", |s, _a, _ack| {
        let mut m = Map::new();
        m.insert("date", jsdate::to_json(SystemTime::now()));
        s.emit("takeDateObj", Payload::one(Value::Object(m)));
    });
    socket.on("getUtf8", |s, _a, _ack| {
        for text in [
            "\u{3066}\u{3059}\u{3068}",
            "\u{042F} \u{0411} \u{0413} \u{0414} \u{0416} \u{0419}",
            "\u{00C4} \u{00E4} \u{00DC} \u{00FC} \u{00DF}",
            "utf8 \u{2014} string",
            "utf8 \u{2014} string",
        ] {
            s.emit("takeUtf8", Payload::one(text));
        }
    });
    socket.on("false", |s, _a, _ack| {
        s.emit("false", Payload::one(false));
    });
    socket.on("doge", |s, _a, _ack| {
        s.emit(
            "doge",
            Payload::one(Value::Binary(bytes::Bytes::from_static(ASDF))),
        );
    });
    socket.on("getbin", |s, _a, _ack| {
        s.emit(
            "takebin",
            Payload::one(Value::Binary(bytes::Bytes::from_static(ASDF))),
        );
    });
    socket.on("buffa", |s, a, _ack| {
        if is_binary(a.get(0)) {
            s.emit("buffack", Payload::empty());
        }
    });
    socket.on("jsonbuff", |s, a, _ack| {
        if is_jsonbuff(a.get(0)) {
            s.emit("jsonbuff-ack", Payload::empty());
        }
    });
    {
        let abuff1 = abuff1.clone();
        socket.on("abuff1", move |_s, a, _ack| {
            if is_binary(a.get(0)) {
                abuff1.store(true, Ordering::Relaxed);
            }
        });
    }
    socket.on("abuff2", move |s, _a, _ack| {
        if abuff1.load(Ordering::Relaxed) {
            s.emit("abuff2-ack", Payload::empty());
        }
    });
    socket.on("blob", |s, a, _ack| {
        if is_binary(a.get(0)) {
            s.emit("back", Payload::empty());
        }
    });
    socket.on("jsonblob", |s, a, _ack| {
        if is_jsonbuff(a.get(0)) {
            s.emit("jsonblob-ack", Payload::empty());
        }
    });
    {
        let blob1 = blob1.clone();
        socket.on("blob1", move |_s, a, _ack| {
            if is_binary(a.get(0)) {
                blob1.store(true, Ordering::Relaxed);
            }
        });
    }
    {
        let (blob1, blob2) = (blob1.clone(), blob2.clone());
        socket.on("blob2", move |_s, a, _ack| {
            if blob1.load(Ordering::Relaxed)
                && a.get(0).and_then(|v| v.as_str().map(|s| s == "second")) == Some(true)
            {
                blob2.store(true, Ordering::Relaxed);
            }
        });
    }
    socket.on("blob3", move |s, a, _ack| {
        if is_binary(a.get(0)) && blob1.load(Ordering::Relaxed) && blob2.load(Ordering::Relaxed) {
            s.emit("blob3-ack", Payload::empty());
        }
    });
    socket.on("getHandshake", |s, _a, ack| {
        if let Some(ack) = ack {
            ack.send(Payload::one(handshake_object(s)));
        }
    });
    socket.on("getId", |s, _a, ack| {
        if let Some(ack) = ack {
            ack.send(Payload::one(s.id().to_string()));
        }
    });
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != 0.0 && !n.as_f64().is_nan(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// `socket.handshake` of the reference server (§3.3), keys in its order.
fn handshake_object(socket: &Socket) -> Value {
    let hs = socket.handshake();
    let mut headers = Map::new();
    for (name, value) in &hs.headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.insert(name.as_str(), v);
    }
    let mut query = Map::new();
    for (k, v) in hs.query.pairs() {
        query.insert(k.as_str(), v.as_str());
    }
    let issued = hs
        .issued
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut m = Map::new();
    m.insert("headers", Value::Object(headers));
    m.insert("time", jsdate::to_string(hs.issued));
    m.insert(
        "address",
        hs.remote_addr
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    );
    m.insert("xdomain", hs.headers.contains_key(http::header::ORIGIN));
    m.insert("secure", hs.secure);
    m.insert("issued", issued);
    m.insert("url", hs.uri.to_string());
    m.insert("query", Value::Object(query));
    m.insert("auth", Value::Raw(socket.auth().clone()));
    Value::Object(m)
}
