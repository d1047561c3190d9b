//! Prometheus metrics, in the text exposition format, with low-cardinality labels only
//! (site, status, reason — never a room or a user).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters and gauges of one herald process.
#[derive(Debug, Default)]
pub struct Metrics {
    connects: Mutex<BTreeMap<(String, &'static str), u64>>,
    auth_failures: Mutex<BTreeMap<(String, &'static str), u64>>,
    connections: Mutex<BTreeMap<String, i64>>,
    disconnects: Mutex<BTreeMap<(String, &'static str), u64>>,
    send_requests: Mutex<BTreeMap<u16, u64>>,
    messages_sent: Mutex<BTreeMap<String, u64>>,
    sessions: AtomicU64,
    live: Mutex<Live>,
}

/// Values read from the running server just before a scrape.
#[derive(Debug, Default, Clone)]
pub struct Live {
    /// Open Engine.IO sessions by transport.
    pub sessions: engineio::TransportCounts,
    /// Per site: its name, its sockets by transport, the events its clients sent.
    pub sites: Vec<(String, engineio::TransportCounts, u64)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// A CONNECT to a site was accepted (`ok`) or refused (`refused`).
    pub fn connect(&self, site: &str, accepted: bool) {
        let result = if accepted { "ok" } else { "refused" };
        *lock(&self.connects)
            .entry((site.to_string(), result))
            .or_default() += 1;
    }

    /// An authentication failure, by reason code (`expired`, `bad_signature`, …).
    pub fn auth_failure(&self, site: &str, reason: &'static str) {
        *lock(&self.auth_failures)
            .entry((site.to_string(), reason))
            .or_default() += 1;
    }

    /// A socket of a site connected.
    pub fn socket_opened(&self, site: &str) {
        *lock(&self.connections).entry(site.to_string()).or_default() += 1;
    }

    /// A socket of a site disconnected, with the reason.
    pub fn socket_closed(&self, site: &str, reason: &'static str) {
        *lock(&self.connections).entry(site.to_string()).or_default() -= 1;
        *lock(&self.disconnects)
            .entry((site.to_string(), reason))
            .or_default() += 1;
    }

    /// A publish API request answered with `status`.
    pub fn send_request(&self, status: u16) {
        *lock(&self.send_requests).entry(status).or_default() += 1;
    }

    /// A message published to a site.
    pub fn message_sent(&self, site: &str) {
        *lock(&self.messages_sent)
            .entry(site.to_string())
            .or_default() += 1;
    }

    /// The number of open Engine.IO sessions.
    pub fn set_sessions(&self, n: usize) {
        self.sessions.store(n as u64, Ordering::Relaxed);
    }

    /// The gauges and counters read from the server at scrape time.
    pub fn set_live(&self, live: Live) {
        self.sessions.store(
            (live.sessions.polling + live.sessions.websocket) as u64,
            Ordering::Relaxed,
        );
        *lock(&self.live) = live;
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        fn section(
            out: &mut String,
            name: &str,
            kind: &str,
            help: &str,
            rows: Vec<(String, String)>,
        ) {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in rows {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP herald_sessions Open Engine.IO sessions.\n# TYPE herald_sessions gauge\nherald_sessions {}",
            self.sessions.load(Ordering::Relaxed)
        );
        let live = lock(&self.live).clone();
        section(
            &mut out,
            "herald_sessions_by_transport",
            "gauge",
            "Open Engine.IO sessions by transport.",
            vec![
                (
                    "transport=\"polling\"".into(),
                    live.sessions.polling.to_string(),
                ),
                (
                    "transport=\"websocket\"".into(),
                    live.sessions.websocket.to_string(),
                ),
            ],
        );
        section(
            &mut out,
            "herald_site_connections",
            "gauge",
            "Connected sockets by site and transport.",
            live.sites
                .iter()
                .flat_map(|(s, t, _)| {
                    [("polling", t.polling), ("websocket", t.websocket)].map(|(k, n)| {
                        (
                            format!("site=\"{}\",transport=\"{k}\"", esc(s)),
                            n.to_string(),
                        )
                    })
                })
                .collect(),
        );
        section(
            &mut out,
            "herald_messages_received_total",
            "counter",
            "Events clients sent, by site.",
            live.sites
                .iter()
                .map(|(s, _, n)| (format!("site=\"{}\"", esc(s)), n.to_string()))
                .collect(),
        );
        section(
            &mut out,
            "herald_connections",
            "gauge",
            "Connected sockets by site.",
            lock(&self.connections)
                .iter()
                .map(|(s, v)| (format!("site=\"{}\"", esc(s)), v.to_string()))
                .collect(),
        );
        section(
            &mut out,
            "herald_connects_total",
            "counter",
            "CONNECT attempts by site and result.",
            lock(&self.connects)
                .iter()
                .map(|((s, r), v)| (format!("site=\"{}\",result=\"{r}\"", esc(s)), v.to_string()))
                .collect(),
        );
        section(
            &mut out,
            "herald_auth_failures_total",
            "counter",
            "Refused authentications by site and reason.",
            lock(&self.auth_failures)
                .iter()
                .map(|((s, r), v)| (format!("site=\"{}\",reason=\"{r}\"", esc(s)), v.to_string()))
                .collect(),
        );
        section(
            &mut out,
            "herald_disconnects_total",
            "counter",
            "Socket disconnections by site and reason (send buffer full: a client that stopped reading).",
            lock(&self.disconnects)
                .iter()
                .map(|((s, r), v)| (format!("site=\"{}\",reason=\"{r}\"", esc(s)), v.to_string()))
                .collect(),
        );
        section(
            &mut out,
            "herald_send_requests_total",
            "counter",
            "Publish API requests by status code.",
            lock(&self.send_requests)
                .iter()
                .map(|(s, v)| (format!("status=\"{s}\""), v.to_string()))
                .collect(),
        );
        section(
            &mut out,
            "herald_messages_sent_total",
            "counter",
            "Messages published through the API, by site.",
            lock(&self.messages_sent)
                .iter()
                .map(|(s, v)| (format!("site=\"{}\"", esc(s)), v.to_string()))
                .collect(),
        );
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let m = Metrics::default();
        m.connect("app", true);
        m.connect("app", false);
        m.auth_failure("app", "expired");
        m.socket_opened("app");
        m.socket_closed("app", "transport close");
        m.send_request(202);
        m.message_sent("app");
        m.set_sessions(3);
        let t = m.render();
        assert!(t.contains("herald_sessions 3\n"), "{t}");
        m.set_live(Live {
            sessions: engineio::TransportCounts {
                polling: 1,
                websocket: 3,
            },
            sites: vec![(
                "app".into(),
                engineio::TransportCounts {
                    polling: 1,
                    websocket: 2,
                },
                7,
            )],
        });
        let t = m.render();
        assert!(t.contains("herald_sessions 4\n"), "{t}");
        assert!(t.contains("herald_sessions_by_transport{transport=\"websocket\"} 3"));
        assert!(t.contains("herald_site_connections{site=\"app\",transport=\"polling\"} 1"));
        assert!(t.contains("herald_site_connections{site=\"app\",transport=\"websocket\"} 2"));
        assert!(t.contains("herald_messages_received_total{site=\"app\"} 7"));
        assert!(
            t.contains("herald_connects_total{site=\"app\",result=\"refused\"} 1"),
            "{t}"
        );
        assert!(t.contains("herald_auth_failures_total{site=\"app\",reason=\"expired\"} 1"));
        assert!(t.contains("herald_connections{site=\"app\"} 0"));
        assert!(t.contains("herald_send_requests_total{status=\"202\"} 1"));
        assert!(t.contains("herald_messages_sent_total{site=\"app\"} 1"));
        assert!(t.contains("# TYPE herald_disconnects_total counter"));
    }
}
