//! Whole-tree operations — removal and disk usage — that never follow symlinks and use
//! bounded memory and file descriptors however deep or wide the tree is.
//!
//! Both are one iterative walk over directory fds (no recursion, no path strings handed
//! to the kernel): each level is opened from its parent with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)`. At most [`OPEN_LEVELS`] directory streams stay open; a level
//! whose stream was closed is reopened through `..` from its child when the walk climbs
//! back, and its (dev, ino) checked so a moved directory is an error, not a wrong turn.
use crate::beneath::{self, DIR_FLAGS};
use rustix::fs::{self as rfs, AtFlags, Dir, FileType, ResolveFlags, StatxFlags};
use std::collections::HashSet;
use std::ffi::{CStr, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Directory streams kept open at once (each holds an fd and a getdents buffer).
const OPEN_LEVELS: usize = 32;

struct Level {
    dir: Option<Dir>,
    dev: u64,
    ino: u64,
    /// Length of `Walk::path` including this level's name.
    path_len: usize,
    /// Cookie of the entry after the one being descended into (resume point after reopen).
    resume: i64,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Remove,
    Usage,
}

struct Walk {
    mode: Mode,
    levels: Vec<Level>,
    /// The current directory's path, for error messages and child names.
    path: Vec<u8>,
    lowest_open: usize,
    bytes: u64,
    inodes: u64,
    /// (dev, ino) of multiply-linked non-directories already counted.
    seen: HashSet<(u64, u64)>,
}

fn dev_of(st: &rfs::Statx) -> u64 {
    rfs::makedev(st.stx_dev_major, st.stx_dev_minor)
}

fn statx_fd(fd: BorrowedFd) -> io::Result<rfs::Statx> {
    Ok(rfs::statx(fd, c"", AtFlags::EMPTY_PATH, StatxFlags::BASIC_STATS)?)
}

impl Walk {
    fn err(&self, name: Option<&[u8]>, e: impl Into<io::Error>) -> io::Error {
        let e = e.into();
        let mut p = String::from_utf8_lossy(&self.path).into_owned();
        if let Some(n) = name {
            p.push('/');
            p.push_str(&String::from_utf8_lossy(n));
        }
        io::Error::new(e.kind(), format!("{p}: {e}"))
    }

    fn count(&mut self, st: &rfs::Statx) {
        let is_dir = FileType::from_raw_mode(st.stx_mode.into()) == FileType::Directory;
        if !is_dir && st.stx_nlink > 1 && !self.seen.insert((dev_of(st), st.stx_ino)) {
            return;
        }
        self.bytes += st.stx_blocks * 512;
        self.inodes += 1;
    }

    fn push(&mut self, fd: OwnedFd, st: &rfs::Statx, name: &[u8]) -> io::Result<()> {
        self.path.push(b'/');
        self.path.extend_from_slice(name);
        let dir = Dir::new(fd).map_err(|e| self.err(None, e))?;
        self.levels.push(Level {
            dir: Some(dir),
            dev: dev_of(st),
            ino: st.stx_ino,
            path_len: self.path.len(),
            resume: 0,
        });
        if self.levels.len() - self.lowest_open > OPEN_LEVELS {
            self.levels[self.lowest_open].dir = None;
            self.lowest_open += 1;
        }
        Ok(())
    }

    /// The current directory is exhausted: climb to its parent, reopening the parent's
    /// stream through `..` if it was closed, and remove the finished child (Remove).
    fn pop(&mut self) -> io::Result<()> {
        let child = self.levels.pop().expect("not the top level");
        let depth = self.levels.len() - 1;
        let parent_len = self.levels[depth].path_len;
        if self.levels[depth].dir.is_none() {
            let cfd = child.dir.as_ref().expect("open").fd()?;
            let fd = rfs::openat(cfd, c"..", DIR_FLAGS, rfs::Mode::empty()).map_err(|e| self.err(None, e))?;
            let st = statx_fd(fd.as_fd()).map_err(|e| self.err(None, e))?;
            let lvl = &self.levels[depth];
            if dev_of(&st) != lvl.dev || st.stx_ino != lvl.ino {
                self.path.truncate(parent_len);
                return Err(self.err(None, io::Error::other("directory moved during the walk")));
            }
            let mut dir = Dir::new(fd)?;
            // Removal rewinds (what was removed is gone; nothing is missed); usage resumes.
            if self.mode == Mode::Usage {
                dir.seek(lvl.resume).map_err(|e| self.err(None, e))?;
            }
            self.levels[depth].dir = Some(dir);
            self.lowest_open = depth;
        }
        drop(child);
        if self.mode == Mode::Remove {
            let name = OsStr::from_bytes(&self.path[parent_len + 1..]).to_owned();
            self.path.truncate(parent_len);
            let fd = self.levels[depth].dir.as_ref().expect("open").fd()?;
            rfs::unlinkat(fd, &name, AtFlags::REMOVEDIR).map_err(|e| self.err(Some(name.as_bytes()), e))?;
        } else {
            self.path.truncate(parent_len);
        }
        Ok(())
    }

    fn run(&mut self) -> io::Result<()> {
        loop {
            let depth = self.levels.len() - 1;
            let lvl = &mut self.levels[depth];
            let ent = match lvl.dir.as_mut().expect("current level is open").read() {
                None if depth == 0 => return Ok(()),
                None => {
                    self.pop()?;
                    continue;
                }
                Some(Err(e)) => return Err(self.err(None, e)),
                Some(Ok(ent)) => ent,
            };
            let name: &CStr = ent.file_name();
            let nb = name.to_bytes();
            if nb == b"." || nb == b".." {
                continue;
            }
            lvl.resume = ent.offset();
            let raw = std::os::fd::AsRawFd::as_raw_fd(&lvl.dir.as_ref().expect("open").fd()?);
            // SAFETY: the stream owning `raw` (levels[depth]) stays open for this whole
            // iteration: nothing below pops or closes that level before the last use.
            let fd = unsafe { BorrowedFd::borrow_raw(raw) };
            let mut ft = ent.file_type();
            if ft == FileType::Unknown || self.mode == Mode::Usage {
                match rfs::statx(fd, name, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BASIC_STATS) {
                    Ok(st) => {
                        ft = FileType::from_raw_mode(st.stx_mode.into());
                        if ft != FileType::Directory {
                            self.count(&st);
                            if self.mode == Mode::Usage {
                                continue;
                            }
                        }
                    }
                    Err(rustix::io::Errno::NOENT) => continue,
                    Err(e) => return Err(self.err(Some(nb), e)),
                }
            }
            if ft != FileType::Directory {
                match rfs::unlinkat(fd, name, AtFlags::empty()) {
                    Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                    Err(e) => return Err(self.err(Some(nb), e)),
                }
                continue;
            }
            // Removal must not reach into a mount below (a bind of host files into a
            // rootfs that is still mounted): NO_XDEV makes that EXDEV, reported.
            let resolve = match self.mode {
                Mode::Remove => beneath::RESOLVE | ResolveFlags::NO_XDEV,
                Mode::Usage => beneath::RESOLVE,
            };
            let child = match beneath::openat2_with(fd, Path::new(OsStr::from_bytes(nb)), DIR_FLAGS, 0, resolve) {
                Ok(c) => c,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                    return Err(self.err(Some(nb), io::Error::other("is a mount point; not descending")))
                }
                Err(e) => return Err(self.err(Some(nb), e)),
            };
            let st = statx_fd(child.as_fd()).map_err(|e| self.err(Some(nb), e))?;
            if self.mode == Mode::Usage {
                // Only a mount can make a directory its own descendant (a bind of an
                // ancestor below itself); du would loop forever — skip such a cycle.
                let mount_root = st.stx_attributes_mask.contains(rfs::StatxAttributes::MOUNT_ROOT)
                    && st.stx_attributes.contains(rfs::StatxAttributes::MOUNT_ROOT);
                if mount_root && self.levels.iter().any(|l| l.dev == dev_of(&st) && l.ino == st.stx_ino) {
                    continue;
                }
                self.count(&st);
            }
            let nb = nb.to_vec();
            self.push(child, &st, &nb)?;
        }
    }
}

