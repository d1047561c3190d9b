//! Sockets without clients, for benchmarks and tests of the sending paths (not a stable
//! API).

use std::sync::Arc;
use std::time::SystemTime;

use engineio::TransportKind;
use engineio::server::{DetachedReceiver, Handshake, Query};

use crate::raw::RawJson;
use crate::server::{Namespace, Socket};

/// Adds `n` sockets to `ns` whose frames are collected by the returned receivers.
pub fn attach_detached(ns: &Namespace, n: usize) -> Vec<(Socket, DetachedReceiver)> {
    (0..n)
        .map(|i| {
            let sid = format!("detached-{i}");
            let (conn, rx) = engineio::Socket::detached(&sid);
            let handshake = Arc::new(Handshake {
                sid: Arc::from(sid.as_str()),
                transport: TransportKind::WebSocket,
                uri: http_uri(),
                headers: Default::default(),
                query: Query::default(),
                remote_addr: None,
                secure: false,
                issued: SystemTime::now(),
            });
            let socket = Socket::new(
                Arc::from(engineio::server::random_id()),
                None,
                ns.clone(),
                conn,
                handshake,
                RawJson::from(&serde_json::Value::Object(Default::default())),
                false,
                serde_json::Value::Null,
            );
            ns.add_socket(&socket, &[]);
            (socket, rx)
        })
        .collect()
}

fn http_uri() -> engineio::server::Uri {
    engineio::server::Uri::from_static("/socket.io/")
}
