//! The Redis glue (feature `redis`): a [`PubSub`] on the `redis` crate over tokio.
//!
//! Two connections, as the Node adapter uses:
//!
//! - a **subscriber** (RESP2 pub/sub connection) holding every SUBSCRIBE and PSUBSCRIBE
//!   of every namespace; its task dispatches each message to the namespace that
//!   subscribed the channel (or pattern);
//! - a **publisher** (multiplexed connection) for PUBLISH (pipelined in order, in
//!   batches) and `PUBSUB NUMSUB`.
//!
//! Both reconnect on their own with exponential backoff (100 ms doubling to 5 s, with
//! jitter). After a reconnection the subscriber subscribes every channel and pattern
//! again before it reports ready.
//!
//! ```text
//!   connecting ──connected, all subscribed──▶ ready ──connection lost──▶ connecting
//!        ▲  └──error: wait backoff──┘                                     │
//!        └────────────────────────────────────────────────────────────────┘
//! ```
//!
//! While not ready, [`PubSub::is_ready`] is false (herald's `/readyz` reports it),
//! publishes are dropped and counted ([`RedisPubSub::publish_dropped`]), requests
//! answer with this node only, and local clients keep working.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{BoxFuture, PubSub, Sink, Subscription, lock};

/// Settings of the Redis connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// First wait before reconnecting (default 100 ms); it doubles up to `reconnect_max`.
    pub reconnect_min: Duration,
    /// Longest wait between reconnection attempts (default 5 s).
    pub reconnect_max: Duration,
    /// Connect timeout, and response timeout of commands (default 5 s).
    pub timeout: Duration,
    /// Most publishes queued for the publisher connection; past it they are dropped and
    /// counted (default 100 000).
    pub publish_queue: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            publish_queue: 100_000,
        }
    }
}

/// A Redis URL that does not parse.
#[derive(Debug)]
pub struct RedisUrlError(String);

impl std::fmt::Display for RedisUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedisUrlError {}

#[derive(Default)]
struct Registry {
    channels: HashMap<String, Sink>,
    patterns: HashMap<String, Sink>,
}

struct Shared {
    /// The URL without its password, for logs.
    name: String,
    registry: Mutex<Registry>,
    subscribed: AtomicBool,
    publisher: Mutex<Option<MultiplexedConnection>>,
    reconnects: AtomicU64,
    publish_dropped: AtomicU64,
    /// Told by the subscriber when its connection dropped: the publisher's is likely
    /// dead too, and would only find out at its next command.
    lost: tokio::sync::Notify,
}

/// The Redis pub/sub. Create it inside a tokio runtime; it connects in the background.
pub struct RedisPubSub {
    shared: Arc<Shared>,
    subscribe_tx: mpsc::UnboundedSender<Subscription>,
    publish_tx: mpsc::Sender<(String, Bytes)>,
}

impl std::fmt::Debug for RedisPubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPubSub")
            .field("url", &self.shared.name)
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

impl RedisPubSub {
    /// Starts the connections to `url` (`redis://[user:password@]host[:port][/db]`).
    /// Fails only when the URL does not parse; an unreachable server is retried in the
    /// background (see [`RedisPubSub::wait_ready`]).
    pub fn start(url: &str, options: RedisOptions) -> Result<Arc<RedisPubSub>, RedisUrlError> {
        let client = redis::Client::open(url).map_err(|e| {
            RedisUrlError(format!(
                "invalid Redis URL {:?}: {e} (write redis://[user:password@]host[:port][/db])",
                redact_url(url)
            ))
        })?;
        let shared = Arc::new(Shared {
            name: redact_url(url),
            registry: Mutex::new(Registry::default()),
            subscribed: AtomicBool::new(false),
            publisher: Mutex::new(None),
            reconnects: AtomicU64::new(0),
            publish_dropped: AtomicU64::new(0),
            lost: tokio::sync::Notify::new(),
        });
        let (subscribe_tx, subscribe_rx) = mpsc::unbounded_channel();
        let (publish_tx, publish_rx) = mpsc::channel(options.publish_queue.max(1));
        tokio::spawn(subscriber(
            client.clone(),
            shared.clone(),
            subscribe_rx,
            options.clone(),
        ));
        tokio::spawn(publisher(client, shared.clone(), publish_rx, options));
        Ok(Arc::new(RedisPubSub {
            shared,
            subscribe_tx,
            publish_tx,
        }))
    }

