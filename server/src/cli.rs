//! The command line: `herald [OPTIONS] [run | check-config | token --site S --sub U]`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};

use crate::config::{
    self, AuthMode, AuthSection, ConfigError, Dur, FileConfig, LogFormat, Overrides, SiteSection,
};

/// Herald: a Socket.IO push-notification service.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about)]
pub struct Cli {
    /// TOML configuration file (also `HERALD_CONFIG`).
    #[arg(long, global = true)]
    pub config: Option<std::path::PathBuf>,
    /// Address to serve Socket.IO and the publish API on (default 0.0.0.0:3000).
    #[arg(long, global = true)]
    pub listen: Option<String>,
    /// Redis URL (cluster mode).
    #[arg(long, global = true)]
    pub redis_url: Option<String>,
    /// Log format: text or json.
    #[arg(long, global = true)]
    pub log_format: Option<String>,
    /// Address of /metrics, /healthz, /readyz (default 127.0.0.1:9090).
    #[arg(long, global = true)]
    pub ops_listen: Option<String>,
    /// Serve TLS with a self-signed development certificate.
    #[arg(long, global = true)]
    pub https: bool,
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Run,
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig,
    /// Mint a JWT for a user of a site (HS* sites).
    Token {
        /// The site.
        #[arg(long)]
        site: String,
        /// The user id (`sub`).
        #[arg(long)]
        sub: String,
        /// Lifetime, e.g. 1h, 30m.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
}

fn load(cli: &Cli) -> Result<FileConfig, ConfigError> {
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("HERALD_"))
        .collect();
    let path = cli
        .config
        .clone()
        .or_else(|| env.get("HERALD_CONFIG").map(Into::into));
    let text = match &path {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            ConfigError(format!("cannot read the config file {}: {e}", p.display()))
        })?),
        None => None,
    };
    config::load(
        text.as_deref(),
        &env,
        &Overrides {
            listen: cli.listen.clone(),
            redis_url: cli.redis_url.clone(),
            log_format: cli.log_format.clone(),
            ops_listen: cli.ops_listen.clone(),
        },
    )
}

/// The development site used when the configuration has none: namespace `/`, JWT with
/// a fresh secret, a fresh API key.
fn dev_site() -> SiteSection {
    SiteSection {
        name: "default".into(),
        namespace: "/".into(),
        api_keys: vec![format!("dev-{}", engineio::server::random_id())],
        broadcast_room: "allusers".into(),
        user_room_prefix: String::new(),
        allowed_origins: Vec::new(),
        client_rooms: false,
        client_room_limits: Default::default(),
        auth: AuthSection {
            mode: AuthMode::Jwt,
            secret: Some(format!(
                "{}{}",
                engineio::server::random_id(),
                engineio::server::random_id()
            )),
            public_key: None,
            algorithms: vec!["HS256".into()],
            issuer: None,
            audience: None,
            leeway: Dur(Duration::ZERO),
            url: None,
            scheme: None,
            timeout: None,
            max_concurrency: None,
            token_ttl: None,
        },
        reliable: Default::default(),
    }
}

fn mint(site: &SiteSection, sub: &str, ttl: Duration) -> Result<String, String> {
    if site.auth.mode != AuthMode::Jwt {
        return Err("the site's auth mode is not jwt".into());
    }
    let config = crate::auth::JwtConfig {
        secret: site.auth.secret.clone(),
        public_key_pem: None,
        algorithms: site.auth.algorithms.clone(),
        issuer: site.auth.issuer.clone(),
        audience: site.auth.audience.clone(),
        leeway: site.auth.leeway.0,
    };
    crate::auth::mint(&config, sub, ttl, SystemTime::now()).map_err(|e| e.to_string())
}

/// Parses the command line and runs the service until SIGINT or SIGTERM.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match load(&cli) {
        Ok(mut c) => {
            c.https = cli.https;
            c
        }
        Err(e) => {
            eprintln!("herald: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => {
            print!("{}", config::redacted_toml(&config));
            eprintln!("herald: configuration OK");
            ExitCode::SUCCESS
        }
        Command::Token { site, sub, ttl } => {
            let Some(s) = config.sites.iter().find(|s| s.name == site) else {
                eprintln!(
                    "herald: no site named {site:?} in the configuration (sites: {})",
                    config
                        .sites
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return ExitCode::from(2);
            };
            let ttl = match config::parse_duration(&ttl) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("herald: --ttl: {e}");
                    return ExitCode::from(2);
                }
            };
            match mint(s, &sub, ttl) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("herald: cannot mint a token for site {site:?}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run => {
            init_logs(config.log_format);
            if let Err(e) = crate::alloc::configure() {
                tracing::warn!("{e}");
            }
            let dev = config.sites.is_empty();
            if dev {
                config.sites.push(dev_site());
            }
            serve(config, dev)
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match format {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init(),
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
    }
}

fn print_dev_banner(config: &FileConfig) {
    let site = &config.sites[0];
    let token = mint(site, "user-1", Duration::from_secs(24 * 3600)).unwrap_or_default();
    let port = config.listen.port();
    let scheme = if config.https || config.tls.cert.is_some() {
        "https"
    } else {
        "http"
    };
    let curl_k = if config.https { "-k " } else { "" };
    let key = site.api_keys.first().cloned().unwrap_or_default();
    println!(
        "\nherald: no configuration given: development mode (one site \"default\" on namespace \"/\", in-memory).\n\
         A fresh JWT secret and API key were generated; they change at every start.\n\n\
         A client token for user \"user-1\" (valid 24 h):\n  {token}\n\n\
         Connect a client:\n  io(\"{scheme}://localhost:{port}\", {{ auth: {{ token: \"{token}\" }} }})\n\n\
         Push to every client:\n  curl {curl_k}-X POST '{scheme}://localhost:{port}/send?site=default' \\\n    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n    -d '{{\"event\":\"hello\",\"args\":[\"world\"]}}'\n\n\
         Push to user-1 only: add \"rooms\":[\"user-1\"] to the body.\n"
    );
}

fn serve(config: FileConfig, dev: bool) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("herald: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listen = config.listen;
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "herald: cannot listen on {listen}: {e} (is another process using the port? pick one with --listen)"
                );
                return ExitCode::FAILURE;
            }
        };
        if dev {
            print_dev_banner(&config);
        }
        let shutdown = async {
            let mut term = match tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::terminate(),
            ) {
                Ok(t) => t,
                Err(_) => return std::future::pending().await,
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        match crate::run(listener, config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("herald: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
