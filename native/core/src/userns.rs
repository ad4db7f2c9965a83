//! A pod's user namespace, with its uid/gid mappings, and the pod's other namespaces
//! owned by it.
//!
//! unshare(CLONE_NEWUSER) refuses a multi-threaded caller (EINVAL), so unlike ns.rs this
//! cannot run on a thread of the Node process: a forked child unshares user + net/ipc/uts
//! in one call (the kernel creates the user namespace first, so the others are owned by
//! it — which a pod needs: sysfs, mqueue and net/ipc sysctls are only allowed to the
//! container's root when its user namespace owns those namespaces). The parent writes the
//! child's uid_map/gid_map (as host root it needs no setgroups "deny"), pins each
//! namespace from /proc/<child>/ns, then lets the child exit. The child only makes raw
//! syscalls (no allocation, no locks): all it needs is prepared before fork.
use crate::ns::{flag_for, pin_existing, unpin, NsError};
use nix::sched::CloneFlags;
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One line of uid_map/gid_map: `container_id` (inside) maps to `host_id` for `length` ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub container_id: u32,
    pub host_id: u32,
    pub length: u32,
}

/// The uid_map/gid_map text the kernel takes (at most 340 lines; the kernel says EINVAL
/// to overlaps or too many lines, and that comes back with the file named).
pub fn map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.length))
        .collect()
}

fn pipe() -> Result<(OwnedFd, OwnedFd), NsError> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid 2-int array; on success both fds are ours.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(sys("pipe2", "", nix::Error::last()));
    }
    // SAFETY: just created, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn sys(op: &'static str, path: impl Into<String>, source: nix::Error) -> NsError {
    NsError::Sys {
        op,
        path: path.into(),
        source,
    }
}

/// Creates a user namespace with `uids`/`gids` and, owned by it, one new namespace per
/// kind (net, ipc, uts; the hostname set when uts is new); pins all at `<dir>/user` and
/// `<dir>/<kind>`. Returns the pins, user first. On failure nothing is left pinned.
pub fn pin_user_namespace(
    dir: &Path,
    kinds: &[String],
    hostname: Option<&str>,
    uids: &[IdMap],
    gids: &[IdMap],
) -> Result<Vec<PathBuf>, NsError> {
    let mut flags = CloneFlags::CLONE_NEWUSER;
    for k in kinds {
        flags |= flag_for(k)?;
    }
    let host = match hostname.filter(|_| flags.contains(CloneFlags::CLONE_NEWUTS)) {
        Some(h) => Some(CString::new(h).map_err(|_| sys("sethostname", h, nix::Error::EINVAL))?),
        None => None,
    };
    fs::create_dir_all(dir).map_err(|source| NsError::Io {
        op: "mkdir",
        path: dir.display().to_string(),
        source,
    })?;
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    // SAFETY: the child makes only async-signal-safe raw syscalls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(sys("fork", dir.display().to_string(), nix::Error::last()));
    }
    if pid == 0 {
        // SAFETY: raw syscalls on fds and buffers prepared before fork.
        unsafe { child(flags.bits(), host.as_ref(), ready_w.as_raw_fd(), go_r.as_raw_fd()) }
    }
    drop(ready_w);
    drop(go_r);
    let result = parent(pid, dir, kinds, uids, gids, &ready_r);
    // A byte, not EOF, lets the child go: a concurrent fork elsewhere may hold a copy of go_w.
    let _ = nix::unistd::write(&go_w, b"x");
    drop(go_w);
    let mut status = 0;
    // SAFETY: our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result
}

/// The forked child: unshare, set the hostname, report (0, or 1 + errno), wait for a byte.
unsafe fn child(flags: libc::c_int, host: Option<&CString>, ready: libc::c_int, go: libc::c_int) -> ! {
    // If berthd dies meanwhile, so does the child (the pins hold what matters).
    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    // Keep only the two pipe ends: a copy of any other fd (this fork's other pipe ends, or
    // another pod's being made at the same time) would keep its reader from seeing EOF.
    let (a, b) = (ready.min(go) as libc::c_uint, ready.max(go) as libc::c_uint);
    // Both are pipe fds, so a >= 3 and b > a.
    for (first, last) in [(0, a - 1), (a + 1, b - 1), (b + 1, libc::c_uint::MAX)] {
        if first <= last {
            libc::syscall(libc::SYS_close_range, first, last, 0);
        }
    }
    let mut msg = [0u8; 5];
    if libc::unshare(flags) != 0 {
        msg[0] = 1;
    } else if let Some(h) = host {
        if libc::sethostname(h.as_ptr(), h.count_bytes()) != 0 {
            msg[0] = 2;
        }
    }
    if msg[0] != 0 {
        msg[1..].copy_from_slice(&(*libc::__errno_location()).to_ne_bytes());
    }
    libc::write(ready, msg.as_ptr().cast(), msg.len());
    let mut b = 0u8;
    libc::read(go, (&mut b as *mut u8).cast(), 1);
    libc::_exit(0)
}

