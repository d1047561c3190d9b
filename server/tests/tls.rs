//! TLS: a self-signed certificate from `herald::tls::self_signed` served over a real TLS
//! listener (hyper http1 answering `ok`) to a rustls client that trusts it; certificates
//! and keys from files (PKCS#8, PKCS#1 RSA, SEC1 EC); and the error cases.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herald::tls::{self, TlsAcceptor, TlsError};
use http_body_util::Full;
use hyper::{Request, Response};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

/// A PKCS#1 ("RSA PRIVATE KEY") 2048-bit key and a self-signed certificate for
/// `localhost` made from it (valid until 2126), generated once with openssl for this test.
const RSA_KEY_PKCS1: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEpAIBAAKCAQEAkqzej762qPAB6qjqG8YZTupRLL4tsAZLepYrQxofjtju9IFw\n\
v6VPtNqrhu+ig5x0PSMzxirv5MgiFjkSXqhbY84EUbGt8jh4L1zLKf9yBoTdR9zq\n\
TGaQw8jqdpvFYJf20wlYVIMxXsRLb6izzWRix4OX58qy6aczUwA1RSa0cLKN5GnM\n\
yxbqcqkR8jaPmvpdF0FNQ1YnzraKRmgtKKwBfErTJcuX+3ey0jxxd7eg7PO6P1o6\n\
ngOZaoVeEmM1BWp6OSYZhqaHUizFVx965ybcXse8N8mWPoIkh0/9rjie0UPd/ulT\n\
i8zv1iks677QKIfE/0tpPfVT5P9FYrdIBp9iVQIDAQABAoIBAA2U5UzxL2/IPZ0x\n\
g/ALcWd9ygN3Hrrock/JHPtrLVXoX4QTglG0qINKJkzp3qYKNDc/DbnBWxJXt9RP\n\
95P9Se0ddAfuiHlf4j0cfhGG/lN9NRJE8gseCjSe45sVBHtTxv62pE+7EDTCv2t4\n\
9yFDNORdmpDTk6qQGXALmmMrWNUAh8BnVG8kqZUazC4UNb06S8jNliARZM6f1w8f\n\
GxNHA4PCfzmWVF27QHwC3UMBG+oZx9x6ky52WIRYRhxK3iwzGyfZmuovZpKbPUF9\n\
VUbTkU3HJ61Gls7sL8qPs0uW3BfajN2uIUmkt+o+ToChJMyv/U8c8spqA551Iuo7\n\
bJdthNcCgYEAxDVR3Ma/Y4juotGM8yLWSOmsCtBlJpAHHstZXhLba+ZJApZWiUv5\n\
PCGouFk+FVjzwK639L0fMQ9YtI9/XOAJDWCeS+KdvYOoGgSOCpL9hHymkgu31Oop\n\
c0Rpoh7Q4SqNyaaPw88o92fKJi3qKia0EOSjqZXDKGKPifwVfZFDpTMCgYEAv19c\n\
PfR5612NaR8V0tPOvOoCDs7XPC0247BJ1q72v91tB1WI7bG5jkf8TzgQws+DyJ6O\n\
wW/bMOq9MKX3wdPIbRRmsqwZdiyu5vvPkO5avIsagFvwLB7VvbIJZf0fPPTqkcsy\n\
5nUzKkY+bZH+hSbwB+vnQydUMNjc5Cg/QQaYylcCgYEAhvsfjED2neUwNrbuvr2y\n\
qYqIHxBq5fKj012V55AVf893Xt5KPj4UAngteFV8znbZii8owqfw83FZVy55Mk22\n\
LIvRmucWGbCfTvbfOQsSebi/Zy3ElCdbyL7B5RRKIv2Beb6qnMzBpCK1ATsJI2Jo\n\
8k45AYvULM5RbV4M8suiu90CgYEAg5oESOayYNT4xe2GiHD3npodyCkdglhlgrZc\n\
ULIJJXAT5hNAEpVBUULXk3KutAkYSwIekY9mYIFMkQPRGQ2Wqsx4wy3uZIHd1SId\n\
X0FKTJYsJ1ESHIUn30drhyNGNBkIpjHiUvENumiLzbW0HcTlE816P4fwMZcwcAXt\n\
Wb47nAkCgYBZbYfi0sV7vlNWPL6cK+f8MzkXCJpLP/k9MmrXM31UGdIakCRRVx6m\n\
MqNQLjnFJ+/U/XOlQc+QWRILxQuuP0/kdDXgQIXNeuNoDqqAJKaPpxR+MgvBk/UH\n\
KOdWwoOpfZbS5weelwwlEVNftIBPVksKROmM0AU3Qx8i9IUW5WJJFQ==\n\
-----END RSA PRIVATE KEY-----\n\
";
const RSA_CERT: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIDTjCCAjagAwIBAgIUJp18nbEjAcqYyd9l+NZ26/MoeZ0wDQYJKoZIhvcNAQEL\n\
BQAwGjEYMBYGA1UEAwwPaGVyYWxkIHRlc3QgUlNBMCAXDTI2MTIwMTIxMTgyOFoY\n\
DzIxMjYxMTA3MjExODI4WjAaMRgwFgYDVQQDDA9oZXJhbGQgdGVzdCBSU0EwggEi\n\
MA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQCSrN6Pvrao8AHqqOobxhlO6lEs\n\
vi2wBkt6litDGh+O2O70gXC/pU+02quG76KDnHQ9IzPGKu/kyCIWORJeqFtjzgRR\n\
sa3yOHgvXMsp/3IGhN1H3OpMZpDDyOp2m8Vgl/bTCVhUgzFexEtvqLPNZGLHg5fn\n\
yrLppzNTADVFJrRwso3kaczLFupyqRHyNo+a+l0XQU1DVifOtopGaC0orAF8StMl\n\
y5f7d7LSPHF3t6Ds87o/WjqeA5lqhV4SYzUFano5JhmGpodSLMVXH3rnJtxex7w3\n\
yZY+giSHT/2uOJ7RQ93+6VOLzO/WKSzrvtAoh8T/S2k99VPk/0Vit0gGn2JVAgMB\n\
AAGjgYkwgYYwHQYDVR0OBBYEFEhEVhADXu5ET4Bre/A201ihq459MB8GA1UdIwQY\n\
MBaAFEhEVhADXu5ET4Bre/A201ihq459MBQGA1UdEQQNMAuCCWxvY2FsaG9zdDAT\n\
BgNVHSUEDDAKBggrBgEFBQcDATAMBgNVHRMBAf8EAjAAMAsGA1UdDwQEAwIFoDAN\n\
BgkqhkiG9w0BAQsFAAOCAQEAcobpHepWeuv1uWB1SlJwX8Ba7+z6Y0Rn1/jZQHDo\n\
a227YpZagdTaJ3fDOCFLhjG4Tz+qco+/v5ob4Tgi6lOZ01xNyO7q/+7nT1I55z1A\n\
4nKJ/3qGppoW5kPkWACgdwj2LOKY6r8TViAaPN6HB030t/DtQXGif6C0dSrfrl5l\n\
kTuVbZgANzIGjGzgyVPAqMkEJ4N5R/huJMQFgSKHf6KQukU4oTGcH9H1GGG7JWNY\n\
a/v9rO7InpWImRRo5Lu42/TZNw2NBbZf2SUF10MkmIGkamlT/9J1xJBCIj9dU9vo\n\
jH7Q4AkxiBR8+3uNQKoq3Z0HENa7s8MzJCCe9O07prLTlQ==\n\
-----END CERTIFICATE-----\n\
";
/// A SEC1 ("EC PRIVATE KEY") P-256 key and a self-signed certificate for `localhost` made
/// from it (valid until 2126), generated once with openssl for this test.
const EC_KEY_SEC1: &str = "\
-----BEGIN EC PRIVATE KEY-----\n\
MHcCAQEEILlrqwe3RgLhQpdN7ghFJaWtXidDt9lGdLqwup6CkZ1uoAoGCCqGSM49\n\
AwEHoUQDQgAEcb5HlIc7Pby/nDa7c9AzlB9eiaBtrvtSptB6bvcLy31aMiZajmHp\n\
2x2wLRDHxCnUlIYC6IN4meAV3Ozeh/YvQg==\n\
-----END EC PRIVATE KEY-----\n\
";
const EC_CERT: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBwTCCAWagAwIBAgIUSjtSzXre+WLE77yhl/aHraK7LsQwCgYIKoZIzj0EAwIw\n\
GTEXMBUGA1UEAwwOaGVyYWxkIHRlc3QgRUMwIBcNMjYxMjAxMjExODMxWhgPMjEy\n\
NjExMDcyMTE4MzFaMBkxFzAVBgNVBAMMDmhlcmFsZCB0ZXN0IEVDMFkwEwYHKoZI\n\
zj0CAQYIKoZIzj0DAQcDQgAEcb5HlIc7Pby/nDa7c9AzlB9eiaBtrvtSptB6bvcL\n\
y31aMiZajmHp2x2wLRDHxCnUlIYC6IN4meAV3Ozeh/YvQqOBiTCBhjAdBgNVHQ4E\n\
FgQUA2LQBMFUa27riWO5Pr8dFVXE4tAwHwYDVR0jBBgwFoAUA2LQBMFUa27riWO5\n\
Pr8dFVXE4tAwFAYDVR0RBA0wC4IJbG9jYWxob3N0MBMGA1UdJQQMMAoGCCsGAQUF\n\
BwMBMAwGA1UdEwEB/wQCMAAwCwYDVR0PBAQDAgeAMAoGCCqGSM49BAMCA0kAMEYC\n\
IQCx3l7O9dcUcUMRUG8wX32BQ346LI5aJKZmACQv0ikSnwIhAO7QFwUkOScqsQq8\n\
8ARR/1Jk7F96wOlSyqJ6snfeNfY3\n\
-----END CERTIFICATE-----\n\
";

