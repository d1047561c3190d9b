//! Client authentication for sites.
//!
//! A site authenticates each Socket.IO client on CONNECT. This module holds what every
//! mode shares — where the client's token comes from ([`extract_token`]), who the client
//! turned out to be ([`Identity`]) and why it was turned away ([`AuthError`]) — and the
//! `jwt` mode itself ([`JwtVerifier`], built once per site from a [`JwtConfig`]).
//!
//! Everything here is pure: no I/O, and time is an argument (`now`), so the checks are
//! deterministic and testable.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use herald::auth::{JwtConfig, JwtVerifier, extract_token, mint};
//!
//! let cfg = JwtConfig::hmac("a development secret of at least 32 bytes");
//! let verifier = JwtVerifier::new(&cfg).unwrap();
//! let now = SystemTime::now();
//! let token = mint(&cfg, "user_1", Duration::from_secs(3600), now).unwrap();
//!
//! let auth = serde_json::json!({ "token": token });
//! let headers = http::HeaderMap::new();
//! let (token, _source) = extract_token(Some(&auth), None, &headers).unwrap();
//! assert_eq!(verifier.verify(token, now).unwrap().user, "user_1");
//! ```

mod jwt;
mod onetime;
pub mod url;
pub use onetime::{OneTimeError, OneTimeTokens};
#[cfg(test)]
mod jwt_config_tests;
#[cfg(test)]
mod jwt_tests;

use std::fmt;
use std::time::SystemTime;

pub use jwt::{JwtConfig, JwtConfigError, JwtVerifier, MIN_SECRET_LEN, MintError, mint};

/// Who an authenticated client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id (the JWT `sub`): the socket joins the user room
    /// `user_room_prefix + user`.
    pub user: String,
    /// When the credential stops being valid (the JWT `exp`).
    pub expires_at: SystemTime,
}

/// Why a client was not authenticated.
///
/// `Display` is the message the client sees in its CONNECT_ERROR (`err.message` in the
/// JS client); [`reason`](AuthError::reason) is a stable, low-cardinality code for logs
/// and metrics labels. Neither ever contains token contents or key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No token in the auth payload, the `token` query parameter or a Bearer header.
    MissingToken,
    /// Not three base64url parts, a header or payload that is not a JSON object, or an
    /// unsupported critical header.
    MalformedToken,
    /// The header's `alg` is not one the site allows (this includes `none`).
    AlgorithmNotAllowed,
    /// The signature does not match: tampered, or signed with another key.
    InvalidSignature,
    /// `exp` is in the past (beyond the site's leeway).
    Expired,
    /// `nbf` is in the future (beyond the site's leeway).
    NotYetValid,
    /// The token has no `exp`; Herald requires one.
    MissingExp,
    /// A registered claim has the wrong type (e.g. `exp` as a string, `sub` as a number).
    InvalidClaim(&'static str),
    /// `iss` is missing or not the site's configured issuer.
    InvalidIssuer,
    /// `aud` is missing or does not contain the site's configured audience.
    InvalidAudience,
    /// `sub` (the user id) is missing or empty.
    MissingSub,
}

impl AuthError {
    /// A stable code for metrics labels and logs: `missing_token`, `malformed`,
    /// `bad_algorithm`, `bad_signature`, `expired`, `not_yet_valid`, `missing_exp`,
    /// `bad_claim`, `bad_issuer`, `bad_audience`, `missing_sub`.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing_token",
            AuthError::MalformedToken => "malformed",
            AuthError::AlgorithmNotAllowed => "bad_algorithm",
            AuthError::InvalidSignature => "bad_signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::MissingExp => "missing_exp",
            AuthError::InvalidClaim(_) => "bad_claim",
            AuthError::InvalidIssuer => "bad_issuer",
            AuthError::InvalidAudience => "bad_audience",
            AuthError::MissingSub => "missing_sub",
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            AuthError::MissingToken => "missing token",
            AuthError::MalformedToken => "malformed token",
            AuthError::AlgorithmNotAllowed => "algorithm not allowed",
            AuthError::InvalidSignature => "invalid signature",
            AuthError::Expired => "token expired",
            AuthError::NotYetValid => "token not yet valid",
            AuthError::MissingExp => "missing exp",
            AuthError::InvalidClaim(claim) => return write!(f, "invalid {claim} claim"),
            AuthError::InvalidIssuer => "invalid issuer",
            AuthError::InvalidAudience => "invalid audience",
            AuthError::MissingSub => "missing sub",
        };
        f.write_str(msg)
    }
}

impl std::error::Error for AuthError {}

/// Where [`extract_token`] found the client's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenSource {
    /// The CONNECT auth payload, `{"token": "..."}`.
    Auth,
    /// The `token` query parameter of the Engine.IO handshake.
    Query,
    /// An `Authorization: Bearer <token>` request header.
    Header,
}