fn walk(mode: Mode, parent: BorrowedFd, name: &OsStr, shown: &Path) -> io::Result<Walk> {
    let mut w = Walk {
        mode,
        levels: Vec::new(),
        path: shown.as_os_str().as_bytes().to_vec(),
        lowest_open: 0,
        bytes: 0,
        inodes: 0,
        seen: HashSet::new(),
    };
    let resolve = match mode {
        Mode::Remove => beneath::RESOLVE | ResolveFlags::NO_XDEV,
        Mode::Usage => beneath::RESOLVE,
    };
    let fd = beneath::openat2_with(parent, Path::new(name), DIR_FLAGS, 0, resolve).map_err(|e| w.err(None, e))?;
    let st = statx_fd(fd.as_fd()).map_err(|e| w.err(None, e))?;
    w.count(&st);
    w.levels.push(Level {
        dir: Some(Dir::new(fd)?),
        dev: dev_of(&st),
        ino: st.stx_ino,
        path_len: w.path.len(),
        resume: 0,
    });
    w.run()?;
    Ok(w)
}

/// Removes `dir/name` — a whole tree if it is a directory — without following symlinks
/// and without descending into other mounts. Missing is fine.
pub fn remove_at(dir: BorrowedFd, name: &OsStr) -> io::Result<()> {
    remove_at_shown(dir, name, Path::new(name))
}

fn remove_at_shown(dir: BorrowedFd, name: &OsStr, shown: &Path) -> io::Result<()> {
    let ctx = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", shown.display()));
    let Some(st) = beneath::lstat_at(dir, name).map_err(ctx)? else {
        return Ok(());
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return match rfs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(ctx(e.into())),
        };
    }
    // Empty directories (most whiteout targets, most replaced dirs) need no walk.
    match rfs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(ctx(e.into())),
    }
    walk(Mode::Remove, dir, name, shown)?;
    match rfs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(ctx(e.into())),
    }
}

