//! OOM-kill detection for one container: the kernel counts OOM kills per memory cgroup
//! (v1 `memory.oom_control`, v2 `memory.events`, key `oom_kill`). The counter file is
//! opened once the container's init is in its cgroup and read again at its exit; a rise
//! means the kernel killed something in the container for memory. Held open, the file
//! stays readable even if the cgroup path were renamed; a cgroup already removed reads
//! as "unknown" (never a false OOMKilled).
use berth_core::{cgroup, cgstats};
use std::fs::File;
use std::os::unix::fs::FileExt;

pub struct OomWatch {
    file: Option<File>,
    base: u64,
}

fn count(f: &File) -> Option<u64> {
    let mut buf = [0u8; 512];
    let n = f.read_at(&mut buf, 0).ok()?;
    cgstats::oom_kill_count(std::str::from_utf8(&buf[..n]).ok()?)
}

impl OomWatch {
    /// Watches the memory cgroup that process `pid` is in now, from the count it has now:
    /// after `create`, nothing of the container has run yet.
    pub fn open(pid: i32) -> OomWatch {
        let file = (|| {
            let layout = cgroup::detect().ok()?;
            let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
            let dir = layout.proc_controller_dir(&text, "memory")?;
            File::open(cgstats::oom_file(&dir)).ok()
        })();
        let base = file.as_ref().and_then(count).unwrap_or(0);
        OomWatch { file, base }
    }

    /// Watches the container's own cgroup `path` (from the hierarchy root), counting every
    /// kill there since it was made. For `run --detach`, which makes the cgroup and starts
    /// the process in one step: a process that allocates at once can be killed before
    /// `run` returns, and then neither its pid (a zombie's /proc/<pid>/cgroup shows the
    /// root) nor a count taken now would tell. Every kill counted there is this
    /// container's: the cgroup is named after its unique ID (`berth-<id>`, or a
    /// `<prefix>-<id>.scope`), so it counted from 0 for it alone.
    pub fn open_since_made(path: &str) -> OomWatch {
        let file = (|| {
            let dir = cgroup::detect().ok()?.controller_dir("memory", path).ok()??;
            File::open(cgstats::oom_file(&dir)).ok()
        })();
        OomWatch { file, base: 0 }
    }

    /// Has the kernel OOM-killed anything in the cgroup since `open`?
    pub fn killed(&self) -> bool {
        self.file.as_ref().and_then(count).is_some_and(|n| n > self.base)
    }
}