fn parent(
    pid: libc::pid_t,
    dir: &Path,
    kinds: &[String],
    uids: &[IdMap],
    gids: &[IdMap],
    ready: &OwnedFd,
) -> Result<Vec<PathBuf>, NsError> {
    let mut msg = [0u8; 5];
    let n = nix::unistd::read(ready.as_raw_fd(), &mut msg).map_err(|e| sys("read from the namespace child", "", e))?;
    let errno = nix::Error::from_raw(i32::from_ne_bytes([msg[1], msg[2], msg[3], msg[4]]));
    match (n, msg[0]) {
        (5, 0) => {}
        (5, 1) => return Err(sys("unshare(user+pod namespaces)", dir.display().to_string(), errno)),
        (5, _) => return Err(sys("sethostname", dir.display().to_string(), errno)),
        _ => return Err(sys("namespace child", "exited early", nix::Error::EPIPE)),
    }
    for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
        let p = format!("/proc/{pid}/{file}");
        fs::write(&p, map_text(maps)).map_err(|source| NsError::Io {
            op: "write",
            path: p,
            source,
        })?;
    }
    let mut pinned: Vec<PathBuf> = Vec::new();
    for kind in std::iter::once("user").chain(kinds.iter().map(String::as_str)) {
        let target = dir.join(kind);
        if let Err(e) = pin_existing(Path::new(&format!("/proc/{pid}/ns/{kind}")), &target) {
            for p in &pinned {
                let _ = unpin(p);
            }
            return Err(e);
        }
        pinned.push(target);
    }
    Ok(pinned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn map_text_is_one_line_per_range() {
        let m = [
            IdMap {
                container_id: 0,
                host_id: 100000,
                length: 65536,
            },
            IdMap {
                container_id: 65536,
                host_id: 300000,
                length: 1,
            },
        ];
        assert_eq!(map_text(&m), "0 100000 65536\n65536 300000 1\n");
    }

    #[test]
    fn pins_a_mapped_user_namespace_that_owns_the_pod_namespaces() {
        assert!(nix::unistd::Uid::effective().is_root(), "run as root");
        let dir = tempfile::tempdir().unwrap();
        let m = [IdMap {
            container_id: 0,
            host_id: 100000,
            length: 65536,
        }];
        let pins = pin_user_namespace(dir.path(), &["net".into(), "uts".into()], Some("upod"), &m, &m).unwrap();
        assert_eq!(pins.len(), 3);
        assert_ne!(
            fs::metadata(&pins[0]).unwrap().ino(),
            fs::metadata("/proc/self/ns/user").unwrap().ino()
        );
        // The netns is owned by the new user namespace (NS_GET_USERNS = _IO(0xb7, 0x1)).
        let net = fs::File::open(&pins[1]).unwrap();
        // SAFETY: ioctl on an nsfs fd, returning a new fd or -1.
        let owner = unsafe { libc::ioctl(net.as_raw_fd(), 0xb701) };
        assert!(owner >= 0);
        // SAFETY: the fd the ioctl just returned.
        let owner = unsafe { OwnedFd::from_raw_fd(owner) };
        let st = nix::sys::stat::fstat(owner.as_raw_fd()).unwrap();
        assert_eq!(st.st_ino, fs::metadata(&pins[0]).unwrap().ino());
        for p in &pins {
            unpin(p).unwrap();
        }
        // A mapping the kernel refuses (overlapping ranges) comes back naming the file; nothing stays pinned.
        let bad = [m[0], m[0]];
        let e = pin_user_namespace(dir.path(), &["ipc".into()], None, &bad, &bad).unwrap_err();
        assert!(e.to_string().contains("uid_map"), "{e}");
        assert!(!dir.path().join("user").exists());
    }
}
