//! Layer extraction: a (gzip-compressed or plain) tar blob becomes an overlay-ready
//! directory. Both digests are computed in the same pass — the compressed one (the
//! manifest's layer digest) and the uncompressed one (the config's diffID) — and checked.
//! Whiteouts become overlay's form: `.wh.<name>` → a 0/0 char device, `.wh..wh..opq` →
//! the `trusted.overlay.opaque=y` xattr on the directory.
use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

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
    #[error("layer {layer}: {kind} digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        layer: String,
        kind: &'static str,
        expected: String,
        actual: String,
    },
    #[error("layer {layer}: zstd-compressed layers are not supported yet")]
    Zstd { layer: String },
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

struct Hashing<R> {
    inner: R,
    state: Rc<RefCell<(Sha256, u64)>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut s = self.state.borrow_mut();
        s.0.update(&buf[..n]);
        s.1 += n as u64;
        Ok(n)
    }
}

fn finish(state: &Rc<RefCell<(Sha256, u64)>>) -> (String, u64) {
    let s = state.borrow();
    (format!("sha256:{}", hex::encode(s.0.clone().finalize())), s.1)
}

/// Normalises an entry path to a relative path with no `..`, or None if it would escape.
pub fn safe_relative(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

pub fn extract(
    blob: &Path,
    dest: &Path,
    layer: &str,
    want_digest: Option<&str>,
    want_diff_id: Option<&str>,
) -> Result<Extracted, LayerError> {
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
    let file = fs::File::open(blob).map_err(io_err("open", blob))?;
    let outer = Rc::new(RefCell::new((Sha256::new(), 0u64)));
    let mut buffered = BufReader::with_capacity(
        256 * 1024,
        Hashing {
            inner: file,
            state: outer.clone(),
        },
    );
    let magic = buffered.fill_buf().map_err(io_err("read", blob))?.to_vec();
    let decoded: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(buffered))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(LayerError::Zstd {
            layer: layer.to_string(),
        });
    } else {
        Box::new(buffered)
    };
    let inner = Rc::new(RefCell::new((Sha256::new(), 0u64)));
    let mut archive = tar::Archive::new(Hashing {
        inner: decoded,
        state: inner.clone(),
    });
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    fs::create_dir_all(dest).map_err(io_err("mkdir", dest))?;

    for entry in archive.entries().map_err(io_err("read tar", blob))? {
        let mut entry = entry.map_err(io_err("read tar entry", blob))?;
        let raw = entry.path().map_err(io_err("entry path", blob))?.into_owned();
        let rel = safe_relative(&raw).ok_or_else(|| LayerError::Escape {
            layer: layer.into(),
            entry: raw.display().to_string(),
        })?;
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let parent = dest.join(rel.parent().unwrap_or(Path::new("")));
            fs::create_dir_all(&parent).map_err(io_err("mkdir", &parent))?;
            if hidden == ".wh..opq" {
                xattr::set(&parent, "trusted.overlay.opaque", b"y").map_err(io_err("set opaque xattr", &parent))?;
            } else {
                let target = parent.join(hidden);
                let _ = fs::remove_file(&target);
                nix::sys::stat::mknod(
                    &target,
                    nix::sys::stat::SFlag::S_IFCHR,
                    nix::sys::stat::Mode::empty(),
                    0,
                )
                .map_err(|e| io_err("mknod whiteout", &target)(io::Error::from(e)))?;
            }
            continue;
        }
        // unpack_in refuses entries (and hard links) that would land outside `dest`.
        let inside = entry.unpack_in(dest).map_err(io_err("unpack", &dest.join(&rel)))?;
        if !inside {
            return Err(LayerError::Escape {
                layer: layer.into(),
                entry: raw.display().to_string(),
            });
        }
    }
    // Drain trailing padding so the digests cover the whole blob.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(io_err("read", blob))?;
    drop(rest);
    let (diff_id, _) = finish(&inner);
    let (digest, size) = finish(&outer);
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
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileTypeExt;

    fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            // set_path refuses "..": write the raw name so hostile archives can be built.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn sha(d: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(d)))
    }

    #[test]
    fn extracts_gzip_with_whiteouts_and_checks_digests() {
        let t = tempfile::tempdir().unwrap();
        let tarball = tar_with(&[("etc/hello", b"hi\n"), ("etc/.wh.gone", b""), ("var/.wh..wh..opq", b"")]);
        let blob = gz(&tarball);
        fs::write(t.path().join("blob"), &blob).unwrap();
        let dest = t.path().join("diff");
        let r = extract(
            &t.path().join("blob"),
            &dest,
            "l1",
            Some(&sha(&blob)),
            Some(&sha(&tarball)),
        )
        .unwrap();
        assert_eq!(r.diff_id, sha(&tarball));
        assert_eq!(fs::read(dest.join("etc/hello")).unwrap(), b"hi\n");
        let wh = fs::symlink_metadata(dest.join("etc/gone")).unwrap();
        assert!(wh.file_type().is_char_device());
        assert_eq!(
            xattr::get(dest.join("var"), "trusted.overlay.opaque")
                .unwrap()
                .as_deref(),
            Some(&b"y"[..])
        );
    }

    #[test]
    fn rejects_bad_digest_and_escapes() {
        let t = tempfile::tempdir().unwrap();
        let tarball = tar_with(&[("a", b"x")]);
        fs::write(t.path().join("blob"), &tarball).unwrap();
        let e = extract(
            &t.path().join("blob"),
            &t.path().join("d"),
            "l2",
            Some("sha256:00"),
            None,
        )
        .unwrap_err();
        assert!(matches!(e, LayerError::DigestMismatch { kind: "blob", .. }));

        let evil = tar_with(&[("../evil", b"x")]);
        fs::write(t.path().join("evil.tar"), &evil).unwrap();
        let e = extract(&t.path().join("evil.tar"), &t.path().join("d2"), "l3", None, None).unwrap_err();
        assert!(matches!(e, LayerError::Escape { .. }));
        assert!(
            !t.path().join("evil").exists(),
            "nothing was written outside the layer dir"
        );
    }
}
