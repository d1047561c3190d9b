//! Tests for the `jwt` mode: every rejection uses a real token built here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use super::jwt::{JwtConfig, JwtConfigError, JwtVerifier};
use super::{AuthError, Identity};

pub(super) const SECRET: &str = "site-a: a development secret, 32+ bytes";
const OTHER_SECRET: &str = "site-b: another secret of 32+ bytes!!";
pub(super) const NOW: u64 = 1_700_000_000;

pub(super) const RSA_PUBLIC: &[u8] = include_bytes!("testdata/rsa_public.pem");
pub(super) const RSA_PRIVATE: &[u8] = include_bytes!("testdata/rsa_private.pem");
const RSA2_PRIVATE: &[u8] = include_bytes!("testdata/rsa2_private.pem");
pub(super) const RSA1024_PUBLIC: &[u8] = include_bytes!("testdata/rsa1024_public.pem");
pub(super) const EC_PUBLIC: &[u8] = include_bytes!("testdata/ec256_public.pem");
pub(super) const EC_PRIVATE: &[u8] = include_bytes!("testdata/ec256_private.pem");
pub(super) const ED_PUBLIC: &[u8] = include_bytes!("testdata/ed25519_public.pem");
pub(super) const ED_PRIVATE: &[u8] = include_bytes!("testdata/ed25519_private.pem");

