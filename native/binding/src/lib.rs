//! napi glue: the only crate that knows about Node. Each export maps a berth-core call
//! and its error (with context) to JS. Blocking work runs as AsyncTask on the libuv pool;
//! namespace work additionally runs on its own short-lived thread inside berth-core.
use berth_core::{cgdetail, cgroup, cgstats, mount, ns, tree};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::path::{Path, PathBuf};

pub mod confined;
// Layer download + extraction on a native thread, and registry GETs (the image service's pull path).
pub mod layer_pull;
pub mod notify;
// Short-lived commands (CNI plugins, the OCI runtime CLI) spawned without fork().
pub mod proc;
pub mod registry_http;
// Pod user namespaces and idmapped mounts.
pub mod userns;

pub(crate) fn err(e: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, e.to_string())
}

#[napi(object)]
pub struct CgroupInfo {
    /// "v1", "hybrid" or "v2".
    pub mode: String,
    /// Controllers on the cgroup2 mount (hybrid: the ones some runtimes refuse to share).
    pub unified_controllers: Vec<String>,
    pub mountpoints: Vec<String>,
}

#[napi]
pub fn cgroup_info() -> Result<CgroupInfo> {
    let l = cgroup::detected().map_err(err)?;
    Ok(CgroupInfo {
        mode: l.mode.as_str().to_string(),
        unified_controllers: l.unified_controllers.clone(),
        mountpoints: l
            .hierarchies
            .iter()
            .map(|h| h.mountpoint.display().to_string())
            .collect(),
    })
}

/// Creates an absolute cgroup path in every managed hierarchy; returns the dirs made.
#[napi]
pub fn cgroup_create(path: String) -> Result<Vec<String>> {
    let l = cgroup::detected().map_err(err)?;
    Ok(l.create(&path)
        .map_err(err)?
        .iter()
        .map(|p| p.display().to_string())
        .collect())
}

/// Removes a cgroup path and its children in every hierarchy, unified included (idempotent).
#[napi]
pub fn cgroup_remove(path: String) -> Result<()> {
    cgroup::detected().map_err(err)?.remove(&path).map_err(err)
}

#[napi(object)]
pub struct CgroupSetting {
    /// A controller file, e.g. "memory.limit_in_bytes" or "cpu.max".
    pub file: String,
    pub value: String,
}

/// Writes controller files of an existing cgroup path, in order, each in its controller's
/// hierarchy (nothing is created; the first failure stops and is returned).
#[napi]
pub fn cgroup_set(path: String, settings: Vec<CgroupSetting>) -> Result<()> {
    let kv: Vec<(String, String)> = settings.into_iter().map(|s| (s.file, s.value)).collect();
    cgroup::detected().map_err(err)?.set(&path, &kv).map_err(err)
}

/// The directories of a cgroup path that still exist in any hierarchy (leak checks).
#[napi]
pub fn cgroup_existing(path: String) -> Result<Vec<String>> {
    let l = cgroup::detected().map_err(err)?;
    Ok(l.existing(&path)
        .map_err(err)?
        .iter()
        .map(|p| p.display().to_string())
        .collect())
}

pub struct PinTask {
    dir: PathBuf,
    kinds: Vec<String>,
    hostname: Option<String>,
}

impl Task for PinTask {
    type Output = Vec<String>;
    type JsValue = Vec<String>;
    fn compute(&mut self) -> Result<Self::Output> {
        let pins = ns::pin_namespaces(&self.dir, &self.kinds, self.hostname.take()).map_err(err)?;
        Ok(pins.iter().map(|p| p.display().to_string()).collect())
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

/// Creates new namespaces of the given kinds ("net", "ipc", "uts") and pins each at
/// `<dir>/<kind>`; sets the UTS hostname when given. Resolves to the pin paths.
#[napi(ts_return_type = "Promise<string[]>")]
pub fn pin_namespaces(dir: String, kinds: Vec<String>, hostname: Option<String>) -> AsyncTask<PinTask> {
    AsyncTask::new(PinTask {
        dir: dir.into(),
        kinds,
        hostname,
    })
}

/// Pins an existing namespace file (e.g. `/proc/<pid>/ns/pid`) at `target`.
#[napi]
pub fn pin_existing_namespace(src: String, target: String) -> Result<()> {
    ns::pin_existing(Path::new(&src), Path::new(&target)).map_err(err)
}

/// Unmounts and removes a namespace pin (idempotent).
#[napi]
pub fn unpin_namespace(path: String) -> Result<()> {
    ns::unpin(Path::new(&path)).map_err(err)
}

pub struct MountTask {
    lowers: Vec<String>,
    upper: String,
    work: String,
    target: String,
}

impl Task for MountTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        mount::mount_overlay(&self.lowers, &self.upper, &self.work, &self.target).map_err(err)
    }
    fn resolve(&mut self, _env: Env, _o: ()) -> Result<()> {
        Ok(())
    }
}

