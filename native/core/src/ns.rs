//! Namespace creation and pinning.
//!
//! A pod's net/ipc/uts namespaces are created by unshare(2) on a dedicated, short-lived
//! thread (never on the caller's thread: the Node process is multi-threaded and its pool
//! threads must stay in the host namespaces), then pinned by bind-mounting
//! /proc/thread-self/ns/<kind> onto a file. The pin keeps the namespace alive without any
//! infra process; unpinning is a lazy unmount plus unlink.
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum NsError {
    #[error("unknown namespace kind {0:?} (want net, ipc or uts)")]
    UnknownKind(String),
    #[error("{op} {path}: {source}")]
    Sys {
        op: &'static str,
        path: String,
        source: nix::Error,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("namespace thread panicked")]
    ThreadPanicked,
}

pub(crate) fn flag_for(kind: &str) -> Result<CloneFlags, NsError> {
    match kind {
        "net" => Ok(CloneFlags::CLONE_NEWNET),
        "ipc" => Ok(CloneFlags::CLONE_NEWIPC),
        "uts" => Ok(CloneFlags::CLONE_NEWUTS),
        other => Err(NsError::UnknownKind(other.to_string())),
    }
}

/// Creates one new namespace per kind and pins each at `<dir>/<kind>`.
/// On failure every pin already made is undone, so nothing is left behind.
pub fn pin_namespaces(dir: &Path, kinds: &[String], hostname: Option<String>) -> Result<Vec<PathBuf>, NsError> {
    let mut flags = CloneFlags::empty();
    for k in kinds {
        flags |= flag_for(k)?;
    }
    fs::create_dir_all(dir).map_err(|source| NsError::Io {
        op: "mkdir",
        path: dir.display().to_string(),
        source,
    })?;
    let dir = dir.to_path_buf();
    let kinds = kinds.to_vec();
    // The thread dies with its namespaces; only the bind mounts keep them.
    std::thread::spawn(move || -> Result<Vec<PathBuf>, NsError> {
        unshare(flags).map_err(|source| NsError::Sys {
            op: "unshare",
            path: dir.display().to_string(),
            source,
        })?;
        if let Some(h) = hostname.filter(|_| flags.contains(CloneFlags::CLONE_NEWUTS)) {
            nix::unistd::sethostname(&h).map_err(|source| NsError::Sys {
                op: "sethostname",
                path: h.clone(),
                source,
            })?;
        }
        let mut pinned = Vec::new();
        for k in &kinds {
            match pin_one(&dir, k) {
                Ok(p) => pinned.push(p),
                Err(e) => {
                    for p in &pinned {
                        let _ = unpin(p);
                    }
                    return Err(e);
                }
            }
        }
        Ok(pinned)
    })
    .join()
    .map_err(|_| NsError::ThreadPanicked)?
}

fn pin_one(dir: &Path, kind: &str) -> Result<PathBuf, NsError> {
    let target = dir.join(kind);
    pin_existing(Path::new(&format!("/proc/thread-self/ns/{kind}")), &target)?;
    Ok(target)
}

/// Pins an existing namespace (e.g. `/proc/<pause>/ns/pid`) at `target`.
pub fn pin_existing(src: &Path, target: &Path) -> Result<(), NsError> {
    fs::File::create(target).map_err(|source| NsError::Io {
        op: "create",
        path: target.display().to_string(),
        source,
    })?;
    if let Err(source) = mount(Some(src), target, None::<&str>, MsFlags::MS_BIND, None::<&str>) {
        let _ = fs::remove_file(target);
        return Err(NsError::Sys {
            op: "bind-mount",
            path: target.display().to_string(),
            source,
        });
    }
    Ok(())
}

/// Unpins a namespace file. Idempotent: a missing or already-unmounted file is fine.
pub fn unpin(path: &Path) -> Result<(), NsError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(source) => {
            return Err(NsError::Sys {
                op: "umount",
                path: path.display().to_string(),
                source,
            })
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(NsError::Io {
            op: "unlink",
            path: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn pins_new_namespaces_and_unpins_them() {
        // Like the whole suite (scripts/test.sh), this needs root: namespaces and mounts are real.
        assert!(nix::unistd::Uid::effective().is_root(), "run as root");
        let dir = tempfile::tempdir().unwrap();
        let pins = pin_namespaces(dir.path(), &["net".into(), "uts".into()], Some("pinned".into())).unwrap();
        assert_eq!(pins.len(), 2);
        let host_net = fs::metadata("/proc/self/ns/net").unwrap().ino();
        assert_ne!(fs::metadata(&pins[0]).unwrap().ino(), host_net, "a new netns is pinned");
        // The calling thread stayed in the host namespaces.
        assert_eq!(fs::metadata("/proc/thread-self/ns/net").unwrap().ino(), host_net);
        for p in &pins {
            unpin(p).unwrap();
            assert!(!p.exists());
            unpin(p).unwrap(); // idempotent
        }
        assert!(matches!(
            pin_namespaces(dir.path(), &["pid".into()], None),
            Err(NsError::UnknownKind(_))
        ));
    }
}
