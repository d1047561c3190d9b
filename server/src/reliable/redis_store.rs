//! The Redis-backed reliable store: the same rules as [`MemoryStore`](super::store),
//! shared by every herald node and kept across restarts. Each operation is one Lua
//! script, so it is atomic even with several nodes acking and pushing at once.
//!
//! Keys, for site S and user U under the prefix P (default `herald:reliable`):
//! `P:S:seq` (the last id), `P:S:u:U:q` (sorted set of pending ids), `P:S:u:U:m` (hash
//! id → message JSON), `P:S:u:U:b` (pending bytes), `P:S:u:U:r` (resync flag). A user's
//! keys expire `client_ttl` after its last message, so abandoned users cost nothing.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};

use super::store::{Acked, Limits, MessageId, Stored};

/// A Redis error, with what failed.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reliable store (Redis): {}", self.0)
    }
}

impl std::error::Error for StoreError {}

fn err(what: &str) -> impl Fn(redis::RedisError) -> StoreError + '_ {
    move |e| StoreError(format!("{what}: {e}"))
}

/// A message as stored in Redis.
#[derive(Debug, Serialize, Deserialize)]
struct Body {
    /// Event name.
    e: String,
    /// Arguments (a comma-separated JSON list).
    a: String,
    /// Resync flag (0/1).
    r: u8,
    /// Expiry, ms since the epoch (0: none).
    x: u64,
    /// Size counted against the byte cap.
    s: usize,
}

const NEXT_ID: &str = r"
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local id = math.max(last + 1, tonumber(ARGV[1]) * 1000)
local text = string.format('%.0f', id)
redis.call('SET', KEYS[1], text)
return text
";

// KEYS: seq claim; ARGV: now_ms claim_ttl_ms. A new id, or false when the claim is taken.
const CLAIM_ID: &str = r"
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return false end
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local id = math.max(last + 1, tonumber(ARGV[1]) * 1000)
local text = string.format('%.0f', id)
redis.call('SET', KEYS[1], text)
return text
";

// KEYS: q m b r; ARGV: id body size max_pending max_bytes ttl_ms
const PUSH: &str = r"
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local bytes = redis.call('INCRBY', KEYS[3], ARGV[3])
local maxp = tonumber(ARGV[4])
local maxb = tonumber(ARGV[5])
local dropped = 0
while true do
  local n = redis.call('ZCARD', KEYS[1])
  if n == 0 or (n <= maxp and bytes <= maxb) then break end
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  local body = redis.call('HGET', KEYS[2], oldest)
  local size = 0
  if body then size = cjson.decode(body).s end
  redis.call('ZREM', KEYS[1], oldest)
  redis.call('HDEL', KEYS[2], oldest)
  bytes = redis.call('DECRBY', KEYS[3], size)
  dropped = dropped + 1
end
if dropped > 0 then redis.call('SET', KEYS[4], '1') end
local ttl = tonumber(ARGV[6])
for i = 1, 4 do
  if ttl > 0 then
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ttl) end
  else
    redis.call('PERSIST', KEYS[i])
  end
end
return dropped
";

// KEYS: q m b; ARGV: now_ms. Returns id, body, id, body, … oldest first.
const PENDING: &str = r"
local now = tonumber(ARGV[1])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local body = redis.call('HGET', KEYS[2], id)
  if not body then
    redis.call('ZREM', KEYS[1], id)
  else
    local m = cjson.decode(body)
    if m.x > 0 and m.x <= now then
      redis.call('ZREM', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      redis.call('DECRBY', KEYS[3], m.s)
    else
      table.insert(out, id)
      table.insert(out, body)
    end
  end
end
return out
";

// KEYS: q m b; ARGV: id now_ms. Returns {0,0} unknown, {1,0} removed, {2,n} resync.
const ACK: &str = r"
local now = tonumber(ARGV[2])
local body = redis.call('HGET', KEYS[2], ARGV[1])
if not body then return {0, 0} end
local m = cjson.decode(body)
local function drop(id, size)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('DECRBY', KEYS[3], size)
end
if m.x > 0 and m.x <= now then
  drop(ARGV[1], m.s)
  return {0, 0}
end
if m.r == 1 then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])) do
    local ob = redis.call('HGET', KEYS[2], id)
    if ob then
      local o = cjson.decode(ob)
      if o.e == m.e and not (o.x > 0 and o.x <= now) then
        local n = redis.call('ZCARD', KEYS[1])
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
        return {2, n}
      end
    end
  end
end
drop(ARGV[1], m.s)
return {1, 0}
";

// KEYS: q m b; ARGV: ids. Returns how many were pending.
const ACK_ALL: &str = r"
local n = 0
for _, id in ipairs(ARGV) do
  local body = redis.call('HGET', KEYS[2], id)
  if body then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('DECRBY', KEYS[3], cjson.decode(body).s)
    n = n + 1
  end
end
return n
";

const TAKE_RESYNC: &str = r"
local v = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
if v then return 1 else return 0 end
";

static NEXT_ID_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(NEXT_ID));
static CLAIM_ID_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CLAIM_ID));
static PUSH_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PUSH));
static PENDING_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PENDING));
static ACK_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACK));
static ACK_ALL_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACK_ALL));
static TAKE_RESYNC_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE_RESYNC));