impl TokenSource {
    /// A short name for logs and metrics: `auth`, `query` or `header`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenSource::Auth => "auth",
            TokenSource::Query => "query",
            TokenSource::Header => "header",
        }
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Finds the client's token, in this order of preference:
///
/// 1. `auth["token"]`, when the CONNECT auth payload is an object whose `token` is a
///    string;
/// 2. `query_token`, the handshake's `token` query parameter (already percent-decoded
///    by the caller);
/// 3. the first `Authorization` header of the form `Bearer <token>` (scheme matched
///    case-insensitively, surrounding whitespace ignored).
///
/// Empty strings count as absent at every step, so an empty `auth.token` falls through
/// to the query and the header. `None` means no token at all
/// ([`AuthError::MissingToken`]).
pub fn extract_token<'a>(
    auth: Option<&'a serde_json::Value>,
    query_token: Option<&'a str>,
    headers: &'a http::HeaderMap,
) -> Option<(&'a str, TokenSource)> {
    if let Some(token) = auth
        .and_then(|a| a.get("token"))
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return Some((token, TokenSource::Auth));
    }
    if let Some(token) = query_token.filter(|t| !t.is_empty()) {
        return Some((token, TokenSource::Query));
    }
    headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .find_map(|v| bearer(v.to_str().ok()?))
        .map(|token| (token, TokenSource::Header))
}

/// The token of an `Authorization: Bearer <token>` value (RFC 6750 §2.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
    use serde_json::json;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn auth_payload_wins_over_query_and_header() {
        let auth = json!({ "token": "from-auth" });
        let h = headers(&["Bearer from-header"]);
        assert_eq!(
            extract_token(Some(&auth), Some("from-query"), &h),
            Some(("from-auth", TokenSource::Auth))
        );
    }

    #[test]
    fn query_wins_over_header() {
        let h = headers(&["Bearer from-header"]);
        assert_eq!(
            extract_token(None, Some("from-query"), &h),
            Some(("from-query", TokenSource::Query))
        );
    }

    #[test]
    fn header_is_the_last_resort() {
        let h = headers(&["Bearer from-header"]);
        assert_eq!(
            extract_token(None, None, &h),
            Some(("from-header", TokenSource::Header))
        );
    }

    #[test]
    fn unusable_auth_payloads_fall_through() {
        let h = headers(&["Bearer from-header"]);
        for auth in [
            json!({}),
            json!({ "token": "" }),
            json!({ "token": 42 }),
            json!({ "token": null }),
            json!({ "Token": "wrong-case-key" }),
            json!("a-bare-string"),
            json!(["token"]),
            json!(null),
        ] {
            assert_eq!(
                extract_token(Some(&auth), Some("q"), &h),
                Some(("q", TokenSource::Query)),
                "{auth}"
            );
            assert_eq!(
                extract_token(Some(&auth), None, &h),
                Some(("from-header", TokenSource::Header)),
                "{auth}"
            );
        }
    }

    #[test]
    fn empty_query_falls_through() {
        let h = headers(&["Bearer from-header"]);
        assert_eq!(
            extract_token(None, Some(""), &h),
            Some(("from-header", TokenSource::Header))
        );
    }

    #[test]
    fn nothing_anywhere_is_none() {
        assert_eq!(extract_token(None, None, &HeaderMap::new()), None);
        let auth = json!({ "token": "" });
        assert_eq!(extract_token(Some(&auth), Some(""), &headers(&[])), None);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_whitespace_tolerant() {
        for (value, want) in [
            ("Bearer abc.def.ghi", Some("abc.def.ghi")),
            ("bearer abc", Some("abc")),
            ("BEARER abc", Some("abc")),
            ("BeArEr abc", Some("abc")),
            ("Bearer    abc  ", Some("abc")),
            ("  Bearer\tabc", Some("abc")),
            ("Bearer", None),
            ("Bearer ", None),
            ("Bearer    ", None),
            ("Basic dXNlcjpwYXNz", None),
            ("Bearerabc", None),
            ("Token abc", None),
            ("", None),
        ] {
            let h = headers(&[value]);
            assert_eq!(
                extract_token(None, None, &h),
                want.map(|t| (t, TokenSource::Header)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn first_bearer_among_several_authorization_headers() {
        let h = headers(&["Basic dXNlcjpwYXNz", "Bearer second", "Bearer third"]);
        assert_eq!(
            extract_token(None, None, &h),
            Some(("second", TokenSource::Header))
        );
    }

    #[test]
    fn non_ascii_header_is_ignored() {
        let mut h = HeaderMap::new();
        h.append(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer caf\xc3\xa9").unwrap(),
        );
        assert_eq!(extract_token(None, None, &h), None);
    }

    #[test]
    fn messages_and_reasons_are_stable() {
        let all = [
            (AuthError::MissingToken, "missing token", "missing_token"),
            (AuthError::MalformedToken, "malformed token", "malformed"),
            (
                AuthError::AlgorithmNotAllowed,
                "algorithm not allowed",
                "bad_algorithm",
            ),
            (
                AuthError::InvalidSignature,
                "invalid signature",
                "bad_signature",
            ),
            (AuthError::Expired, "token expired", "expired"),
            (
                AuthError::NotYetValid,
                "token not yet valid",
                "not_yet_valid",
            ),
            (AuthError::MissingExp, "missing exp", "missing_exp"),
            (
                AuthError::InvalidClaim("exp"),
                "invalid exp claim",
                "bad_claim",
            ),
            (AuthError::InvalidIssuer, "invalid issuer", "bad_issuer"),
            (
                AuthError::InvalidAudience,
                "invalid audience",
                "bad_audience",
            ),
            (AuthError::MissingSub, "missing sub", "missing_sub"),
        ];
        for (err, msg, reason) in all {
            assert_eq!(err.to_string(), msg);
            assert_eq!(err.reason(), reason);
        }
        assert_eq!(TokenSource::Query.to_string(), "query");
    }
}