    /// Waits until ready (connected and subscribed), at most `timeout`; true if ready.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_ready() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// How many times a connection to Redis was lost and re-established.
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }

    /// Publishes dropped because Redis was unreachable or the queue was full.
    pub fn publish_dropped(&self) -> u64 {
        self.shared.publish_dropped.load(Ordering::Relaxed)
    }

    /// The URL, password redacted.
    pub fn url(&self) -> &str {
        &self.shared.name
    }
}

impl PubSub for RedisPubSub {
    fn publish(&self, channel: String, payload: Bytes) {
        if lock(&self.shared.publisher).is_none()
            || self.publish_tx.try_send((channel, payload)).is_err()
        {
            self.shared.publish_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn subscribe(&self, subscription: Subscription, sink: Sink) {
        {
            let mut reg = lock(&self.shared.registry);
            for c in &subscription.channels {
                reg.channels.insert(c.clone(), sink.clone());
            }
            for p in &subscription.patterns {
                reg.patterns.insert(p.clone(), sink.clone());
            }
        }
        let _ = self.subscribe_tx.send(subscription);
    }

    fn numsub(&self, channel: String) -> BoxFuture<Option<usize>> {
        let conn = lock(&self.shared.publisher).clone();
        Box::pin(async move {
            let mut conn = conn?;
            // The reply is a flat array: channel, count.
            let (_, n): (String, usize) = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(&channel)
                .query_async(&mut conn)
                .await
                .ok()?;
            Some(n)
        })
    }

    fn is_ready(&self) -> bool {
        self.shared.subscribed.load(Ordering::Acquire) && lock(&self.shared.publisher).is_some()
    }
}

/// Exponential backoff with jitter.
struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    fn new(o: &RedisOptions) -> Backoff {
        Backoff {
            next: o.reconnect_min,
            min: o.reconnect_min,
            max: o.reconnect_max,
        }
    }

    fn reset(&mut self) {
        self.next = self.min;
    }

    async fn wait(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        // ±25 % so that many nodes do not reconnect in lockstep.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let jitter = f64::from(nanos % 1000) / 1000.0 * 0.5 + 0.75;
        let d = base.mul_f64(jitter);
        tokio::time::sleep(d).await;
        d
    }
}

async fn subscriber(
    client: redis::Client,
    shared: Arc<Shared>,
    mut subscribe_rx: mpsc::UnboundedReceiver<Subscription>,
    options: RedisOptions,
) {
    let mut backoff = Backoff::new(&options);
    let mut ever_connected = false;
    let mut failures = 0u32;
    loop {
        let conn = tokio::time::timeout(options.timeout, client.get_async_pubsub()).await;
        let pubsub = match conn {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                failures += 1;
                if failures == 1 || failures.is_power_of_two() {
                    warn!(redis = %shared.name, error = %e, attempts = failures, "cannot connect to Redis (subscriber); retrying. Check that Redis runs and redis.url is right");
                }
                backoff.wait().await;
                continue;
            }
            Err(_) => {
                failures += 1;
                if failures == 1 || failures.is_power_of_two() {
                    warn!(redis = %shared.name, attempts = failures, "connecting to Redis timed out (subscriber); retrying");
                }
                backoff.wait().await;
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let (channels, patterns): (Vec<String>, Vec<String>) = {
            let reg = lock(&shared.registry);
            (
                reg.channels.keys().cloned().collect(),
                reg.patterns.keys().cloned().collect(),
            )
        };
        let resubscribed = async {
            if !channels.is_empty() {
                sink.subscribe(&channels).await?;
            }
            if !patterns.is_empty() {
                sink.psubscribe(&patterns).await?;
            }
            Ok::<(), redis::RedisError>(())
        };
        if let Err(e) = resubscribed.await {
            warn!(redis = %shared.name, error = %e, "subscribing failed; reconnecting");
            backoff.wait().await;
            continue;
        }
        if ever_connected {
            shared.reconnects.fetch_add(1, Ordering::Relaxed);
            info!(redis = %shared.name, channels = channels.len(), patterns = patterns.len(), "reconnected to Redis and subscribed again");
        } else {
            info!(redis = %shared.name, "connected to Redis");
        }
        ever_connected = true;
        failures = 0;
        backoff.reset();
        shared.subscribed.store(true, Ordering::Release);
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => dispatch(&shared, &msg),
                    None => break,
                },
                sub = subscribe_rx.recv() => {
                    let Some(sub) = sub else { return };
                    let done = async {
                        if !sub.channels.is_empty() {
                            sink.subscribe(&sub.channels).await?;
                        }
                        if !sub.patterns.is_empty() {
                            sink.psubscribe(&sub.patterns).await?;
                        }
                        Ok::<(), redis::RedisError>(())
                    };
                    if let Err(e) = done.await {
                        // The reconnection subscribes it (it is in the registry).
                        debug!(error = %e, "subscribe failed; reconnecting");
                        break;
                    }
                }
            }
        }
        shared.subscribed.store(false, Ordering::Release);
        shared.lost.notify_one();
        warn!(redis = %shared.name, "lost the Redis subscriber connection; reconnecting (cluster messages are missed meanwhile)");
    }
}

