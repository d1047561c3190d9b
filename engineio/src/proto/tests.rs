//! Scenario tests of the session state machine on a virtual clock.

use super::*;

fn config() -> Config {
    Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..Config::default()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn polling(t0: Instant) -> Session {
    Session::new(t0, &config(), TransportKind::Polling)
}

fn transmits(s: &mut Session) -> Vec<Transmit> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn resp(b: &'static [u8]) -> Transmit {
    Transmit::PollResponse(Bytes::from_static(b))
}

fn text(kind: PacketType, data: &'static [u8]) -> Packet {
    Packet::Text(kind, Bytes::from_static(data))
}

/// Opens a probe WebSocket and answers `2probe`.
fn probe(s: &mut Session, now: Instant) {
    assert!(s.handle_probe_open(now));
    s.handle_probe_packet(now, text(PacketType::Ping, b"probe"));
    assert_eq!(
        transmits(s),
        vec![Transmit::ProbeFrame(Frame::Text(Bytes::from_static(
            b"3probe"
        )))]
    );
}

#[test]
fn get_is_held_until_data_and_flushes_everything_in_one_payload() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.handle_get(t0), GetOutcome::Held);
    s.send(Frame::message("a"));
    assert_eq!(transmits(&mut s), vec![resp(b"4a")]);
    s.send(Frame::message("b"));
    s.send(Frame::binary(vec![1u8, 2, 3, 4]));
    assert_eq!(
        s.handle_get(t0),
        GetOutcome::Reply(Bytes::from_static(b"4b\x1ebAQIDBA=="))
    );
}

#[test]
fn second_get_while_one_is_held_closes_the_session() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.handle_get(t0), GetOutcome::Held);
    assert_eq!(
        s.handle_get(t0 + ms(5)),
        GetOutcome::Reject(RequestError::Overlap)
    );
    assert_eq!(transmits(&mut s), vec![resp(b"1")]);
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::TransportError)]
    );
    assert!(s.is_closed());
    assert_eq!(
        s.handle_get(t0 + ms(6)),
        GetOutcome::Reject(RequestError::UnknownSid)
    );
}

#[test]
fn dropped_long_poll_closes_the_session() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.handle_get(t0), GetOutcome::Held);
    s.handle_get_dropped(t0 + ms(5));
    assert!(s.is_closed());
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::TransportError)]
    );
    assert_eq!(transmits(&mut s), vec![]);
}

#[test]
fn post_of_close_releases_the_held_get_with_a_noop() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.handle_get(t0), GetOutcome::Held);
    s.handle_post_begin(t0).unwrap();
    s.handle_post(t0, Bytes::from_static(b"1"));
    assert_eq!(transmits(&mut s), vec![resp(b"6")]);
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::TransportClose)]
    );
    assert_eq!(
        s.handle_get(t0),
        GetOutcome::Reject(RequestError::UnknownSid)
    );
}

#[test]
fn post_messages_become_events_in_order() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_post_begin(t0).unwrap();
    s.handle_post(t0, Bytes::from_static(b"4test1\x1e4test2\x1ebAQIDBA=="));
    assert_eq!(
        events(&mut s),
        vec![
            Event::Message(Message::Text(Bytes::from_static(b"test1"))),
            Event::Message(Message::Text(Bytes::from_static(b"test2"))),
            Event::Message(Message::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
        ]
    );
}

#[test]
fn bad_payload_processes_what_came_before_then_closes() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_post_begin(t0).unwrap();
    s.handle_post(t0, Bytes::from_static(b"4ok\x1eabc"));
    assert_eq!(
        events(&mut s),
        vec![
            Event::Message(Message::Text(Bytes::from_static(b"ok"))),
            Event::Closed(CloseReason::ParseError)
        ]
    );
}

#[test]
fn overlapping_posts_close_the_session() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_post_begin(t0).unwrap();
    assert_eq!(s.handle_post_begin(t0), Err(RequestError::Overlap));
    assert!(s.is_closed());
}

#[test]
fn fatal_post_failure_closes_the_session() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_post_begin(t0).unwrap();
    s.handle_post_failed(t0, true);
    assert!(s.is_closed());
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::TransportError)]
    );
}

#[test]
fn non_fatal_post_failure_keeps_the_session() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_post_begin(t0).unwrap();
    s.handle_post_failed(t0, false);
    assert!(!s.is_closed());
    s.handle_post_begin(t0).unwrap();
    s.handle_post(t0, Bytes::from_static(b"4x"));
    assert_eq!(events(&mut s).len(), 1);
}

#[test]
fn heartbeat_pings_after_interval_and_next_ping_follows_the_pong() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(300)));
    s.handle_timeout(t0 + ms(300));
    assert_eq!(
        s.handle_get(t0 + ms(301)),
        GetOutcome::Reply(Bytes::from("2"))
    );
    assert_eq!(s.poll_timeout(), Some(t0 + ms(500)));
    s.handle_post_begin(t0 + ms(350)).unwrap();
    s.handle_post(t0 + ms(350), Bytes::from_static(b"3"));
    assert_eq!(s.poll_timeout(), Some(t0 + ms(650)));
    s.handle_timeout(t0 + ms(649));
    assert_eq!(s.handle_get(t0 + ms(649)), GetOutcome::Held);
    s.handle_timeout(t0 + ms(650));
    assert_eq!(transmits(&mut s), vec![resp(b"2")]);
}

