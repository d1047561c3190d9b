//! The `jwt` authentication mode: verifying (and, for development, minting) JWTs.
//!
//! Security rules, all enforced here:
//! - the accepted algorithms come from the site's config, never from the token; the
//!   header's `alg` is checked against that list before any signature work, so `none`
//!   and every unlisted algorithm are "algorithm not allowed";
//! - a site uses one algorithm family with one kind of key: HS* with a `secret`
//!   (at least [`MIN_SECRET_LEN`] bytes), or RS*/PS*, ES* or EdDSA with a public key.
//!   Mixing them is a config error, which is what rules out HS/RS key confusion;
//! - `exp` is required, `nbf` is checked when present, `iss`/`aud` are checked only when
//!   the site configures them (a token's `aud` is ignored when the site sets none);
//! - `sub` must be a non-empty string: it is the user id.
//!
//! Times are whole Unix seconds. A token is expired once `now >= exp + leeway`
//! (RFC 7519 §4.1.4) and not yet valid while `now + leeway < nbf`. The leeway defaults
//! to 0 s ([`DEFAULT_LEEWAY`](JwtConfig::DEFAULT_LEEWAY)).
//!
//! The signature itself is checked by the `jsonwebtoken` crate (RustCrypto backend,
//! `jsonwebtoken::crypto::verify`); its claim validation is not used, because it reads
//! the system clock, reports less precise errors and refuses to parse some claim
//! shapes (a non-string `sub`) that deserve a precise answer. Herald parses and checks
//! the claims itself, after the signature.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header};
use serde_json::{Map, Value, json};

use super::{AuthError, Identity};

/// The shortest HS* secret a site may use, in bytes (256 bits, the HS256 key size).
pub const MIN_SECRET_LEN: usize = 32;

/// The smallest RSA modulus accepted in a site's public key, in bits.
const MIN_RSA_BITS: usize = 2048;

/// Every algorithm name a site may list.
const SUPPORTED: &str =
    "HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA";

/// A site's `jwt` settings, as read from the config.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The shared secret for HS256/384/512 (used as UTF-8 bytes, not base64-decoded).
    pub secret: Option<String>,
    /// The contents of the public key PEM file for RS*/PS*/ES*/EdDSA: `PUBLIC KEY`
    /// (SPKI), or `RSA PUBLIC KEY` (PKCS#1) for RSA.
    pub public_key_pem: Option<Vec<u8>>,
    /// The accepted algorithms, by their JWT names (`"HS256"`, `"RS256"`, `"EdDSA"`, …),
    /// all from one family. Case-sensitive, as in the JWT header.
    pub algorithms: Vec<String>,
    /// When set, a token's `iss` must equal it.
    pub issuer: Option<String>,
    /// When set, a token's `aud` (a string, or an array of strings) must contain it.
    pub audience: Option<String>,
    /// Clock-skew allowance for `exp` and `nbf`, in whole seconds.
    pub leeway: Duration,
}

impl JwtConfig {
    /// The default `leeway`: none. Herald follows the Node `jsonwebtoken` default;
    /// raise it (a few seconds) when backends' clocks may run ahead of Herald's.
    pub const DEFAULT_LEEWAY: Duration = Duration::ZERO;

    /// An HS256 site with `secret` and nothing else configured.
    pub fn hmac(secret: impl Into<String>) -> Self {
        JwtConfig {
            secret: Some(secret.into()),
            algorithms: vec!["HS256".into()],
            ..JwtConfig::default()
        }
    }
}

impl Default for JwtConfig {
    /// Nothing configured: not valid as is (no algorithm, no key).
    fn default() -> Self {
        JwtConfig {
            secret: None,
            public_key_pem: None,
            algorithms: Vec::new(),
            issuer: None,
            audience: None,
            leeway: JwtConfig::DEFAULT_LEEWAY,
        }
    }
}

