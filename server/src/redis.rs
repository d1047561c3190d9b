//! The Redis cluster adapter of herald: `[redis] url` puts every site namespace on the
//! classic `@socket.io/redis-adapter` protocol, so that several herald nodes, Node.js
//! socket.io servers and the official emitters share broadcasts and requests.
//!
//! Redis down at start: with `startup = "retry"` (the default) herald serves its local
//! clients at once, `/readyz` answers 503 `redis not connected` and the connection is
//! retried with backoff; with `startup = "fail"` herald exits with an error if Redis is
//! not reachable within `startup_timeout`. Redis lost while running: the same as retry
//! (reconnect, subscribe every channel again, 503 meanwhile, local clients unaffected).

use std::fmt::Write as _;
use std::sync::Arc;

use socketio::adapter::redis::{RedisOptions, RedisPubSub, redact_url};
use socketio::adapter::{Adapter, ClusterConfig, PubSub};
use tracing::info;

use crate::config::{RedisSection, RedisStartup};

/// The adapter for `[redis]` (the local one without a URL) and the pub/sub, if any.
pub async fn adapter(c: &RedisSection) -> Result<(Adapter, Option<Arc<RedisPubSub>>), String> {
    let Some(url) = &c.url else {
        return Ok((Adapter::Local, None));
    };
    let pubsub = RedisPubSub::start(url, RedisOptions::default()).map_err(|e| e.to_string())?;
    if c.startup == RedisStartup::Fail {
        if !pubsub.wait_ready(c.startup_timeout.0).await {
            return Err(format!(
                "cannot reach Redis at {} within {:?} (redis.startup = \"fail\"); start Redis, fix redis.url, or set redis.startup = \"retry\"",
                redact_url(url),
                c.startup_timeout.0
            ));
        }
    } else {
        info!(redis = %redact_url(url), prefix = %c.channel_prefix, "cluster mode: connecting to Redis (not ready until subscribed)");
    }
    let adapter = Adapter::cluster_with(
        pubsub.clone(),
        ClusterConfig {
            prefix: c.channel_prefix.clone(),
            request_timeout: c.request_timeout.0,
            max_message_size: c.max_message_size,
        },
    );
    Ok((adapter, Some(pubsub)))
}

/// Whether the configured Redis (if any) has every subscription in place.
pub fn ready(pubsub: Option<&Arc<RedisPubSub>>) -> bool {
    pubsub.is_none_or(|p| p.is_ready())
}

/// The Redis metrics, in the Prometheus text format (nothing without Redis).
pub fn render_metrics(out: &mut String, adapter: &Adapter, pubsub: Option<&Arc<RedisPubSub>>) {
    let (Some(p), Some(c)) = (pubsub, adapter.as_cluster()) else {
        return;
    };
    let s = c.stats();
    let _ = write!(
        out,
        "# HELP herald_redis_connected 1 while connected to Redis and subscribed.\n\
         # TYPE herald_redis_connected gauge\n\
         herald_redis_connected {}\n\
         # HELP herald_redis_reconnects_total Redis connections lost and re-established.\n\
         # TYPE herald_redis_reconnects_total counter\n\
         herald_redis_reconnects_total {}\n\
         # HELP herald_redis_dropped_messages_total Cluster messages received and dropped, by reason.\n\
         # TYPE herald_redis_dropped_messages_total counter\n\
         herald_redis_dropped_messages_total{{reason=\"malformed\"}} {}\n\
         herald_redis_dropped_messages_total{{reason=\"oversized\"}} {}\n\
         # HELP herald_redis_publish_dropped_total Publishes lost because Redis was unreachable.\n\
         # TYPE herald_redis_publish_dropped_total counter\n\
         herald_redis_publish_dropped_total {}\n\
         # HELP herald_redis_messages_received_total Messages received on the cluster channels.\n\
         # TYPE herald_redis_messages_received_total counter\n\
         herald_redis_messages_received_total {}\n\
         # HELP herald_redis_messages_published_total Messages published to the cluster.\n\
         # TYPE herald_redis_messages_published_total counter\n\
         herald_redis_messages_published_total {}\n",
        u8::from(p.is_ready()),
        p.reconnects(),
        s.dropped_malformed(),
        s.dropped_oversized(),
        p.publish_dropped(),
        s.received(),
        s.published(),
    );
}
