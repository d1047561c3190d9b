//! Herald: a Socket.IO push-notification service.
//!
//! This crate is the thin `herald` binary: configuration ([`config`]), sites and their
//! authentication ([`site`], [`auth`]), the publish API ([`api`]) and the command line
//! ([`cli`]). Protocol work lives in the `engineio` and `socketio` crates. [`run`] takes
//! a bound listener and a shutdown signal so tests can start the service on port 0.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alloc;
pub mod api;
pub mod auth;
pub mod cli;
pub mod client_rooms;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
pub mod origin;
pub mod redis;
pub mod reliable;
pub mod site;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use engineio::server::Body;
use engineio::{CloseReason, Engine};
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use socketio::server::{Io, IoHandler};
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use config::FileConfig as Config;
use config::FileConfig;
use site::Sites;

/// The Engine.IO settings of a configuration.
pub fn engine_config(c: &FileConfig) -> engineio::Config {
    engineio::Config {
        path: c.path.clone(),
        ping_interval: c.engineio.ping_interval.0,
        ping_timeout: c.engineio.ping_timeout.0,
        max_payload: c.engineio.max_payload,
        transports: engineio::Transports {
            polling: c.engineio.transports.iter().any(|t| t == "polling"),
            websocket: c.engineio.transports.iter().any(|t| t == "websocket"),
        },
        max_buffered_bytes: c.limits.max_buffered_bytes,
        max_sessions: c.limits.max_connections,
        max_sessions_per_ip: c.limits.max_connections_per_ip,
        cors: engineio::Cors {
            origins: c.engineio.cors_origins.clone(),
        },
        ..engineio::Config::default()
    }
}

struct App {
    engine: Engine<IoHandler>,
    adapter: socketio::adapter::Adapter,
    redis: Option<Arc<socketio::adapter::redis::RedisPubSub>>,
    server_side: Arc<redis::ServerSideEvents>,
    sites: Sites,
    metrics: Arc<metrics::Metrics>,
    draining: std::sync::atomic::AtomicBool,
}

impl App {
    /// What the metrics read from the running server at scrape time.
    fn live(&self) -> metrics::Live {
        metrics::Live {
            sessions: self.engine.transport_counts(),
            sites: self
                .sites
                .iter()
                .map(|s| {
                    let sids = s.namespace.engine_sids();
                    let counts = self.engine.count_transports(sids.iter().map(|s| &**s));
                    (s.name.clone(), counts, s.namespace.events_received())
                })
                .collect(),
        }
    }
}

/// ACK packets for unknown ids a connection may send per minute before it is closed.
const STRAY_ACKS_PER_MINUTE: u32 = 120;

/// How long a shutdown waits for sessions to close before returning.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(3);

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res
}

/// Serves `config` on `listener` (and the ops endpoints on `config.ops.listen`) until
/// `shutdown` resolves; then readiness fails, every client is told to disconnect (it
/// reconnects elsewhere or later), and the drain waits at most a few seconds.
pub async fn run(
    listener: TcpListener,
    config: FileConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let ops = match TcpListener::bind(config.ops.listen).await {
        Ok(l) => Some(l),
        Err(e) => {
            warn!(addr = %config.ops.listen, error = %e, "cannot serve /metrics, /healthz, /readyz there; set ops.listen to a free address");
            None
        }
    };
    run_with_ops(listener, ops, config, shutdown).await
}

