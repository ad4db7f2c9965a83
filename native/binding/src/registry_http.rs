//! napi face of `fetch` for the registry's small documents (manifests, configs, the
//! /v2/ probe): the TS registry client sends every registry request through here, so
//! manifests and blobs share one HTTP stack and one TLS trust (system roots + the
//! registry's certs.d CAs and client certificates, or no verification for an `insecure`
//! registry). Runs on the libuv pool: a bounded body, read whole.
use crate::err;
use berth_core::fetch::{self, ClientCert, FetchError, Request, TlsOptions};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::io::Read;
use std::time::Duration;

#[napi(object)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// A client certificate for registries that ask for one (certs.d `<name>.cert` + `.key`).
#[napi(object)]
pub struct TlsClientCert {
    /// The certificate chain, PEM.
    pub cert_pem: String,
    /// Its private key, PEM. Never logged nor put in an error.
    pub key_pem: String,
    /// The `.cert` file, named in errors.
    pub source: String,
}

/// napi's objects into the core's (the key stays out of Debug output there).
pub fn client_certs(certs: Option<Vec<TlsClientCert>>) -> Vec<ClientCert> {
    certs
        .unwrap_or_default()
        .into_iter()
        .map(|c| ClientCert {
            cert_pem: c.cert_pem,
            key_pem: c.key_pem,
            source: c.source,
        })
        .collect()
}

#[napi(object)]
pub struct HttpGetOptions {
    pub url: String,
    /// Sent to the URL's own host only (not after a redirect to another host).
    pub authorization: Option<String>,
    pub headers: Option<Vec<HttpHeader>>,
    /// Skip certificate verification (an `insecure` registry).
    pub insecure: Option<bool>,
    /// Extra trusted CA certificates, PEM text.
    pub ca_pem: Option<Vec<String>>,
    /// Offered when the registry asks for a client certificate (mTLS).
    pub client_certs: Option<Vec<TlsClientCert>>,
    /// A read that waits longer than this fails (default 30 s).
    pub idle_timeout_ms: Option<u32>,
    /// The body is read up to this many bytes plus one (the caller judges the excess).
    pub max_bytes: u32,
}

#[napi(object)]
pub struct HttpGetFailure {
    /// "tls" (certificate or handshake refused), "network", "invalid" (bad URL/header).
    pub kind: String,
    pub message: String,
}

#[napi(object)]
pub struct HttpGetResult {
    pub status: u32,
    /// Names lowercased.
    pub headers: Vec<HttpHeader>,
    pub body: Buffer,
    /// Set instead of the rest when no response came.
    pub failure: Option<HttpGetFailure>,
}

pub struct HttpGetTask(Option<HttpGetOptions>);

fn failed(kind: &str, message: String) -> HttpGetResult {
    HttpGetResult {
        status: 0,
        headers: vec![],
        body: Vec::new().into(),
        failure: Some(HttpGetFailure {
            kind: kind.into(),
            message,
        }),
    }
}

impl Task for HttpGetTask {
    type Output = HttpGetResult;
    type JsValue = HttpGetResult;

    fn compute(&mut self) -> Result<HttpGetResult> {
        let o = self.0.take().ok_or_else(|| err("httpGet ran twice"))?;
        let tls = TlsOptions {
            insecure: o.insecure.unwrap_or(false),
            ca_pem: o.ca_pem.unwrap_or_default(),
            client_certs: client_certs(o.client_certs),
        };
        let tls = match fetch::tls_config(&tls) {
            Ok(t) => t,
            Err(m) => return Ok(failed("invalid", m)),
        };
        let headers: Vec<(&str, String)> = o
            .headers
            .iter()
            .flatten()
            .map(|h| (h.name.as_str(), h.value.clone()))
            .collect();
        let req = Request {
            url: &o.url,
            authorization: o.authorization.as_deref(),
            headers: &headers,
            tls,
            idle: Duration::from_millis(u64::from(o.idle_timeout_ms.unwrap_or(30_000).max(1))),
        };
        let mut res = match fetch::get(&req) {
            Ok(r) => r,
            Err(e @ FetchError::Tls { .. }) => return Ok(failed("tls", e.to_string())),
            Err(e @ (FetchError::BadUrl(_) | FetchError::Redirects { .. })) => {
                return Ok(failed("invalid", e.to_string()))
            }
            Err(e) => return Ok(failed("network", e.to_string())),
        };
        let mut body = Vec::new();
        if let Err(e) = (&mut res.body).take(u64::from(o.max_bytes) + 1).read_to_end(&mut body) {
            return Ok(failed("network", format!("reading from {} failed: {e}", res.host)));
        }
        Ok(HttpGetResult {
            status: u32::from(res.status),
            headers: res
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            body: body.into(),
            failure: None,
        })
    }

    fn resolve(&mut self, _env: Env, out: HttpGetResult) -> Result<HttpGetResult> {
        Ok(out)
    }
}

/// GETs a registry URL (following redirects, credentials kept to its host) and reads
/// at most `maxBytes + 1` bytes of the body. Resolves with a `failure` (never rejects)
/// when no response came, so the caller can tell TLS refusals from network errors.
#[napi(ts_return_type = "Promise<HttpGetResult>")]
pub fn http_get(opts: HttpGetOptions) -> AsyncTask<HttpGetTask> {
    AsyncTask::new(HttpGetTask(Some(opts)))
}
