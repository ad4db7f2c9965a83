//! rustls client set-up: the system's roots plus a registry's own CA certificates
//! (containers' `certs.d/<host>/*.crt`), or no certificate verification at all for a
//! registry configured `insecure` (the handshake's signatures are still checked, so
//! the session is encrypted to whoever holds the key it presented).
use super::body::Stream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};

/// How to trust a registry's certificate.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Skip certificate verification (`insecure = true` in registries.conf).
    pub insecure: bool,
    /// Extra trusted CA certificates, PEM text (one or more per string).
    pub ca_pem: Vec<String>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trust store, read once (SSL_CERT_FILE / SSL_CERT_DIR honoured).
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// A client config for `opts`; an unparsable extra CA is an error (a typo in a CA
/// file must not silently fall back to the system roots).
pub fn tls_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        // A system bundle holds a few unparsable oddities; skip those, as curl does.
        roots.add_parsable_certificates(system_roots().iter().cloned());
        for pem in &opts.ca_pem {
            let mut n = 0;
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| format!("CA certificate: {e}"))?;
                roots.add(cert).map_err(|e| format!("CA certificate: {e}"))?;
                n += 1;
            }
            if n == 0 {
                return Err("CA file holds no PEM certificate".into());
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Starts a TLS session over `tcp` to `host` (name or IP literal); the handshake
/// completes on the first read or write.
pub(super) fn connect(tcp: TcpStream, host: &str, config: Arc<ClientConfig>) -> Result<Stream, String> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| format!("server name {host:?}: {e}"))?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
}

/// Accepts any certificate (insecure registries) but still verifies the handshake.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