/// Mounts an overlay at `target`; `lowers` top-most first.
#[napi(ts_return_type = "Promise<void>")]
pub fn mount_overlay(lowers: Vec<String>, upper: String, work: String, target: String) -> AsyncTask<MountTask> {
    AsyncTask::new(MountTask {
        lowers,
        upper,
        work,
        target,
    })
}

/// Lazily unmounts `target` (idempotent).
#[napi]
pub fn unmount(target: String) -> Result<()> {
    mount::unmount(&target).map_err(err)
}

/// A byte count from JS (a number): a non-negative integer no larger than 2^53.
pub(crate) fn byte_count(what: &str, v: f64) -> Result<u64> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_992.0 {
        Ok(v as u64)
    } else {
        Err(Error::new(
            Status::InvalidArg,
            format!("{what} must be a non-negative integer, got {v}"),
        ))
    }
}

pub struct RemoveTreeTask {
    path: PathBuf,
}

impl Task for RemoveTreeTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        tree::remove_tree(&self.path).map_err(err)
    }
    fn resolve(&mut self, _env: Env, _o: ()) -> Result<()> {
        Ok(())
    }
}

/// `rm -rf path`, on the libuv pool: never follows symlinks (one at `path` is removed
/// itself), refuses to descend into another mount, and is idempotent (missing is fine).
#[napi(ts_return_type = "Promise<void>")]
pub fn remove_tree(path: String) -> AsyncTask<RemoveTreeTask> {
    AsyncTask::new(RemoveTreeTask { path: path.into() })
}

#[napi(object)]
pub struct DiskUsage {
    /// Bytes allocated (st_blocks * 512), each inode once.
    pub bytes: f64,
    pub inodes: f64,
}

pub struct DiskUsageTask {
    path: PathBuf,
}

impl Task for DiskUsageTask {
    type Output = (u64, u64);
    type JsValue = DiskUsage;
    fn compute(&mut self) -> Result<Self::Output> {
        tree::disk_usage(&self.path).map_err(err)
    }
    fn resolve(&mut self, _env: Env, (bytes, inodes): Self::Output) -> Result<Self::JsValue> {
        Ok(DiskUsage {
            bytes: bytes as f64,
            inodes: inodes as f64,
        })
    }
}

/// `du -s path` on the libuv pool: allocated bytes and inodes, hard links counted once,
/// symlinks never followed (mounts below are included). A missing path is an error.
#[napi(ts_return_type = "Promise<DiskUsage>")]
pub fn disk_usage(path: String) -> AsyncTask<DiskUsageTask> {
    AsyncTask::new(DiskUsageTask { path: path.into() })
}

/// Usage of one cgroup; a field is absent when its controller or file is not there
/// (u64 counters as f64: exact up to 2^53, i.e. 104 days of CPU time in ns).
#[napi(object)]
#[derive(Default)]
pub struct CgroupStats {
    /// False when the cgroup does not exist (any more) in the memory or cpu hierarchy.
    pub found: bool,
    pub cpu_usage_ns: Option<f64>,
    pub cpu_user_ns: Option<f64>,
    pub cpu_system_ns: Option<f64>,
    pub cpu_periods: Option<f64>,
    pub cpu_throttled_periods: Option<f64>,
    pub cpu_throttled_ns: Option<f64>,
    pub cpu_shares: Option<f64>,
    pub cpu_period_us: Option<f64>,
    /// Absent: no CFS quota.
    pub cpu_quota_us: Option<f64>,
    pub memory_usage: Option<f64>,
    pub memory_working_set: Option<f64>,
    pub memory_rss: Option<f64>,
    pub memory_cache: Option<f64>,
    pub memory_mapped_file: Option<f64>,
    pub memory_kernel: Option<f64>,
    pub memory_max_usage: Option<f64>,
    pub memory_failcnt: Option<f64>,
    /// Absent: no limit.
    pub memory_limit: Option<f64>,
    pub page_faults: Option<f64>,
    pub major_page_faults: Option<f64>,
    pub swap_usage: Option<f64>,
    pub swap_limit: Option<f64>,
    pub oom_events: Option<f64>,
    pub oom_kills: Option<f64>,
    pub pids: Option<f64>,
    pub pids_limit: Option<f64>,
}

