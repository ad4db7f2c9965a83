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
    /// Watches the memory cgroup that process `pid` is in now.
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

    /// Has the kernel OOM-killed anything in the cgroup since `open`?
    pub fn killed(&self) -> bool {
        self.file.as_ref().and_then(count).is_some_and(|n| n > self.base)
    }
}