impl fmt::Debug for JwtConfig {
    /// Redacts the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field(
                "public_key_pem",
                &self
                    .public_key_pem
                    .as_ref()
                    .map(|p| format!("{} bytes", p.len())),
            )
            .field("algorithms", &self.algorithms)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// Why a site's `jwt` settings were refused. `Display` is the message for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// `algorithms` is empty.
    NoAlgorithms,
    /// `algorithms` lists `none` (in any case): never accepted.
    NoneAlgorithm,
    /// `algorithms` lists a name that is not a supported JWT algorithm.
    UnknownAlgorithm(String),
    /// `algorithms` lists algorithms of different families (e.g. HS256 and RS256).
    MixedFamilies(String, String),
    /// An HS* site without a `secret`.
    MissingSecret(String),
    /// An HS* `secret` shorter than [`MIN_SECRET_LEN`] bytes (its length is given).
    ShortSecret(usize),
    /// An HS* site that also has a `public_key`.
    UnexpectedPublicKey(String),
    /// A public-key site without a `public_key`.
    MissingPublicKey(String),
    /// A public-key site that also has a `secret`.
    UnexpectedSecret(String),
    /// The `public_key` PEM holds a private key.
    PrivateKey,
    /// The `public_key` PEM is not a usable key for the algorithm: (algorithm, why).
    BadPublicKey(String, String),
    /// An RSA public key smaller than 2048 bits (its size is given).
    WeakRsaKey(usize),
    /// `issuer` or `audience` is set to an empty string.
    EmptySetting(&'static str),
    /// The `jsonwebtoken` crate was built without exactly one crypto backend.
    NoCryptoBackend,
}

impl fmt::Display for JwtConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAlgorithms => write!(
                f,
                "jwt: `algorithms` is empty; list at least one (e.g. [\"HS256\"])"
            ),
            Self::NoneAlgorithm => write!(
                f,
                "jwt: algorithm `none` is never accepted (unsigned tokens)"
            ),
            Self::UnknownAlgorithm(a) => {
                write!(f, "jwt: unknown algorithm `{a}` (supported: {SUPPORTED})")
            }
            Self::MixedFamilies(a, b) => write!(
                f,
                "jwt: algorithms `{a}` and `{b}` are of different families; a site uses either HS* with a `secret` \
                 or one public-key family (RS*/PS*, ES*, EdDSA) with a `public_key`"
            ),
            Self::MissingSecret(a) => write!(f, "jwt: {a} needs a `secret`"),
            Self::ShortSecret(n) => write!(
                f,
                "jwt: `secret` is {n} bytes; HS* secrets must be at least {MIN_SECRET_LEN} bytes (e.g. `openssl rand -base64 48`)"
            ),
            Self::UnexpectedPublicKey(a) => write!(
                f,
                "jwt: {a} verifies with a `secret`, not a `public_key`; remove one of them (mixing them opens HS/RS key confusion)"
            ),
            Self::MissingPublicKey(a) => write!(f, "jwt: {a} needs a `public_key` (PEM file)"),
            Self::UnexpectedSecret(a) => write!(
                f,
                "jwt: {a} verifies with a `public_key`, not a `secret`; remove one of them (mixing them opens HS/RS key confusion)"
            ),
            Self::PrivateKey => write!(
                f,
                "jwt: `public_key` holds a private key; give Herald the public key only (`openssl pkey -in KEY -pubout`)"
            ),
            Self::BadPublicKey(a, why) => write!(
                f,
                "jwt: `public_key` is not a usable {a} public key PEM: {why}"
            ),
            Self::WeakRsaKey(bits) => write!(
                f,
                "jwt: the RSA public key is {bits} bits; at least {MIN_RSA_BITS} are required"
            ),
            Self::EmptySetting(name) => {
                write!(f, "jwt: `{name}` is empty; remove it or give a value")
            }
            Self::NoCryptoBackend => write!(
                f,
                "jwt: built without a crypto backend for jsonwebtoken (enable exactly one of `rust_crypto`, `aws_lc_rs`)"
            ),
        }
    }
}

impl std::error::Error for JwtConfigError {}

