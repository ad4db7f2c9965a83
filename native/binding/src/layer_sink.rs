//! napi face of `layer::sink`: a streamed layer. `startLayerSink` starts the extraction
//! worker; the TS side hands each HTTP body chunk to `write` (its promise resolves when
//! the bounded channel has room, so a slow disk slows the download, never the event
//! loop) and calls `finish` for the verified result, or `abort` when the download fails.
use crate::{byte_count, err};
use berth_core::layer::{self, sink};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Mutex;

#[napi]
pub struct LayerSink {
    inner: Mutex<sink::Sink>,
}

type Done = tokio::sync::oneshot::Receiver<std::result::Result<layer::Extracted, layer::LayerError>>;

/// What a finished layer sink checked: the blob's digest and size and the tar's diffID.
#[napi(object)]
pub struct ExtractedLayer {
    pub digest: String,
    pub diff_id: String,
    /// Bytes of the blob (f64: JS numbers).
    pub size: f64,
}

async fn outcome(done: Option<Done>) -> Result<ExtractedLayer> {
    let done = done.ok_or_else(|| err("layer sink already finished"))?;
    let o = done
        .await
        .map_err(|_| err("layer extraction worker ended without a result"))?
        .map_err(err)?;
    Ok(ExtractedLayer {
        digest: o.digest,
        diff_id: o.diff_id,
        size: o.size as f64,
    })
}

#[napi]
impl LayerSink {
    /// Hands one chunk of the blob over (copied); resolves once it is queued. Rejects
    /// when the extraction stopped reading (it failed: `finish` tells why).
    #[napi]
    pub async fn write(&self, chunk: Uint8Array) -> Result<()> {
        let tx = self.inner.lock().unwrap().sender();
        let tx = tx.ok_or_else(|| err("layer sink already finished"))?;
        sink::send(&tx, chunk.to_vec()).await.map_err(err)
    }

    /// Ends the blob and resolves with its digest, diffID and size once the layer is
    /// extracted and both digests checked (rejects with the extraction's error).
    #[napi]
    pub async fn finish(&self) -> Result<ExtractedLayer> {
        let done = self.inner.lock().unwrap().finish();
        outcome(done).await
    }

    /// Ends the blob as failed; resolves when the worker has stopped writing into
    /// `dest` (so the caller may remove it), whatever it reports.
    #[napi]
    pub async fn abort(&self) -> Result<()> {
        let done = self.inner.lock().unwrap().abort();
        let _ = outcome(done).await;
        Ok(())
    }
}

/// Starts extracting a streamed layer blob into `dest`: whiteouts honoured, the blob
/// digest, its size (`size`, the descriptor's) and the diffID verified, the uncompressed
/// tar capped at `maxUncompressed` (default 64 GiB), and nothing written outside `dest`
/// (no symlink in the layer is ever followed).
#[napi]
pub fn start_layer_sink(
    dest: String,
    layer: String,
    digest: Option<String>,
    diff_id: Option<String>,
    size: Option<f64>,
    max_uncompressed: Option<f64>,
) -> Result<LayerSink> {
    let job = sink::Job {
        dest: dest.into(),
        layer,
        digest,
        diff_id,
        size: size.map(|v| byte_count("size", v)).transpose()?,
        max_uncompressed: match max_uncompressed {
            Some(v) => byte_count("maxUncompressed", v)?,
            None => layer::DEFAULT_MAX_UNCOMPRESSED,
        },
    };
    let s = sink::Sink::start(job).map_err(err)?;
    Ok(LayerSink { inner: Mutex::new(s) })
}
