//! Layer extraction: a (gzip- or zstd-compressed, or plain) tar blob becomes an overlay-ready
//! directory. Both digests are computed in the same pass — the compressed one (the
//! manifest's layer digest) and the uncompressed one (the config's diffID) — and checked.
//! Whiteouts become overlay's form: `.wh.<name>` → a 0/0 char device, `.wh..wh..opq` →
//! the `trusted.overlay.opaque=y` xattr on the directory.
//!
//! The blob is hostile input. Every filesystem operation goes through `beneath` (no
//! symlink followed, nothing outside the layer dir reachable; see `apply`), the tar
//! framing is ours with bounded extension members (`tarstream`), and the compressed
//! and uncompressed sizes are capped so a gzip bomb stops early.
mod apply;
pub mod pull;
pub mod sink;
mod tarstream;

use apply::{Applier, Fail};
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use apply::{MAX_DEPTH, MAX_PATH};
pub use tarstream::MAX_EXTENSION;

/// Default cap on a layer's uncompressed tar stream when the caller gives none: 64 GiB.
/// Far above real layers (the largest model-serving images have layers of a few tens of
/// GiB) yet a bound on what a gzip bomb (~1000:1) can make us write.
pub const DEFAULT_MAX_UNCOMPRESSED: u64 = 64 << 30;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {layer}: {op} {path}: {source}")]
    Io {
        layer: String,
        op: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("layer {layer}: entry {entry:?} escapes the layer root")]
    Escape { layer: String, entry: String },
    #[error("layer {layer}: entry {entry:?}: {reason}")]
    Invalid {
        layer: String,
        entry: String,
        reason: String,
    },
    #[error("layer {layer}: {kind} digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        layer: String,
        kind: &'static str,
        expected: String,
        actual: String,
    },
    #[error("layer {layer}: blob size mismatch: expected {expected} bytes, {actual}")]
    SizeMismatch {
        layer: String,
        expected: u64,
        /// "got N" or "more than expected".
        actual: String,
    },
    #[error("layer {layer}: uncompressed tar exceeds the limit of {limit} bytes")]
    TooLarge { layer: String, limit: u64 },
}

#[derive(Debug, Clone)]
pub struct Extracted {
    /// sha256 of the blob as stored (manifest digest), "sha256:<hex>".
    pub digest: String,
    /// sha256 of the uncompressed tar (config diffID), "sha256:<hex>".
    pub diff_id: String,
    /// Bytes of the blob read.
    pub size: u64,
}

struct Counted {
    hash: Sha256,
    n: u64,
    /// Reading past this many bytes is an error (and sets `exceeded`).
    limit: u64,
    exceeded: bool,
}

/// Hashes and counts what passes through; refuses to pass more than `limit` bytes, and
/// never asks the inner reader for more than `limit + 1` (so a bomb stops right there).
struct Hashing<R> {
    inner: R,
    state: Rc<RefCell<Counted>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.state.borrow_mut();
        let allowed = s.limit.saturating_add(1).saturating_sub(s.n);
        let max = buf.len().min(allowed.min(usize::MAX as u64) as usize);
        if max == 0 && !buf.is_empty() {
            s.exceeded = true;
            return Err(io::Error::other("size limit exceeded"));
        }
        let n = self.inner.read(&mut buf[..max])?;
        s.hash.update(&buf[..n]);
        s.n += n as u64;
        if s.n > s.limit {
            s.exceeded = true;
            return Err(io::Error::other("size limit exceeded"));
        }
        Ok(n)
    }
}

fn counted(limit: u64) -> Rc<RefCell<Counted>> {
    Rc::new(RefCell::new(Counted {
        hash: Sha256::new(),
        n: 0,
        limit,
        exceeded: false,
    }))
}

fn finish(state: &Rc<RefCell<Counted>>) -> (String, u64) {
    let s = state.borrow();
    (format!("sha256:{}", hex::encode(s.hash.clone().finalize())), s.n)
}

/// Normalises an entry path to a relative path: a leading `/` means the layer root and
/// `..` is resolved lexically; None if it would climb out of the root.
pub fn safe_relative(p: &Path) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = PathBuf::new();
    apply::normalize(p.as_os_str().as_bytes(), &mut out).ok()?;
    Some(out)
}

/// What a layer must turn out to be: checked while it is read.
#[derive(Debug, Clone, Default)]
pub struct Expect<'a> {
    /// The manifest's layer digest ("sha256:<hex>").
    pub digest: Option<&'a str>,
    /// The config's diffID ("sha256:<hex>").
    pub diff_id: Option<&'a str>,
    /// The descriptor's size: a blob of any other length is an error, and reading stops
    /// at `size + 1` bytes.
    pub size: Option<u64>,
}

/// Extracts `blob` into `dest` (created if missing; trusted, may be reached through
/// symlinks — nothing beneath it is followed). `want_size` is the descriptor's size:
/// a blob of any other length is an error, and reading stops at `want_size + 1` bytes.
/// The uncompressed tar may not exceed `max_uncompressed` bytes.
pub fn extract(
    blob: &Path,
    dest: &Path,
    layer: &str,
    want_digest: Option<&str>,
    want_diff_id: Option<&str>,
    want_size: Option<u64>,
    max_uncompressed: u64,
) -> Result<Extracted, LayerError> {
    let io_err = |op: &'static str| {
        let layer = layer.to_string();
        let path = blob.display().to_string();
        move |source| LayerError::Io {
            layer,
            op,
            path,
            source,
        }
    };
    let file = fs::File::open(blob).map_err(io_err("open"))?;
    if let Some(want) = want_size {
        let len = file.metadata().map_err(io_err("stat"))?.len();
        if len != want {
            return Err(LayerError::SizeMismatch {
                layer: layer.into(),
                expected: want,
                actual: format!("got {len}"),
            });
        }
    }
    let want = Expect {
        digest: want_digest,
        diff_id: want_diff_id,
        size: want_size,
    };
    extract_from(file, &blob.display().to_string(), dest, layer, &want, max_uncompressed)
}

