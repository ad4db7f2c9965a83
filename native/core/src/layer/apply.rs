//! Applying one tar member to the layer directory, every operation beneath the layer
//! root's fd (see `beneath`): parents are resolved with no symlink followed and created
//! one component at a time; the final component is made with a non-following `*at`
//! call after removing whatever was there.
//!
//! A member whose parent path crosses a symlink is refused (Escape), even when the
//! symlink points inside the layer. containerd resolves such paths within the root
//! instead; refusing is simpler and cannot be got wrong, and real layer writers (which
//! walk a filesystem) never emit a member beneath a symlink of the same layer.
use super::tarstream::{Entry, Kind};
use crate::beneath::{self, lstat_at, mkdir_all_beneath, split, DIR_FLAGS};
use crate::tree;
use rustix::fs::{self as rfs, AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, XattrFlags};
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Longest member path or hard-link target accepted, in bytes (PATH_MAX).
pub const MAX_PATH: usize = 4096;
/// Deepest member path accepted, in components: keeps later walks and removals bounded.
pub const MAX_DEPTH: usize = 256;
/// Directories whose mtime is set after the whole layer is written (their children
/// change it meanwhile); past these bounds a directory's mtime is set at once.
const MAX_DEFERRED: usize = 65_536;
const MAX_DEFERRED_BYTES: usize = 16 << 20;

#[derive(Debug)]
pub enum Fail {
    /// The member's path, or a path it goes through, leaves the layer root.
    Escape,
    /// The member is malformed or unsupported; says why.
    Invalid(String),
    Io(&'static str, io::Error),
}

fn io_fail(op: &'static str) -> impl FnOnce(io::Error) -> Fail {
    move |e| match e.raw_os_error() {
        // RESOLVE_NO_SYMLINKS / RESOLVE_BENEATH refusals.
        Some(libc::ELOOP) | Some(libc::EXDEV) => Fail::Escape,
        _ => Fail::Io(op, e),
    }
}

fn errno(op: &'static str) -> impl FnOnce(rustix::io::Errno) -> Fail {
    move |e| io_fail(op)(e.into())
}

/// Normalises an archive path into `out`: relative (a leading `/` means the layer
/// root), `.` dropped, `..` resolved lexically — never through the filesystem.
pub fn normalize(raw: &[u8], out: &mut PathBuf) -> Result<(), Fail> {
    if raw.len() > MAX_PATH {
        return Err(Fail::Invalid(format!("path of {} bytes exceeds {MAX_PATH}", raw.len())));
    }
    if raw.contains(&0) {
        return Err(Fail::Invalid("path contains a NUL byte".into()));
    }
    out.clear();
    let mut depth = 0;
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if !out.pop() {
                    return Err(Fail::Escape);
                }
                depth -= 1;
            }
            c => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Fail::Invalid(format!("path deeper than {MAX_DEPTH} components")));
                }
                out.push(OsStr::from_bytes(c));
            }
        }
    }
    Ok(())
}

/// xattrs a layer may carry: overlay's own (`trusted.overlay.*`, `user.overlay.*`)
/// would forge opaque/redirect/metacopy markers in the lower dir; `security.*` other
/// than file capabilities would label files for an LSM. ACLs and other
/// `user.*`/`trusted.*` attributes are kept.
fn xattr_allowed(name: &[u8]) -> bool {
    if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
        return false;
    }
    if name.starts_with(b"security.") {
        return name == b"security.capability";
    }
    name.starts_with(b"user.")
        || name.starts_with(b"trusted.")
        || name == b"system.posix_acl_access"
        || name == b"system.posix_acl_default"
}

fn times(t: (i64, u32)) -> Timestamps {
    let ts = Timespec {
        tv_sec: t.0,
        tv_nsec: t.1 as _,
    };
    Timestamps {
        last_access: ts,
        last_modification: ts,
    }
}

pub struct Applier {
    root: OwnedFd,
    rel: PathBuf,
    target: PathBuf,
    buf: Vec<u8>,
    deferred_paths: Vec<u8>,
    deferred: Vec<(u32, u32, (i64, u32))>,
}

