//! WebSocket clients: a TCP connection from a chosen source address, the Engine.IO
//! handshake and the Socket.IO CONNECT to `/`.

use std::net::{IpAddr, SocketAddr};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::proto::{Packet, classify};

/// A client's WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// A TCP connection to `server` from `src` (bound before connect), zero linger (closing
/// resets, so no TIME_WAIT piles up between runs), Nagle off.
pub async fn tcp(
    server: SocketAddr,
    src: IpAddr,
    rcvbuf: Option<u32>,
) -> Result<TcpStream, String> {
    let s = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    s.set_zero_linger().map_err(|e| format!("SO_LINGER: {e}"))?;
    if let Some(b) = rcvbuf {
        s.set_recv_buffer_size(b)
            .map_err(|e| format!("SO_RCVBUF: {e}"))?;
    }
    s.bind(SocketAddr::new(src, 0))
        .map_err(|e| format!("bind {src}: {e}"))?;
    let stream = s
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The next text packet; control frames are handled by tungstenite. `None` when closed.
pub async fn next_text(
    ws: &mut Ws,
) -> Result<Option<tokio_tungstenite::tungstenite::Utf8Bytes>, String> {
    loop {
        match ws.next().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(format!("read: {e}")),
            Some(Ok(Message::Text(t))) => return Ok(Some(t)),
            Some(Ok(Message::Close(_))) => return Ok(None),
            Some(Ok(_)) => {}
        }
    }
}

/// Sends one text packet.
pub async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::text(text))
        .await
        .map_err(|e| format!("write: {e}"))
}

/// Connects a Socket.IO client to `/` over WebSocket (`auth`: the CONNECT payload).
pub async fn connect(
    server: SocketAddr,
    src: IpAddr,
    rcvbuf: Option<u32>,
    auth: Option<&str>,
) -> Result<Ws, String> {
    let stream = tcp(server, src, rcvbuf).await?;
    let url = format!("ws://{server}/socket.io/?EIO=4&transport=websocket");
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .map_err(|e| format!("websocket handshake: {e}"))?;
    match next_text(&mut ws).await? {
        Some(t) if t.starts_with('0') => {}
        other => return Err(format!("expected the open packet, got {other:?}")),
    }
    let connect = match auth {
        Some(a) => format!("40{a}"),
        None => "40".to_string(),
    };
    send(&mut ws, connect).await?;
    loop {
        let Some(t) = next_text(&mut ws).await? else {
            return Err("closed before CONNECT".into());
        };
        match classify(&t) {
            Packet::Connected => return Ok(ws),
            Packet::ConnectError(e) => return Err(format!("connect_error {e}")),
            Packet::Ping => send(&mut ws, "3".into()).await?,
            _ => {}
        }
    }
}

/// Emits `event` with `args` and an ack id, and waits for that ack (answering pings and
/// passing other packets to `other`). Returns the ack's JSON array.
pub async fn call(
    ws: &mut Ws,
    id: u64,
    event: &str,
    args: &str,
    mut other: impl FnMut(&str),
) -> Result<String, String> {
    send(ws, crate::proto::emit_with_ack(id, event, args)).await?;
    loop {
        let Some(t) = next_text(ws).await? else {
            return Err(format!("closed while waiting for the ack of {event}"));
        };
        match classify(&t) {
            Packet::Ack(got, body) if got == id => return Ok(body.to_string()),
            Packet::Ping => send(ws, "3".into()).await?,
            Packet::Close => {
                return Err(format!(
                    "server closed while waiting for the ack of {event}"
                ));
            }
            _ => other(&t),
        }
    }
}