#[test]
fn ping_timeout_closes_even_when_the_timer_is_late() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_timeout(t0 + ms(300)); // ping buffered, no GET pending
    // The timer for the pong deadline did not fire; a GET arrives after it.
    assert_eq!(
        s.handle_get(t0 + ms(505)),
        GetOutcome::Reject(RequestError::UnknownSid)
    );
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::PingTimeout)]
    );
}

#[test]
fn ping_timeout_releases_a_held_get_with_close() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_timeout(t0 + ms(300));
    assert_eq!(
        s.handle_get(t0 + ms(301)),
        GetOutcome::Reply(Bytes::from("2"))
    );
    assert_eq!(s.handle_get(t0 + ms(302)), GetOutcome::Held);
    s.handle_timeout(t0 + ms(500));
    assert_eq!(transmits(&mut s), vec![resp(b"1")]);
    assert!(s.is_closed());
}

#[test]
fn pong_before_the_first_ping_is_harmless() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_post_begin(t0).unwrap();
    s.handle_post(t0 + ms(10), Bytes::from_static(b"3"));
    assert!(!s.is_closed());
    assert_eq!(s.poll_timeout(), Some(t0 + ms(300)));
}

#[test]
fn client_ping_closes_the_session() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_post_begin(t0).unwrap();
    s.handle_post(t0, Bytes::from_static(b"2"));
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::TransportError)]
    );
}

#[test]
fn upgrade_probe_noop_then_upgrade() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.handle_get(t0), GetOutcome::Held);
    probe(&mut s, t0 + ms(10));
    // The noop comes from the periodic check, not instantly on the probe.
    assert_eq!(s.poll_timeout(), Some(t0 + ms(110)));
    s.handle_timeout(t0 + ms(110));
    assert_eq!(transmits(&mut s), vec![resp(b"6")]);
    s.send(Frame::message("queued during upgrade"));
    s.handle_probe_packet(t0 + ms(120), text(PacketType::Upgrade, b""));
    assert_eq!(
        transmits(&mut s),
        vec![
            Transmit::PromoteProbe,
            Transmit::WsFrame(Frame::message("queued during upgrade"))
        ]
    );
    assert_eq!(events(&mut s), vec![Event::Upgraded]);
    assert_eq!(s.transport(), TransportKind::WebSocket);
    s.send(Frame::message("after"));
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::WsFrame(Frame::message("after"))]
    );
}

#[test]
fn get_during_upgrade_is_released_by_the_next_noop_tick() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    probe(&mut s, t0);
    assert_eq!(s.handle_get(t0 + ms(50)), GetOutcome::Held);
    s.handle_timeout(t0 + ms(100));
    assert_eq!(transmits(&mut s), vec![resp(b"6")]);
    // The next tick is 100 ms later; a GET in between waits for it.
    assert_eq!(s.handle_get(t0 + ms(120)), GetOutcome::Held);
    s.handle_timeout(t0 + ms(200));
    assert_eq!(transmits(&mut s), vec![resp(b"6")]);
}

#[test]
fn get_racing_with_upgrade_gets_bad_request_not_noop() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    probe(&mut s, t0);
    assert_eq!(s.handle_get(t0 + ms(20)), GetOutcome::Held);
    s.handle_probe_packet(t0 + ms(21), text(PacketType::Upgrade, b""));
    assert_eq!(
        transmits(&mut s),
        vec![
            Transmit::PromoteProbe,
            Transmit::PollError(RequestError::BadRequest)
        ]
    );
    assert_eq!(
        s.handle_get(t0 + ms(22)),
        GetOutcome::Reject(RequestError::BadRequest)
    );
    assert_eq!(
        s.handle_post_begin(t0 + ms(22)),
        Err(RequestError::BadRequest)
    );
}

#[test]
fn second_websocket_while_upgrading_or_upgraded_is_refused() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    probe(&mut s, t0);
    assert!(!s.handle_probe_open(t0));
    s.handle_probe_packet(t0, text(PacketType::Upgrade, b""));
    assert!(!s.handle_probe_open(t0));
}

#[test]
fn upgrade_without_probe_is_accepted() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert!(s.handle_probe_open(t0));
    s.handle_probe_packet(t0, text(PacketType::Upgrade, b""));
    assert_eq!(s.transport(), TransportKind::WebSocket);
}