impl Applier {
    pub fn new(root: OwnedFd) -> Self {
        Applier {
            root,
            rel: PathBuf::new(),
            target: PathBuf::new(),
            buf: vec![0; 256 * 1024],
            deferred_paths: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// The normalised path of the member being applied (for error messages).
    pub fn rel(&self) -> &Path {
        &self.rel
    }

    pub fn apply(&mut self, e: &Entry, data: &mut impl Read) -> Result<(), Fail> {
        normalize(&e.path, &mut self.rel)?;
        let rel = std::mem::take(&mut self.rel);
        let r = self.apply_at(e, &rel, data);
        self.rel = rel;
        r
    }

    fn apply_at(&mut self, e: &Entry, rel: &Path, data: &mut impl Read) -> Result<(), Fail> {
        // The root itself ("./"): the layer dir is ours, its metadata stays.
        let Some((parent, name)) = split(rel) else {
            return Ok(());
        };
        let (uid, gid) = match (u32::try_from(e.uid), u32::try_from(e.gid)) {
            (Ok(u), Ok(g)) if u != u32::MAX && g != u32::MAX => (Uid::from_raw(u), Gid::from_raw(g)),
            _ => return Err(Fail::Invalid(format!("uid/gid {}/{} out of range", e.uid, e.gid))),
        };
        let dir = mkdir_all_beneath(self.root.as_fd(), parent, 0o755).map_err(io_fail("create parents"))?;
        let dir = dir.as_fd();
        if let Some(hidden) = name.as_bytes().strip_prefix(b".wh.") {
            return whiteout(dir, hidden);
        }
        match e.kind {
            Kind::Dir => {
                match rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) => {}
                    Err(rustix::io::Errno::EXIST) => {
                        let st = lstat_at(dir, name).map_err(io_fail("stat"))?;
                        let is_dir = st.is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory);
                        if !is_dir {
                            tree::remove_at(dir, name).map_err(io_fail("remove"))?;
                            rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700)).map_err(errno("mkdir"))?;
                        }
                    }
                    Err(e) => return Err(errno("mkdir")(e)),
                }
                let fd = beneath::openat2(dir, Path::new(name), DIR_FLAGS, 0).map_err(io_fail("open dir"))?;
                self.metadata(fd.as_fd(), e, uid, gid)?;
                if self.deferred.len() < MAX_DEFERRED
                    && self.deferred_paths.len() + rel.as_os_str().len() <= MAX_DEFERRED_BYTES
                {
                    let start = self.deferred_paths.len() as u32;
                    self.deferred_paths.extend_from_slice(rel.as_os_str().as_bytes());
                    self.deferred.push((start, self.deferred_paths.len() as u32, e.mtime));
                } else {
                    rfs::futimens(&fd, &times(e.mtime)).map_err(errno("set times"))?;
                }
            }
            Kind::File => {
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let fd = replace(dir, name, || rfs::openat(dir, name, flags, Mode::from_raw_mode(0o600)))?;
                let mut f = std::fs::File::from(fd);
                let mut left = e.size;
                while left > 0 {
                    let n = data.read(&mut self.buf).map_err(io_fail("read data"))?;
                    if n == 0 {
                        return Err(Fail::Invalid("member data truncated".into()));
                    }
                    f.write_all(&self.buf[..n]).map_err(io_fail("write"))?;
                    left = left.saturating_sub(n as u64);
                }
                // Owner before mode (chown clears setuid/setgid), xattrs after both and
                // after the data (writes and chown drop security.capability).
                self.metadata(f.as_fd(), e, uid, gid)?;
                rfs::futimens(&f, &times(e.mtime)).map_err(errno("set times"))?;
            }
            Kind::Symlink => {
                // Written verbatim, absolute targets too: the kernel resolves them inside
                // the container's rootfs. Creating a symlink follows nothing.
                if e.link.is_empty() || e.link.len() > MAX_PATH || e.link.contains(&0) {
                    return Err(Fail::Invalid("bad symlink target".into()));
                }
                let target = OsStr::from_bytes(&e.link);
                replace(dir, name, || rfs::symlinkat(target, dir, name))?;
                self.node_metadata(dir, name, e, uid, gid, false)?;
            }
            Kind::Link => self.hard_link(e, rel, dir, name)?,
            Kind::Char | Kind::Block | Kind::Fifo => {
                let ft = match e.kind {
                    Kind::Char => FileType::CharacterDevice,
                    Kind::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dev = rfs::makedev(e.dev.0, e.dev.1);
                replace(dir, name, || {
                    rfs::mknodat(dir, name, ft, Mode::from_raw_mode(0o600), dev)
                })?;
                self.node_metadata(dir, name, e, uid, gid, true)?;
            }
        }
        Ok(())
    }

    /// Owner, mode and xattrs through an fd we own (a directory or a regular file).
    fn metadata(&self, fd: BorrowedFd, e: &Entry, uid: Uid, gid: Gid) -> Result<(), Fail> {
        rfs::fchown(fd, Some(uid), Some(gid)).map_err(errno("chown"))?;
        rfs::fchmod(fd, Mode::from_raw_mode(e.mode)).map_err(errno("chmod"))?;
        for (name, value) in e.xattrs() {
            if !xattr_allowed(name) {
                continue;
            }
            match rfs::fsetxattr(fd, OsStr::from_bytes(name), value, XattrFlags::empty()) {
                // The filesystem has no such namespace: as containerd, go on without it.
                Ok(()) | Err(rustix::io::Errno::OPNOTSUPP) => {}
                Err(err) => return Err(Fail::Io("set xattr", err.into())),
            }
        }
        Ok(())
    }

    /// Metadata of nodes we do not open (symlinks, devices, FIFOs), by name without
    /// following. xattrs are not set on them: there is no fd-free, non-following call
    /// on older kernels, and a device or FIFO must not be opened.
    fn node_metadata(
        &self,
        dir: BorrowedFd,
        name: &OsStr,
        e: &Entry,
        uid: Uid,
        gid: Gid,
        mode: bool,
    ) -> Result<(), Fail> {
        rfs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW).map_err(errno("chown"))?;
        if mode {
            beneath::chmod_nofollow(dir, name, e.mode).map_err(io_fail("chmod"))?;
        }
        rfs::utimensat(dir, name, &times(e.mtime), AtFlags::SYMLINK_NOFOLLOW).map_err(errno("set times"))
    }

    fn hard_link(&mut self, e: &Entry, rel: &Path, dir: BorrowedFd, name: &OsStr) -> Result<(), Fail> {
        // The target is a path in the layer (an absolute one too), resolved beneath the
        // root like the member's own path; the link is made to the inode found there,
        // a symlink included (linkat without AT_SYMLINK_FOLLOW).
        normalize(&e.link, &mut self.target)?;
        let shown = || String::from_utf8_lossy(&e.link).into_owned();
        let Some((tparent, tname)) = split(&self.target) else {
            return Err(Fail::Invalid(format!("hard link to the layer root ({})", shown())));
        };
        if self.target == rel {
            return Ok(());
        }
        let missing = || Fail::Invalid(format!("hard link target {} does not exist in the layer", shown()));
        let tdir = match beneath::open_dir_beneath(self.root.as_fd(), tparent) {
            Err(err) if matches!(err.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => return Err(missing()),
            r => r.map_err(io_fail("open link target dir"))?,
        };
        let Some(tst) = lstat_at(tdir.as_fd(), tname).map_err(io_fail("stat link target"))? else {
            return Err(missing());
        };
        if let Some(st) = lstat_at(dir, name).map_err(io_fail("stat"))? {
            if st.st_dev == tst.st_dev && st.st_ino == tst.st_ino {
                return Ok(());
            }
        }
        replace(dir, name, || rfs::linkat(&tdir, tname, dir, name, AtFlags::empty()))
    }

    /// Sets the deferred directory mtimes, now that their children are written.
    pub fn finish(&mut self) -> Result<(), Fail> {
        for &(a, b, t) in self.deferred.iter().rev() {
            let rel = Path::new(OsStr::from_bytes(&self.deferred_paths[a as usize..b as usize]));
            // A later member may have replaced or removed it: then there is nothing to do.
            let Ok(fd) = beneath::openat2(self.root.as_fd(), rel, DIR_FLAGS, 0) else {
                continue;
            };
            rfs::futimens(&fd, &times(t)).map_err(errno("set times"))?;
        }
        self.deferred.clear();
        self.deferred_paths.clear();
        Ok(())
    }
}