/// Extracts a layer blob read from `blob` (a file, or a stream such as an HTTP body
/// handed over by [`crate::layer::sink`]) into `dest`: the compressed digest, the
/// decompression (gzip, zstd or none, told apart by magic bytes) and the diffID happen
/// in this one pass, so the blob is never held in memory or on disk. `source` names
/// the blob in errors.
pub fn extract_from<R: Read>(
    blob: R,
    source: &str,
    dest: &Path,
    layer: &str,
    want: &Expect,
    max_uncompressed: u64,
) -> Result<Extracted, LayerError> {
    let (want_digest, want_diff_id, want_size) = (want.digest, want.diff_id, want.size);
    let blob_path = Path::new(source);
    let io_err = |op: &'static str, path: &Path| {
        let layer = layer.to_string();
        let path = path.display().to_string();
        move |source| LayerError::Io {
            layer,
            op,
            path,
            source,
        }
    };
    let size_mismatch = |expected: u64, actual: String| LayerError::SizeMismatch {
        layer: layer.into(),
        expected,
        actual,
    };
    let blob_io = |op: &'static str| io_err(op, blob_path);
    let outer = counted(want_size.unwrap_or(u64::MAX));
    let inner = counted(max_uncompressed);
    // Any read error may come from a size limit: report that, not the generic error.
    let limit_err = |e: LayerError| {
        if outer.borrow().exceeded {
            size_mismatch(want_size.unwrap_or(0), "more than expected".into())
        } else if inner.borrow().exceeded {
            LayerError::TooLarge {
                layer: layer.into(),
                limit: max_uncompressed,
            }
        } else {
            e
        }
    };
    let mut buffered = BufReader::with_capacity(
        256 * 1024,
        Hashing {
            inner: blob,
            state: outer.clone(),
        },
    );
    let magic = buffered.fill_buf().map_err(blob_io("read")).map_err(limit_err)?;
    let decoded: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(buffered))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        // Concatenated frames are read as one stream (zstd's default), as for gzip.
        let d = zstd::stream::read::Decoder::with_buffer(buffered)
            .map_err(blob_io("zstd init"))
            .map_err(limit_err)?;
        Box::new(d)
    } else {
        Box::new(buffered)
    };
    let mut tar = tarstream::TarReader::new(Hashing {
        inner: decoded,
        state: inner.clone(),
    });
    fs::create_dir_all(dest).map_err(io_err("mkdir", dest))?;
    let root = fs::File::open(dest).map_err(io_err("open", dest))?;
    let mut applier = Applier::new(root.into());
    let mut entry = tarstream::Entry::default();
    let shown = |a: &Applier, e: &tarstream::Entry| {
        if a.rel().as_os_str().is_empty() {
            String::from_utf8_lossy(&e.path).into_owned()
        } else {
            a.rel().display().to_string()
        }
    };
    loop {
        match tar.next(&mut entry) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(limit_err(blob_io("read tar")(e))),
        }
        if let Err(f) = applier.apply(&entry, &mut tar) {
            let raw = String::from_utf8_lossy(&entry.path).into_owned();
            let entry = shown(&applier, &entry);
            return Err(limit_err(match f {
                Fail::Escape => LayerError::Escape {
                    layer: layer.into(),
                    entry: raw,
                },
                Fail::Invalid(reason) => LayerError::Invalid {
                    layer: layer.into(),
                    entry,
                    reason,
                },
                Fail::Io(op, source) => LayerError::Io {
                    layer: layer.into(),
                    op,
                    path: dest.join(&entry).display().to_string(),
                    source,
                },
            }));
        }
    }
    applier.finish().map_err(|f| match f {
        Fail::Io(op, source) => io_err(op, dest)(source),
        other => io_err("set times", dest)(io::Error::other(format!("{other:?}"))),
    })?;
    // Drain trailing padding so the digests cover the whole blob.
    let mut rest = tar.into_inner();
    io::copy(&mut rest, &mut io::sink())
        .map_err(blob_io("read"))
        .map_err(limit_err)?;
    drop(rest);
    let (diff_id, _) = finish(&inner);
    let (digest, size) = finish(&outer);
    if let Some(want) = want_size {
        if size != want {
            return Err(size_mismatch(want, format!("got {size}")));
        }
    }
    if let Some(w) = want_digest {
        if w != digest {
            return Err(LayerError::DigestMismatch {
                layer: layer.into(),
                kind: "blob",
                expected: w.into(),
                actual: digest,
            });
        }
    }
    if let Some(w) = want_diff_id {
        if w != diff_id {
            return Err(LayerError::DigestMismatch {
                layer: layer.into(),
                kind: "diffID",
                expected: w.into(),
                actual: diff_id,
            });
        }
    }
    Ok(Extracted { digest, diff_id, size })
}

#[cfg(test)]
mod tests;
