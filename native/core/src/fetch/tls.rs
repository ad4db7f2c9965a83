//! rustls client set-up: the system's roots plus a registry's own CA certificates
//! (containers' `certs.d/<host>/*.crt`), or no certificate verification at all for a
//! registry configured `insecure` (the handshake's signatures are still checked, so
//! the session is encrypted to whoever holds the key it presented); and the client
//! certificates of `certs.d/<host>/<name>.cert` + `<name>.key` for registries that
//! ask for one (mTLS), as containers/image and Docker offer them.
use super::body::Stream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::fmt;
use std::net::TcpStream;
use std::sync::{Arc, OnceLock};

/// How to trust a registry's certificate, and how to prove who we are to it.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Skip certificate verification (`insecure = true` in registries.conf).
    pub insecure: bool,
    /// Extra trusted CA certificates, PEM text (one or more per string).
    pub ca_pem: Vec<String>,
    /// Client certificates offered when the registry asks for one, in order.
    pub client_certs: Vec<ClientCert>,
}

/// A client certificate chain and its private key (PEM), and where they came from.
#[derive(Clone)]
pub struct ClientCert {
    pub cert_pem: String,
    pub key_pem: String,
    /// Names the pair in errors (the `.cert` file).
    pub source: String,
}

/// Never prints the key: options end up in debug output and error reports.
impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCert")
            .field("source", &self.source)
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
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
    let clients = Arc::new(client_keys(&opts.client_certs)?);
    let config = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
            .with_client_cert_resolver(clients)
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
        builder.with_root_certificates(roots).with_client_cert_resolver(clients)
    };
    Ok(Arc::new(config))
}

/// Parses each pair and checks the key belongs to the certificate, so a mismatch is
/// named here rather than surfacing as the registry's vague handshake alert. Errors
/// name the file and never quote the key's text.
fn client_keys(certs: &[ClientCert]) -> Result<ClientKeys, String> {
    let provider = provider();
    let mut keys = Vec::with_capacity(certs.len());
    for c in certs {
        let bad = |what: &str| format!("client certificate {}: {what}", c.source);
        let chain = CertificateDer::pem_slice_iter(c.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(&format!("not PEM: {e}")))?;
        if chain.is_empty() {
            return Err(bad("holds no PEM certificate"));
        }
        let key = PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes())
            .map_err(|_| bad("its .key holds no PEM private key (PKCS#8, PKCS#1 or SEC1)"))?;
        let key = CertifiedKey::from_der(chain, key, &provider).map_err(|e| bad(&format!("{e}")))?;
        keys.push(Arc::new(key));
    }
    Ok(ClientKeys(keys))
}

/// Offers the first client certificate whose key can sign with a scheme the registry
/// accepts (Go's crypto/tls, which containers/image and Docker use, picks likewise);
/// none when there is none, so a registry that only asks still gets a handshake.
#[derive(Debug)]
struct ClientKeys(Vec<Arc<CertifiedKey>>);

impl ResolvesClientCert for ClientKeys {
    fn resolve(&self, _root_hints: &[&[u8]], schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.0.iter().find(|k| k.key.choose_scheme(schemes).is_some()).cloned()
    }

    fn has_certs(&self) -> bool {
        !self.0.is_empty()
    }
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