/// [`run`] with the ops listener given (or none).
pub async fn run_with_ops(
    listener: TcpListener,
    ops: Option<TcpListener>,
    config: FileConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (adapter, redis) = redis::adapter(&config.redis)
        .await
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let io = Io::with_adapter(
        socketio::server::Config {
            connect_timeout: config.limits.connect_timeout.0,
            // Reliable delivery relies on acks: a client flooding bogus ones is cut off.
            max_stray_acks_per_minute: Some(STRAY_ACKS_PER_MINUTE),
            ..socketio::server::Config::default()
        },
        adapter.clone(),
    );
    // Handshake-level Origin check: when every site restricts origins, a browser
    // Origin allowed by none of them gets 403 (polling and WebSocket).
    if config.sites.iter().all(|s| !s.allowed_origins.is_empty()) && !config.sites.is_empty() {
        let lists: Vec<Vec<String>> = config
            .sites
            .iter()
            .map(|s| s.allowed_origins.clone())
            .collect();
        io.set_allow_request(move |hs| {
            match hs
                .headers
                .get(hyper::header::ORIGIN)
                .map(|o| o.to_str().unwrap_or(""))
            {
                Some(o) if !lists.iter().any(|l| origin::allowed(o, l)) => {
                    engineio::Verdict::Deny("Origin not allowed".into())
                }
                _ => engineio::Verdict::Allow,
            }
        });
    }
    let metrics = Arc::new(metrics::Metrics::default());
    let sites = Sites::install(&io, &config.sites, &metrics, config.redis.url.as_deref())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let server_side = Arc::new(redis::ServerSideEvents::default());
    server_side.install(&sites);
    let app = Arc::new(App {
        engine: io.engine(engine_config(&config)),
        adapter,
        redis,
        server_side,
        sites,
        metrics,
        draining: std::sync::atomic::AtomicBool::new(false),
    });
    if let Some(ops) = ops {
        info!(addr = %ops.local_addr()?, "ops endpoints (/metrics, /healthz, /readyz) listening");
        tokio::spawn(serve_ops(
            app.clone(),
            ops,
            config.limits.header_read_timeout.0,
        ));
    }
    info!(addr = %listener.local_addr()?, sites = config.sites.len(), "herald listening");
    let header_timeout = config.limits.header_read_timeout.0;
    let tls = tls_acceptor(&config)?;
    let accept = {
        let app = app.clone();
        async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        warn!(error = %e, "accept failed; retrying in 50 ms");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                match tls.clone() {
                    None => {
                        tokio::spawn(serve_connection(app, stream, peer, header_timeout));
                    }
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            // The handshake runs in the connection's task, bounded in time.
                            match tokio::time::timeout(header_timeout, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(tls_stream)) => {
                                    serve_connection(app, tls_stream, peer, header_timeout).await
                                }
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed")
                                }
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        });
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = shutdown => info!("shutting down: draining connections"),
    }
    app.draining
        .store(true, std::sync::atomic::Ordering::Release);
    app.engine.close_all(CloseReason::ServerShutdown);
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    while app.engine.session_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    info!(left = app.engine.session_count(), "stopped");
    Ok(())
}

/// Serves /metrics, /healthz and /readyz; a connection that sends no complete request
/// head within `header_timeout` is closed, as on the main listener.
async fn serve_ops(app: Arc<App>, listener: TcpListener, header_timeout: std::time::Duration) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let app = app.clone();
                async move {
                    let res = match req.uri().path() {
                        "/metrics" => {
                            app.metrics.set_live(app.live());
                            let mut body = app.metrics.render();
                            redis::render_metrics(
                                &mut body,
                                &app.adapter,
                                app.redis.as_ref(),
                                &app.server_side,
                            );
                            let mut res = Response::new(Full::new(Bytes::from(body)));
                            res.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static(
                                    "text/plain; version=0.0.4",
                                ),
                            );
                            res
                        }
                        "/healthz" => text(StatusCode::OK, "ok\n"),
                        "/readyz" => ready(&app),
                        _ => text(StatusCode::NOT_FOUND, ""),
                    };
                    Ok::<_, Infallible>(res)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn ready(app: &App) -> Response<Body> {
    if app.draining.load(std::sync::atomic::Ordering::Acquire) {
        text(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else if !redis::ready(app.redis.as_ref()) {
        text(StatusCode::SERVICE_UNAVAILABLE, "redis not connected\n")
    } else {
        text(StatusCode::OK, "ok\n")
    }
}

/// The TLS acceptor of `[tls]` (cert and key files) or of `--https` (a self-signed
/// development certificate), or none.
fn tls_acceptor(config: &FileConfig) -> std::io::Result<Option<tls::TlsAcceptor>> {
    let invalid =
        |e: tls::TlsError| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string());
    match (&config.tls.cert, &config.tls.key, config.https) {
        (Some(cert), Some(key), _) => tls::acceptor_from_files(cert, key)
            .map(Some)
            .map_err(invalid),
        (_, _, true) => {
            let (cert, key) = tls::self_signed(&[]).map_err(invalid)?;
            warn!(
                "--https: serving a self-signed development certificate (browsers will warn; do not use in production)"
            );
            tls::acceptor_from_pem(&cert, &key)
                .map(Some)
                .map_err(invalid)
        }
        _ => Ok(None),
    }
}

async fn serve_connection<S>(
    app: Arc<App>,
    stream: S,
    peer: SocketAddr,
    header_timeout: std::time::Duration,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let app = app.clone();
        async move {
            let path = req.uri().path();
            let res = if app.engine.matches(path) {
                app.engine.handle(req, Some(peer)).await
            } else if api::matches(path) {
                api::handle(&app.sites, &app.metrics, req).await
            } else if path == "/healthz" {
                text(StatusCode::OK, "ok\n")
            } else if path == "/readyz" {
                ready(&app)
            } else {
                text(StatusCode::NOT_FOUND, "")
            };
            Ok::<_, Infallible>(res)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
        .with_upgrades()
        .await;
}
