//! Tier 4: the real hyper service in process. Each test starts [`Engine::serve`] on
//! 127.0.0.1:0 with an echo [`Handler`] that also records what the application sees, and
//! drives it with a hyper 1 client (`client::conn::http1`), raw TCP where a client must
//! misbehave, and tokio-tungstenite as the WebSocket client.
//!
//! No test asserts a duration: waits are bounded by generous deadlines ([`WAIT`]) and
//! the one ordering this black box cannot observe (which of two racing GETs the session
//! saw first) is checked order-independently.

mod support;

use support::*;

// ----- handshake ---------------------------------------------------------------------

#[tokio::test]
async fn polling_handshake_sends_the_open_packet() {
    let mut server = start_default().await;
    let a = server.handshake().await;
    assert_eq!(server.seen(&a).await, Seen::Open);
    let b = server.handshake().await;
    assert_ne!(a, b, "every session has its own sid");
    assert_eq!(server.engine.session_count(), 2);
}

#[tokio::test]
async fn handshake_reflects_the_config() {
    let server = start(Config {
        ping_interval: Duration::from_millis(1234),
        ping_timeout: Duration::from_millis(567),
        max_payload: 890,
        allow_upgrades: false,
        ..Config::default()
    })
    .await;
    // `handshake` checks every key; without upgrades the list is empty.
    server.handshake().await;
}

#[tokio::test]
async fn websocket_handshake_sends_the_open_packet_first() {
    let mut server = start_default().await;
    let (mut ws, sid) = server.ws_session().await;
    assert_eq!(server.seen(&sid).await, Seen::Open);
    ws.send_text("4hi").await;
    assert_eq!(ws.text().await, "4hi");
}

// ----- messages ----------------------------------------------------------------------

#[tokio::test]
async fn polling_echo() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    let res = server.post(&sid, format!("4hello{RS}4world")).await;
    assert_eq!((res.status, res.text()), (200, "ok"));
    assert_eq!(res.content_type(), Some("text/html"));
    let res = server.poll(&sid).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.text(), format!("4hello{RS}4world"));
    assert_eq!(res.content_type(), Some("text/plain; charset=UTF-8"));
    assert_eq!(server.seen(&sid).await, Seen::Open);
    assert_eq!(
        server.seen(&sid).await,
        Seen::Message(Message::Text(Bytes::from_static(b"hello")))
    );

    // A held GET is answered by the next packet, whichever request the session sees first.
    let pending = server.spawn_poll(&sid);
    assert_eq!(server.post(&sid, "4later").await.text(), "ok");
    let res = pending.await.expect("poll task");
    assert_eq!((res.status, res.text()), (200, "4later"));
}

#[tokio::test]
async fn binary_over_polling_is_base64() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    assert_eq!(server.post(&sid, "bAQIDBA==").await.text(), "ok");
    assert_eq!(server.poll(&sid).await.text(), "bAQIDBA==");
    assert_eq!(server.seen(&sid).await, Seen::Open);
    assert_eq!(
        server.seen(&sid).await,
        Seen::Message(Message::Binary(Bytes::from_static(&[1, 2, 3, 4])))
    );
}

#[tokio::test]
async fn binary_over_websocket() {
    let server = start_default().await;
    let (mut ws, _sid) = server.ws_session().await;
    ws.send_binary(&[1, 2, 3, 4]).await;
    assert_eq!(ws.binary().await, vec![1, 2, 3, 4]);
    // a `b<base64>` text frame is a binary message too; it comes back as a binary frame
    ws.send_text("bAQIDBA==").await;
    assert_eq!(ws.binary().await, vec![1, 2, 3, 4]);
    ws.send_text("4h\u{e9}llo \u{20ac}").await;
    assert_eq!(ws.text().await, "4h\u{e9}llo \u{20ac}");
}

// ----- errors ------------------------------------------------------------------------

#[tokio::test]
async fn error_codes_and_bodies() {
    let server = start_default().await;
    server
        .get("/engine.io/?EIO=4&transport=carrier-pigeon")
        .await
        .assert_error(400, 0, "Transport unknown");
    server
        .get("/engine.io/?EIO=4")
        .await
        .assert_error(400, 0, "Transport unknown");
    server
        .poll("AAAAAAAAAAAAAAAAAAAA")
        .await
        .assert_error(400, 1, "Session ID unknown");
    server
        .request(
            Method::POST,
            "/engine.io/?EIO=4&transport=polling",
            &[],
            "4x",
        )
        .await
        .assert_error(400, 2, "Bad handshake method");
    server
        .get("/engine.io/?EIO=4&transport=websocket")
        .await
        .assert_error(400, 3, "Bad request");
    server
        .get("/engine.io/?EIO=4&transport=polling&deny")
        .await
        .assert_error(403, 4, "Go away");
    server
        .get("/engine.io/?EIO=3&transport=polling")
        .await
        .assert_error(400, 5, "Unsupported protocol version");
    server.get("/elsewhere/").await.assert_empty(404);
    assert_eq!(server.engine.session_count(), 0);
}

