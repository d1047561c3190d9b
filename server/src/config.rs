//! Configuration: a TOML file (`--config FILE`), overridden by `HERALD_*` environment
//! variables, overridden by command-line flags. Unknown keys are errors that name the
//! key. Durations are strings such as `"25s"`, `"100ms"`, `"1h"`.
//!
//! Every key, its default and its meaning is listed in the README ("Configuration").

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// A configuration error, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

/// A duration written as a string (`"25s"`, `"250ms"`, `"2m"`, `"1h"`, `"1d"`) or a
/// bare integer number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

/// Parses `"25s"`, `"250ms"`, `"2m"`, `"1h"`, `"1d"` or `"30"` (seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (write e.g. \"25s\", \"250ms\", \"1h\")"))?;
    let d = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        other => {
            return Err(format!(
                "unknown duration unit {other:?} in {s:?} (use ms, s, m, h or d)"
            ));
        }
    };
    Ok(d)
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(u64),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Dur(Duration::from_secs(n))),
            Raw::S(s) => parse_duration(&s)
                .map(Dur)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            s.serialize_str(&format!("{}s", ms / 1000))
        } else {
            s.serialize_str(&format!("{ms}ms"))
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[engineio]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Server ping period.
    pub ping_interval: Dur,
    /// How long a client has to answer a ping.
    pub ping_timeout: Dur,
    /// Largest message / POST body in bytes.
    pub max_payload: usize,
    /// Offered transports: `polling`, `websocket`.
    pub transports: Vec<String>,
    /// CORS origins for browsers on other origins (`*` or exact origins).
    pub cors_origins: Vec<String>,
}

impl Default for EngineSection {
    fn default() -> Self {
        EngineSection {
            ping_interval: Dur(Duration::from_secs(25)),
            ping_timeout: Dur(Duration::from_secs(20)),
            max_payload: 1_000_000,
            transports: vec!["polling".into(), "websocket".into()],
            cors_origins: Vec::new(),
        }
    }
}

/// `[tls]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSection {
    /// PEM certificate chain file.
    pub cert: Option<PathBuf>,
    /// PEM private key file.
    pub key: Option<PathBuf>,
}

/// `[redis]`: several herald nodes (and Node.js socket.io servers, and the emitters) in
/// one cluster, over the classic `@socket.io/redis-adapter` protocol.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSection {
    /// `redis://[user:password@]host:port/db`; unset: single node, in-memory adapter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The channel prefix, the Node adapter's and emitters' `key` (default `socket.io`).
    pub channel_prefix: String,
    /// Redis unreachable at start: `retry` (default: serve local clients, /readyz 503,
    /// keep retrying) or `fail` (exit with an error after `startup_timeout`).
    pub startup: RedisStartup,
    /// How long `startup = "fail"` waits for Redis (default 10 s).
    pub startup_timeout: Dur,
    /// How long a cluster request (fetch sockets, acks) waits for the other nodes.
    pub request_timeout: Dur,
    /// Larger messages received on the cluster channels are dropped and counted.
    pub max_message_size: usize,
}

impl Default for RedisSection {
    fn default() -> Self {
        RedisSection {
            url: None,
            channel_prefix: "socket.io".into(),
            startup: RedisStartup::Retry,
            startup_timeout: Dur(Duration::from_secs(10)),
            request_timeout: Dur(Duration::from_secs(5)),
            max_message_size: 10_000_000,
        }
    }
}

/// What to do when Redis is unreachable at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RedisStartup {
    /// Start anyway and keep retrying (not ready until subscribed).
    #[default]
    Retry,
    /// Exit with an error.
    Fail,
}

/// `[ops]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsSection {
    /// Address of `/metrics`, `/healthz`, `/readyz` (loopback by default: not public).
    pub listen: SocketAddr,
}