/// Why [`mint`] could not make a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MintError {
    /// The site's settings are invalid.
    Config(JwtConfigError),
    /// The site verifies with a public key (the algorithm is given): minting needs the
    /// private key, which Herald does not hold. Mint where the private key lives.
    NeedsPrivateKey(String),
    /// `sub` is empty.
    EmptySub,
    /// The time to live is under one second.
    TtlTooShort,
    /// Encoding or signing failed.
    Encode(String),
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => e.fmt(f),
            Self::NeedsPrivateKey(a) => write!(
                f,
                "cannot mint {a} tokens: Herald holds only the site's public key; sign them where the private key lives"
            ),
            Self::EmptySub => write!(f, "cannot mint a token without a user id (`sub` is empty)"),
            Self::TtlTooShort => write!(f, "the token's time to live must be at least 1 s"),
            Self::Encode(why) => write!(f, "cannot mint the token: {why}"),
        }
    }
}

impl std::error::Error for MintError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            _ => None,
        }
    }
}

impl From<JwtConfigError> for MintError {
    fn from(e: JwtConfigError) -> Self {
        MintError::Config(e)
    }
}

/// Verifies one site's JWTs. Built once per site (it parses the key); cheap to share
/// (`Send + Sync`).
pub struct JwtVerifier {
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
    /// The HS* secret as a signing key, for [`JwtVerifier::mint`]; `None` for public keys.
    signing_key: Option<EncodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.algorithms)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    /// Checks `cfg` and prepares the key. Every rule of the module docs that can be
    /// checked without a token is checked here, so a bad site fails at startup.
    pub fn new(cfg: &JwtConfig) -> Result<Self, JwtConfigError> {
        let provider = CryptoProvider::try_get_default().ok_or(JwtConfigError::NoCryptoBackend)?;
        let first_name = cfg.algorithms.first().ok_or(JwtConfigError::NoAlgorithms)?;
        let mut algorithms: Vec<Algorithm> = Vec::with_capacity(cfg.algorithms.len());
        for name in &cfg.algorithms {
            if name.eq_ignore_ascii_case("none") {
                return Err(JwtConfigError::NoneAlgorithm);
            }
            let alg = Algorithm::from_str(name)
                .map_err(|_| JwtConfigError::UnknownAlgorithm(name.clone()))?;
            if algorithms
                .first()
                .is_some_and(|a| a.family() != alg.family())
            {
                return Err(JwtConfigError::MixedFamilies(
                    first_name.clone(),
                    name.clone(),
                ));
            }
            if !algorithms.contains(&alg) {
                algorithms.push(alg);
            }
        }
        let family = algorithms[0].family();
        for (name, value) in [("issuer", &cfg.issuer), ("audience", &cfg.audience)] {
            if value.as_deref() == Some("") {
                return Err(JwtConfigError::EmptySetting(name));
            }
        }

        let (key, signing_key) = if family == AlgorithmFamily::Hmac {
            if cfg.public_key_pem.is_some() {
                return Err(JwtConfigError::UnexpectedPublicKey(first_name.clone()));
            }
            let secret = cfg
                .secret
                .as_deref()
                .ok_or_else(|| JwtConfigError::MissingSecret(first_name.clone()))?;
            if secret.len() < MIN_SECRET_LEN {
                return Err(JwtConfigError::ShortSecret(secret.len()));
            }
            // Both only refuse an empty secret, ruled out above.
            let short = |_| JwtConfigError::ShortSecret(secret.len());
            (
                DecodingKey::from_secret(secret.as_bytes()).map_err(short)?,
                Some(EncodingKey::from_secret(secret.as_bytes()).map_err(short)?),
            )
        } else {
            if cfg.secret.is_some() {
                return Err(JwtConfigError::UnexpectedSecret(first_name.clone()));
            }
            let pem = cfg
                .public_key_pem
                .as_deref()
                .ok_or_else(|| JwtConfigError::MissingPublicKey(first_name.clone()))?;
            (public_key(pem, family, first_name, provider)?, None)
        };
        // Building a verifier parses EC and Ed keys, catching e.g. a P-256 key listed
        // for ES384.
        for alg in &algorithms {
            if let Err(e) = (provider.verifier_factory)(alg, &key) {
                return Err(JwtConfigError::BadPublicKey(
                    format!("{alg:?}"),
                    describe(e.kind()),
                ));
            }
        }

        // jsonwebtoken checks the header's alg against this list and the signature;
        // every claim check is Herald's own (see `check_claims`).

        Ok(JwtVerifier {
            algorithms,
            key,
            signing_key,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
            leeway: cfg.leeway.as_secs(),
        })
    }

    /// Verifies `token` at time `now` and returns who it identifies.
    ///
    /// Order: shape and header (`malformed token`), algorithm (`algorithm not
    /// allowed`), signature (`invalid signature`), then the claims: `exp`, `nbf`,
    /// `iss`, `aud`, `sub`.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Identity, AuthError> {
        let alg = match header_alg(token)? {
            Some(alg) if self.algorithms.contains(&alg) => alg,
            _ => return Err(AuthError::AlgorithmNotAllowed),
        };
        // The signature is checked here and the claims parsed here (not by
        // `jsonwebtoken::decode`): its own claim parsing fails on a well-signed token
        // whose `sub` is not a string, and the client must hear "invalid sub claim".
        let (message, signature) = token.rsplit_once('.').ok_or(AuthError::MalformedToken)?;
        match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &self.key, alg) {
            Ok(true) => {}
            Ok(false) => return Err(AuthError::InvalidSignature),
            Err(e) => return Err(map_decode_error(e.kind())),
        }
        let payload = message.split('.').nth(1).ok_or(AuthError::MalformedToken)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| AuthError::MalformedToken)?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(claims)) => self.check_claims(&claims, unix_secs(now)),
            _ => Err(AuthError::MalformedToken),
        }
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: u64) -> Result<Identity, AuthError> {
        let exp = match claims.get("exp") {
            None | Some(Value::Null) => return Err(AuthError::MissingExp),
            Some(v) => numeric_date(v).ok_or(AuthError::InvalidClaim("exp"))?,
        };
        let expires_at = UNIX_EPOCH
            .checked_add(Duration::from_secs(exp))
            .ok_or(AuthError::InvalidClaim("exp"))?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(AuthError::Expired);
        }
        match claims.get("nbf") {
            None | Some(Value::Null) => {}
            Some(v) => {
                let nbf = numeric_date(v).ok_or(AuthError::InvalidClaim("nbf"))?;
                if now.saturating_add(self.leeway) < nbf {
                    return Err(AuthError::NotYetValid);
                }
            }
        }
        if let Some(issuer) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err(AuthError::InvalidIssuer);
        }
        if let Some(audience) = &self.audience {
            let ok = match claims.get("aud") {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => {
                    auds.iter().any(|a| a.as_str() == Some(audience.as_str()))
                }
                _ => false,
            };
            if !ok {
                return Err(AuthError::InvalidAudience);
            }
        }
        let user = match claims.get("sub") {
            None | Some(Value::Null) => return Err(AuthError::MissingSub),
            Some(Value::String(s)) if s.is_empty() => return Err(AuthError::MissingSub),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(AuthError::InvalidClaim("sub")),
        };
        Ok(Identity { user, expires_at })
    }

    /// Mints a token for user `sub`, valid from `now` for `ttl` (whole seconds), with
    /// the site's first algorithm and its `iss`/`aud` when configured. HS* sites only.
    pub fn mint(&self, sub: &str, ttl: Duration, now: SystemTime) -> Result<String, MintError> {
        let alg = self.algorithms[0];
        let key = self
            .signing_key
            .as_ref()
            .ok_or_else(|| MintError::NeedsPrivateKey(format!("{alg:?}")))?;
        if sub.is_empty() {
            return Err(MintError::EmptySub);
        }
        if ttl.as_secs() == 0 {
            return Err(MintError::TtlTooShort);
        }
        let iat = unix_secs(now);
        let mut claims =
            json!({ "sub": sub, "iat": iat, "exp": iat.saturating_add(ttl.as_secs()) });
        if let Some(iss) = &self.issuer {
            claims["iss"] = json!(iss);
        }
        if let Some(aud) = &self.audience {
            claims["aud"] = json!(aud);
        }
        jsonwebtoken::encode(&Header::new(alg), &claims, key)
            .map_err(|e| MintError::Encode(e.to_string()))
    }
}

