//! Auth mode `url`: the site's own HTTP endpoint decides who a client is.
//!
//! For each CONNECT, herald sends `GET <url>` with `Authorization: <scheme> <token>` and
//! `Accept: application/json`. The endpoint answers:
//!
//! - `2xx` with a JSON object `{"user": "<id>", "rooms": ["<room>", …]}` (`rooms`
//!   optional): the client is admitted as that user, joins the site's broadcast room,
//!   its user room and the listed rooms;
//! - `401` or `403`: the token is refused (the client gets "token rejected");
//! - anything else (another status, a redirect, a bad body) is an auth service failure.
//!
//! Safety rails: one deadline (`timeout`) covers waiting for a slot, connecting, sending
//! and reading the answer; at most `max_concurrency` calls are in flight per site (a
//! client that cannot get a slot by the deadline gets "auth service busy"); redirects are
//! never followed; the answer body is capped ([`MAX_RESPONSE_BYTES`]); the token is sent
//! only in the header and never logged. `https://` URLs are verified against the Mozilla
//! root certificates (webpki-roots).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// The largest answer body accepted from the auth endpoint.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The longest token forwarded to the auth endpoint.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Who the auth endpoint says the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlIdentity {
    /// The user id: the socket joins `user_room_prefix + user`.
    pub user: String,
    /// Extra rooms the socket joins.
    pub rooms: Vec<String>,
}

/// Why a url-mode authentication failed. `Display` is the client's CONNECT_ERROR
/// message; [`reason`](UrlAuthError::reason) the metrics label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlAuthError {
    /// No token was presented.
    MissingToken,
    /// The token is too long or not valid in an HTTP header.
    InvalidToken,
    /// The endpoint answered 401 or 403.
    Rejected,
    /// No answer within the timeout.
    Timeout,
    /// Every call slot stayed busy until the timeout.
    Busy,
    /// The endpoint could not be reached or answered with an unexpected status.
    Unavailable(String),
    /// A 2xx answer that is not the expected JSON.
    BadResponse(String),
}

impl UrlAuthError {
    /// A stable, low-cardinality code for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            UrlAuthError::MissingToken => "missing_token",
            UrlAuthError::InvalidToken => "malformed_token",
            UrlAuthError::Rejected => "url_rejected",
            UrlAuthError::Timeout => "url_timeout",
            UrlAuthError::Busy => "url_busy",
            UrlAuthError::Unavailable(_) => "url_unavailable",
            UrlAuthError::BadResponse(_) => "url_bad_response",
        }
    }

    /// Details for the server log (never token contents).
    pub fn detail(&self) -> Option<&str> {
        match self {
            UrlAuthError::Unavailable(d) | UrlAuthError::BadResponse(d) => Some(d),
            _ => None,
        }
    }
}

impl fmt::Display for UrlAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlAuthError::MissingToken => "missing token",
            UrlAuthError::InvalidToken => "malformed token",
            UrlAuthError::Rejected => "token rejected",
            UrlAuthError::Timeout => "auth service timeout",
            UrlAuthError::Busy => "auth service busy",
            UrlAuthError::Unavailable(_) => "auth service unavailable",
            UrlAuthError::BadResponse(_) => "invalid auth service response",
        })
    }
}

impl std::error::Error for UrlAuthError {}

/// A url-mode authenticator for one site. Cheap to share (`Arc`).
pub struct UrlAuth {
    uri: Uri,
    host: String,
    port: u16,
    tls: Option<tokio_rustls::TlsConnector>,
    scheme: String,
    timeout: Duration,
    slots: Arc<Semaphore>,
}