impl Default for OpsSection {
    fn default() -> Self {
        OpsSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Most open connections in total.
    pub max_connections: usize,
    /// Most open connections from one IP address.
    pub max_connections_per_ip: usize,
    /// A connection that joins no namespace this long after opening is closed.
    pub connect_timeout: Dur,
    /// Longest time to read a request's headers.
    pub header_read_timeout: Dur,
    /// Most bytes queued for a client that does not read; past it, it is disconnected.
    pub max_buffered_bytes: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_connections: 100_000,
            max_connections_per_ip: 1_000,
            connect_timeout: Dur(Duration::from_secs(45)),
            header_read_timeout: Dur(Duration::from_secs(10)),
            max_buffered_bytes: 8 * 1024 * 1024,
        }
    }
}

/// `[sites.auth]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// `jwt`, `url`, `token` or `none`.
    pub mode: AuthMode,
    /// jwt: the HMAC secret (HS* algorithms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// jwt: a PEM public key file (RS*/PS*/ES*/EdDSA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PathBuf>,
    /// jwt: accepted algorithms (default `["HS256"]`).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// jwt: required `iss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// jwt: required `aud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// jwt: clock skew allowed on `exp`/`nbf`.
    #[serde(default = "default_leeway")]
    pub leeway: Dur,
    /// url: the endpoint to call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// url: the `Authorization` scheme (default `Bearer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// url: request timeout (default 5 s), waiting for a call slot included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
    /// url: the most calls to the endpoint in flight at once (default 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    /// token: how long a token from `POST /tokens` stays valid (default 60 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ttl: Option<Dur>,
}

fn default_algorithms() -> Vec<String> {
    vec!["HS256".into()]
}

fn default_leeway() -> Dur {
    Dur(Duration::ZERO)
}

/// Authentication modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// A JWT verified with the site's key.
    Jwt,
    /// The site's auth endpoint decides.
    Url,
    /// One-time tokens from `POST /tokens`.
    Token,
    /// Anonymous (development only).
    None,
}

/// `[[sites]]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    /// The site's name (`POST /send?site=NAME`).
    pub name: String,
    /// Its Socket.IO namespace (default `/`).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// API keys accepted by `POST /send` for this site.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// The room every authenticated socket joins (default `allusers`).
    #[serde(default = "default_broadcast_room")]
    pub broadcast_room: String,
    /// Prefix of the per-user room (default empty: the room is the user id).
    #[serde(default)]
    pub user_room_prefix: String,
    /// Origins allowed to connect (empty: any).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Authentication.
    pub auth: AuthSection,
    /// Client room messaging (`JOIN` / `NOTIFY` / `LEAVE` / `CLIENTS`), off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_rooms: bool,
    /// `[sites.client_room_limits]`: the guard rails of client room messaging.
    #[serde(default, skip_serializing_if = "ClientRoomLimits::is_default")]
    pub client_room_limits: ClientRoomLimits,
    /// `[sites.reliable]`: acknowledged delivery to user rooms (off by default).
    #[serde(default, skip_serializing_if = "ReliableSection::is_default")]
    pub reliable: ReliableSection,
}

/// `[sites.client_room_limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientRoomLimits {
    /// Most client rooms one socket may be in at once.
    pub max_rooms: usize,
    /// Largest `message` of a `NOTIFY`, in bytes of JSON.
    pub max_message_bytes: usize,
    /// Longest `name` of a `JOIN`, in bytes.
    pub max_name_bytes: usize,
    /// Longest room name, in bytes.
    pub max_room_bytes: usize,
    /// Sustained client room operations per second and socket.
    pub ops_per_second: u32,
    /// Operations a socket may make at once above the sustained rate.
    pub burst: u32,
}

impl Default for ClientRoomLimits {
    fn default() -> Self {
        ClientRoomLimits {
            max_rooms: 20,
            max_message_bytes: 4096,
            max_name_bytes: 64,
            max_room_bytes: 64,
            ops_per_second: 10,
            burst: 20,
        }
    }
}

impl ClientRoomLimits {
    fn is_default(&self) -> bool {
        *self == ClientRoomLimits::default()
    }
}