fn dispatch(shared: &Shared, msg: &redis::Msg) {
    let channel = msg.get_channel_name();
    let sink = {
        let reg = lock(&shared.registry);
        if msg.from_pattern() {
            msg.get_pattern::<String>()
                .ok()
                .and_then(|p| reg.patterns.get(&p).cloned())
        } else {
            reg.channels.get(channel).cloned()
        }
    };
    if let Some(sink) = sink {
        sink(channel, Bytes::copy_from_slice(msg.get_payload_bytes()));
    }
}

/// An idle publisher connection is checked this often.
const IDLE_PING: Duration = Duration::from_secs(1);

/// Most PUBLISH commands sent in one pipeline.
const BATCH: usize = 256;

async fn publisher(
    client: redis::Client,
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<(String, Bytes)>,
    options: RedisOptions,
) {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(options.timeout))
        .set_response_timeout(Some(options.timeout));
    let mut backoff = Backoff::new(&options);
    let mut failures = 0u32;
    // A batch that failed, to send once more on the next connection.
    let mut retry: Option<Vec<(String, Bytes)>> = None;
    loop {
        let mut conn = match client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_power_of_two() {
                    warn!(redis = %shared.name, error = %e, attempts = failures, "cannot connect to Redis (publisher); retrying");
                }
                if let Some(batch) = retry.take() {
                    shared
                        .publish_dropped
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                backoff.wait().await;
                continue;
            }
        };
        failures = 0;
        backoff.reset();
        *lock(&shared.publisher) = Some(conn.clone());
        loop {
            let is_retry = retry.is_some();
            let batch = match retry.take() {
                Some(b) => b,
                None => {
                    let first = tokio::select! {
                        m = rx.recv() => match m {
                            Some(m) => m,
                            None => return,
                        },
                        _ = shared.lost.notified() => {
                            // Check the connection now rather than at the next publish.
                            if redis::cmd("PING").query_async::<()>(&mut conn).await.is_err() {
                                break;
                            }
                            continue;
                        }
                        _ = tokio::time::sleep(IDLE_PING) => {
                            if redis::cmd("PING").query_async::<()>(&mut conn).await.is_err() {
                                break;
                            }
                            continue;
                        }
                    };
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(m) => batch.push(m),
                            Err(_) => break,
                        }
                    }
                    batch
                }
            };
            let mut pipe = redis::pipe();
            for (channel, payload) in &batch {
                pipe.cmd("PUBLISH")
                    .arg(channel)
                    .arg(payload.as_ref())
                    .ignore();
            }
            if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                if is_retry {
                    shared
                        .publish_dropped
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                } else {
                    // The connection may have died while idle: once more on a new one.
                    debug!(error = %e, n = batch.len(), "publish failed; reconnecting and retrying once");
                    retry = Some(batch);
                }
                break;
            }
        }
        *lock(&shared.publisher) = None;
        warn!(redis = %shared.name, "lost the Redis publisher connection; reconnecting");
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("redis://:hunter2@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("redis://u:p@h"), "redis://u:***@h");
        assert_eq!(redact_url("redis://127.0.0.1"), "redis://127.0.0.1");
    }
}