/// Mints a development token for `sub` on the site configured by `config` (HS* only),
/// valid from `now` for `ttl`: what `herald token --site S --sub U --ttl 1h` prints.
/// The token carries `sub`, `iat`, `exp`, and the site's `iss`/`aud` when configured.
///
/// A public-key site gives [`MintError::NeedsPrivateKey`] before anything else is
/// checked, so `config` need not carry its public key for that answer.
pub fn mint(
    config: &JwtConfig,
    sub: &str,
    ttl: Duration,
    now: SystemTime,
) -> Result<String, MintError> {
    if let Some(first) = config.algorithms.first()
        && Algorithm::from_str(first).is_ok_and(|a| a.family() != AlgorithmFamily::Hmac)
    {
        return Err(MintError::NeedsPrivateKey(first.clone()));
    }
    JwtVerifier::new(config)?.mint(sub, ttl, now)
}

/// The header's `alg` (`None` when it names no supported algorithm, e.g. `none`),
/// read without trusting anything else in the token.
fn header_alg(token: &str) -> Result<Option<Algorithm>, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::MalformedToken);
    };
    if header.is_empty() || payload.is_empty() {
        return Err(AuthError::MalformedToken);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::MalformedToken)?;
    let header: Value = serde_json::from_slice(&bytes).map_err(|_| AuthError::MalformedToken)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(AuthError::MalformedToken)?;
    // No critical extension is supported (RFC 7515 §4.1.11: a token naming one must be
    // refused), and an unencoded payload (`b64: false`, RFC 7797) neither.
    if header.get("crit").is_some() || header.get("b64").is_some_and(|b| b != &Value::Bool(true)) {
        return Err(AuthError::MalformedToken);
    }
    Ok(Algorithm::from_str(alg).ok())
}

