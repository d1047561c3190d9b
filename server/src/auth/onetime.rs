//! One-time socket tokens (auth mode `token`): a backend asks `POST /tokens` for a
//! short-lived token for a user; the client connects with it; it is burnt on first use.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a one-time token was refused (the client's CONNECT_ERROR message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneTimeError {
    /// Not issued here, or already used.
    Unknown,
    /// Issued, but its time ran out before it was used.
    Expired,
}

impl std::fmt::Display for OneTimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OneTimeError::Unknown => "invalid or already used token",
            OneTimeError::Expired => "token expired",
        })
    }
}

impl std::error::Error for OneTimeError {}

impl OneTimeError {
    /// A stable code for metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            OneTimeError::Unknown => "unknown_token",
            OneTimeError::Expired => "expired",
        }
    }
}

/// The issued, unused tokens of one site.
#[derive(Debug)]
pub struct OneTimeTokens {
    ttl: Duration,
    /// The most unused tokens kept (a backend that issues without end cannot grow memory
    /// without bound: past it the oldest expire first).
    cap: usize,
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl OneTimeTokens {
    /// Tokens valid for `ttl`, at most `cap` outstanding.
    pub fn new(ttl: Duration, cap: usize) -> Self {
        OneTimeTokens {
            ttl,
            cap,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long a token stays valid.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `user` at `now`.
    pub fn issue(&self, user: &str, now: Instant) -> String {
        let token = format!(
            "{}{}",
            engineio::server::random_id(),
            engineio::server::random_id()
        );
        let mut map = self.lock();
        map.retain(|_, (_, at)| now.duration_since(*at) < self.ttl);
        if map.len() >= self.cap
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(token.clone(), (user.to_string(), now));
        token
    }

    /// Burns `token` and returns its user.
    pub fn redeem(&self, token: &str, now: Instant) -> Result<String, OneTimeError> {
        let (user, at) = self.lock().remove(token).ok_or(OneTimeError::Unknown)?;
        if now.duration_since(at) >= self.ttl {
            return Err(OneTimeError::Expired);
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_use_short_lived_bounded() {
        let t0 = Instant::now();
        let store = OneTimeTokens::new(Duration::from_secs(60), 2);
        let a = store.issue("alice", t0);
        assert_eq!(
            store.redeem(&a, t0 + Duration::from_secs(1)),
            Ok("alice".into())
        );
        assert_eq!(
            store.redeem(&a, t0 + Duration::from_secs(2)),
            Err(OneTimeError::Unknown)
        );
        let b = store.issue("bob", t0);
        assert_eq!(
            store.redeem(&b, t0 + Duration::from_secs(60)),
            Err(OneTimeError::Expired)
        );
        assert_eq!(store.redeem("forged", t0), Err(OneTimeError::Unknown));
        let c1 = store.issue("c", t0);
        let _c2 = store.issue("c", t0 + Duration::from_millis(1));
        let _c3 = store.issue("c", t0 + Duration::from_millis(2));
        assert_eq!(
            store.redeem(&c1, t0),
            Err(OneTimeError::Unknown),
            "oldest dropped at the cap"
        );
    }
}
