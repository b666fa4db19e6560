//! TLS for https checks (rustls with ring). By default the server's
//! certificate is not verified, as keepalived's SSL_GET does not: a check
//! asks whether the server answers, and real servers often carry
//! certificates for the public name only. The handshake's signatures are
//! still checked. With `ca_file`, the certificate must chain to that CA and
//! name the check's `host` (or address).

use crate::config::HttpCheck;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Accepts any certificate, but checks the handshake signatures with it.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client configurations, built once each.
pub(super) struct Configs {
    any: Option<Arc<ClientConfig>>,
    /// By CA file; a file that cannot be read is an error every attempt
    /// reports (and is retried on reload).
    by_ca: HashMap<PathBuf, Result<Arc<ClientConfig>, String>>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

fn unverified() -> Result<Arc<ClientConfig>, String> {
    let p = provider();
    Ok(Arc::new(
        ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(p)))
            .with_no_client_auth(),
    ))
}

fn verified(ca_file: &Path) -> Result<Arc<ClientConfig>, String> {
    let what = |e: &dyn std::fmt::Display| format!("ca_file {}: {e}", ca_file.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| what(&e))? {
        roots
            .add(cert.map_err(|e| what(&e))?)
            .map_err(|e| what(&e))?;
    }
    if roots.is_empty() {
        return Err(what(&"no certificate in it"));
    }
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

impl Configs {
    pub(super) fn new() -> Self {
        Configs {
            any: None,
            by_ca: HashMap::new(),
        }
    }

    /// A client connection for `check` to `addr`: SNI and verification
    /// by the check's host, else by the address.
    pub(super) fn connection(
        &mut self,
        check: &HttpCheck,
        addr: IpAddr,
    ) -> Result<ClientConnection, String> {
        let config = match &check.ca_file {
            None => match &self.any {
                Some(c) => c.clone(),
                None => {
                    let c = unverified()?;
                    self.any = Some(c.clone());
                    c
                }
            },
            Some(f) => self
                .by_ca
                .entry(f.clone())
                .or_insert_with(|| verified(f))
                .clone()?,
        };
        let name = match &check.host {
            Some(h) => ServerName::try_from(h.clone()).map_err(|e| format!("host {h}: {e}"))?,
            None => ServerName::IpAddress(addr.into()),
        };
        ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))
    }
}