/// Parses the site's public key PEM for `family`, refusing private and weak RSA keys.
fn public_key(
    pem: &[u8],
    family: AlgorithmFamily,
    alg: &str,
    provider: &CryptoProvider,
) -> Result<DecodingKey, JwtConfigError> {
    if pem
        .windows(b"PRIVATE KEY-----".len())
        .any(|w| w == b"PRIVATE KEY-----")
    {
        return Err(JwtConfigError::PrivateKey);
    }
    let bad = |e: jsonwebtoken::errors::Error| {
        JwtConfigError::BadPublicKey(alg.to_owned(), describe(e.kind()))
    };
    match family {
        AlgorithmFamily::Rsa => {
            let key = DecodingKey::from_rsa_pem(pem).map_err(bad)?;
            let der = key.try_get_as_bytes().map_err(bad)?;
            let (n, _e) =
                (provider.key_utils.rsa_pub_components_from_public_key)(der).map_err(bad)?;
            let bits = modulus_bits(&n);
            if bits < MIN_RSA_BITS {
                return Err(JwtConfigError::WeakRsaKey(bits));
            }
            Ok(key)
        }
        AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem).map_err(bad),
        AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem).map_err(bad),
        AlgorithmFamily::Hmac => unreachable!("HS* sites have no public key"),
    }
}

/// The size in bits of a big-endian unsigned integer.
fn modulus_bits(n: &[u8]) -> usize {
    let n = &n[n.iter().take_while(|b| **b == 0).count()..];
    n.first()
        .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize)
}

/// An operator-facing reason for a key that jsonwebtoken refused.
fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidKeyFormat => "not a PEM public key of this kind".into(),
        ErrorKind::InvalidEcdsaKey => {
            "not an EC public key for this curve (ES256 needs P-256, ES384 needs P-384)".into()
        }
        ErrorKind::InvalidEddsaKey => "not an Ed25519 public key".into(),
        ErrorKind::InvalidRsaKey(why) => format!("not an RSA public key ({why})"),
        other => format!("{other:?}"),
    }
}

/// Maps a jsonwebtoken decoding error to what the client is told. Claim validation is
/// off in jsonwebtoken, so only shape, algorithm and signature errors can occur.
fn map_decode_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm => AuthError::AlgorithmNotAllowed,
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => AuthError::MalformedToken,
        // InvalidSignature, and key errors at verification time (the key was checked
        // at startup, so these mean the token does not verify).
        _ => AuthError::InvalidSignature,
    }
}

/// A JWT NumericDate as whole seconds: a non-negative number, fractions dropped.
fn numeric_date(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        let f = v.as_f64()?;
        (f.is_finite() && f >= 0.0 && f < u64::MAX as f64).then_some(f as u64)
    })
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