pub(super) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with exactly this header and these claims, signed by `key` with `alg`.
fn sign(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

fn hs_key(secret: &str) -> EncodingKey {
    EncodingKey::from_secret(secret.as_bytes()).unwrap()
}

/// An HS256 token for site A.
fn hs(claims: Value) -> String {
    sign(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims,
        &hs_key(SECRET),
        Algorithm::HS256,
    )
}

fn good_claims() -> Value {
    json!({"sub": "user_1", "exp": NOW + 3600})
}

pub(super) fn hs_cfg() -> JwtConfig {
    JwtConfig::hmac(SECRET)
}

pub(super) fn site(cfg: &JwtConfig) -> JwtVerifier {
    JwtVerifier::new(cfg).unwrap()
}

fn hs_site() -> JwtVerifier {
    site(&hs_cfg())
}

pub(super) fn pk_cfg(algorithms: &[&str], pem: &[u8]) -> JwtConfig {
    JwtConfig {
        public_key_pem: Some(pem.to_vec()),
        algorithms: algorithms.iter().map(|a| a.to_string()).collect(),
        ..JwtConfig::default()
    }
}

fn verify(site: &JwtVerifier, token: &str) -> Result<Identity, AuthError> {
    site.verify(token, now())
}

pub(super) fn config_err(cfg: &JwtConfig) -> JwtConfigError {
    JwtVerifier::new(cfg).unwrap_err()
}

// ---- accepted tokens ----

#[test]
fn valid_hs256_token_is_accepted_with_sub_as_user() {
    let id = verify(&hs_site(), &hs(good_claims())).unwrap();
    assert_eq!(id.user, "user_1");
    assert_eq!(id.expires_at, UNIX_EPOCH + Duration::from_secs(NOW + 3600));
}

#[test]
fn hs384_and_hs512_when_listed() {
    let cfg = JwtConfig {
        algorithms: vec!["HS256".into(), "HS384".into(), "HS512".into()],
        ..hs_cfg()
    };
    for (name, alg) in [("HS384", Algorithm::HS384), ("HS512", Algorithm::HS512)] {
        let t = sign(&json!({"alg": name}), &good_claims(), &hs_key(SECRET), alg);
        assert_eq!(verify(&site(&cfg), &t).unwrap().user, "user_1", "{name}");
    }
}

#[test]
fn fractional_exp_is_accepted() {
    let t = hs(json!({"sub": "u", "exp": NOW as f64 + 10.5}));
    let id = verify(&hs_site(), &t).unwrap();
    assert_eq!(id.expires_at, UNIX_EPOCH + Duration::from_secs(NOW + 10));
}

// ---- algorithm ----

#[test]
fn alg_none_is_rejected() {
    let claims = b64(good_claims().to_string().as_bytes());
    for alg in ["none", "None", "NONE"] {
        let header = b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        let unsigned = format!("{header}.{claims}.");
        assert_eq!(
            verify(&hs_site(), &unsigned),
            Err(AuthError::AlgorithmNotAllowed),
            "{alg}"
        );
        // Even with a valid HS256 signature over the same bytes.
        let sig = jsonwebtoken::crypto::sign(
            format!("{header}.{claims}").as_bytes(),
            &hs_key(SECRET),
            Algorithm::HS256,
        )
        .unwrap();
        let signed = format!("{header}.{claims}.{sig}");
        assert_eq!(
            verify(&hs_site(), &signed),
            Err(AuthError::AlgorithmNotAllowed)
        );
    }
}

#[test]
fn algorithm_outside_the_configured_list_is_rejected() {
    // HS384 is the right family and the right secret, but the site lists HS256 only.
    let t = sign(
        &json!({"alg": "HS384"}),
        &good_claims(),
        &hs_key(SECRET),
        Algorithm::HS384,
    );
    assert_eq!(verify(&hs_site(), &t), Err(AuthError::AlgorithmNotAllowed));
    // Names are case-sensitive, as in RFC 7518.
    let t = sign(
        &json!({"alg": "hs256"}),
        &good_claims(),
        &hs_key(SECRET),
        Algorithm::HS256,
    );
    assert_eq!(verify(&hs_site(), &t), Err(AuthError::AlgorithmNotAllowed));
}

#[test]
fn hs_rs_confusion_is_rejected() {
    // The classic attack: sign HS256 with the site's (public!) RSA key as the secret.
    let rs_site = site(&pk_cfg(&["RS256"], RSA_PUBLIC));
    let forged = sign(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &good_claims(),
        &EncodingKey::from_secret(RSA_PUBLIC).unwrap(),
        Algorithm::HS256,
    );
    assert_eq!(
        verify(&rs_site, &forged),
        Err(AuthError::AlgorithmNotAllowed)
    );
    // And a site cannot be configured to accept both.
    let mixed = JwtConfig {
        secret: Some(SECRET.into()),
        ..pk_cfg(&["RS256", "HS256"], RSA_PUBLIC)
    };
    assert!(matches!(
        config_err(&mixed),
        JwtConfigError::MixedFamilies(..)
    ));
}

#[test]
fn public_key_algorithm_on_another_family_site_is_rejected() {
    let t = sign(
        &json!({"alg": "RS256"}),
        &good_claims(),
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
        Algorithm::RS256,
    );
    let ed_site = site(&pk_cfg(&["EdDSA"], ED_PUBLIC));
    assert_eq!(verify(&ed_site, &t), Err(AuthError::AlgorithmNotAllowed));
    assert_eq!(verify(&hs_site(), &t), Err(AuthError::AlgorithmNotAllowed));
}

// ---- exp / nbf ----

#[test]
fn expired_token_is_rejected() {
    let s = hs_site();
    for exp in [NOW - 1, NOW - 86_400, NOW] {
        let t = hs(json!({"sub": "u", "exp": exp}));
        assert_eq!(verify(&s, &t), Err(AuthError::Expired), "exp={exp}");
        assert_eq!(verify(&s, &t).unwrap_err().to_string(), "token expired");
    }
    assert!(verify(&s, &hs(json!({"sub": "u", "exp": NOW + 1}))).is_ok());
}

#[test]
fn leeway_applies_to_exp() {
    let cfg = JwtConfig {
        leeway: Duration::from_secs(10),
        ..hs_cfg()
    };
    let s = site(&cfg);
    assert!(verify(&s, &hs(json!({"sub": "u", "exp": NOW - 5}))).is_ok());
    assert_eq!(
        verify(&s, &hs(json!({"sub": "u", "exp": NOW - 10}))),
        Err(AuthError::Expired)
    );
    // Without leeway (the default) the same token is expired.
    assert_eq!(
        verify(&hs_site(), &hs(json!({"sub": "u", "exp": NOW - 5}))),
        Err(AuthError::Expired)
    );
}

#[test]
fn missing_or_bad_exp_is_rejected() {
    let s = hs_site();
    for claims in [json!({"sub": "u"}), json!({"sub": "u", "exp": null})] {
        assert_eq!(verify(&s, &hs(claims)), Err(AuthError::MissingExp));
    }
    for exp in [json!("1800000000"), json!(-1), json!(true), json!(u64::MAX)] {
        assert_eq!(
            verify(&s, &hs(json!({"sub": "u", "exp": exp}))),
            Err(AuthError::InvalidClaim("exp")),
            "{exp}"
        );
    }
}

#[test]
fn nbf_in_the_future_is_rejected() {
    let s = hs_site();
    let t = hs(json!({"sub": "u", "exp": NOW + 60, "nbf": NOW + 30}));
    assert_eq!(verify(&s, &t), Err(AuthError::NotYetValid));
    assert_eq!(
        verify(&s, &t).unwrap_err().to_string(),
        "token not yet valid"
    );
    assert!(verify(&s, &hs(json!({"sub": "u", "exp": NOW + 60, "nbf": NOW}))).is_ok());
    let lenient = site(&JwtConfig {
        leeway: Duration::from_secs(30),
        ..hs_cfg()
    });
    assert!(verify(&lenient, &t).is_ok());
    assert_eq!(
        verify(&s, &hs(json!({"sub": "u", "exp": NOW + 60, "nbf": "soon"}))),
        Err(AuthError::InvalidClaim("nbf"))
    );
}

// ---- iss / aud ----

#[test]
fn issuer_is_checked_only_when_configured() {
    let with = site(&JwtConfig {
        issuer: Some("https://backend.example".into()),
        ..hs_cfg()
    });
    let claims = |iss: Value| json!({"sub": "u", "exp": NOW + 60, "iss": iss});
    assert!(verify(&with, &hs(claims(json!("https://backend.example")))).is_ok());
    for iss in [
        json!("https://evil.example"),
        json!(null),
        json!(["https://backend.example"]),
    ] {
        assert_eq!(
            verify(&with, &hs(claims(iss.clone()))),
            Err(AuthError::InvalidIssuer),
            "{iss}"
        );
    }
    assert_eq!(
        verify(&with, &hs(good_claims())),
        Err(AuthError::InvalidIssuer)
    );
    // Not configured: any iss (or none) is fine.
    assert!(verify(&hs_site(), &hs(claims(json!("https://evil.example")))).is_ok());
}

#[test]
fn audience_is_checked_only_when_configured() {
    let with = site(&JwtConfig {
        audience: Some("herald".into()),
        ..hs_cfg()
    });
    let claims = |aud: Value| json!({"sub": "u", "exp": NOW + 60, "aud": aud});
    assert!(verify(&with, &hs(claims(json!("herald")))).is_ok());
    assert!(verify(&with, &hs(claims(json!(["api", "herald"])))).is_ok());
    for aud in [
        json!("api"),
        json!(["api", "web"]),
        json!([]),
        json!(null),
        json!(7),
    ] {
        assert_eq!(
            verify(&with, &hs(claims(aud.clone()))),
            Err(AuthError::InvalidAudience),
            "{aud}"
        );
    }
    assert_eq!(
        verify(&with, &hs(good_claims())),
        Err(AuthError::InvalidAudience)
    );
    // Not configured: the token's aud is ignored (jsonwebtoken would reject it).
    assert!(verify(&hs_site(), &hs(claims(json!("api")))).is_ok());
    assert!(verify(&hs_site(), &hs(claims(json!(["a", "b"])))).is_ok());
}

// ---- sub ----

#[test]
fn missing_or_empty_sub_is_rejected() {
    let s = hs_site();
    for claims in [
        json!({"exp": NOW + 60}),
        json!({"exp": NOW + 60, "sub": ""}),
        json!({"exp": NOW + 60, "sub": null}),
    ] {
        assert_eq!(
            verify(&s, &hs(claims.clone())),
            Err(AuthError::MissingSub),
            "{claims}"
        );
    }
    assert_eq!(
        verify(&s, &hs(json!({"exp": NOW + 60})))
            .unwrap_err()
            .to_string(),
        "missing sub"
    );
    for sub in [json!(42), json!({"id": 1}), json!(["a"]), json!(true)] {
        assert_eq!(
            verify(&s, &hs(json!({"exp": NOW + 60, "sub": sub}))),
            Err(AuthError::InvalidClaim("sub")),
            "{sub}"
        );
    }
}

// ---- signature ----

#[test]
fn tampered_payload_is_rejected() {
    let t = hs(good_claims());
    let parts: Vec<&str> = t.split('.').collect();
    let forged_claims = json!({"sub": "admin", "exp": NOW + 3600});
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(forged_claims.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(
        verify(&hs_site(), &forged),
        Err(AuthError::InvalidSignature)
    );
    // Even a payload that is not base64 is never looked at before the signature.
    let forged = format!("{}.{}.{}", parts[0], "not*base64", parts[2]);
    assert_eq!(
        verify(&hs_site(), &forged),
        Err(AuthError::InvalidSignature)
    );
}

/// `token` with one character in the middle of its signature changed.
fn flip_signature(token: &str) -> String {
    let dot = token.rfind('.').unwrap();
    let mut bytes = token.as_bytes().to_vec();
    let i = dot + 1 + (token.len() - dot) / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn tampered_signature_is_rejected() {
    let t = flip_signature(&hs(good_claims()));
    assert_eq!(verify(&hs_site(), &t), Err(AuthError::InvalidSignature));
    assert_eq!(
        verify(&hs_site(), &t).unwrap_err().to_string(),
        "invalid signature"
    );
    // An empty signature part.
    let t = hs(good_claims());
    let unsigned = &t[..=t.rfind('.').unwrap()];
    assert_eq!(
        verify(&hs_site(), unsigned),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn token_for_another_site_is_rejected() {
    let t = sign(
        &json!({"alg": "HS256"}),
        &good_claims(),
        &hs_key(OTHER_SECRET),
        Algorithm::HS256,
    );
    assert_eq!(verify(&hs_site(), &t), Err(AuthError::InvalidSignature));
    assert!(verify(&site(&JwtConfig::hmac(OTHER_SECRET)), &t).is_ok());
}

// ---- shape ----

#[test]
fn malformed_strings_are_rejected() {
    let good = hs(good_claims());
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        String::new(),
        "abc".into(),
        "a.b".into(),
        "a.b.c.d".into(),
        format!("{good}.{}", parts[2]),
        "!!!.###.$$$".into(),
        ".e30.".into(),
        "..".into(),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!(" {good}"),
        format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"[\"HS256\"]"), parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"{\"typ\":\"JWT\"}"), parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"{\"alg\":256}"), parts[1], parts[2]),
        format!("{}.{}.***", parts[0], parts[1]),
    ];
    for token in &cases {
        assert_eq!(
            verify(&hs_site(), token),
            Err(AuthError::MalformedToken),
            "{token:?}"
        );
    }
    assert_eq!(
        verify(&hs_site(), "").unwrap_err().to_string(),
        "malformed token"
    );
}