impl fmt::Debug for UrlAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlAuth")
            .field("uri", &self.uri)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl UrlAuth {
    /// An authenticator calling `url` (http or https) with `Authorization: <scheme>
    /// <token>`, within `timeout`, at most `max_concurrency` calls at once.
    pub fn new(
        url: &str,
        scheme: &str,
        timeout: Duration,
        max_concurrency: usize,
    ) -> Result<UrlAuth, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("auth.url {url:?} is not a URL: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => None,
            Some("https") => Some(tls_connector()),
            _ => {
                return Err(format!(
                    "auth.url {url:?} must start with http:// or https://"
                ));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("auth.url {url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri
            .port_u16()
            .unwrap_or(if tls.is_some() { 443 } else { 80 });
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!(
                "auth.scheme {scheme:?} must be a word such as \"Bearer\""
            ));
        }
        if max_concurrency == 0 {
            return Err("auth.max_concurrency must be at least 1".into());
        }
        Ok(UrlAuth {
            uri,
            host,
            port,
            tls,
            scheme: scheme.to_string(),
            timeout,
            slots: Arc::new(Semaphore::new(max_concurrency)),
        })
    }

    /// Asks the endpoint about `token`.
    pub async fn check(&self, token: &str) -> Result<UrlIdentity, UrlAuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(UrlAuthError::InvalidToken);
        }
        let authorization = http::HeaderValue::from_str(&format!("{} {token}", self.scheme))
            .map_err(|_| UrlAuthError::InvalidToken)?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let _slot = match tokio::time::timeout_at(deadline, self.slots.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => return Err(UrlAuthError::Busy),
        };
        match tokio::time::timeout_at(deadline, self.call(authorization)).await {
            Ok(result) => result,
            Err(_) => Err(UrlAuthError::Timeout),
        }
    }

    async fn call(&self, authorization: http::HeaderValue) -> Result<UrlIdentity, UrlAuthError> {
        let unavailable = |what: &str, e: &dyn fmt::Display| {
            UrlAuthError::Unavailable(format!("{what} {}: {e}", self.uri))
        };
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| unavailable("cannot connect to", &e))?;
        let _ = tcp.set_nodelay(true);
        let path = self
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let host_header = match self.uri.port() {
            Some(p) => format!("{}:{p}", self.uri.host().unwrap_or_default()),
            None => self.uri.host().unwrap_or_default().to_string(),
        };
        let request = http::Request::get(path)
            .header(http::header::HOST, host_header)
            .header(http::header::AUTHORIZATION, authorization)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "herald")
            .body(Empty::<Bytes>::new())
            .map_err(|e| unavailable("cannot build a request for", &e))?;
        let response = match &self.tls {
            None => send(TokioIo::new(tcp), request).await,
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| unavailable("bad TLS server name for", &e))?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| unavailable("TLS handshake failed with", &e))?;
                send(TokioIo::new(stream), request).await
            }
        }
        .map_err(|e| unavailable("request failed to", &e))?;
        let status = response.status();
        if status == http::StatusCode::UNAUTHORIZED || status == http::StatusCode::FORBIDDEN {
            return Err(UrlAuthError::Rejected);
        }
        if status.is_redirection() {
            return Err(UrlAuthError::Unavailable(format!(
                "{} answered a redirect ({status}); redirects are not followed, configure the final URL",
                self.uri
            )));
        }
        if !status.is_success() {
            return Err(UrlAuthError::Unavailable(format!(
                "{} answered {status}",
                self.uri
            )));
        }
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                UrlAuthError::BadResponse(format!("reading the answer of {}: {e}", self.uri))
            })?
            .to_bytes();
        parse_identity(&body).map_err(UrlAuthError::BadResponse)
    }
}