/// `[sites.reliable]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReliableSection {
    /// Store user-room messages until acked (default false).
    pub enabled: bool,
    /// Every `POST /send` to user rooms is reliable, not only those with
    /// `"reliable": true` (needs a non-empty `user_room_prefix`).
    pub always: bool,
    /// How long a message waits for a user who stays offline (`"1h"`, or seconds;
    /// 0 = kept until acked). Default 1 h.
    pub client_ttl: Dur,
    /// Most pending messages per user (default 1000); past it the oldest are dropped
    /// and the user's next connection gets `resync`.
    pub max_pending: usize,
    /// Most pending bytes per user (default 1 MiB), same rule.
    pub max_pending_bytes: usize,
    /// How long a delivered message waits for the ack of a connected client before it
    /// is left for the next connection (default 5 min).
    pub ack_timeout: Dur,
    /// Broadcasts of the Redis emitters to user rooms are reliable too (default false;
    /// needs `[redis]`).
    pub emitters: bool,
}

impl Default for ReliableSection {
    fn default() -> Self {
        ReliableSection {
            enabled: false,
            always: false,
            client_ttl: Dur(Duration::from_secs(3600)),
            max_pending: 1000,
            max_pending_bytes: 1 << 20,
            ack_timeout: Dur(Duration::from_secs(300)),
            emitters: false,
        }
    }
}

impl ReliableSection {
    fn is_default(&self) -> bool {
        *self == ReliableSection::default()
    }
}

fn default_namespace() -> String {
    "/".into()
}

fn default_broadcast_room() -> String {
    "allusers".into()
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// Address of the Socket.IO endpoint and the publish API.
    pub listen: SocketAddr,
    /// The Engine.IO path (default `/socket.io/`).
    pub path: String,
    /// Log format.
    pub log_format: LogFormat,
    /// `[engineio]`.
    pub engineio: EngineSection,
    /// `[tls]`.
    pub tls: TlsSection,
    /// `[redis]`.
    pub redis: RedisSection,
    /// `[ops]`.
    pub ops: OpsSection,
    /// `[limits]`.
    pub limits: LimitsSection,
    /// `[[sites]]`.
    pub sites: Vec<SiteSection>,
    /// `--https`: serve TLS with a generated self-signed certificate (development).
    #[serde(skip)]
    pub https: bool,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 3000)),
            path: "/socket.io/".into(),
            log_format: LogFormat::Text,
            engineio: EngineSection::default(),
            tls: TlsSection::default(),
            redis: RedisSection::default(),
            ops: OpsSection::default(),
            limits: LimitsSection::default(),
            sites: Vec::new(),
            https: false,
        }
    }
}

/// Command-line overrides (the highest precedence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--redis-url`.
    pub redis_url: Option<String>,
    /// `--log-format`.
    pub log_format: Option<String>,
    /// `--ops-listen`.
    pub ops_listen: Option<String>,
}

/// Environment variables read, by key path (`listen`, `engineio.ping_interval`, …).
const ENV_KEYS: &[(&str, &str)] = &[
    ("HERALD_LISTEN", "listen"),
    ("HERALD_PATH", "path"),
    ("HERALD_LOG_FORMAT", "log_format"),
    ("HERALD_REDIS_URL", "redis.url"),
    ("HERALD_REDIS_CHANNEL_PREFIX", "redis.channel_prefix"),
    ("HERALD_REDIS_STARTUP", "redis.startup"),
    ("HERALD_OPS_LISTEN", "ops.listen"),
    ("HERALD_TLS_CERT", "tls.cert"),
    ("HERALD_TLS_KEY", "tls.key"),
    ("HERALD_ENGINEIO_PING_INTERVAL", "engineio.ping_interval"),
    ("HERALD_ENGINEIO_PING_TIMEOUT", "engineio.ping_timeout"),
    ("HERALD_ENGINEIO_MAX_PAYLOAD", "engineio.max_payload"),
    ("HERALD_LIMITS_MAX_CONNECTIONS", "limits.max_connections"),
    (
        "HERALD_LIMITS_MAX_CONNECTIONS_PER_IP",
        "limits.max_connections_per_ip",
    ),
    ("HERALD_LIMITS_CONNECT_TIMEOUT", "limits.connect_timeout"),
];

