//! Herald: a Socket.IO push-notification service.
//!
//! This crate is the thin `herald` binary: configuration ([`config`]), sites and their
//! authentication ([`site`], [`auth`]), the publish API ([`api`]) and the command line
//! ([`cli`]). Protocol work lives in the `engineio` and `socketio` crates. [`run`] takes
//! a bound listener and a shutdown signal so tests can start the service on port 0.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod site;

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
        cors: engineio::Cors {
            origins: c.engineio.cors_origins.clone(),
        },
        ..engineio::Config::default()
    }
}

struct App {
    engine: Engine<IoHandler>,
    sites: Sites,
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    res
}

/// Serves `config` on `listener` until `shutdown` resolves, then closes every session.
pub async fn run(
    listener: TcpListener,
    config: FileConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let io = Io::new(socketio::server::Config {
        connect_timeout: config.limits.connect_timeout.0,
        ..socketio::server::Config::default()
    });
    let sites = Sites::install(&io, &config.sites)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let app = Arc::new(App {
        engine: io.engine(engine_config(&config)),
        sites,
    });
    info!(addr = %listener.local_addr()?, sites = config.sites.len(), "herald listening");
    let header_timeout = config.limits.header_read_timeout.0;
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
                tokio::spawn(serve_connection(app.clone(), stream, peer, header_timeout));
            }
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = shutdown => info!("shutting down"),
    }
    app.engine.close_all(CloseReason::ServerShutdown);
    Ok(())
}

async fn serve_connection(
    app: Arc<App>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    header_timeout: std::time::Duration,
) {
    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let app = app.clone();
        async move {
            let path = req.uri().path();
            let res = if app.engine.matches(path) {
                app.engine.handle(req, Some(peer)).await
            } else if api::matches(path) {
                api::handle(&app.sites, req).await
            } else if path == "/healthz" || path == "/readyz" {
                text(StatusCode::OK, "ok\n")
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
