//! Sites: a namespace plus its policy (API keys, authentication, broadcast room,
//! user-room prefix). Installing a site puts its authentication middleware and its
//! room joins on the namespace.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use socketio::server::{ConnectError, Io, Namespace, Payload};
use subtle::ConstantTimeEq;
use tracing::warn;

use crate::auth::url::{UrlAuth, UrlAuthError};
use crate::auth::{self, JwtConfig, JwtVerifier, OneTimeTokens};
use crate::config::{AuthMode, ConfigError, SiteSection};
use crate::metrics::Metrics;
use crate::reliable::Reliable;

/// Where the reliable store keeps its keys in Redis.
pub const RELIABLE_KEY_PREFIX: &str = "herald:reliable";

/// A running site.
pub struct Site {
    /// Its name (`?site=`).
    pub name: String,
    /// Its namespace.
    pub namespace: Namespace,
    /// The room every authenticated socket joins.
    pub broadcast_room: String,
    /// The prefix of user rooms.
    pub user_room_prefix: String,
    api_keys: Vec<Vec<u8>>,
    /// The JWT verifier (jwt mode), also used by `herald token`.
    pub jwt: Option<Arc<JwtVerifier>>,
    /// Reliable delivery, when `[sites.reliable] enabled`.
    pub reliable: Option<Arc<Reliable>>,
    /// The one-time tokens (token mode), issued by `POST /tokens`.
    pub tokens: Option<Arc<OneTimeTokens>>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("name", &self.name)
            .field("namespace", &self.namespace.name())
            .finish_non_exhaustive()
    }
}

impl Site {
    /// Whether `key` is one of the site's API keys (constant-time comparison).
    pub fn check_api_key(&self, key: &str) -> bool {
        let mut ok = subtle::Choice::from(0);
        for k in &self.api_keys {
            ok |= k.as_slice().ct_eq(key.as_bytes());
        }
        ok.into()
    }

    /// The room of one user.
    pub fn user_room(&self, user: &str) -> String {
        format!("{}{user}", self.user_room_prefix)
    }
}

/// Every site by name.
#[derive(Debug, Default)]
pub struct Sites {
    by_name: HashMap<String, Arc<Site>>,
}

impl Sites {
    /// The site named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Site>> {
        self.by_name.get(name)
    }

    /// All sites.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Site>> {
        self.by_name.values()
    }

    /// Installs every configured site on `io`.
    pub fn install(
        io: &Io,
        sections: &[SiteSection],
        metrics: &Arc<Metrics>,
        redis_url: Option<&str>,
    ) -> Result<Sites, ConfigError> {
        let mut by_name = HashMap::new();
        for s in sections {
            let site = install(io, s, metrics, redis_url)?;
            by_name.insert(s.name.clone(), Arc::new(site));
        }
        Ok(Sites { by_name })
    }
}