fn js_stats(s: cgstats::Stats) -> CgroupStats {
    let f = |v: Option<u64>| v.map(|n| n as f64);
    CgroupStats {
        found: s.cpu_usage_ns.is_some() || s.memory_usage.is_some(),
        cpu_usage_ns: f(s.cpu_usage_ns),
        cpu_user_ns: f(s.cpu_user_ns),
        cpu_system_ns: f(s.cpu_system_ns),
        cpu_periods: f(s.cpu_periods),
        cpu_throttled_periods: f(s.cpu_throttled_periods),
        cpu_throttled_ns: f(s.cpu_throttled_ns),
        cpu_shares: f(s.cpu_shares),
        cpu_period_us: f(s.cpu_period_us),
        cpu_quota_us: f(s.cpu_quota_us),
        memory_usage: f(s.memory_usage),
        memory_working_set: f(s.memory_working_set),
        memory_rss: f(s.memory_rss),
        memory_cache: f(s.memory_cache),
        memory_mapped_file: f(s.memory_mapped_file),
        memory_kernel: f(s.memory_kernel),
        memory_max_usage: f(s.memory_max_usage),
        memory_failcnt: f(s.memory_failcnt),
        memory_limit: f(s.memory_limit),
        page_faults: f(s.page_faults),
        major_page_faults: f(s.major_page_faults),
        swap_usage: f(s.swap_usage),
        swap_limit: f(s.swap_limit),
        oom_events: f(s.oom_events),
        oom_kills: f(s.oom_kills),
        pids: f(s.pids),
        pids_limit: f(s.pids_limit),
    }
}

pub struct CgroupStatsTask {
    paths: Vec<String>,
}

impl Task for CgroupStatsTask {
    type Output = Vec<cgstats::Stats>;
    type JsValue = Vec<CgroupStats>;
    fn compute(&mut self) -> Result<Self::Output> {
        let l = cgroup::detected().map_err(err)?;
        self.paths
            .iter()
            .map(|p| cgstats::read_stats(l, p).map_err(err))
            .collect()
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(out.into_iter().map(js_stats).collect())
    }
}

/// Reads the usage of each cgroup path (absolute, as in an OCI `cgroupsPath`) on the
/// libuv pool, in one pass: cgroup v1, hybrid and v2, each controller where it is mounted.
#[napi(ts_return_type = "Promise<CgroupStats[]>")]
pub fn cgroup_stats(paths: Vec<String>) -> AsyncTask<CgroupStatsTask> {
    AsyncTask::new(CgroupStatsTask { paths })
}

#[napi(object)]
pub struct CgroupProcesses {
    pub processes: f64,
    pub threads: f64,
    pub file_descriptors: f64,
    pub sockets: f64,
}

#[napi(object)]
pub struct DeviceIo {
    pub major: u32,
    pub minor: u32,
    pub read_bytes: f64,
    pub write_bytes: f64,
    pub reads: f64,
    pub writes: f64,
}

/// The costlier figures of a cgroup (CRI metrics only).
#[napi(object)]
pub struct CgroupDetail {
    /// Absent when the cgroup is gone.
    pub processes: Option<CgroupProcesses>,
    /// Block I/O per device (empty without I/O accounting).
    pub io: Vec<DeviceIo>,
}

pub struct CgroupDetailTask {
    paths: Vec<String>,
}

type Detail = (Option<cgdetail::Processes>, Vec<cgdetail::DeviceIo>);

impl Task for CgroupDetailTask {
    type Output = Vec<Detail>;
    type JsValue = Vec<CgroupDetail>;
    fn compute(&mut self) -> Result<Self::Output> {
        let l = cgroup::detected().map_err(err)?;
        let proc_root = Path::new("/proc");
        self.paths
            .iter()
            .map(|p| {
                let procs = cgdetail::processes(l, p, proc_root).map_err(err)?;
                Ok((procs, cgdetail::io(l, p).map_err(err)?))
            })
            .collect()
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(out
            .into_iter()
            .map(|(p, io)| CgroupDetail {
                processes: p.map(|p| CgroupProcesses {
                    processes: p.processes as f64,
                    threads: p.threads as f64,
                    file_descriptors: p.file_descriptors as f64,
                    sockets: p.sockets as f64,
                }),
                io: io
                    .into_iter()
                    .map(|d| DeviceIo {
                        major: d.major,
                        minor: d.minor,
                        read_bytes: d.read_bytes as f64,
                        write_bytes: d.write_bytes as f64,
                        reads: d.reads as f64,
                        writes: d.writes as f64,
                    })
                    .collect(),
            })
            .collect())
    }
}

/// Processes (threads, fds, sockets via /proc) and block I/O per device of each cgroup
/// path, on the libuv pool: what the CRI metrics add to the stats.
#[napi(ts_return_type = "Promise<CgroupDetail[]>")]
pub fn cgroup_detail(paths: Vec<String>) -> AsyncTask<CgroupDetailTask> {
    AsyncTask::new(CgroupDetailTask { paths })
}

/// berthd has gone quiet: unmap the clean pages of node's executable and of this addon
/// (the next access faults them back from the page cache) and return glibc's free heap
/// pages to the kernel. Returns the bytes of read-only segments advised. See
/// berth-core's release.rs for why this is sound.
#[napi]
pub fn release_idle_memory() -> f64 {
    let advised = berth_core::release::file_pages();
    berth_core::release::malloc_heap();
    advised as f64
}
