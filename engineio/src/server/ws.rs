//! A WebSocket transport as the driver sees it: one `poll_event` that writes what is
//! queued and reads the next packet, so a single task can own both directions.

use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame as WsFrame};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::config::Config;
use crate::fifo::Fifo;
use crate::packet::{Frame, Packet};

pub(crate) type Stream_ = WebSocketStream<TokioIo<Upgraded>>;

/// Queued frames are written together up to this many bytes per write. The buffer
/// grows to it only on sessions that had that much queued at once (idle sessions keep
/// a few bytes).
const WS_WRITE_BATCH: usize = 8 * 1024;

/// What happened on a WebSocket.
#[derive(Debug)]
pub(crate) enum WsEvent {
    /// A decoded packet.
    Packet(Packet),
    /// A text frame that is not an Engine.IO packet.
    ParseError,
    /// A message the WebSocket must be failed for, with this close code: over
    /// `max_payload` (1009), a text message that is not UTF-8 (1007, RFC 6455 §8.1), or a
    /// frame that breaks the framing rules (1002).
    Fail(CloseCode),
    /// The WebSocket is gone (`error`: it failed rather than closed).
    Closed { error: bool },
}

pub(crate) struct WsConn {
    stream: Stream_,
    queue: Fifo<WsMessage>,
    queued_bytes: usize,
    needs_flush: bool,
}

pub(crate) async fn accept(io: Upgraded, config: &Config) -> WsConn {
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(config.ws_read_buffer)
        // Frames collect in tungstenite's write buffer and go out with the flush that
        // ends every `poll_write`: one send(2) for everything queued (a broadcast
        // backlog), not one per frame (80 % of a fan-out's server time was send calls).
        .write_buffer_size(WS_WRITE_BATCH)
        .max_message_size(Some(config.max_payload))
        .max_frame_size(Some(config.max_payload));
    let stream =
        WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Server, Some(ws_config)).await;
    WsConn {
        stream,
        queue: Fifo::new(),
        queued_bytes: 0,
        needs_flush: false,
    }
}

impl WsConn {
    /// Queues a frame; it is written by the next `poll_event`.
    pub(crate) fn push(&mut self, frame: Frame) {
        self.queued_bytes += frame.len();
        self.queue.push_back(match frame {
            // A pre-encoded, UTF-8 checked text packet: written as a raw frame, so a
            // broadcast's bytes are shared, not validated or copied per recipient.
            Frame::Text(bytes) => {
                WsMessage::Frame(WsFrame::message(bytes, OpCode::Data(Data::Text), true))
            }
            Frame::Binary(bytes) => WsMessage::Binary(bytes),
        });
    }

    /// Bytes queued and not yet handed to the socket.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Writes what is queued, then reads. `Pending` when nothing was received.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<WsEvent> {
        if let Err(error) = self.poll_write(cx) {
            return Poll::Ready(WsEvent::Closed { error });
        }
        loop {
            let msg = match std::pin::Pin::new(&mut self.stream).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(WsEvent::Closed { error: false }),
                Poll::Ready(Some(Err(WsError::Capacity(CapacityError::MessageTooLong {
                    ..
                })))) => return Poll::Ready(WsEvent::Fail(CloseCode::Size)),
                Poll::Ready(Some(Err(WsError::Utf8(_)))) => {
                    return Poll::Ready(WsEvent::Fail(CloseCode::Invalid));
                }
                // Unmasked frames, reserved bits, oversized or fragmented control frames,
                // unknown opcodes: RFC 6455 §7.4.1, close 1002 as the reference (ws) does.
                Poll::Ready(Some(Err(WsError::Protocol(_)))) => {
                    return Poll::Ready(WsEvent::Fail(CloseCode::Protocol));
                }
                Poll::Ready(Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed))) => {
                    return Poll::Ready(WsEvent::Closed { error: false });
                }
                Poll::Ready(Some(Err(_))) => return Poll::Ready(WsEvent::Closed { error: true }),
                Poll::Ready(Some(Ok(msg))) => msg,
            };
            return Poll::Ready(match msg {
                WsMessage::Text(text) => match Packet::decode_text(text.into()) {
                    Ok(p) => WsEvent::Packet(p),
                    Err(_) => WsEvent::ParseError,
                },
                WsMessage::Binary(data) => WsEvent::Packet(Packet::Binary(data)),
                WsMessage::Close(_) => WsEvent::Closed { error: false },
                // Control frames are answered by the WebSocket library.
                WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => continue,
            });
        }
    }

    /// Writes as much of the queue as the socket takes. `Err(true)` on an I/O error.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<(), bool> {
        let mut sink = std::pin::Pin::new(&mut self.stream);
        while !self.queue.is_empty() {
            match sink.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Err(true),
                Poll::Pending => break,
            }
            let Some(msg) = self.queue.pop_front() else {
                break;
            };
            self.queued_bytes = self.queued_bytes.saturating_sub(msg_len(&msg));
            if sink.as_mut().start_send(msg).is_err() {
                return Err(true);
            }
            self.needs_flush = true;
        }
        if self.needs_flush {
            match sink.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(_)) => return Err(true),
                Poll::Pending => {}
            }
        }
        Ok(())
    }

    /// Writes what is queued and closes with `code` (none: a close frame without status,
    /// as the reference server sends), giving up after `linger`.
    pub(crate) async fn shutdown(mut self, code: Option<CloseCode>, linger: Duration) {
        let work = async {
            let flushed = std::future::poll_fn(|cx| {
                match self.poll_write(cx) {
                    Err(_) => return Poll::Ready(false),
                    Ok(()) if self.queue.is_empty() && !self.needs_flush => {
                        return Poll::Ready(true);
                    }
                    Ok(()) => {}
                }
                Poll::Pending
            })
            .await;
            if flushed {
                let frame = code.map(|code| CloseFrame {
                    code,
                    reason: "".into(),
                });
                let _ = self.stream.close(frame).await;
                // Lingering close: read (and drop) what the peer still sends until it
                // closes, so unread bytes do not turn our close into a reset that hides
                // the close frame (e.g. the rest of an oversized message).
                let io = self.stream.get_mut();
                let mut sink = [0u8; 4096];
                loop {
                    match tokio::io::AsyncReadExt::read(io, &mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
        };
        let _ = tokio::time::timeout(linger, work).await;
    }
}

fn msg_len(msg: &WsMessage) -> usize {
    match msg {
        WsMessage::Frame(f) => f.payload().len(),
        other => other.len(),
    }
}
