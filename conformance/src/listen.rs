//! Listeners on 127.0.0.1 and `[::1]` (SO_REUSEADDR), routing by path prefix to the
//! profile's engines, and a prompt exit on SIGTERM.

use std::convert::Infallible;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use engineio::Engine;
use engineio::server::Body;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpSocket};

use socketio::server::IoHandler;

use crate::{bench, eio, sio};

/// The engines of a profile.
pub(crate) struct Routes {
    echo: Option<Engine<eio::Echo>>,
    eio_client: Option<Engine<eio::EioClient>>,
    sio: Option<Engine<IoHandler>>,
}

impl Routes {
    pub(crate) fn protocol() -> Routes {
        Routes {
            echo: Some(Engine::new(eio::protocol_config(), eio::Echo)),
            eio_client: None,
            sio: Some(sio::protocol()),
        }
    }

    pub(crate) fn eio_client() -> Routes {
        Routes {
            echo: None,
            eio_client: Some(Engine::new(eio::eio_client_config(), eio::EioClient)),
            sio: None,
        }
    }

    pub(crate) fn sio_client() -> Routes {
        Routes {
            echo: None,
            eio_client: None,
            sio: Some(sio::sio_client()),
        }
    }

    pub(crate) fn bench() -> Routes {
        Routes {
            echo: None,
            eio_client: None,
            sio: Some(bench::bench()),
        }
    }

    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let path = req.uri().path();
        if let Some(e) = self.echo.as_ref().filter(|e| e.matches(path)) {
            return e.handle(req, Some(peer)).await;
        }
        if let Some(e) = self.eio_client.as_ref().filter(|e| e.matches(path)) {
            return e.handle(req, Some(peer)).await;
        }
        if let Some(e) = self.sio.as_ref().filter(|e| e.matches(path)) {
            return e.handle(req, Some(peer)).await;
        }
        let mut res = Response::new(Body::default());
        *res.status_mut() = StatusCode::NOT_FOUND;
        if req.headers().contains_key(http::header::UPGRADE) {
            res.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        res
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

pub(crate) async fn run(routes: Routes, port: u16, profile: &str) -> std::io::Result<()> {
    let routes = std::sync::Arc::new(routes);
    // [::1] first, then 127.0.0.1: the harness is ready when 127.0.0.1 accepts.
    let mut listeners = Vec::new();
    match bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))) {
        Ok(l) => listeners.push(l),
        Err(e) => eprintln!("fixture: no IPv6 loopback ({e}); serving IPv4 only"),
    }
    listeners.push(bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?);
    eprintln!("fixture: profile {profile} listening on port {port}");
    for listener in listeners {
        let routes = routes.clone();
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        eprintln!("fixture: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let routes = routes.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let routes = routes.clone();
                        async move { Ok::<_, Infallible>(routes.handle(req, peer).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