/// A POST over `max_payload` gets 413 with an empty body and ends the session, as
/// engine.io >= 6.6.13 does (6.6.12 kept it; see `RequestError::PayloadTooLarge`).
#[tokio::test]
async fn oversized_post_is_413_and_closes_the_session() {
    let mut server = start(Config {
        max_payload: 1000,
        ..Config::default()
    })
    .await;
    // a body of exactly max_payload bytes is fine
    let sid = server.handshake().await;
    let exact = format!("4{}", "b".repeat(999));
    assert_eq!(server.post(&sid, exact.clone()).await.text(), "ok");
    assert_eq!(server.poll(&sid).await.text(), exact);
    // declared too large (Content-Length)
    server
        .post(&sid, format!("4{}", "a".repeat(1000)))
        .await
        .assert_empty(413);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");

    // found too large while reading (chunked, no Content-Length)
    let sid = server.handshake().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let chunk = "a".repeat(1500);
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n4\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        poll_path(&sid),
        chunk.len()
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    read_response(&mut stream).await.assert_empty(413);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn other_method_with_sid_is_500_and_keeps_the_session() {
    let server = start_default().await;
    let sid = server.handshake().await;
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        server
            .request(method, &poll_path(&sid), &[], "4x")
            .await
            .assert_empty(500);
    }
    assert_eq!(server.post(&sid, "4alive").await.text(), "ok");
    assert_eq!(server.poll(&sid).await.text(), "4alive");
}

#[tokio::test]
async fn octet_stream_post_is_400_and_closes_the_session() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    server
        .request(
            Method::POST,
            &poll_path(&sid),
            &[("content-type", "application/octet-stream")],
            vec![4u8, 1, 2, 3],
        )
        .await
        .assert_empty(400);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn bad_payload_closes_the_session_after_the_good_packets() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    let res = server.post(&sid, format!("4first{RS}abc{RS}4never")).await;
    assert_eq!((res.status, res.text()), (200, "ok"));
    assert_eq!(server.seen(&sid).await, Seen::Open);
    assert_eq!(
        server.seen(&sid).await,
        Seen::Message(Message::Text(Bytes::from_static(b"first")))
    );
    assert_eq!(
        server.seen(&sid).await,
        Seen::Closed(CloseReason::ParseError)
    );
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

// ----- long-polling races --------------------------------------------------------------

#[tokio::test]
async fn duplicate_get_closes_the_session() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    let first = server.spawn_poll(&sid);
    // Give the first GET time to be held; if it still loses the race the roles swap, so
    // the check below does not depend on which GET the session saw first.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = server.spawn_poll(&sid);
    let first = first.await.expect("first GET");
    let second = second.await.expect("second GET");
    let (held, other) = if first.status == 200 {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!((held.status, held.text()), (200, "1"), "held GET");
    other.assert_empty(400);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn dropped_long_poll_closes_the_session() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        poll_path(&sid),
        server.addr
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    drop(stream);
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
    assert_eq!(server.engine.session_count(), 0);
}

// ----- upgrade -----------------------------------------------------------------------

#[tokio::test]
async fn upgrade_from_polling_to_websocket() {
    let mut server = start_default().await;
    let sid = server.handshake().await;
    assert_eq!(server.seen(&sid).await, Seen::Open);
    let pending = server.spawn_poll(&sid);
    let mut ws = server.ws(Some(&sid)).await;
    ws.send_text("2probe").await;
    // no OPEN packet on the probe: its first frame answers the probe
    assert_eq!(ws.text().await, "3probe");
    // the GET held during the upgrade is released with a noop
    let res = pending.await.expect("poll task");
    assert_eq!((res.status, res.text()), (200, "6"));
    // a message posted while upgrading waits for the new transport
    assert_eq!(server.post(&sid, "4during").await.text(), "ok");
    ws.send_text("5").await;
    assert_eq!(ws.text().await, "4during");
    ws.send_text("4sync").await;
    assert_eq!(ws.text().await, "4sync");
    assert_eq!(
        server.seen(&sid).await,
        Seen::Message(Message::Text(Bytes::from_static(b"during")))
    );
    assert_eq!(server.seen(&sid).await, Seen::Upgraded);
    // once upgraded, polling is refused with code 3 and the session lives on
    server.poll(&sid).await.assert_error(400, 3, "Bad request");
    server
        .post(&sid, "4polling")
        .await
        .assert_error(400, 3, "Bad request");
    ws.send_text("4still").await;
    assert_eq!(ws.text().await, "4still");
    // a second WebSocket for the upgraded session is closed at once
    let mut second = server.ws(Some(&sid)).await;
    assert_eq!(second.close_code().await, None);
    ws.send_text("4after").await;
    assert_eq!(ws.text().await, "4after");
}