/// Runs `create`; if something is in the way, removes it (a directory as a whole tree,
/// following nothing) and tries once more.
fn replace<T>(dir: BorrowedFd, name: &OsStr, mut create: impl FnMut() -> rustix::io::Result<T>) -> Result<T, Fail> {
    match create() {
        Err(rustix::io::Errno::EXIST) => {
            tree::remove_at(dir, name).map_err(io_fail("remove"))?;
            create().map_err(errno("create"))
        }
        r => r.map_err(errno("create")),
    }
}

/// `.wh.<name>` → overlay's whiteout (a 0/0 char device) in place of `<name>`;
/// `.wh..wh..opq` → `trusted.overlay.opaque=y` on the directory, set through its fd.
fn whiteout(dir: BorrowedFd, hidden: &[u8]) -> Result<(), Fail> {
    if hidden == b".wh..opq" {
        return rfs::fsetxattr(dir, "trusted.overlay.opaque", b"y", XattrFlags::empty())
            .map_err(errno("set opaque xattr"));
    }
    if hidden.starts_with(b".wh.") {
        // Other `.wh..wh.*` names are aufs bookkeeping (hard-link dirs): skipped, as
        // Docker and containerd do.
        return Ok(());
    }
    if hidden.is_empty() || hidden == b"." || hidden == b".." {
        return Err(Fail::Invalid("whiteout of no name".into()));
    }
    let name = OsStr::from_bytes(hidden);
    tree::remove_at(dir, name).map_err(io_fail("remove whited-out"))?;
    rfs::mknodat(dir, name, FileType::CharacterDevice, Mode::empty(), 0).map_err(errno("mknod whiteout"))
}