/// Serves `acceptor` on 127.0.0.1:0: every connection is TLS, then HTTP/1.1 answering `ok`.
async fn serve(acceptor: TlsAcceptor) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc =
                    hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

/// A client that trusts exactly the certificates in `cert_pem` and offers `alpn`.
fn connector(cert_pem: &str, alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

/// `GET /` over TLS to `addr`, verifying the server as `name`; returns the negotiated ALPN
/// protocol and the whole HTTP response.
async fn get(
    connector: &TlsConnector,
    addr: SocketAddr,
    name: &str,
) -> std::io::Result<(Option<Vec<u8>>, String)> {
    let exchange = async {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from(name.to_string()).unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut out = Vec::new();
        tls.read_to_end(&mut out).await?;
        Ok((alpn, String::from_utf8_lossy(&out).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("TLS exchange within 10 s")
}

/// Asserts that an HTTPS `GET /` verified as `name` answers 200 `ok` over http/1.1.
async fn assert_ok(connector: &TlsConnector, addr: SocketAddr, name: &str) {
    let (alpn, response) = get(connector, addr, name)
        .await
        .unwrap_or_else(|e| panic!("HTTPS to {name}: {e}"));
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]), "ALPN for {name}");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nok"), "{response}");
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn files_error(cert: &Path, key: &Path) -> TlsError {
    match tls::acceptor_from_files(cert, key) {
        Ok(_) => panic!("accepted {} with {}", cert.display(), key.display()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn self_signed_certificate_serves_http11_over_tls() {
    let (cert, key) = tls::self_signed(&["dev.example.test".to_string(), " ".to_string()]).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
    let addr = serve(tls::acceptor_from_pem(&cert, &key).unwrap()).await;

    // The client offers h2 first: the server still picks http/1.1, the only one it has.
    let client = connector(&cert, &[b"h2", b"http/1.1"]);
    for name in ["localhost", "127.0.0.1", "::1", "dev.example.test"] {
        assert_ok(&client, addr, name).await;
    }
    // A name the certificate was not made for is refused by the client.
    assert!(get(&client, addr, "other.example.test").await.is_err());

    // A client offering no ALPN at all is served too (HTTP/1.1 by default).
    let (alpn, response) = get(&connector(&cert, &[]), addr, "localhost")
        .await
        .unwrap();
    assert_eq!(alpn, None);
    assert!(response.ends_with("\r\n\r\nok"), "{response}");
}

#[tokio::test]
async fn h2_only_clients_and_untrusting_clients_are_refused() {
    let (cert, key) = tls::self_signed(&[]).unwrap();
    let addr = serve(tls::acceptor_from_pem(&cert, &key).unwrap()).await;
    let h2_only = connector(&cert, &[b"h2"]);
    assert!(get(&h2_only, addr, "localhost").await.is_err());

    // Every call makes a new key pair: a client trusting another one refuses this server.
    let (other_cert, _) = tls::self_signed(&[]).unwrap();
    assert_ne!(other_cert, cert);
    let untrusting = connector(&other_cert, &[b"http/1.1"]);
    assert!(get(&untrusting, addr, "localhost").await.is_err());
    // …while the server keeps serving clients that do trust it.
    assert_ok(&connector(&cert, &[b"http/1.1"]), addr, "localhost").await;
}

#[tokio::test]
async fn acceptor_from_files_reads_pkcs8_pkcs1_and_sec1_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls::self_signed(&[]).unwrap();
    let cases = [
        ("pkcs8", cert.as_str(), key.as_str()),
        ("pkcs1", RSA_CERT, RSA_KEY_PKCS1),
        ("sec1", EC_CERT, EC_KEY_SEC1),
    ];
    for (kind, cert, key) in cases {
        let cert_path = write(dir.path(), &format!("{kind}-cert.pem"), cert);
        let key_path = write(dir.path(), &format!("{kind}-key.pem"), key);
        let acceptor = tls::acceptor_from_files(&cert_path, &key_path)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let addr = serve(acceptor).await;
        assert_ok(&connector(cert, &[b"http/1.1"]), addr, "localhost").await;
    }

    // Certificate and key in one file, key first, with some text around them.
    let both = write(
        dir.path(),
        "both.pem",
        &format!("the key:\n{key}\nthe certificate:\n{cert}\n"),
    );
    let addr = serve(tls::acceptor_from_files(&both, &both).unwrap()).await;
    assert_ok(&connector(&cert, &[b"http/1.1"]), addr, "localhost").await;
}

#[test]
fn missing_files_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls::self_signed(&[]).unwrap();
    let cert_path = write(dir.path(), "cert.pem", &cert);
    let key_path = write(dir.path(), "key.pem", &key);
    let missing = dir.path().join("missing.pem");

    for (c, k) in [(&missing, &key_path), (&cert_path, &missing)] {
        let e = files_error(c, k);
        match &e {
            TlsError::Read { path, error } => {
                assert_eq!(path, &missing);
                assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            e.to_string()
                .starts_with(&format!("cannot read {}: ", missing.display())),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some());
    }

    // A directory opens but cannot be read as a file.
    let e = files_error(dir.path(), &key_path);
    assert!(matches!(e, TlsError::Read { .. }), "{e:?}");
}

#[test]
fn files_without_a_certificate_or_a_key_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls::self_signed(&[]).unwrap();
    let cert_path = write(dir.path(), "cert.pem", &cert);
    let key_path = write(dir.path(), "key.pem", &key);
    let empty = write(dir.path(), "empty.pem", "");
    let text = write(dir.path(), "text.pem", "not PEM at all\n");

    // The certificate file given as the key: no key in it.
    let e = files_error(&cert_path, &cert_path);
    assert!(
        matches!(&e, TlsError::NoPrivateKey { origin } if *origin == cert_path.display().to_string()),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with(&format!("no private key in {} (", cert_path.display())),
        "{e}"
    );
    assert!(matches!(
        files_error(&cert_path, &empty),
        TlsError::NoPrivateKey { .. }
    ));

    // The key file given as the certificate: no certificate in it.
    for c in [&key_path, &empty, &text] {
        let e = files_error(c, &key_path);
        assert!(matches!(e, TlsError::NoCertificate { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("no certificate in {} (", c.display())),
            "{e}"
        );
    }

    // An encrypted key is not a key rustls can use.
    let encrypted = write(
        dir.path(),
        "encrypted.pem",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    assert!(matches!(
        files_error(&cert_path, &encrypted),
        TlsError::NoPrivateKey { .. }
    ));
}

#[test]
fn malformed_pem_is_reported_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = tls::self_signed(&[]).unwrap();
    let key_path = write(dir.path(), "key.pem", &key);
    let truncated = write(
        dir.path(),
        "truncated.pem",
        "-----BEGIN CERTIFICATE-----\nMIIB\n",
    );
    let e = files_error(&truncated, &key_path);
    assert!(matches!(e, TlsError::Pem { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("malformed PEM in {}: ", truncated.display())),
        "{e}"
    );
    let bad_base64 = write(
        dir.path(),
        "bad.pem",
        "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
    );
    let (cert, _) = tls::self_signed(&[]).unwrap();
    let cert_path = write(dir.path(), "cert.pem", &cert);
    assert!(matches!(
        files_error(&cert_path, &bad_base64),
        TlsError::Pem { .. }
    ));
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, _) = tls::self_signed(&[]).unwrap();
    let (_, key_b) = tls::self_signed(&[]).unwrap();
    let cert_path = write(dir.path(), "a-cert.pem", &cert_a);
    let key_path = write(dir.path(), "b-key.pem", &key_b);
    let e = files_error(&cert_path, &key_path);
    assert!(matches!(e, TlsError::KeyMismatch { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message.starts_with("the key does not match the certificate"),
        "{message}"
    );
    assert!(
        message.contains(&key_path.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&cert_path.display().to_string()),
        "{message}"
    );

    // Different key types too: an RSA certificate with an EC key, and the reverse.
    let e = tls::acceptor_from_pem(RSA_CERT, EC_KEY_SEC1).err().unwrap();
    assert!(matches!(e, TlsError::KeyMismatch { .. }), "{e:?}");
    let e = tls::acceptor_from_pem(EC_CERT, RSA_KEY_PKCS1)
        .err()
        .unwrap();
    assert!(matches!(e, TlsError::KeyMismatch { .. }), "{e:?}");
}

#[test]
fn pem_text_errors_name_the_text() {
    let (cert, key) = tls::self_signed(&[]).unwrap();
    let e = tls::acceptor_from_pem("", &key).err().unwrap();
    assert!(
        e.to_string()
            .starts_with("no certificate in the certificate PEM"),
        "{e}"
    );
    let e = tls::acceptor_from_pem(&cert, &cert).err().unwrap();
    assert!(
        e.to_string()
            .starts_with("no private key in the private key PEM"),
        "{e}"
    );
    let e = tls::acceptor_from_pem(&key, &key).err().unwrap();
    assert!(matches!(e, TlsError::NoCertificate { .. }), "{e:?}");

    // A CERTIFICATE section that is valid PEM but not a certificate.
    let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let e = tls::acceptor_from_pem(junk, &key).err().unwrap();
    assert!(matches!(e, TlsError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().starts_with("cannot use the certificate from the certificate PEM with the key from the private key PEM: "), "{e}");
}

#[test]
fn self_signed_rejects_host_names_it_cannot_encode() {
    let e = tls::self_signed(&["bücher.example".to_string()])
        .err()
        .unwrap();
    assert!(matches!(e, TlsError::Generate { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("cannot generate a self-signed certificate: "),
        "{e}"
    );
    // Bracketed IPv6 addresses, duplicates and blanks are fine.
    let hosts = ["[::1]", "LOCALHOST", "", "10.0.0.7", "*.dev.example.test"].map(String::from);
    let (cert, key) = tls::self_signed(&hosts).unwrap();
    assert!(tls::acceptor_from_pem(&cert, &key).is_ok());
}
