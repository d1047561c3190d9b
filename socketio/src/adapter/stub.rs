//! An in-process [`PubSub`] with Redis pub/sub semantics: several nodes (several
//! [`Io`](crate::server::Io)s) in one process, for fast multi-node tests. It carries the
//! same bytes on the same channels as Redis, so the tests run the real protocol.
//!
//! Each subscription is one "connection": it gets its messages on its own task, in
//! publish order, and counts once in [`PubSub::numsub`] for each of its channels, as a
//! Redis connection does. Patterns are Redis globs (`*`, `?`, `[a-z]`, `[^x]`, `\`).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{BoxFuture, PubSub, Sink, Subscription, lock};

struct Subscriber {
    subscription: Subscription,
    tx: mpsc::UnboundedSender<(String, Bytes)>,
    /// Delivery inline when no tokio runtime was there to run a delivery task.
    inline: Option<Sink>,
}

/// The in-process hub. Share one `Arc<InProcessHub>` between the nodes of a test.
#[derive(Default)]
pub struct InProcessHub {
    subscribers: Mutex<Vec<Subscriber>>,
}

impl std::fmt::Debug for InProcessHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessHub")
            .field("subscribers", &lock(&self.subscribers).len())
            .finish()
    }
}

impl InProcessHub {
    /// A hub with no subscribers.
    pub fn new() -> Arc<InProcessHub> {
        Arc::new(InProcessHub::default())
    }

    /// Every message whose channel matches `pattern`, from now on (a `PSUBSCRIBE`
    /// tap: it does not count in [`PubSub::numsub`]).
    pub fn tap(&self, pattern: &str) -> mpsc::UnboundedReceiver<(String, Bytes)> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.subscribers).push(Subscriber {
            subscription: Subscription {
                channels: Vec::new(),
                patterns: vec![pattern.to_string()],
            },
            tx,
            inline: None,
        });
        rx
    }
}

impl PubSub for InProcessHub {
    fn publish(&self, channel: String, payload: Bytes) {
        let mut subs = lock(&self.subscribers);
        subs.retain(|s| !s.tx.is_closed() || s.inline.is_some());
        for s in subs.iter() {
            let exact = s.subscription.channels.iter().filter(|c| **c == channel);
            let patterns = s
                .subscription
                .patterns
                .iter()
                .filter(|p| glob_match(p.as_bytes(), channel.as_bytes()));
            for _ in exact.chain(patterns) {
                match &s.inline {
                    Some(sink) => sink(&channel, payload.clone()),
                    None => {
                        let _ = s.tx.send((channel.clone(), payload.clone()));
                    }
                }
            }
        }
    }

    fn subscribe(&self, subscription: Subscription, sink: Sink) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, Bytes)>();
        let inline = match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let sink = sink.clone();
                rt.spawn(async move {
                    while let Some((channel, payload)) = rx.recv().await {
                        sink(&channel, payload);
                    }
                });
                None
            }
            Err(_) => Some(sink),
        };
        lock(&self.subscribers).push(Subscriber {
            subscription,
            tx,
            inline,
        });
    }

    fn numsub(&self, channel: String) -> BoxFuture<Option<usize>> {
        let n = lock(&self.subscribers)
            .iter()
            .filter(|s| !s.tx.is_closed() || s.inline.is_some())
            .filter(|s| s.subscription.channels.contains(&channel))
            .count();
        Box::pin(async move { Some(n) })
    }
}

/// Redis's glob (`stringmatchlen`): `*`, `?`, `[...]` with ranges and `^`, `\` escapes.
pub(crate) fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, string index).
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some((p + 1, i));
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(pattern, p, s[i])
                        && matched
                    {
                        p = next;
                        i += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == s[i] => {
                    p += 2;
                    i += 1;
                    continue;
                }
                b'\\' if p + 1 < pattern.len() => {}
                c if c == s[i] => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// A `[...]` class at `pattern[p]`: whether `c` matches, and the index after `]`.
fn class(pattern: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = pattern.get(j) == Some(&b'^');
    if negate {
        j += 1;
    }
    let mut matched = false;
    loop {
        let &x = pattern.get(j)?;
        match x {
            b']' => break,
            b'\\' => {
                if pattern.get(j + 1) == Some(&c) {
                    matched = true;
                }
                j += 2;
            }
            _ if pattern.get(j + 1) == Some(&b'-')
                && pattern.get(j + 2).is_some_and(|&e| e != b']') =>
            {
                let (lo, hi) = (x.min(pattern[j + 2]), x.max(pattern[j + 2]));
                if (lo..=hi).contains(&c) {
                    matched = true;
                }
                j += 3;
            }
            _ => {
                if x == c {
                    matched = true;
                }
                j += 1;
            }
        }
    }
    Some((matched != negate, j + 1))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_as_redis() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes());
        assert!(m("socket.io#/#*", "socket.io#/#"));
        assert!(m("socket.io#/#*", "socket.io#/#room1#"));
        assert!(!m("socket.io#/#*", "socket.io#/admin#"));
        assert!(!m("socket.io#/#*", "socket.io-request#/#"));
        assert!(m("*", ""));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[^a-c]x", "bx"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(!m("[abc", "a"));
    }
}