async fn send<S>(
    io: TokioIo<S>,
    request: http::Request<Empty<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(request).await
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Parses the endpoint's 2xx body: `{"user": "<non-empty string>", "rooms": [strings]}`.
pub fn parse_identity(body: &[u8]) -> Result<UrlIdentity, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let obj = value.as_object().ok_or("the answer is not a JSON object")?;
    let user = match obj.get("user") {
        Some(serde_json::Value::String(u)) if !u.is_empty() => u.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return Err("the answer has no \"user\" (a non-empty string)".into()),
    };
    let rooms = match obj.get("rooms") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|r| match r {
                serde_json::Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err("\"rooms\" must be an array of non-empty strings".to_string()),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("\"rooms\" must be an array of non-empty strings".into()),
    };
    Ok(UrlIdentity { user, rooms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn identity_answers_are_validated() {
        assert_eq!(
            parse_identity(br#"{"user":"u1","rooms":["a","b"]}"#).unwrap(),
            UrlIdentity {
                user: "u1".into(),
                rooms: vec!["a".into(), "b".into()]
            }
        );
        assert_eq!(parse_identity(br#"{"user":42}"#).unwrap().user, "42");
        assert!(parse_identity(br#"{"user":""}"#).is_err());
        assert!(parse_identity(br#"{"rooms":[]}"#).is_err());
        assert!(parse_identity(br#"{"user":"u","rooms":"a"}"#).is_err());
        assert!(parse_identity(br#"{"user":"u","rooms":[1]}"#).is_err());
        assert!(parse_identity(b"[]").is_err());
        assert!(parse_identity(b"not json").is_err());
    }

    #[test]
    fn bad_configuration_is_refused_with_the_key_name() {
        let t = Duration::from_secs(1);
        assert!(
            UrlAuth::new("ftp://x/", "Bearer", t, 4)
                .unwrap_err()
                .contains("http://")
        );
        assert!(
            UrlAuth::new("http://x/", "Bear er", t, 4)
                .unwrap_err()
                .contains("auth.scheme")
        );
        assert!(
            UrlAuth::new("http://x/", "Bearer", t, 0)
                .unwrap_err()
                .contains("max_concurrency")
        );
        assert!(UrlAuth::new("https://auth.example/check", "Bearer", t, 4).is_ok());
    }

    /// A one-shot HTTP server: answers each connection with `answer`, and sends the
    /// request heads it saw.
    async fn server(
        answer: &'static str,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
                    if answer == "hang" {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    let _ = s.write_all(answer.as_bytes()).await;
                });
            }
        });
        (format!("http://{addr}/auth?site=a"), rx)
    }

    fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn a_2xx_answer_admits_and_the_request_carries_the_token() {
        let answer: &'static str =
            Box::leak(ok(r#"{"user":"alice","rooms":["team"]}"#).into_boxed_str());
        let (url, mut heads) = server(answer).await;
        let auth = UrlAuth::new(&url, "Token", Duration::from_secs(5), 4).unwrap();
        let id = auth.check("abc.def").await.unwrap();
        assert_eq!(id.user, "alice");
        assert_eq!(id.rooms, ["team"]);
        let head = heads.recv().await.unwrap().to_ascii_lowercase();
        assert!(head.starts_with("get /auth?site=a http/1.1\r\n"), "{head}");
        assert!(head.contains("authorization: token abc.def\r\n"), "{head}");
    }

    #[tokio::test]
    async fn refusals_redirects_errors_and_timeouts_are_told_apart() {
        let (url, _h) = server("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n").await;
        let auth = UrlAuth::new(&url, "Bearer", Duration::from_secs(5), 4).unwrap();
        assert_eq!(auth.check("t").await, Err(UrlAuthError::Rejected));

        let (url, _h) = server(
            "HTTP/1.1 302 Found\r\nlocation: http://elsewhere/\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let auth = UrlAuth::new(&url, "Bearer", Duration::from_secs(5), 4).unwrap();
        let e = auth.check("t").await.unwrap_err();
        assert_eq!(e.reason(), "url_unavailable");
        assert!(e.detail().unwrap().contains("redirects are not followed"));

        let (url, _h) = server("HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n").await;
        let auth = UrlAuth::new(&url, "Bearer", Duration::from_secs(5), 4).unwrap();
        assert_eq!(
            auth.check("t").await.unwrap_err().reason(),
            "url_unavailable"
        );

        let (url, _h) = server("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
        let auth = UrlAuth::new(&url, "Bearer", Duration::from_secs(5), 4).unwrap();
        assert_eq!(
            auth.check("t").await.unwrap_err().reason(),
            "url_bad_response"
        );

        let (url, _h) = server("hang").await;
        let auth = UrlAuth::new(&url, "Bearer", Duration::from_millis(200), 4).unwrap();
        assert_eq!(auth.check("t").await, Err(UrlAuthError::Timeout));

        // Nothing listens there.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let auth = UrlAuth::new(
            &format!("http://127.0.0.1:{port}/"),
            "Bearer",
            Duration::from_secs(5),
            4,
        )
        .unwrap();
        assert_eq!(
            auth.check("t").await.unwrap_err().reason(),
            "url_unavailable"
        );

        // A token that cannot go in a header never leaves the process.
        assert_eq!(
            auth.check("a\r\nx: y").await,
            Err(UrlAuthError::InvalidToken)
        );
    }

    #[tokio::test]
    async fn concurrency_is_capped() {
        let (url, _heads) = server("hang").await;
        let auth = UrlAuth::new(&url, "Bearer", Duration::from_millis(200), 1).unwrap();
        // The only slot is taken (as by a call in flight): the next call waits for it
        // until its deadline, then gives up without calling.
        let held = auth.slots.clone().acquire_owned().await.unwrap();
        assert_eq!(auth.check("two").await, Err(UrlAuthError::Busy));
        drop(held);
        assert_eq!(auth.check("three").await, Err(UrlAuthError::Timeout));
    }
}
