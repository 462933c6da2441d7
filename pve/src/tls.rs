//! TLS for talking to PVE: system roots, a custom CA file, or a pinned SHA-256 fingerprint of
//! the node certificate (PVE's default certificate is self-signed). Verification is never
//! silently off: `Insecure` exists, is explicit, and is logged loudly.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// The operating system's trusted roots (plus Mozilla's, for minimal containers).
    System,
    /// Trust this PEM CA file (e.g. the cluster's `/etc/pve/pve-root-ca.pem`).
    CaFile(PathBuf),
    /// Accept exactly the certificate with this SHA-256 (as `GET /nodes` shows in
    /// `ssl_fingerprint`), whoever signed it, hostname unchecked.
    Fingerprint([u8; 32]),
    /// No verification at all. For labs only; logged as a warning on every client build.
    Insecure,
}

/// Parses `AB:CD:…` (colons optional, any case) into 32 bytes.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], String> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("a certificate fingerprint is 32 bytes of hex (SHA-256), e.g. AB:CD:…".into());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Formats a fingerprint the way PVE shows it (`AB:CD:…`).
pub fn format_fingerprint(fp: &[u8; 32]) -> String {
    fp.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

pub fn sha256_fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn client_config(mode: &TlsMode) -> Result<rustls::ClientConfig, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = match mode {
        TlsMode::System => {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for cert in rustls_native_certs::load_native_certs().certs {
                // A broken system certificate must not take the others down with it.
                let _ = roots.add(cert);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsMode::CaFile(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
            let mut roots = RootCertStore::empty();
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| format!("CA file {} is not PEM: {e}", path.display()))?;
                roots.add(cert).map_err(|e| format!("CA file {}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("CA file {} holds no certificate", path.display()));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsMode::Fingerprint(fp) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { fingerprint: *fp, provider: provider() }))
            .with_no_client_auth(),
        TlsMode::Insecure => {
            tracing::warn!("TLS verification of the Proxmox VE API is OFF (insecure mode): anyone on the path can impersonate the cluster");
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAll { provider: provider() }))
                .with_no_client_auth()
        }
    };
    Ok(config)
}

/// Both verifiers still check handshake signatures with the crypto provider: only the
/// certificate decision differs.
macro_rules! handshake_signatures_from_provider {
    () => {
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            verify_tls12_signature(m, c, d, &self.provider.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, TlsError> {
            verify_tls13_signature(m, c, d, &self.provider.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    };
}

/// Accepts the end-entity certificate whose SHA-256 matches the pin. Handshake signatures are
/// still verified, so the server must hold the pinned certificate's key.
#[derive(Debug)]
struct Pinned {
    fingerprint: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let presented = sha256_fingerprint(end_entity.as_ref());
        if presented == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::warn!(
                expected = %format_fingerprint(&self.fingerprint),
                presented = %format_fingerprint(&presented),
                "Proxmox VE certificate does not match the pinned fingerprint"
            );
            Err(TlsError::General("certificate fingerprint mismatch".into()))
        }
    }

    handshake_signatures_from_provider!();
}

#[derive(Debug)]
struct AcceptAll {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAll {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    handshake_signatures_from_provider!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_pve_format() {
        let text = "AB:".repeat(31) + "CD";
        let fp = parse_fingerprint(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fp[0], 0xAB);
        assert_eq!(fp[31], 0xCD);
        assert_eq!(format_fingerprint(&fp), text);
        assert!(parse_fingerprint(&text.to_lowercase().replace(':', "")).is_ok());
        assert!(parse_fingerprint("AB:CD").is_err());
    }
}