fn set_path(doc: &mut toml::Table, path: &str, value: toml::Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut table = doc;
    for p in parts {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(t) = entry else { return };
        table = t;
    }
    table.insert(last.to_string(), value);
}

/// An environment/flag string as a TOML value: integers stay integers, the rest strings.
fn scalar(s: &str) -> toml::Value {
    match s.parse::<i64>() {
        Ok(n) => toml::Value::Integer(n),
        Err(_) => toml::Value::String(s.to_string()),
    }
}

/// Loads the configuration: `file` (if any) < `env` < `flags`.
pub fn load(
    file_text: Option<&str>,
    env: &BTreeMap<String, String>,
    flags: &Overrides,
) -> Result<FileConfig, ConfigError> {
    let mut doc: toml::Table = match file_text {
        Some(text) => text
            .parse::<toml::Table>()
            .map_err(|e| err(format!("the config file is not valid TOML: {e}")))?,
        None => toml::Table::new(),
    };
    for (var, path) in ENV_KEYS {
        if let Some(v) = env.get(*var) {
            set_path(&mut doc, path, scalar(v));
        }
    }
    for name in env.keys() {
        if name.starts_with("HERALD_")
            && !ENV_KEYS.iter().any(|(v, _)| v == name)
            && name != "HERALD_LOG"
            && name != "HERALD_CONFIG"
        {
            return Err(err(format!(
                "unknown environment variable {name} (known: {}, HERALD_LOG, HERALD_CONFIG)",
                ENV_KEYS
                    .iter()
                    .map(|(v, _)| *v)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let flag_keys = [
        (&flags.listen, "listen"),
        (&flags.redis_url, "redis.url"),
        (&flags.log_format, "log_format"),
        (&flags.ops_listen, "ops.listen"),
    ];
    for (value, path) in flag_keys {
        if let Some(v) = value {
            set_path(&mut doc, path, toml::Value::String(v.clone()));
        }
    }
    let config: FileConfig = toml::Value::Table(doc)
        .try_into()
        .map_err(|e: toml::de::Error| err(format!("invalid configuration: {e}")))?;
    validate(&config)?;
    Ok(config)
}

fn validate(c: &FileConfig) -> Result<(), ConfigError> {
    if !c.path.starts_with('/') || !c.path.ends_with('/') {
        return Err(err(format!(
            "path = {:?}: it must start and end with '/', e.g. \"/socket.io/\"",
            c.path
        )));
    }
    for t in &c.engineio.transports {
        if t != "polling" && t != "websocket" {
            return Err(err(format!(
                "engineio.transports: unknown transport {t:?} (use \"polling\" and/or \"websocket\")"
            )));
        }
    }
    if c.engineio.transports.is_empty() {
        return Err(err(
            "engineio.transports is empty: offer at least one transport",
        ));
    }
    if c.redis.channel_prefix.is_empty() {
        return Err(err(
            "redis.channel_prefix is empty: use the emitters' and Node adapters' key (default \"socket.io\")",
        ));
    }
    if c.tls.cert.is_some() != c.tls.key.is_some() {
        return Err(err("[tls] needs both cert and key"));
    }
    let mut names = std::collections::HashSet::new();
    let mut namespaces = std::collections::HashSet::new();
    for s in &c.sites {
        if !names.insert(&s.name) {
            return Err(err(format!("two sites are named {:?}", s.name)));
        }
        if !s.namespace.starts_with('/') || s.namespace.contains(',') {
            return Err(err(format!(
                "site {:?}: namespace {:?} must start with '/' and contain no ','",
                s.name, s.namespace
            )));
        }
        if !namespaces.insert(&s.namespace) {
            return Err(err(format!(
                "two sites use the namespace {:?}; each site needs its own",
                s.namespace
            )));
        }
        if s.api_keys.iter().any(|k| k.len() < 16) {
            return Err(err(format!(
                "site {:?}: api_keys must be at least 16 characters (use e.g. `openssl rand -hex 24`)",
                s.name
            )));
        }
        if s.auth.mode == AuthMode::Token && s.api_keys.is_empty() {
            return Err(err(format!(
                "site {:?}: auth mode \"token\" needs api_keys (tokens are issued by POST /tokens with an API key)",
                s.name
            )));
        }
        validate_client_rooms(s)?;
        if s.reliable.always && s.user_room_prefix.is_empty() {
            return Err(err(format!(
                "site {:?}: reliable.always needs a user_room_prefix (e.g. \"user:\") to tell user rooms from other rooms",
                s.name
            )));
        }
        if s.reliable.emitters && (!s.reliable.enabled || s.user_room_prefix.is_empty()) {
            return Err(err(format!(
                "site {:?}: reliable.emitters needs reliable.enabled = true and a user_room_prefix (e.g. \"user:\")",
                s.name
            )));
        }
        if s.reliable.enabled && (s.reliable.max_pending == 0 || s.reliable.max_pending_bytes == 0)
        {
            return Err(err(format!(
                "site {:?}: reliable.max_pending and reliable.max_pending_bytes must be at least 1",
                s.name
            )));
        }
        if s.auth.mode == AuthMode::Url && s.auth.url.is_none() {
            return Err(err(format!(
                "site {:?}: auth mode \"url\" needs auth.url",
                s.name
            )));
        }
    }
    Ok(())
}

fn validate_client_rooms(s: &SiteSection) -> Result<(), ConfigError> {
    let l = &s.client_room_limits;
    let site = &s.name;
    for (key, value) in [
        ("max_rooms", l.max_rooms),
        ("max_message_bytes", l.max_message_bytes),
        ("max_name_bytes", l.max_name_bytes),
        ("max_room_bytes", l.max_room_bytes),
        ("ops_per_second", l.ops_per_second as usize),
        ("burst", l.burst as usize),
    ] {
        if value == 0 {
            return Err(err(format!(
                "site {site:?}: client_room_limits.{key} must be at least 1"
            )));
        }
    }
    if !s.client_rooms {
        return Ok(());
    }
    let prefix = crate::client_rooms::ROOM_PREFIX;
    if s.broadcast_room.starts_with(prefix) {
        return Err(err(format!(
            "site {site:?}: broadcast_room {:?} starts with {prefix:?}, the prefix of client rooms; rename it or turn client_rooms off",
            s.broadcast_room
        )));
    }
    if s.user_room_prefix.starts_with(prefix) {
        return Err(err(format!(
            "site {site:?}: user_room_prefix {:?} overlaps {prefix:?}, the prefix of client rooms, so user rooms and client rooms could be the same; pick another prefix",
            s.user_room_prefix
        )));
    }
    Ok(())
}

/// The configuration as TOML with secrets (API keys, JWT secrets, Redis passwords)
/// replaced by `"<redacted>"`, for `herald check-config`.
pub fn redacted_toml(c: &FileConfig) -> String {
    let mut c = c.clone();
    for s in &mut c.sites {
        for k in &mut s.api_keys {
            *k = "<redacted>".into();
        }
        if s.auth.secret.is_some() {
            s.auth.secret = Some("<redacted>".into());
        }
    }
    if let Some(url) = &c.redis.url {
        c.redis.url = Some(redact_url_password(url));
    }
    toml::to_string_pretty(&c).unwrap_or_else(|e| format!("# cannot print the config: {e}\n"))
}

fn redact_url_password(url: &str) -> String {
    // redis://user:password@host → redis://user:<redacted>@host
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
        None => format!("{scheme}://<redacted>@{host}"),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
