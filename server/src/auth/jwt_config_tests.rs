//! Tests for `jwt` site configuration and minting.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::AuthError;
use super::jwt::{JwtConfig, JwtConfigError, JwtVerifier, MintError, mint};
use super::jwt_tests::{
    EC_PRIVATE, EC_PUBLIC, ED_PRIVATE, ED_PUBLIC, RSA_PRIVATE, RSA_PUBLIC, RSA1024_PUBLIC, SECRET,
    config_err, hs_cfg, now, pk_cfg, site,
};

// ---- minting ----

#[test]
fn mint_then_verify_round_trip() {
    let cfg = JwtConfig {
        issuer: Some("herald-dev".into()),
        audience: Some("herald".into()),
        ..hs_cfg()
    };
    let ttl = Duration::from_secs(3600);
    let t = mint(&cfg, "user_42", ttl, now()).unwrap();
    let s = site(&cfg);
    let id = s.verify(&t, now()).unwrap();
    assert_eq!(id.user, "user_42");
    assert_eq!(id.expires_at, now() + ttl);
    assert_eq!(s.mint("user_42", ttl, now()).unwrap(), t);
    assert_eq!(s.verify(&t, now() + ttl), Err(AuthError::Expired));
    // The minted token carries the site's first algorithm.
    let cfg512 = JwtConfig {
        algorithms: vec!["HS512".into(), "HS256".into()],
        ..hs_cfg()
    };
    let t = mint(&cfg512, "u", ttl, now()).unwrap();
    let header = URL_SAFE_NO_PAD
        .decode(t.split('.').next().unwrap())
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&header).unwrap()["alg"],
        "HS512"
    );
    assert!(site(&cfg512).verify(&t, now()).is_ok());
}

#[test]
fn mint_errors() {
    let ttl = Duration::from_secs(60);
    for cfg in [
        pk_cfg(&["RS256"], RSA_PUBLIC),
        pk_cfg(&["EdDSA"], ED_PUBLIC),
    ] {
        let err = mint(&cfg, "u", ttl, now()).unwrap_err();
        assert!(matches!(err, MintError::NeedsPrivateKey(_)), "{err}");
        assert!(err.to_string().contains("private key"), "{err}");
    }
    // Without the public key too (what `herald token` passes).
    let no_key = JwtConfig {
        public_key_pem: None,
        ..pk_cfg(&["ES256"], EC_PUBLIC)
    };
    assert_eq!(
        mint(&no_key, "u", ttl, now()),
        Err(MintError::NeedsPrivateKey("ES256".into()))
    );
    assert_eq!(mint(&hs_cfg(), "", ttl, now()), Err(MintError::EmptySub));
    assert_eq!(
        mint(&hs_cfg(), "u", Duration::from_millis(999), now()),
        Err(MintError::TtlTooShort)
    );
    assert_eq!(
        mint(&JwtConfig::hmac("short"), "u", ttl, now()),
        Err(MintError::Config(JwtConfigError::ShortSecret(5)))
    );
}

// ---- configuration ----

#[test]
fn secret_length_is_enforced() {
    assert_eq!(
        config_err(&JwtConfig::hmac("x".repeat(31))),
        JwtConfigError::ShortSecret(31)
    );
    assert!(JwtVerifier::new(&JwtConfig::hmac("x".repeat(32))).is_ok());
    let msg = JwtConfigError::ShortSecret(31).to_string();
    assert!(msg.contains("31") && msg.contains("32"), "{msg}");
}

