//! Every limit and timer of the Engine.IO server, with its default and the reason for it.

use std::time::Duration;

/// Which transports the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling (`transport=polling`).
    pub polling: bool,
    /// WebSocket (`transport=websocket`), directly or as an upgrade from polling.
    pub websocket: bool,
}

impl Default for Transports {
    /// Both, as the reference server.
    fn default() -> Self {
        Transports {
            polling: true,
            websocket: true,
        }
    }
}

/// Cross-origin resource sharing for browser clients on other origins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// Allowed origins. Empty: CORS off (no headers; what the reference does by default).
    /// `"*"` allows any origin (answered `Access-Control-Allow-Origin: *`, never with
    /// credentials). Other entries are exact origins such as `https://app.example.com`,
    /// which are reflected with `Access-Control-Allow-Credentials: true`.
    pub origins: Vec<String>,
}

/// Engine.IO server configuration.
///
/// The defaults are the reference server's (`engine.io` 6.6), except the limits the
/// reference leaves unbounded, which are set here to values that keep one bad client from
/// hurting the others.
#[derive(Debug, Clone)]
pub struct Config {
    /// The request path prefix, with the trailing slash (default `/engine.io/`; the
    /// Socket.IO layer uses `/socket.io/`). Matched as a prefix, like the reference.
    pub path: String,
    /// Time between two server pings (default 25 s). The first ping is sent
    /// `ping_interval` after the session opens, the next one `ping_interval` after each pong.
    pub ping_interval: Duration,
    /// How long the client has to answer a ping before the session closes with
    /// "ping timeout" (default 20 s).
    pub ping_timeout: Duration,
    /// How long a probed WebSocket may take to send `5` before the upgrade is abandoned
    /// and the session stays on polling (default 10 s).
    pub upgrade_timeout: Duration,
    /// The largest POST body and WebSocket message accepted, in bytes, advertised to the
    /// client as `maxPayload` (default 1,000,000). Larger POSTs get 413 and end the session
    /// (as engine.io 6.6.13); a larger WebSocket message closes the WebSocket with code 1009.
    pub max_payload: usize,
    /// Offered transports (default both).
    pub transports: Transports,
    /// Whether polling sessions may upgrade to WebSocket (default true).
    pub allow_upgrades: bool,
    /// While upgrading, how often a pending long-poll is released with a noop (default
    /// 100 ms, the reference server's periodic check; never sent instantly on the probe).
    pub upgrade_noop_interval: Duration,
    /// How long a closing polling session waits for a GET to deliver its close packet
    /// (default 30 s, the reference's `closeTimeout`).
    pub close_timeout: Duration,
    /// The most bytes queued for one session that the client has not taken yet (polling
    /// buffer, WebSocket send queue). Past it the session is closed with
    /// [`CloseReason::BufferFull`](crate::CloseReason::BufferFull): a client that stops
    /// reading is disconnected, never buffered without bound (default 8 MiB).
    pub max_buffered_bytes: usize,
    /// Capacity of a WebSocket's read buffer in bytes (default 1 KiB: it is allocated for
    /// every session; the WebSocket library grows it for larger frames; raise it for
    /// workloads of large messages, where bigger reads mean fewer system calls).
    pub ws_read_buffer: usize,
    /// CORS policy (default off).
    pub cors: Cors,
    /// The most open sessions; a handshake past it gets 403 "Too many connections"
    /// (default unlimited: set it in a service, as herald does).
    pub max_sessions: usize,
    /// The most open sessions from one client IP address (default unlimited).
    pub max_sessions_per_ip: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: "/engine.io/".to_string(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            transports: Transports::default(),
            allow_upgrades: true,
            upgrade_noop_interval: Duration::from_millis(100),
            close_timeout: Duration::from_secs(30),
            max_buffered_bytes: 8 * 1024 * 1024,
            ws_read_buffer: 1024,
            cors: Cors::default(),
            max_sessions: usize::MAX,
            max_sessions_per_ip: usize::MAX,
        }
    }
}