/// The Redis store of one site.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    limits: Limits,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for site `site` on the Redis at `url`, keys under `key_prefix`. It
    /// connects lazily and reconnects by itself; operations fail (the caller answers
    /// 503) while Redis is unreachable.
    pub fn new(
        url: &str,
        key_prefix: &str,
        site: &str,
        limits: Limits,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(err("bad redis url"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(err("cannot set up the connection"))?;
        Ok(RedisStore {
            conn,
            prefix: format!("{key_prefix}:{site}"),
            limits,
        })
    }

    fn user_keys(&self, user: &str) -> [String; 4] {
        let base = format!("{}:u:{user}", self.prefix);
        ["q", "m", "b", "r"].map(|k| format!("{base}:{k}"))
    }

    /// A new id, increasing across nodes and restarts.
    pub async fn new_id(&self, now: u64) -> Result<MessageId, StoreError> {
        let text: String = NEXT_ID_SCRIPT
            .key(format!("{}:seq", self.prefix))
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err("new id"))?;
        text.parse()
            .map_err(|_| StoreError(format!("new id: not a number: {text:?}")))
    }

    /// A new id as [`RedisStore::new_id`], only for the first node to claim `claim`
    /// (kept `claim_ttl`): `None` when another node already did.
    pub async fn claim_id(
        &self,
        now: u64,
        claim: &str,
        claim_ttl: Duration,
    ) -> Result<Option<MessageId>, StoreError> {
        let text: Option<String> = CLAIM_ID_SCRIPT
            .key(format!("{}:seq", self.prefix))
            .key(format!("{}:claim:{claim}", self.prefix))
            .arg(now)
            .arg(u64::try_from(claim_ttl.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err("claim"))?;
        text.map(|t| {
            t.parse()
                .map_err(|_| StoreError(format!("claim: not a number: {t:?}")))
        })
        .transpose()
    }

    /// Stores a message for `user` under `id`; how many old messages were dropped.
    pub async fn push(
        &self,
        user: &str,
        id: MessageId,
        event: &str,
        args: &str,
        resync: bool,
        now: u64,
    ) -> Result<usize, StoreError> {
        let ttl_ms = self
            .limits
            .ttl
            .map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        let body = Body {
            e: event.to_string(),
            a: args.to_string(),
            r: u8::from(resync),
            x: if ttl_ms == 0 {
                0
            } else {
                now.saturating_add(ttl_ms)
            },
            s: event.len() + args.len(),
        };
        let text = serde_json::to_string(&body).map_err(|e| StoreError(e.to_string()))?;
        let keys = self.user_keys(user);
        PUSH_SCRIPT
            .key(&keys[0])
            .key(&keys[1])
            .key(&keys[2])
            .key(&keys[3])
            .arg(id)
            .arg(text)
            .arg(body.s)
            .arg(self.limits.max_pending)
            .arg(self.limits.max_pending_bytes)
            .arg(ttl_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err("push"))
    }

    /// Everything pending for `user`, oldest first.
    pub async fn pending(&self, user: &str, now: u64) -> Result<Vec<Stored>, StoreError> {
        let keys = self.user_keys(user);
        let flat: Vec<String> = PENDING_SCRIPT
            .key(&keys[0])
            .key(&keys[1])
            .key(&keys[2])
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err("pending"))?;
        let mut out = Vec::with_capacity(flat.len() / 2);
        for pair in flat.chunks(2) {
            let [id, body] = pair else { break };
            let (Ok(id), Ok(b)) = (id.parse(), serde_json::from_str::<Body>(body)) else {
                tracing::warn!("a reliable message in Redis is not ours (bad id or body); skipped");
                continue;
            };
            out.push(Stored {
                id,
                event: b.e,
                args: b.a,
                resync: b.r == 1,
                expires_at: (b.x > 0).then_some(b.x),
            });
        }
        Ok(out)
    }

    /// Takes the user's resync flag.
    pub async fn take_resync(&self, user: &str) -> Result<bool, StoreError> {
        let keys = self.user_keys(user);
        let v: i64 = TAKE_RESYNC_SCRIPT
            .key(&keys[3])
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err("resync flag"))?;
        Ok(v == 1)
    }

    /// The user acknowledged `id`.
    pub async fn ack(&self, user: &str, id: MessageId, now: u64) -> Result<Acked, StoreError> {
        let keys = self.user_keys(user);
        let (code, n): (i64, usize) = ACK_SCRIPT
            .key(&keys[0])
            .key(&keys[1])
            .key(&keys[2])
            .arg(id)
            .arg(now)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(err("ack"))?;
        Ok(match code {
            1 => Acked::Removed,
            2 => Acked::Resync { cleared: n },
            _ => Acked::Unknown,
        })
    }

    /// The user acknowledged a batch.
    pub async fn ack_all(&self, user: &str, ids: &[MessageId]) -> Result<usize, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let keys = self.user_keys(user);
        let mut inv = ACK_ALL_SCRIPT.prepare_invoke();
        inv.key(&keys[0]).key(&keys[1]).key(&keys[2]);
        for id in ids {
            inv.arg(*id);
        }
        inv.invoke_async(&mut self.conn.clone())
            .await
            .map_err(err("batch ack"))
    }

    /// Pings Redis (tests, readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self.conn.clone().ping().await.map_err(err("ping"))?;
        Ok(())
    }
}
