//! Filesystem operations confined beneath a root directory fd, never following symlinks.
//!
//! Layer extraction and the monitor's log file write into trees that hostile input (a
//! layer's earlier entries, a container writing its own log dir) may have filled with
//! symlinks. Path-based calls (`create_dir_all`, `remove_file`, `mknod`, `xattr::set`)
//! follow them out to the host. Here every multi-component path is resolved by
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`, so a symlink
//! anywhere in it is an error (ELOOP) and `..` cannot climb out (EXDEV); the final
//! component is then handled by an `*at` call that does not follow it either.
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// How every path beneath a root is resolved.
pub const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// Flags to open a directory we will read or change (fchmod/fsetxattr fail on O_PATH).
pub const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// openat2 with [`RESOLVE`]; retried on EAGAIN, which the kernel returns when a
/// concurrent rename makes a confined lookup ambiguous.
pub fn openat2(dir: BorrowedFd, rel: &Path, flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
    openat2_with(dir, rel, flags, mode, RESOLVE)
}

pub fn openat2_with(
    dir: BorrowedFd,
    rel: &Path,
    flags: OFlags,
    mode: u32,
    resolve: ResolveFlags,
) -> io::Result<OwnedFd> {
    // openat2 refuses "" (ENOENT): the root itself is ".".
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let mut tries = 0;
    loop {
        match rfs::openat2(dir, rel, flags | OFlags::CLOEXEC, Mode::from_raw_mode(mode), resolve) {
            Err(rustix::io::Errno::AGAIN) if tries < 64 => tries += 1,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// Opens an existing directory beneath `root`; a symlink on the way is ELOOP.
pub fn open_dir_beneath(root: BorrowedFd, rel: &Path) -> io::Result<OwnedFd> {
    match openat2(root, rel, DIR_FLAGS, 0) {
        // A symlink as the last component fails O_DIRECTORY|O_NOFOLLOW with ENOTDIR:
        // find out which component it was, so a symlink is always reported as ELOOP.
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => walk_dirs(root, rel, None),
        r => r,
    }
}

/// Opens (creating what is missing, one component at a time, with `mode`) the directory
/// `rel` beneath `root`. An existing component that is not a directory is an error
/// (ENOTDIR; ELOOP for a symlink), never followed. The fd is readable (not O_PATH).
pub fn mkdir_all_beneath(root: BorrowedFd, rel: &Path, mode: u32) -> io::Result<OwnedFd> {
    // Fast path: usually every parent already exists.
    match openat2(root, rel, DIR_FLAGS, 0) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => walk_dirs(root, rel, Some(mode)),
        r => r,
    }
}

/// The slow path of both: one component at a time, creating missing ones if `create`.
fn walk_dirs(root: BorrowedFd, rel: &Path, create: Option<u32>) -> io::Result<OwnedFd> {
    let mut cur = openat2(root, Path::new("."), DIR_FLAGS, 0)?;
    for c in rel.components() {
        let name = match c {
            Component::Normal(n) => n,
            Component::CurDir => continue,
            // Callers pass normalised relative paths; anything else is a bug or an attack.
            _ => return Err(io::Error::from_raw_os_error(libc::EXDEV)),
        };
        let next = match (openat2(cur.as_fd(), Path::new(name), DIR_FLAGS, 0), create) {
            (Err(e), Some(mode)) if e.raw_os_error() == Some(libc::ENOENT) => {
                match rfs::mkdirat(&cur, name, Mode::from_raw_mode(mode)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                openat2(cur.as_fd(), Path::new(name), DIR_FLAGS, 0)?
            }
            (Err(e), _) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                let link = lstat_at(cur.as_fd(), name)?
                    .is_some_and(|st| rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Symlink);
                return Err(io::Error::from_raw_os_error(if link {
                    libc::ELOOP
                } else {
                    libc::ENOTDIR
                }));
            }
            (r, _) => r?,
        };
        cur = next;
    }
    Ok(cur)
}

/// Splits a relative path into (parent, final name). None for the root itself.
pub fn split(rel: &Path) -> Option<(&Path, &OsStr)> {
    let name = rel.file_name()?;
    Some((rel.parent().unwrap_or(Path::new("")), name))
}

/// Stat of the final component without following it; None if it does not exist.
pub fn lstat_at(dir: BorrowedFd, name: &OsStr) -> io::Result<Option<rfs::Stat>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(s) => Ok(Some(s)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Like `fchmodat(dir, name, mode, AT_SYMLINK_NOFOLLOW)` for nodes we cannot open
/// (devices, FIFOs). Uses fchmodat2 (Linux 6.6); on older kernels falls back to plain
/// fchmodat after checking the node is not a symlink — the only writer of the tree
/// during extraction is us, so it cannot be swapped in between.
pub fn chmod_nofollow(dir: BorrowedFd, name: &OsStr, mode: u32) -> io::Result<()> {
    let c = std::ffi::CString::new(name.as_bytes())?;
    // SAFETY: plain syscall with a valid fd, NUL-terminated path and flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fchmodat2,
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            c.as_ptr(),
            mode as libc::c_uint,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::ENOSYS) {
        return Err(e);
    }
    match lstat_at(dir, name)? {
        Some(st) if rfs::FileType::from_raw_mode(st.st_mode) != rfs::FileType::Symlink => {
            rfs::chmodat(dir, name, Mode::from_raw_mode(mode), AtFlags::empty()).map_err(Into::into)
        }
        Some(_) => Err(io::Error::from_raw_os_error(libc::ELOOP)),
        None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
    }
}

/// Opens a directory berthd made (or chose) itself; it may be reached through symlinks.
fn open_root(root_dir: &Path) -> io::Result<OwnedFd> {
    rfs::open(
        root_dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Into::into)
}

/// Reads the regular file `rel` beneath `root_dir` without following any symlink and
/// without climbing out, at most `max` bytes. `Ok(None)` when it does not exist. A file
/// that is not regular (a FIFO would block, a device could be anything) or larger than
/// `max` is an error: this reads files of hostile images (/etc/passwd, /etc/group).
pub fn read_file_beneath(root_dir: &Path, rel: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
    let full = root_dir.join(rel);
    let ctx = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", full.display()));
    let root = open_root(root_dir).map_err(ctx)?;
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK;
    let fd = match openat2(root.as_fd(), rel, flags, 0) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        r => r.map_err(ctx)?,
    };
    let st = rfs::fstat(&fd).map_err(|e| ctx(e.into()))?;
    if rfs::FileType::from_raw_mode(st.st_mode) != rfs::FileType::RegularFile {
        return Err(ctx(io::Error::new(io::ErrorKind::InvalidData, "not a regular file")));
    }
    let too_big = || {
        ctx(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ))
    };
    if st.st_size as u64 > max {
        return Err(too_big());
    }
    let mut buf = Vec::with_capacity(st.st_size as usize);
    // The size may change under us: read one byte past the bound to notice.
    io::Read::read_to_end(&mut io::Read::take(std::fs::File::from(fd), max + 1), &mut buf).map_err(ctx)?;
    if buf.len() as u64 > max {
        return Err(too_big());
    }
    Ok(Some(buf))
}

/// The kind of `rel` beneath `root_dir` ("dir", "file", "symlink" or "other"), resolved
/// without following symlinks or climbing out; `Ok(None)` when it does not exist. A
/// symlink on the way (not the last component) is ELOOP.
pub fn kind_beneath(root_dir: &Path, rel: &Path) -> io::Result<Option<&'static str>> {
    let full = root_dir.join(rel);
    let ctx = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", full.display()));
    let root = open_root(root_dir).map_err(ctx)?;
    let fd = match openat2(root.as_fd(), rel, OFlags::PATH | OFlags::NOFOLLOW, 0) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        r => r.map_err(ctx)?,
    };
    let st = rfs::fstat(&fd).map_err(|e| ctx(e.into()))?;
    Ok(Some(match rfs::FileType::from_raw_mode(st.st_mode) {
        rfs::FileType::Directory => "dir",
        rfs::FileType::RegularFile => "file",
        rfs::FileType::Symlink => "symlink",
        _ => "other",
    }))
}

/// Checks `rel` is relative with only normal components (no `..`, no root).
fn plain_relative(rel: &Path) -> bool {
    rel.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && rel.file_name().is_some()
}

/// Opens the log file `root_dir/rel` for appending, creating it (0640) and its missing
/// parent dirs (0755). `root_dir` is trusted (berthd made it) and may be reached through
/// symlinks; beneath it nothing is followed, so a symlink planted at the log path or any
/// parent is refused (ELOOP) instead of writing wherever it points.
pub fn create_log_file(root_dir: &Path, rel: &Path) -> io::Result<std::fs::File> {
    let full = root_dir.join(rel);
    let ctx = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", full.display()));
    if !plain_relative(rel) {
        return Err(ctx(io::Error::new(
            io::ErrorKind::InvalidInput,
            "log path must be relative to the log root, without ..",
        )));
    }
    let root = rfs::open(
        root_dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ctx(e.into()))?;
    let (parent, name) = split(rel).expect("checked above");
    let dir = mkdir_all_beneath(root.as_fd(), parent, 0o755).map_err(ctx)?;
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NOFOLLOW;
    let fd = openat2(dir.as_fd(), Path::new(name), flags, 0o640).map_err(ctx)?;
    Ok(std::fs::File::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;
    use std::os::unix::fs::symlink;

    #[test]
    fn read_file_beneath_bounds_and_refuses_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "host").unwrap();
        fs::create_dir(t.path().join("etc")).unwrap();
        fs::write(t.path().join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        let got = read_file_beneath(t.path(), Path::new("etc/passwd"), 100)
            .unwrap()
            .unwrap();
        assert_eq!(got, b"root:x:0:0::/:/bin/sh\n");
        assert!(
            read_file_beneath(t.path(), Path::new("etc/passwd"), 5).is_err(),
            "over the bound"
        );
        assert!(read_file_beneath(t.path(), Path::new("etc/group"), 100)
            .unwrap()
            .is_none());
        symlink(outside.path().join("secret"), t.path().join("etc/group")).unwrap();
        let e = read_file_beneath(t.path(), Path::new("etc/group"), 100).unwrap_err();
        assert!(e.to_string().contains("symbolic links"), "{e}");
        symlink(outside.path(), t.path().join("lnk")).unwrap();
        assert!(read_file_beneath(t.path(), Path::new("lnk/secret"), 100).is_err());
        assert!(read_file_beneath(t.path(), Path::new("../secret"), 100).is_err());
        assert!(
            read_file_beneath(t.path(), Path::new("etc"), 100).is_err(),
            "a directory"
        );
    }

    #[test]
    fn kind_beneath_reports_without_following() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("etc")).unwrap();
        fs::write(t.path().join("etc/passwd"), "x").unwrap();
        symlink("/", t.path().join("root")).unwrap();
        assert_eq!(kind_beneath(t.path(), Path::new("etc")).unwrap(), Some("dir"));
        assert_eq!(kind_beneath(t.path(), Path::new("etc/passwd")).unwrap(), Some("file"));
        assert_eq!(kind_beneath(t.path(), Path::new("root")).unwrap(), Some("symlink"));
        assert_eq!(kind_beneath(t.path(), Path::new("nope")).unwrap(), None);
        assert!(kind_beneath(t.path(), Path::new("root/etc")).is_err());
    }

    #[test]
    fn mkdir_all_refuses_symlink_components() {
        let t = tempfile::tempdir().unwrap();
        let root_dir = t.path().join("root");
        fs::create_dir(&root_dir).unwrap();
        fs::create_dir(t.path().join("outside")).unwrap();
        symlink(t.path().join("outside"), root_dir.join("abs")).unwrap();
        symlink("../outside", root_dir.join("rel")).unwrap();
        fs::write(root_dir.join("file"), b"").unwrap();
        let root = rfs::open(&root_dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        for p in ["abs/x", "rel/x/y", "abs", "rel"] {
            let e = mkdir_all_beneath(root.as_fd(), Path::new(p), 0o755).unwrap_err();
            assert!(matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EXDEV)), "{p}: {e}");
            let e = open_dir_beneath(root.as_fd(), Path::new(p)).unwrap_err();
            // ELOOP (a symlink under RESOLVE_NO_SYMLINKS) or, for an absolute one, EXDEV
            // (RESOLVE_BENEATH is checked first): refused either way.
            assert!(matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EXDEV)), "{p}: {e}");
        }
        let e = mkdir_all_beneath(root.as_fd(), Path::new("file/x"), 0o755).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR));
        assert!(mkdir_all_beneath(root.as_fd(), Path::new("../x"), 0o755).is_err());
        assert_eq!(fs::read_dir(t.path().join("outside")).unwrap().count(), 0);
        mkdir_all_beneath(root.as_fd(), Path::new("a/b/c"), 0o755).unwrap();
        assert!(root_dir.join("a/b/c").is_dir());
        open_dir_beneath(root.as_fd(), Path::new("a/b")).unwrap();
        assert!(open_dir_beneath(root.as_fd(), Path::new("abs")).is_err());
    }

    #[test]
    fn log_file_is_created_appended_and_symlinks_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("logs");
        fs::create_dir(&root).unwrap();
        let mut f = create_log_file(&root, Path::new("pod/c/0.log")).unwrap();
        f.write_all(b"one\n").unwrap();
        let mut f = create_log_file(&root, Path::new("pod/c/0.log")).unwrap();
        f.write_all(b"two\n").unwrap();
        assert_eq!(fs::read(root.join("pod/c/0.log")).unwrap(), b"one\ntwo\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(root.join("pod/c/0.log")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640 & !current_umask());

        let host = t.path().join("host-file");
        fs::write(&host, b"host\n").unwrap();
        symlink(&host, root.join("pod/c/1.log")).unwrap();
        let e = create_log_file(&root, Path::new("pod/c/1.log")).unwrap_err();
        assert!(e.to_string().contains("pod/c/1.log"), "{e}");
        assert!(e.to_string().contains("os error 40"), "{e}");
        symlink(t.path(), root.join("evil")).unwrap();
        let e = create_log_file(&root, Path::new("evil/host-file")).unwrap_err();
        assert!(e.to_string().contains("evil/host-file"), "{e}");
        assert!(create_log_file(&root, Path::new("../host-file")).is_err());
        assert!(create_log_file(&root, Path::new("/host-file")).is_err());
        assert_eq!(fs::read(&host).unwrap(), b"host\n");
    }

    fn current_umask() -> u32 {
        // Read without changing it (Umask: line of /proc/self/status).
        let s = fs::read_to_string("/proc/self/status").unwrap();
        let l = s.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(l.split_whitespace().nth(1).unwrap(), 8).unwrap()
    }
}
