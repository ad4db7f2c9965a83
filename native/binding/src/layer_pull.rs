//! napi face of `layer::pull`: a layer that the native side downloads itself (socket →
//! sha256 → inflate → extraction on one dedicated thread, no byte through JS). The TS
//! side computes the URL, the Authorization header and the TLS trust (registries.conf,
//! certs.d) and gets back a typed outcome: the verified layer, or why not — an HTTP
//! status with its challenge (so TS can answer a 401 and start again), a network, TLS
//! or descriptor failure, or an extraction error — each naming the layer and the host.
use crate::err;
use berth_core::fetch::TlsOptions;
use berth_core::layer::{self, pull, sink};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a finished layer pull checked: the blob's digest and size and the tar's diffID.
#[napi(object)]
pub struct ExtractedLayer {
    pub digest: String,
    pub diff_id: String,
    /// Bytes of the blob (f64: JS numbers).
    pub size: f64,
}

#[napi(object)]
pub struct LayerPullOptions {
    /// Directory to extract into (created).
    pub dest: String,
    /// Names the layer (and image, host) in errors.
    pub layer: String,
    pub digest: String,
    pub diff_id: String,
    /// The descriptor's size in bytes.
    pub size: f64,
    /// Cap on the uncompressed tar (default 64 GiB).
    pub max_uncompressed: Option<f64>,
    /// The blob's URL (http or https).
    pub url: String,
    /// Authorization header value, sent to the URL's own host only.
    pub authorization: Option<String>,
    /// Skip certificate verification (an `insecure` registry).
    pub insecure: Option<bool>,
    /// Extra trusted CA certificates (PEM text), e.g. from certs.d/<host>/*.crt.
    pub ca_pem: Option<Vec<String>>,
    /// Offered when the registry asks for a client certificate (certs.d `<name>.cert`).
    pub client_certs: Option<Vec<crate::registry_http::TlsClientCert>>,
    /// A read that waits longer than this fails and is resumed (default 30 s).
    pub idle_timeout_ms: Option<u32>,
}

#[napi(object)]
pub struct LayerPullFailure {
    /// "status" | "network" | "tls" | "invalid" | "cancelled" | "layer"
    pub kind: String,
    pub message: String,
    /// The HTTP status (kind "status").
    pub status: Option<u32>,
    /// The 401's WWW-Authenticate challenge (kind "status").
    pub challenge: Option<String>,
}

/// Exactly one of the two is set.
#[napi(object)]
pub struct LayerPullOutcome {
    pub extracted: Option<ExtractedLayer>,
    pub failure: Option<LayerPullFailure>,
}

type Done = tokio::sync::oneshot::Receiver<std::result::Result<layer::Extracted, pull::PullError>>;

#[napi]
pub struct LayerPull {
    ctl: Arc<pull::Control>,
    done: Mutex<Option<Done>>,
}

fn failure(e: pull::PullError) -> LayerPullFailure {
    let message = e.to_string();
    let (kind, status, challenge) = match e {
        pull::PullError::Status { status, challenge, .. } => ("status", Some(u32::from(status)), challenge),
        pull::PullError::Network { .. } => ("network", None, None),
        pull::PullError::Tls { .. } => ("tls", None, None),
        pull::PullError::Invalid { .. } => ("invalid", None, None),
        pull::PullError::Cancelled { .. } => ("cancelled", None, None),
        pull::PullError::Layer(_) => ("layer", None, None),
    };
    LayerPullFailure {
        kind: kind.into(),
        message,
        status,
        challenge,
    }
}

/// A connection that ended mid-blob and was resumed.
#[napi(object)]
pub struct LayerPullResume {
    /// Bytes of the blob received when it ended.
    pub at: f64,
    pub error: String,
}

#[napi]
impl LayerPull {
    /// Resumes since the last call (the daemon logs them).
    #[napi]
    pub fn take_resumes(&self) -> Vec<LayerPullResume> {
        self.ctl
            .take_resumes()
            .into_iter()
            .map(|(at, error)| LayerPullResume { at: at as f64, error })
            .collect()
    }

    /// Bytes of the blob received so far (progress).
    #[napi]
    pub fn bytes(&self) -> f64 {
        self.ctl.bytes() as f64
    }

    /// Stops the download; `wait` then resolves with a "cancelled" failure.
    #[napi]
    pub fn cancel(&self) {
        self.ctl.cancel();
    }

    /// Resolves when the worker has finished (and stopped writing into `dest`).
    #[napi]
    pub async fn wait(&self) -> Result<LayerPullOutcome> {
        let done = self
            .done
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| err("layer pull already awaited"))?;
        let r = done
            .await
            .map_err(|_| err("layer pull worker ended without a result"))?;
        Ok(match r {
            Ok(o) => LayerPullOutcome {
                extracted: Some(ExtractedLayer {
                    digest: o.digest,
                    diff_id: o.diff_id,
                    size: o.size as f64,
                }),
                failure: None,
            },
            Err(e) => LayerPullOutcome {
                extracted: None,
                failure: Some(failure(e)),
            },
        })
    }
}

/// Starts downloading and extracting one layer blob on a thread of its own (a long
/// download must not hold one of libuv's few pool threads).
#[napi]
pub fn start_layer_pull(opts: LayerPullOptions) -> Result<LayerPull> {
    let job = pull::PullJob {
        extract: sink::Job {
            dest: opts.dest.into(),
            layer: opts.layer,
            digest: Some(opts.digest),
            diff_id: Some(opts.diff_id),
            size: Some(crate::byte_count("size", opts.size)?),
            max_uncompressed: match opts.max_uncompressed {
                Some(v) => crate::byte_count("maxUncompressed", v)?,
                None => layer::DEFAULT_MAX_UNCOMPRESSED,
            },
        },
        url: opts.url,
        authorization: opts.authorization,
        tls: TlsOptions {
            insecure: opts.insecure.unwrap_or(false),
            ca_pem: opts.ca_pem.unwrap_or_default(),
            client_certs: crate::registry_http::client_certs(opts.client_certs),
        },
        idle: Duration::from_millis(u64::from(opts.idle_timeout_ms.unwrap_or(30_000).max(1))),
    };
    let ctl = Arc::new(pull::Control::default());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let c = ctl.clone();
    std::thread::Builder::new()
        .name("berth-pull".into())
        .spawn(move || {
            let _ = tx.send(pull::pull(job, c));
        })
        .map_err(err)?;
    Ok(LayerPull {
        ctl,
        done: Mutex::new(Some(rx)),
    })
}