#[test]
fn algorithm_list_errors() {
    let with = |algs: &[&str]| JwtConfig {
        algorithms: algs.iter().map(|a| a.to_string()).collect(),
        ..hs_cfg()
    };
    assert_eq!(config_err(&with(&[])), JwtConfigError::NoAlgorithms);
    assert_eq!(config_err(&with(&["none"])), JwtConfigError::NoneAlgorithm);
    assert_eq!(
        config_err(&with(&["HS256", "NONE"])),
        JwtConfigError::NoneAlgorithm
    );
    assert_eq!(
        config_err(&with(&["HS1024"])),
        JwtConfigError::UnknownAlgorithm("HS1024".into())
    );
    assert_eq!(
        config_err(&with(&["hs256"])),
        JwtConfigError::UnknownAlgorithm("hs256".into())
    );
    assert!(config_err(&with(&["HS1024"])).to_string().contains("EdDSA"));
    assert_eq!(
        config_err(&with(&["HS256", "RS256"])),
        JwtConfigError::MixedFamilies("HS256".into(), "RS256".into())
    );
    for algs in [
        &["RS256", "ES256"][..],
        &["ES256", "EdDSA"],
        &["EdDSA", "PS256"],
    ] {
        let cfg = pk_cfg(algs, RSA_PUBLIC);
        assert!(
            matches!(config_err(&cfg), JwtConfigError::MixedFamilies(..)),
            "{algs:?}"
        );
    }
    // Duplicates are harmless; RS* and PS* share the RSA family.
    assert!(JwtVerifier::new(&with(&["HS256", "HS256"])).is_ok());
    assert!(JwtVerifier::new(&pk_cfg(&["RS512", "PS384"], RSA_PUBLIC)).is_ok());
}

#[test]
fn key_kind_errors() {
    let hs_with_pk = JwtConfig {
        public_key_pem: Some(RSA_PUBLIC.to_vec()),
        ..hs_cfg()
    };
    assert_eq!(
        config_err(&hs_with_pk),
        JwtConfigError::UnexpectedPublicKey("HS256".into())
    );
    let rs_with_secret = JwtConfig {
        secret: Some(SECRET.into()),
        ..pk_cfg(&["RS256"], RSA_PUBLIC)
    };
    assert_eq!(
        config_err(&rs_with_secret),
        JwtConfigError::UnexpectedSecret("RS256".into())
    );
    let hs_without_secret = JwtConfig {
        secret: None,
        ..hs_cfg()
    };
    assert_eq!(
        config_err(&hs_without_secret),
        JwtConfigError::MissingSecret("HS256".into())
    );
    let rs_without_key = JwtConfig {
        public_key_pem: None,
        ..pk_cfg(&["RS256"], RSA_PUBLIC)
    };
    assert_eq!(
        config_err(&rs_without_key),
        JwtConfigError::MissingPublicKey("RS256".into())
    );
}

#[test]
fn public_key_errors() {
    for (algs, pem) in [
        (&["RS256"][..], RSA_PRIVATE),
        (&["ES256"], EC_PRIVATE),
        (&["EdDSA"], ED_PRIVATE),
    ] {
        assert_eq!(
            config_err(&pk_cfg(algs, pem)),
            JwtConfigError::PrivateKey,
            "{algs:?}"
        );
    }
    for (algs, pem) in [
        (&["RS256"][..], EC_PUBLIC),
        (&["RS256"], ED_PUBLIC),
        (&["ES256"], RSA_PUBLIC),
        (&["EdDSA"], RSA_PUBLIC),
        (&["EdDSA"], EC_PUBLIC),
        // One P-256 key cannot serve ES384.
        (&["ES256", "ES384"], EC_PUBLIC),
        (&["RS256"], b"not a pem file"),
        (
            &["RS256"],
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ),
    ] {
        let err = config_err(&pk_cfg(algs, pem));
        assert!(
            matches!(err, JwtConfigError::BadPublicKey(..)),
            "{algs:?}: {err:?}"
        );
    }
    assert_eq!(
        config_err(&pk_cfg(&["RS256"], RSA1024_PUBLIC)),
        JwtConfigError::WeakRsaKey(1024)
    );
}

#[test]
fn empty_issuer_or_audience_is_a_config_error() {
    let cfg = JwtConfig {
        issuer: Some(String::new()),
        ..hs_cfg()
    };
    assert_eq!(config_err(&cfg), JwtConfigError::EmptySetting("issuer"));
    let cfg = JwtConfig {
        audience: Some(String::new()),
        ..hs_cfg()
    };
    assert_eq!(config_err(&cfg), JwtConfigError::EmptySetting("audience"));
}

#[test]
fn debug_output_never_shows_the_secret() {
    let cfg = hs_cfg();
    let shown = format!("{cfg:?} {:?}", site(&cfg));
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

#[test]
fn verifier_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<JwtVerifier>();
}
