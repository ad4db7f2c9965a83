//! Overlay and bind mounts for container root filesystems.
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("overlay needs at least one lower directory")]
    NoLowerDirs,
    #[error("overlay option string for {target} is {len} bytes, over the kernel's page limit")]
    OptionsTooLong { target: String, len: usize },
    #[error("path {0:?} contains a character overlay options cannot carry (',' or ':')")]
    BadPath(String),
    #[error("{op} {target}: {source}")]
    Sys {
        op: &'static str,
        target: String,
        source: nix::Error,
    },
}

fn check(p: &str) -> Result<(), MountError> {
    if p.contains(',') || p.contains(':') {
        return Err(MountError::BadPath(p.to_string()));
    }
    Ok(())
}

/// Builds the overlay option string; `lowers` are ordered top-most first, as overlayfs wants.
pub fn overlay_options(lowers: &[String], upper: &str, work: &str) -> Result<String, MountError> {
    if lowers.is_empty() {
        return Err(MountError::NoLowerDirs);
    }
    for p in lowers.iter().chain([upper.to_string(), work.to_string()].iter()) {
        check(p)?;
    }
    Ok(format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper,
        work
    ))
}

pub fn mount_overlay(lowers: &[String], upper: &str, work: &str, target: &str) -> Result<(), MountError> {
    let opts = overlay_options(lowers, upper, work)?;
    overlay(&opts, target, MsFlags::empty(), "mount overlay")
}

/// Mounts an overlay with option string `opts` at `target`, refusing options the kernel
/// would cut at its page limit.
fn overlay(opts: &str, target: &str, flags: MsFlags, op: &'static str) -> Result<(), MountError> {
    if opts.len() >= 4096 {
        return Err(MountError::OptionsTooLong {
            target: target.to_string(),
            len: opts.len(),
        });
    }
    mount(Some("overlay"), Path::new(target), Some("overlay"), flags, Some(opts)).map_err(|source| MountError::Sys {
        op,
        target: target.to_string(),
        source,
    })
}

/// Mounts a read-only overlay of `lowers` (top-most first, at least two: overlayfs wants
/// two lower layers when there is no upper) at `target`: an image volume, which nothing
/// may change, so paths beneath it stay what they were when checked.
pub fn mount_overlay_readonly(lowers: &[String], target: &str) -> Result<(), MountError> {
    if lowers.is_empty() {
        return Err(MountError::NoLowerDirs);
    }
    for p in lowers {
        check(p)?;
    }
    let opts = format!("lowerdir={}", lowers.join(":"));
    overlay(
        &opts,
        target,
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "mount read-only overlay",
    )
}

/// Mounts a tmpfs at `target` (a pod's /dev/shm): nosuid, nodev, noexec, world-writable
/// with the sticky bit, at most `size_bytes`.
pub fn mount_shm(target: &str, size_bytes: u64) -> Result<(), MountError> {
    let opts = format!("mode=1777,size={size_bytes}");
    mount(
        Some("shm"),
        Path::new(target),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(opts.as_str()),
    )
    .map_err(|source| MountError::Sys {
        op: "mount tmpfs",
        target: target.to_string(),
        source,
    })
}

/// mount_setattr(2) with AT_RECURSIVE and MOUNT_ATTR_RDONLY (Linux 5.12): the mount at
/// `target` and every mount beneath it become read-only.
pub fn setattr_readonly_recursive(target: &str) -> nix::Result<()> {
    let c = std::ffi::CString::new(target).map_err(|_| nix::Error::EINVAL)?;
    mount_setattr_rdonly(libc::AT_FDCWD, &c, 0)
}

/// The same for `dest` resolved inside `rootfs` as the runtime resolved it for the mount
/// (RESOLVE_IN_ROOT: symlinks in the image stay inside it).
pub fn readonly_recursive_in_root(rootfs: &Path, dest: &Path) -> std::io::Result<()> {
    use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
    use std::os::fd::AsRawFd;
    let root = rfs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let rel = dest.strip_prefix("/").unwrap_or(dest);
    let fd = rfs::openat2(
        &root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?;
    mount_setattr_rdonly(fd.as_raw_fd(), c"", libc::AT_EMPTY_PATH as libc::c_uint).map_err(std::io::Error::from)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

fn mount_setattr_rdonly(dirfd: libc::c_int, path: &std::ffi::CStr, flags: libc::c_uint) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    mount_setattr(dirfd, path, flags | libc::AT_RECURSIVE as libc::c_uint, &attr)
}

/// mount_setattr(2) by raw syscall: neither nix 0.29 nor rustix 1.1 wraps it.
fn mount_setattr(dirfd: libc::c_int, path: &std::ffi::CStr, flags: libc::c_uint, attr: &MountAttr) -> nix::Result<()> {
    // SAFETY: plain syscall with a valid fd or AT_FDCWD, a NUL-terminated path and a correctly sized struct.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(nix::Error::last())
    }
}

