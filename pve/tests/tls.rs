//! TLS to a cluster with a self-signed certificate, as PVE ships: refused by default, accepted
//! with the pinned fingerprint or the CA file, refused with a wrong pin, accepted without any
//! check only in the explicit insecure mode.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::sync::Arc;

use pve::tls::{format_fingerprint, sha256_fingerprint};
use pve::{Auth, ErrorKind, PveClient, PveConfig, TlsMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// An HTTPS server answering every request with a PVE `/version` body.
async fn https_server() -> (u16, CertificateDer<'static>, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let pem = cert.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![der.clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = vec![0u8; 8192];
                let _ = tls.read(&mut buf).await;
                let body = r#"{"data":{"version":"9.1.1","release":"9.1","repoid":"abcdef12"}}"#;
                let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, der, pem)
}

fn client(port: u16, tls: TlsMode) -> PveClient {
    let auth = Auth::Token { user: "root@pam".into(), token_id: "t".into(), secret: "s".into() };
    let mut config = PveConfig::new(format!("https://localhost:{port}"), auth, tls);
    config.read_retries = 0;
    PveClient::new(config).unwrap()
}

#[tokio::test]
async fn self_signed_clusters_need_a_pin_or_a_ca() {
    let (port, der, pem) = https_server().await;
    let refused = client(port, TlsMode::System).version().await.unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Unreachable, "verification is on by default: {refused}");

    let pin = sha256_fingerprint(der.as_ref());
    assert_eq!(client(port, TlsMode::Fingerprint(pin)).version().await.unwrap().version, "9.1.1");
    // The pin as PVE shows it parses back to the same bytes.
    assert_eq!(pve::tls::parse_fingerprint(&format_fingerprint(&pin)).unwrap(), pin);

    let mut wrong = pin;
    wrong[0] ^= 0xff;
    assert_eq!(client(port, TlsMode::Fingerprint(wrong)).version().await.unwrap_err().kind, ErrorKind::Unreachable);

    let dir = std::env::temp_dir().join(format!("pve-ca-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("pve-root-ca.pem");
    std::fs::write(&ca, pem).unwrap();
    assert_eq!(client(port, TlsMode::CaFile(ca)).version().await.unwrap().release, "9.1");
    let _ = std::fs::remove_dir_all(dir);

    assert!(client(port, TlsMode::Insecure).version().await.is_ok(), "only when asked for explicitly");
}
