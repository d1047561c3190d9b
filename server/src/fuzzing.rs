//! Fuzz harnesses (not part of the API): the `fuzz/` targets call these, and
//! `tests/fuzz_corpus.rs` replays the committed corpus through them on stable. Each must
//! never panic on any input except by a failed assertion (which is a bug).

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::api::{MAX_ROOMS, parse_batch, parse_message};
use crate::auth::{JwtConfig, JwtVerifier, extract_token};

/// A `POST /send` or `/send/batch` body: the first byte picks the parser (0 JSON, 1 form,
/// 2 batch), the rest is the body. Checks: parsing is deterministic; an accepted message
/// has a non-empty, non-reserved event and at most `MAX_ROOMS` rooms and except rooms;
/// and it encodes to a Socket.IO EVENT a client decodes back to the same event name.
pub fn send_body(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let parse = |body: &[u8]| match kind % 3 {
        0 => parse_message(body, false).map(|m| vec![m]),
        1 => parse_message(body, true).map(|m| vec![m]),
        _ => parse_batch(body),
    };
    let first = parse(body);
    let second = parse(body);
    match (&first, &second) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Err(a), Err(b)) => assert_eq!((a.status(), a.code()), (b.status(), b.code())),
        _ => panic!("parsing the same body twice gave {first:?} and {second:?}"),
    }
    let Ok(messages) = first else { return };
    let io = socketio::server::Io::new(socketio::server::Config::default());
    let ns = io.of("/");
    let mut sockets = socketio::testing::attach_detached(&ns, 1);
    for m in messages {
        assert!(!m.event.is_empty());
        assert!(
            !socketio::packet::is_reserved_event(&m.event),
            "{:?}",
            m.event
        );
        assert!(m.rooms.len() <= MAX_ROOMS && m.except.len() <= MAX_ROOMS);
        let event = m.event.clone();
        ns.emit(
            &event,
            socketio::server::Payload::from_raw(m.args, Vec::new()),
        );
        let frames = sockets[0].1.drain();
        let Some(engineio::Frame::Text(text)) = frames.first() else {
            panic!("no text frame for {event:?}: {frames:?}");
        };
        let packet = match socketio::codec::decode(text.slice(1..)) {
            Ok(p) => p,
            Err(e) => panic!("/send of {event:?} sent {text:?}, which does not decode: {e}"),
        };
        let name = packet.event_name().map(|n| n.to_key());
        assert_eq!(name.as_deref(), Some(event.as_str()));
    }
    // Leaves the namespace (a socket and its namespace refer to each other).
    for (socket, _) in &sockets {
        socket.disconnect();
    }
}

const SECRET: &str = "a fuzzing secret that is long enough 0123456789";

fn verifiers() -> &'static [(JwtVerifier, &'static str)] {
    static V: OnceLock<Vec<(JwtVerifier, &'static str)>> = OnceLock::new();
    V.get_or_init(|| {
        let pem = |alg: &str, pem: &[u8]| JwtConfig {
            public_key_pem: Some(pem.to_vec()),
            algorithms: vec![alg.into()],
            ..JwtConfig::default()
        };
        let configs = [
            (JwtConfig::hmac(SECRET), "HS256"),
            (
                pem("RS256", include_bytes!("auth/testdata/rsa_public.pem")),
                "RS256",
            ),
            (
                pem("ES256", include_bytes!("auth/testdata/ec256_public.pem")),
                "ES256",
            ),
            (
                pem("EdDSA", include_bytes!("auth/testdata/ed25519_public.pem")),
                "EdDSA",
            ),
        ];
        configs
            .into_iter()
            .map(|(c, alg)| match JwtVerifier::new(&c) {
                Ok(v) => (v, alg),
                Err(e) => panic!("the {alg} fuzzing verifier: {e}"),
            })
            .collect()
    })
}

/// The `alg` of a token's header, read here independently of the verifier.
fn header_alg(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("alg")?.as_str().map(str::to_string)
}

/// JWT handling of untrusted tokens, independent of any one site's config: the input (as
/// lossy UTF-8) is verified by an HS256, an RS256, an ES256 and an EdDSA site, and read
/// by [`extract_token`] from an auth payload, a query and an `Authorization` header.
/// Checks: nothing panics; a token is only ever accepted with its header naming the
/// site's algorithm (never `none`); and a token minted for the input as `sub` verifies
/// back to that user.
pub fn jwt(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for (v, alg) in verifiers() {
        if let Ok(id) = v.verify(&token, now) {
            assert_eq!(
                header_alg(&token).as_deref(),
                Some(*alg),
                "accepted {token:?}"
            );
            assert!(!id.user.is_empty());
        }
    }
    let auth: Option<serde_json::Value> = serde_json::from_slice(data).ok();
    let mut headers = http::HeaderMap::new();
    if let Ok(h) = http::HeaderValue::from_bytes(data) {
        headers.insert(http::header::AUTHORIZATION, h);
    }
    if let Some((found, _)) = extract_token(auth.as_ref(), Some(&token), &headers) {
        assert!(!found.is_empty());
        let _ = verifiers()[0].0.verify(found, now);
    }
    if !token.is_empty() {
        let hs = &verifiers()[0].0;
        let minted = match hs.mint(&token, Duration::from_secs(60), now) {
            Ok(t) => t,
            Err(e) => panic!("minting for sub {token:?}: {e}"),
        };
        match hs.verify(&minted, now) {
            Ok(id) => assert_eq!(id.user, token),
            Err(e) => panic!("a token minted for {token:?} does not verify: {e}"),
        }
    }
}