/// Opens the (trusted, possibly symlinked) parent of `path` and returns it with the
/// final name; the final component itself is never followed.
fn open_parent(path: &Path) -> io::Result<(OwnedFd, &OsStr)> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: no final name", path.display()),
        )
    };
    let name = path.file_name().ok_or_else(invalid)?;
    if path.as_os_str().as_bytes().ends_with(b"/.") {
        return Err(invalid());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fd = rfs::open(parent, DIR_FLAGS & !rfs::OFlags::NOFOLLOW, rfs::Mode::empty())
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("{}: {e}", parent.display())))?;
    Ok((fd, name))
}

/// `rm -rf path` that never follows symlinks (a symlink at `path` is removed itself),
/// never crosses into another mount (an error, naming it) and is idempotent.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let (parent, name) = match open_parent(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        r => r?,
    };
    remove_at_shown(parent.as_fd(), name, path)
}

/// `du -s` of `path`: (bytes allocated = st_blocks * 512, inodes), each inode counted
/// once. Only multiply-linked files are remembered, so memory does not grow with the
/// number of entries. Symlinks are counted, never followed; mounts below are included.
pub fn disk_usage(path: &Path) -> io::Result<(u64, u64)> {
    let (parent, name) = open_parent(path)?;
    let ctx = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let st =
        rfs::statx(&parent, name, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BASIC_STATS).map_err(|e| ctx(e.into()))?;
    if FileType::from_raw_mode(st.stx_mode.into()) != FileType::Directory {
        return Ok((st.stx_blocks * 512, 1));
    }
    let w = walk(Mode::Usage, parent.as_fd(), name, path)?;
    Ok((w.bytes, w.inodes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn removes_without_following_and_is_idempotent() {
        let t = tempfile::tempdir().unwrap();
        let keep = t.path().join("keep");
        fs::create_dir(&keep).unwrap();
        fs::write(keep.join("sentinel"), b"s").unwrap();
        let victim = t.path().join("victim");
        fs::create_dir_all(victim.join("a/b/c")).unwrap();
        fs::write(victim.join("a/b/c/f"), b"x").unwrap();
        symlink(&keep, victim.join("a/link")).unwrap();
        symlink(&keep, victim.join("a/b/link")).unwrap();
        fs::hard_link(keep.join("sentinel"), victim.join("a/hard")).unwrap();
        remove_tree(&victim).unwrap();
        assert!(!victim.exists());
        remove_tree(&victim).unwrap();
        remove_tree(&t.path().join("nope/deeper")).unwrap();
        assert_eq!(fs::read(keep.join("sentinel")).unwrap(), b"s");
        // A symlink at the path is removed, not its target.
        symlink(&keep, t.path().join("l")).unwrap();
        remove_tree(&t.path().join("l")).unwrap();
        assert!(keep.join("sentinel").exists());
        assert!(fs::symlink_metadata(t.path().join("l")).is_err());
    }

    #[test]
    fn deep_trees_use_bounded_fds() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("deep");
        fs::create_dir(&top).unwrap();
        // 3 * OPEN_LEVELS + 7 levels, created with *at calls (the path exceeds nothing
        // here, but the walk must close and reopen streams through "..").
        let mut fd = rfs::open(&top, DIR_FLAGS, rfs::Mode::empty()).unwrap();
        for i in 0..(3 * OPEN_LEVELS + 7) {
            fs::write(
                format!("/proc/self/fd/{}/f{i}", std::os::fd::AsRawFd::as_raw_fd(&fd)),
                b"abc",
            )
            .unwrap();
            rfs::mkdirat(&fd, "d", rfs::Mode::from_raw_mode(0o755)).unwrap();
            rfs::mkdirat(&fd, "e", rfs::Mode::from_raw_mode(0o755)).unwrap();
            fd = rfs::openat(&fd, "d", DIR_FLAGS, rfs::Mode::empty()).unwrap();
        }
        drop(fd);
        let (bytes, inodes) = disk_usage(&top).unwrap();
        let n = (3 * OPEN_LEVELS + 7) as u64;
        assert_eq!(inodes, 1 + 3 * n);
        assert!(bytes > 0);
        remove_tree(&top).unwrap();
        assert!(!top.exists());
    }

    #[test]
    fn usage_counts_hardlinks_once_and_symlinks_unfollowed() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("d");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("big"), vec![1u8; 64 * 1024]).unwrap();
        fs::hard_link(d.join("big"), d.join("big2")).unwrap();
        let out = t.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::write(out.join("huge"), vec![1u8; 1024 * 1024]).unwrap();
        symlink(&out, d.join("l")).unwrap();
        let (bytes, inodes) = disk_usage(&d).unwrap();
        assert_eq!(inodes, 3, "dir, big (once), symlink");
        assert!((64 * 1024..512 * 1024).contains(&bytes), "{bytes}");
        assert_eq!(disk_usage(&d.join("big")).unwrap().1, 1);
        assert!(disk_usage(&t.path().join("missing")).is_err());
    }
}