#[test]
fn correctly_signed_garbage_payload_is_malformed() {
    let key = hs_key(SECRET);
    let header = b64(br#"{"alg":"HS256"}"#);
    for payload in [
        b64(b"not json"),
        b64(b"[1,2]"),
        b64(b"\"user_1\""),
        "%%%".into(),
    ] {
        let message = format!("{header}.{payload}");
        let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
        assert_eq!(
            verify(&hs_site(), &format!("{message}.{sig}")),
            Err(AuthError::MalformedToken),
            "{payload}"
        );
    }
}

#[test]
fn unknown_critical_header_is_malformed() {
    let t = sign(
        &json!({"alg": "HS256", "crit": ["exp"]}),
        &good_claims(),
        &hs_key(SECRET),
        Algorithm::HS256,
    );
    assert_eq!(verify(&hs_site(), &t), Err(AuthError::MalformedToken));
}

// ---- public-key sites ----

#[test]
fn rs256_and_ps256_site_verifies_its_key_pair() {
    let s = site(&pk_cfg(&["RS256", "PS256"], RSA_PUBLIC));
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap();
    for (name, alg) in [("RS256", Algorithm::RS256), ("PS256", Algorithm::PS256)] {
        let t = sign(
            &json!({"alg": name, "typ": "JWT"}),
            &good_claims(),
            &key,
            alg,
        );
        assert_eq!(verify(&s, &t).unwrap().user, "user_1", "{name}");
        assert_eq!(
            verify(&s, &flip_signature(&t)),
            Err(AuthError::InvalidSignature)
        );
    }
    // Signed by another RSA key: another issuer.
    let other = EncodingKey::from_rsa_pem(RSA2_PRIVATE).unwrap();
    let t = sign(
        &json!({"alg": "RS256"}),
        &good_claims(),
        &other,
        Algorithm::RS256,
    );
    assert_eq!(verify(&s, &t), Err(AuthError::InvalidSignature));
    // Expiry still applies to public-key tokens.
    let t = sign(
        &json!({"alg": "RS256"}),
        &json!({"sub": "u", "exp": NOW - 1}),
        &key,
        Algorithm::RS256,
    );
    assert_eq!(verify(&s, &t), Err(AuthError::Expired));
}

#[test]
fn es256_site_verifies_its_key_pair() {
    let s = site(&pk_cfg(&["ES256"], EC_PUBLIC));
    let key = EncodingKey::from_ec_pem(EC_PRIVATE).unwrap();
    let t = sign(
        &json!({"alg": "ES256"}),
        &good_claims(),
        &key,
        Algorithm::ES256,
    );
    assert_eq!(verify(&s, &t).unwrap().user, "user_1");
    assert_eq!(
        verify(&s, &flip_signature(&t)),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn eddsa_site_verifies_its_key_pair() {
    let s = site(&pk_cfg(&["EdDSA"], ED_PUBLIC));
    let key = EncodingKey::from_ed_pem(ED_PRIVATE).unwrap();
    let t = sign(
        &json!({"alg": "EdDSA"}),
        &good_claims(),
        &key,
        Algorithm::EdDSA,
    );
    assert_eq!(verify(&s, &t).unwrap().user, "user_1");
    assert_eq!(
        verify(&s, &flip_signature(&t)),
        Err(AuthError::InvalidSignature)
    );
    let t = sign(
        &json!({"alg": "EdDSA"}),
        &json!({"exp": NOW + 5}),
        &key,
        Algorithm::EdDSA,
    );
    assert_eq!(verify(&s, &t), Err(AuthError::MissingSub));
}