fn install(
    io: &Io,
    cfg: &SiteSection,
    metrics: &Arc<Metrics>,
    redis_url: Option<&str>,
) -> Result<Site, ConfigError> {
    let ns = io.of(&cfg.namespace);
    let site_err = |e: String| ConfigError(format!("site {:?}: {e}", cfg.name));
    // The Origin check runs first, so a refused page never spends a one-time token or
    // an auth endpoint call.
    if !cfg.allowed_origins.is_empty() {
        let allowed = cfg.allowed_origins.clone();
        let metrics = metrics.clone();
        let site = cfg.name.clone();
        ns.use_middleware(move |req| {
            let origin = req
                .handshake
                .headers
                .get(hyper::header::ORIGIN)
                .map(|o| o.to_str().unwrap_or(""));
            match origin {
                Some(o) if !crate::origin::allowed(o, &allowed) => {
                    metrics.connect(&site, false);
                    metrics.auth_failure(&site, "origin");
                    Err(ConnectError::new("origin not allowed"))
                }
                _ => Ok(()),
            }
        });
    }
    let jwt = match cfg.auth.mode {
        AuthMode::Jwt => {
            let public_key_pem = match &cfg.auth.public_key {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    site_err(format!(
                        "cannot read auth.public_key {}: {e}",
                        path.display()
                    ))
                })?),
                None => None,
            };
            let verifier = JwtVerifier::new(&JwtConfig {
                secret: cfg.auth.secret.clone(),
                public_key_pem,
                algorithms: cfg.auth.algorithms.clone(),
                issuer: cfg.auth.issuer.clone(),
                audience: cfg.auth.audience.clone(),
                leeway: cfg.auth.leeway.0,
            })
            .map_err(|e| site_err(e.to_string()))?;
            Some(Arc::new(verifier))
        }
        AuthMode::None => {
            warn!(
                site = %cfg.name,
                "auth mode \"none\": ANY client may connect to this site anonymously; use it for development only"
            );
            None
        }
        AuthMode::Token | AuthMode::Url => None,
    };
    if cfg.auth.mode == AuthMode::Url {
        let url = cfg.auth.url.as_deref().unwrap_or_default();
        let auth = UrlAuth::new(
            url,
            cfg.auth.scheme.as_deref().unwrap_or("Bearer"),
            cfg.auth.timeout.map_or(Duration::from_secs(5), |d| d.0),
            cfg.auth.max_concurrency.unwrap_or(64),
        )
        .map_err(site_err)?;
        install_url_auth(&ns, Arc::new(auth), metrics.clone(), cfg.name.clone());
    }
    let tokens = (cfg.auth.mode == AuthMode::Token).then(|| {
        let ttl = cfg.auth.token_ttl.map_or(Duration::from_secs(60), |d| d.0);
        Arc::new(OneTimeTokens::new(ttl, 100_000))
    });
    if let Some(store) = tokens.clone() {
        let metrics = metrics.clone();
        let site = cfg.name.clone();
        ns.use_middleware(move |req| {
            let auth_obj: Option<serde_json::Value> = req.auth.deserialize().ok();
            let query_token = req.handshake.query.get("token");
            let result =
                match auth::extract_token(auth_obj.as_ref(), query_token, &req.handshake.headers) {
                    None => Err(("missing_token", "missing token".to_string())),
                    Some((token, _)) => store
                        .redeem(token, std::time::Instant::now())
                        .map_err(|e| (e.reason(), e.to_string())),
                };
            metrics.connect(&site, result.is_ok());
            match result {
                Ok(user) => {
                    req.set_data(serde_json::json!({ "user": user }));
                    Ok(())
                }
                Err((reason, message)) => {
                    metrics.auth_failure(&site, reason);
                    Err(ConnectError::new(message))
                }
            }
        });
    }

    if let Some(verifier) = jwt.clone() {
        let metrics = metrics.clone();
        let site = cfg.name.clone();
        ns.use_middleware(move |req| {
            let auth_obj: Option<serde_json::Value> = req.auth.deserialize().ok();
            let query_token = req.handshake.query.get("token");
            let Some((token, _source)) =
                auth::extract_token(auth_obj.as_ref(), query_token, &req.handshake.headers)
            else {
                metrics.connect(&site, false);
                metrics.auth_failure(&site, "missing_token");
                return Err(ConnectError::new("missing token"));
            };
            match verifier.verify(token, SystemTime::now()) {
                Ok(identity) => {
                    let exp = identity
                        .expires_at
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    req.set_data(serde_json::json!({"user": identity.user, "exp": exp}));
                    metrics.connect(&site, true);
                    Ok(())
                }
                Err(e) => {
                    metrics.connect(&site, false);
                    metrics.auth_failure(&site, e.reason());
                    Err(ConnectError::new(e.to_string()))
                }
            }
        });
    }

    let reliable = match (cfg.reliable.enabled, redis_url) {
        (false, _) => None,
        (true, None) => Some(Reliable::in_memory(&cfg.reliable, &cfg.user_room_prefix)),
        (true, Some(url)) => Some(
            Reliable::in_redis(
                &cfg.reliable,
                &cfg.user_room_prefix,
                url,
                RELIABLE_KEY_PREFIX,
                &cfg.name,
            )
            .map_err(|e| site_err(e.to_string()))?,
        ),
    };
    if let Some(r) = &reliable {
        let r = r.clone();
        let node_ns = ns.clone();
        ns.on_server_side_event(crate::reliable::NODE_EVENT, move |_event, payload, _ack| {
            r.on_node_event(&node_ns, &payload);
        });
    }
    match (&reliable, redis_url) {
        (Some(r), Some(_)) if cfg.reliable.emitters => {
            crate::reliable::intake::install(&ns, r.clone());
        }
        (Some(_), None) if cfg.reliable.emitters => warn!(
            site = %cfg.name,
            "reliable.emitters has no effect without [redis]: emitters publish through Redis"
        ),
        _ => {}
    }
    let broadcast_room = cfg.broadcast_room.clone();
    let prefix = cfg.user_room_prefix.clone();
    let client_rooms = crate::client_rooms::ClientRooms::from_site(cfg);
    let on_connect_reliable = reliable.clone();
    let metrics = metrics.clone();
    let site = cfg.name.clone();
    ns.on_connection(move |socket| {
        metrics.socket_opened(&site);
        {
            let metrics = metrics.clone();
            let site = site.clone();
            socket.on_disconnect(move |_s, reason| metrics.socket_closed(&site, reason.as_str()));
        }
        socket.join(&broadcast_room);
        client_rooms.attach(socket);
        let data = socket.data();
        if let Some(user) = data.get("user").and_then(|u| u.as_str()) {
            socket.join(&format!("{prefix}{user}"));
        }
        if let (Some(r), Some(user)) = (
            &on_connect_reliable,
            data.get("user").and_then(|u| u.as_str()),
        ) {
            // Before anything else reaches the socket: what was kept for the user.
            r.on_connect(socket, user);
        }
        // Rooms the url-mode auth endpoint listed.
        if let Some(rooms) = data.get("rooms").and_then(|r| r.as_array()) {
            for room in rooms.iter().filter_map(|r| r.as_str()) {
                socket.join(room);
            }
        }
        if let Some(exp) = data.get("exp").and_then(|e| e.as_u64()) {
            // A token-bound connection ends when its token does: the client gets
            // `auth_expired`, then a server disconnect, and reconnects with a new token.
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(exp);
            let wait = at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            // The timer must not outlive the connection: it holds the socket (and so
            // its session's memory, ~6 KB) until it ends, and tokens live for hours.
            let gone = Arc::new(tokio::sync::Notify::new());
            let notify = gone.clone();
            socket.on_disconnect(move |_, _| notify.notify_one());
            if socket.connected() {
                let socket = socket.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {
                            if socket.connected() {
                                socket.emit("auth_expired", Payload::one("token expired"));
                                socket.disconnect();
                            }
                        }
                        _ = gone.notified() => {}
                    }
                });
            }
        }
    });

    Ok(Site {
        name: cfg.name.clone(),
        namespace: ns,
        broadcast_room: cfg.broadcast_room.clone(),
        user_room_prefix: cfg.user_room_prefix.clone(),
        api_keys: cfg.api_keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
        jwt,
        reliable,
        tokens,
    })
}

/// Auth mode `url`: an asynchronous middleware asking the site's endpoint.
fn install_url_auth(ns: &Namespace, auth: Arc<UrlAuth>, metrics: Arc<Metrics>, site: String) {
    ns.use_async_middleware(move |info| {
        let auth = auth.clone();
        let metrics = metrics.clone();
        let site = site.clone();
        async move {
            let auth_obj: Option<serde_json::Value> = info.auth.deserialize().ok();
            let query_token = info.handshake.query.get("token");
            let result = match auth::extract_token(
                auth_obj.as_ref(),
                query_token,
                &info.handshake.headers,
            ) {
                None => Err(UrlAuthError::MissingToken),
                Some((token, _)) => auth.check(token).await,
            };
            metrics.connect(&site, result.is_ok());
            match result {
                Ok(id) => Ok(Some(
                    serde_json::json!({ "user": id.user, "rooms": id.rooms }),
                )),
                Err(e) => {
                    if let Some(detail) = e.detail() {
                        warn!(site = %site, reason = e.reason(), "auth endpoint failed: {detail}");
                    }
                    metrics.auth_failure(&site, e.reason());
                    Err(ConnectError::new(e.to_string()))
                }
            }
        }
    });
}