#[test]
fn other_packet_on_the_probe_closes_it_and_polling_goes_on() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert!(s.handle_probe_open(t0));
    s.handle_probe_packet(t0, text(PacketType::Message, b"x"));
    assert_eq!(transmits(&mut s), vec![Transmit::CloseProbe]);
    assert_eq!(s.transport(), TransportKind::Polling);
    assert_eq!(s.handle_get(t0), GetOutcome::Held);
    // and a new upgrade attempt is possible
    assert!(s.handle_probe_open(t0));
}

#[test]
fn upgrade_timeout_closes_the_probe() {
    let t0 = Instant::now();
    let mut s = Session::new(
        t0,
        &Config {
            ping_interval: Duration::from_secs(60),
            ..config()
        },
        TransportKind::Polling,
    );
    probe(&mut s, t0);
    s.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(transmits(&mut s), vec![Transmit::CloseProbe]);
    assert!(!s.is_closed());
    assert_eq!(s.transport(), TransportKind::Polling);
}

#[test]
fn websocket_heartbeat_and_close() {
    let t0 = Instant::now();
    let mut s = Session::new(t0, &config(), TransportKind::WebSocket);
    s.handle_timeout(t0 + ms(300));
    assert_eq!(
        transmits(&mut s),
        vec![Transmit::WsFrame(Frame::Text(Bytes::from_static(b"2")))]
    );
    s.handle_ws_packet(t0 + ms(310), text(PacketType::Pong, b""));
    s.handle_ws_packet(t0 + ms(320), text(PacketType::Message, b"hi"));
    assert_eq!(
        events(&mut s),
        vec![Event::Message(Message::Text(Bytes::from_static(b"hi")))]
    );
    s.handle_ws_packet(t0 + ms(330), text(PacketType::Close, b""));
    assert_eq!(transmits(&mut s), vec![Transmit::CloseWs]);
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::TransportClose)]
    );
}

#[test]
fn websocket_ping_timeout() {
    let t0 = Instant::now();
    let mut s = Session::new(t0, &config(), TransportKind::WebSocket);
    s.handle_timeout(t0 + ms(300));
    transmits(&mut s);
    s.handle_timeout(t0 + ms(500));
    assert_eq!(transmits(&mut s), vec![Transmit::CloseWs]);
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::PingTimeout)]
    );
}

#[test]
fn server_close_on_polling_waits_for_the_next_get() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.send(Frame::message("bye"));
    s.close(t0, CloseReason::ForcedClose);
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::ForcedClose)]
    );
    assert!(!s.is_closed());
    s.send(Frame::message("dropped"));
    assert_eq!(
        s.handle_get(t0 + ms(5)),
        GetOutcome::Reply(Bytes::from_static(b"4bye\x1e1"))
    );
    assert!(s.is_closed());
}

#[test]
fn server_close_with_a_held_get_answers_it_with_close() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.handle_get(t0), GetOutcome::Held);
    s.close(t0, CloseReason::ServerShutdown);
    assert_eq!(transmits(&mut s), vec![resp(b"1")]);
    assert!(s.is_closed());
}

#[test]
fn closing_session_gives_up_after_close_timeout() {
    let t0 = Instant::now();
    let mut s = Session::new(
        t0,
        &Config {
            close_timeout: ms(1000),
            ..config()
        },
        TransportKind::Polling,
    );
    s.close(t0, CloseReason::ForcedClose);
    assert_eq!(s.poll_timeout(), Some(t0 + ms(1000)));
    s.handle_timeout(t0 + ms(1000));
    assert!(s.is_closed());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn polling_buffer_cap_closes_a_client_that_does_not_read() {
    let t0 = Instant::now();
    let mut s = Session::new(
        t0,
        &Config {
            max_buffered_bytes: 10,
            ..config()
        },
        TransportKind::Polling,
    );
    s.send(Frame::message("12345"));
    assert!(!s.is_closed());
    s.send(Frame::message("123456"));
    assert_eq!(events(&mut s), vec![Event::Closed(CloseReason::BufferFull)]);
}

#[test]
fn fuzz_harness_smoke() {
    fuzzing::session_ops(&[1, 0, 4, 0, 5, 0, 0, 30, 10, 0, 6, 0, 3, 0, 8, 0]);
    fuzzing::session_ops(&[1, 0, 1, 0, 2, 2, 9, 0, 11, 1]);
}

#[test]
fn get_while_held_with_the_ping_due_answers_the_held_get_first() {
    // Found by fuzzing: fuzz/regressions/eio_session_ops/get-while-held-as-ping-is-due.
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.handle_get(t0), GetOutcome::Held);
    // A second GET arrives after the ping was due but before the timer ran: the timer runs
    // first and its ping answers the held GET, then the new GET is held (no overlap).
    assert_eq!(s.handle_get(t0 + ms(1008)), GetOutcome::Held);
    // This answer belongs to the FIRST GET: the driver applies it before holding the new one.
    assert_eq!(transmits(&mut s), vec![resp(b"2")]);
    s.send(Frame::message("hello"));
    assert_eq!(transmits(&mut s), vec![resp(b"4hello")]);
    assert!(!s.is_closed());
    assert!(events(&mut s).is_empty());
}