// ----- heartbeat ---------------------------------------------------------------------

fn fast_heartbeat() -> Config {
    Config {
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(50),
        ..Config::default()
    }
}

#[tokio::test]
async fn polling_ping_timeout() {
    let mut server = start(fast_heartbeat()).await;
    let sid = server.handshake().await;
    // the first ping comes to a held GET; answering it schedules the next one
    assert_eq!(server.poll(&sid).await.text(), "2");
    assert_eq!(server.post(&sid, "3").await.text(), "ok");
    assert_eq!(server.poll(&sid).await.text(), "2");
    // no pong this time
    assert_eq!(server.closed(&sid).await, CloseReason::PingTimeout);
    server
        .poll(&sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn websocket_ping_timeout() {
    let mut server = start(fast_heartbeat()).await;
    let (mut ws, sid) = server.ws_session().await;
    assert_eq!(ws.text().await, "2");
    ws.send_text("3").await;
    assert_eq!(ws.text().await, "2");
    assert_eq!(server.closed(&sid).await, CloseReason::PingTimeout);
    assert_eq!(ws.close_code().await, None);
}

// ----- websocket limits --------------------------------------------------------------

#[tokio::test]
async fn oversized_websocket_message_closes_with_1009() {
    let mut server = start(Config {
        max_payload: 1000,
        ..Config::default()
    })
    .await;
    let (mut ws, sid) = server.ws_session().await;
    // exactly max_payload is accepted
    let exact = format!("4{}", "a".repeat(999));
    ws.send_text(&exact).await;
    assert_eq!(ws.text().await, exact);
    ws.send_text(&format!("4{}", "a".repeat(1000))).await;
    assert_eq!(ws.close_code().await, Some(u16::from(CloseCode::Size)));
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
}

/// RFC 6455 §8.1: a text message that is not UTF-8 fails the WebSocket with 1007, as the
/// reference server (ws) does; it used to be dropped without a close frame.
#[tokio::test]
async fn invalid_utf8_text_frame_closes_with_1007() {
    let mut server = start(Config::default()).await;
    let (mut ws, sid) = server.ws_session().await;
    ws.send_text_bytes(&[b'4', 0xff, 0xfe]).await;
    assert_eq!(ws.close_code().await, Some(u16::from(CloseCode::Invalid)));
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
}

/// RFC 6455 §7.4.1: a frame that breaks the framing rules (here RSV1 set with no
/// extension) fails the WebSocket with 1002, as the reference server (ws) does; the
/// socket used to be dropped without a close frame.
#[tokio::test]
async fn protocol_error_closes_with_1002() {
    let mut server = start(Config::default()).await;
    let (mut ws, sid) = server.ws_session().await;
    // FIN + RSV1 + text, masked, 1 byte "4"
    ws.send_raw(&[0xc1, 0x81, 1, 2, 3, 4, b'4' ^ 1]).await;
    assert_eq!(ws.close_code().await, Some(u16::from(CloseCode::Protocol)));
    assert_eq!(server.closed(&sid).await, CloseReason::TransportError);
}

// ----- regressions (found by fuzzing) ----------------------------------------------------

/// A second GET that reaches the session while a GET is held and the ping is due: the
/// session first runs the due timer (the ping answers the held GET), then holds the new
/// GET. The driver stores the new GET before it applies that answer, so the ping goes to
/// the NEW GET, the held one gets 400 "Session ID unknown", and the session believes a
/// GET is held that the driver no longer has: the next message is lost. The driver now
/// applies the session's transmits before it holds the new GET.
#[tokio::test]
async fn get_arriving_when_a_ping_is_due_does_not_steal_the_held_answer() {
    let server = start(Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_secs(5),
        ..Config::default()
    })
    .await;
    let sid = server.handshake().await;
    // An idle keep-alive connection, so its next request is read as soon as it arrives.
    let mut b = TcpStream::connect(server.addr).await.expect("connect");
    b.write_all(b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    read_response(&mut b).await.assert_empty(404);
    let first = server.spawn_poll(&sid);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let req = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", poll_path(&sid));
    b.write_all(req.as_bytes()).await.expect("write");
    // Block this runtime's only thread past the ping deadline: when it resumes, the I/O
    // of the second GET is handled before the session's timer, so the session sees the
    // second GET with the ping due (a GET racing with a timer, made deterministic).
    std::thread::sleep(Duration::from_millis(400));
    let first = first.await.expect("first GET");
    assert_eq!(
        (first.status, first.text()),
        (200, "2"),
        "the held GET gets the ping"
    );
    assert_eq!(server.post(&sid, "4next").await.text(), "ok");
    let second = read_response(&mut b).await;
    assert_eq!((second.status, second.text()), (200, "4next"));
}