/// An idmapped bind of `source` (and every mount beneath it) at `target`, mapped through
/// the user namespace pinned at `userns`: a file the disk says is owned by uid N is seen
/// as the namespace's uid N, i.e. host uid (N's mapping). open_tree(OPEN_TREE_CLONE |
/// AT_RECURSIVE) makes a detached copy (the only kind an idmap may be set on), then
/// mount_setattr(MOUNT_ATTR_IDMAP) and move_mount attach it. `target` is made (a
/// directory or an empty file, like the source) if missing. The copy is private: mounts
/// made on the host later do not propagate into it. A filesystem without idmapped-mount
/// support (overlayfs itself, proc, nsfs…) anywhere in the tree fails with EINVAL.
pub fn idmap_bind(source: &str, target: &str, userns: &str) -> Result<(), MountError> {
    use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};
    use std::os::fd::AsRawFd;
    let fail = |op: &'static str, e: std::io::Error| MountError::Sys {
        op,
        target: format!("{source} -> {target}"),
        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    };
    let ns = std::fs::File::open(userns).map_err(|e| fail("open user namespace", e))?;
    let tree = open_tree(
        rustix::fs::CWD,
        source,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(|e| fail("open_tree", e.into()))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: ns.as_raw_fd() as u64,
    };
    let flags = (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint;
    mount_setattr(tree.as_raw_fd(), c"", flags, &attr).map_err(|e| MountError::Sys {
        op: "mount_setattr(MOUNT_ATTR_IDMAP)",
        target: format!("{source} -> {target}"),
        source: e,
    })?;
    let is_dir = rustix::fs::fstat(&tree)
        .map(|s| rustix::fs::FileType::from_raw_mode(s.st_mode) == rustix::fs::FileType::Directory);
    match is_dir {
        Ok(true) => std::fs::create_dir_all(target).map_err(|e| fail("mkdir", e))?,
        Ok(false) if !Path::new(target).exists() => {
            std::fs::File::create(target).map_err(|e| fail("create", e))?;
        }
        Ok(false) => {}
        Err(e) => return Err(fail("fstat", e.into())),
    }
    move_mount(
        &tree,
        c"",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| fail("move_mount", e.into()))
}

/// Lazily unmounts `target`. Idempotent: "not mounted" and "no such path" are success.
pub fn unmount(target: &str) -> Result<(), MountError> {
    match umount2(Path::new(target), MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()),
        Err(source) => Err(MountError::Sys {
            op: "umount",
            target: target.to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn options_order_and_validation() {
        let o = overlay_options(&["/l/b".into(), "/l/a".into()], "/u", "/w").unwrap();
        assert_eq!(o, "lowerdir=/l/b:/l/a,upperdir=/u,workdir=/w");
        assert!(matches!(overlay_options(&[], "/u", "/w"), Err(MountError::NoLowerDirs)));
        assert!(matches!(
            overlay_options(&["/a,b".into()], "/u", "/w"),
            Err(MountError::BadPath(_))
        ));
    }

    #[test]
    fn idmap_bind_shows_disk_owners_through_the_mapping() {
        use crate::userns::{pin_user_namespace, IdMap};
        use std::os::unix::fs::MetadataExt;
        assert!(nix::unistd::Uid::effective().is_root(), "run as root");
        let d = tempfile::tempdir().unwrap();
        let m = [IdMap {
            container_id: 0,
            host_id: 100000,
            length: 65536,
        }];
        let pins = pin_user_namespace(&d.path().join("ns"), &[], None, &m, &m).unwrap();
        let src = d.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("f"), "x").unwrap();
        std::os::unix::fs::chown(src.join("f"), Some(7), Some(8)).unwrap();
        let p = |x: &std::path::Path| x.display().to_string();
        let (view, fview) = (d.path().join("view"), d.path().join("fview"));
        idmap_bind(&p(&src), &p(&view), &p(&pins[0])).unwrap();
        idmap_bind(&p(&src.join("f")), &p(&fview), &p(&pins[0])).unwrap();
        let st = std::fs::metadata(view.join("f")).unwrap();
        assert_eq!((st.uid(), st.gid()), (100007, 100008));
        assert_eq!(std::fs::metadata(&fview).unwrap().uid(), 100007);
        assert_eq!(std::fs::metadata(&src).unwrap().uid(), 0, "the source keeps its view");
        // procfs takes no idmap: the error names the call.
        let e = idmap_bind("/proc", &p(&d.path().join("p")), &p(&pins[0])).unwrap_err();
        assert!(e.to_string().contains("MOUNT_ATTR_IDMAP"), "{e}");
        for t in [&view, &fview] {
            unmount(&p(t)).unwrap();
        }
        crate::ns::unpin(&pins[0]).unwrap();
    }
}
