//! Resource usage of one cgroup, read from cgroupfs — v1 (each controller on its own
//! hierarchy, as on this host) and v2 — for ContainerStats / PodSandboxStats and the
//! metrics. Every figure is optional: a controller that is not mounted, a file an older
//! kernel lacks, or a cgroup that is already gone leaves it unset instead of failing the
//! whole read. Only reads; never creates or writes anything.
use crate::cgroup::{CgroupError, Layout};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Cumulative CPU time, all cores, in ns (and its user/system split).
    pub cpu_usage_ns: Option<u64>,
    pub cpu_user_ns: Option<u64>,
    pub cpu_system_ns: Option<u64>,
    /// CFS bandwidth: periods elapsed, periods throttled, time throttled (ns).
    pub cpu_periods: Option<u64>,
    pub cpu_throttled_periods: Option<u64>,
    pub cpu_throttled_ns: Option<u64>,
    /// The CPU settings in force: shares (v2: from cpu.weight), CFS period and quota (µs; None: no quota).
    pub cpu_shares: Option<u64>,
    pub cpu_period_us: Option<u64>,
    pub cpu_quota_us: Option<u64>,
    /// Memory charged to the cgroup, in bytes (page cache included).
    pub memory_usage: Option<u64>,
    /// Usage less inactive file cache: what cAdvisor and the kubelet evict on.
    pub memory_working_set: Option<u64>,
    pub memory_rss: Option<u64>,
    pub memory_cache: Option<u64>,
    pub memory_mapped_file: Option<u64>,
    pub memory_kernel: Option<u64>,
    pub memory_max_usage: Option<u64>,
    /// Times the limit was hit (v1 failcnt; v2 the `max` event count).
    pub memory_failcnt: Option<u64>,
    /// None: no limit.
    pub memory_limit: Option<u64>,
    pub page_faults: Option<u64>,
    pub major_page_faults: Option<u64>,
    pub swap_usage: Option<u64>,
    pub swap_limit: Option<u64>,
    pub oom_events: Option<u64>,
    pub oom_kills: Option<u64>,
    pub pids: Option<u64>,
    pub pids_limit: Option<u64>,
}

/// v1 reports "no limit" as PAGE_COUNTER_MAX pages (0x7FFFFFFFFFFFF000 with 4 KiB pages);
/// anything that large is no limit at all.
const UNLIMITED: u64 = 1 << 62;

fn read(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file)).ok()
}

/// A single number; "max" (v2's "no limit") and v1's huge sentinel give None.
fn number(text: Option<String>) -> Option<u64> {
    let t = text?;
    let t = t.trim();
    if t == "max" {
        return None;
    }
    t.parse().ok().filter(|&n| n < UNLIMITED)
}

/// "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control, cpuacct.stat).
pub fn key_values(text: &str) -> HashMap<&str, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k, v.trim().parse().ok()?))
        })
        .collect()
}

/// The OOM-kill counter from v1 `memory.oom_control` or v2 `memory.events` (same key).
pub fn oom_kill_count(text: &str) -> Option<u64> {
    key_values(text).get("oom_kill").copied()
}

/// The file that holds the OOM-kill counter of a memory cgroup directory.
pub fn oom_file(memory_dir: &Path) -> PathBuf {
    let v2 = memory_dir.join("memory.events");
    if v2.exists() {
        v2
    } else {
        memory_dir.join("memory.oom_control")
    }
}

fn existing(layout: &Layout, controller: &str, path: &str) -> Result<Option<PathBuf>, CgroupError> {
    Ok(layout.controller_dir(controller, path)?.filter(|d| d.is_dir()))
}

/// Reads the usage of cgroup `path` (absolute, as in an OCI `cgroupsPath`).
pub fn read_stats(layout: &Layout, path: &str) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if let Some(d) = existing(layout, "cpu", path)? {
        cpu(&mut s, &d);
    }
    if s.cpu_usage_ns.is_none() {
        // v1: cpuacct may sit on a hierarchy of its own (this host) or share "cpu,cpuacct".
        if let Some(d) = existing(layout, "cpuacct", path)? {
            cpuacct(&mut s, &d);
        }
    }
    if let Some(d) = existing(layout, "memory", path)? {
        memory(&mut s, &d);
    }
    if let Some(d) = existing(layout, "pids", path)? {
        s.pids = number(read(&d, "pids.current"));
        s.pids_limit = number(read(&d, "pids.max"));
    }
    Ok(s)
}

/// v2 cpu.weight (1..10000) back to v1 shares (2..262144), the inverse of the OCI mapping.
fn weight_to_shares(w: u64) -> u64 {
    2 + (w.clamp(1, 10000) - 1) * 262_142 / 9_999
}

/// cpu.stat: v2 has the usage in µs beside the CFS figures; v1 only the CFS figures (ns).
fn cpu(s: &mut Stats, d: &Path) {
    if let Some(max) = read(d, "cpu.max") {
        // v2: "<quota|max> <period>"
        let mut f = max.split_whitespace();
        s.cpu_quota_us = f.next().and_then(|q| q.parse().ok());
        s.cpu_period_us = f.next().and_then(|p| p.parse().ok());
        s.cpu_shares = number(read(d, "cpu.weight")).map(weight_to_shares);
    } else {
        s.cpu_shares = number(read(d, "cpu.shares"));
        s.cpu_period_us = number(read(d, "cpu.cfs_period_us"));
        // -1: no quota (does not parse as u64).
        s.cpu_quota_us = number(read(d, "cpu.cfs_quota_us"));
    }
    let Some(text) = read(d, "cpu.stat") else { return };
    let kv = key_values(&text);
    let us = |k: &str| kv.get(k).map(|v| v.saturating_mul(1000));
    s.cpu_usage_ns = us("usage_usec");
    s.cpu_user_ns = us("user_usec");
    s.cpu_system_ns = us("system_usec");
    s.cpu_periods = kv.get("nr_periods").copied();
    s.cpu_throttled_periods = kv.get("nr_throttled").copied();
    s.cpu_throttled_ns = us("throttled_usec").or_else(|| kv.get("throttled_time").copied());
}

fn cpuacct(s: &mut Stats, d: &Path) {
    s.cpu_usage_ns = number(read(d, "cpuacct.usage"));
    s.cpu_user_ns = number(read(d, "cpuacct.usage_user"));
    s.cpu_system_ns = number(read(d, "cpuacct.usage_sys"));
}

fn memory(s: &mut Stats, d: &Path) {
    let stat = read(d, "memory.stat").unwrap_or_default();
    let kv = key_values(&stat);
    let get = |k: &str| kv.get(k).copied();
    if let Some(current) = number(read(d, "memory.current")) {
        // v2
        s.memory_usage = Some(current);
        s.memory_rss = get("anon");
        s.memory_cache = get("file");
        s.memory_mapped_file = get("file_mapped");
        s.memory_kernel =
            get("kernel").or_else(|| Some(get("kernel_stack")? + get("slab")? + get("sock").unwrap_or(0)));
        s.memory_max_usage = number(read(d, "memory.peak"));
        s.memory_limit = number(read(d, "memory.max"));
        s.page_faults = get("pgfault");
        s.major_page_faults = get("pgmajfault");
        s.memory_working_set = Some(current.saturating_sub(get("inactive_file").unwrap_or(0)));
        let events = read(d, "memory.events").unwrap_or_default();
        let ev = key_values(&events);
        s.memory_failcnt = ev.get("max").copied();
        s.oom_events = ev.get("oom").copied();
        s.oom_kills = ev.get("oom_kill").copied();
        s.swap_usage = number(read(d, "memory.swap.current"));
        s.swap_limit = number(read(d, "memory.swap.max"));
        return;
    }
    // v1: the total_* figures include the sub-cgroups (a pod's containers).
    let Some(usage) = number(read(d, "memory.usage_in_bytes")) else {
        return;
    };
    s.memory_usage = Some(usage);
    s.memory_rss = get("total_rss");
    s.memory_cache = get("total_cache");
    s.memory_mapped_file = get("total_mapped_file");
    s.memory_kernel = number(read(d, "memory.kmem.usage_in_bytes"));
    s.memory_max_usage = number(read(d, "memory.max_usage_in_bytes"));
    s.memory_failcnt = number(read(d, "memory.failcnt"));
    s.memory_limit = number(read(d, "memory.limit_in_bytes"));
    s.page_faults = get("total_pgfault");
    s.major_page_faults = get("total_pgmajfault");
    s.memory_working_set = Some(usage.saturating_sub(get("total_inactive_file").unwrap_or(0)));
    s.oom_kills = read(d, "memory.oom_control").and_then(|t| oom_kill_count(&t));
    s.oom_events = s.oom_kills;
    // memsw counts memory + swap; absent when the kernel accounts no swap.
    if let Some(memsw) = number(read(d, "memory.memsw.usage_in_bytes")) {
        s.swap_usage = Some(memsw.saturating_sub(usage));
        s.swap_limit =
            number(read(d, "memory.memsw.limit_in_bytes")).and_then(|l| s.memory_limit.map(|m| l.saturating_sub(m)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{Hierarchy, Mode};

    fn write(dir: &Path, files: &[(&str, &str)]) {
        fs::create_dir_all(dir).unwrap();
        for (f, v) in files {
            fs::write(dir.join(f), v).unwrap();
        }
    }

    /// A v2 tree as the kernel lays it out (values recorded from a cgroup2 host).
    #[test]
    fn v2_recorded_tree() {
        let root = tempfile::tempdir().unwrap();
        let ctr = root.path().join("kubepods/pod1/ctr");
        write(
            &ctr,
            &[
                ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 12\nnr_throttled 3\nthrottled_usec 700\nnr_bursts 0\nburst_usec 0\n"),
                ("cpu.max", "50000 100000\n"),
                ("cpu.weight", "100\n"),
                ("memory.current", "10485760\n"),
                ("memory.max", "max\n"),
                ("memory.peak", "20971520\n"),
                ("memory.stat", "anon 4194304\nfile 6291456\nkernel 262144\nfile_mapped 1048576\ninactive_file 2097152\nactive_file 4194304\npgfault 4242\npgmajfault 7\n"),
                ("memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n"),
                ("memory.swap.current", "0\n"),
                ("memory.swap.max", "max\n"),
                ("pids.current", "3\n"),
                ("pids.max", "max\n"),
            ],
        );
        let l = Layout {
            mode: Mode::Unified,
            hierarchies: vec![Hierarchy {
                controllers: vec![],
                mountpoint: root.path().into(),
                v2: true,
            }],
            unified_controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
        };
        let s = read_stats(&l, "/kubepods/pod1/ctr").unwrap();
        assert_eq!(s.cpu_usage_ns, Some(1_500_000));
        assert_eq!((s.cpu_user_ns, s.cpu_system_ns), (Some(1_000_000), Some(500_000)));
        assert_eq!(
            (s.cpu_periods, s.cpu_throttled_periods, s.cpu_throttled_ns),
            (Some(12), Some(3), Some(700_000))
        );
        assert_eq!(
            (s.cpu_quota_us, s.cpu_period_us, s.cpu_shares),
            (Some(50_000), Some(100_000), Some(2 + 99 * 262_142 / 9_999))
        );
        assert_eq!(s.memory_usage, Some(10_485_760));
        assert_eq!(s.memory_working_set, Some(10_485_760 - 2_097_152));
        assert_eq!(
            (s.memory_rss, s.memory_cache, s.memory_kernel),
            (Some(4_194_304), Some(6_291_456), Some(262_144))
        );
        assert_eq!(
            (s.memory_limit, s.memory_max_usage, s.memory_failcnt),
            (None, Some(20_971_520), Some(5))
        );
        assert_eq!((s.page_faults, s.major_page_faults), (Some(4242), Some(7)));
        assert_eq!((s.oom_events, s.oom_kills), (Some(2), Some(1)));
        assert_eq!((s.swap_usage, s.swap_limit), (Some(0), None));
        assert_eq!((s.pids, s.pids_limit), (Some(3), None));
        assert_eq!(oom_file(&ctr), ctr.join("memory.events"));
        // A cgroup that is gone (container removed meanwhile) reads as "nothing known".
        assert_eq!(read_stats(&l, "/kubepods/gone").unwrap(), Stats::default());
    }

    /// v1 with cpu and cpuacct on separate hierarchies, as on this host.
    #[test]
    fn v1_separate_hierarchies() {
        let root = tempfile::tempdir().unwrap();
        let h = |c: &str| Hierarchy {
            controllers: vec![c.into()],
            mountpoint: root.path().join(c),
            v2: false,
        };
        let l = Layout {
            mode: Mode::Hybrid,
            hierarchies: vec![h("cpu"), h("cpuacct"), h("memory"), h("pids")],
            unified_controllers: vec!["hugetlb".into()],
        };
        let rel = "berth/pod/ctr";
        write(
            &root.path().join("cpu").join(rel),
            &[
                ("cpu.stat", "nr_periods 4\nnr_throttled 1\nthrottled_time 999\n"),
                ("cpu.shares", "1024\n"),
                ("cpu.cfs_period_us", "100000\n"),
                ("cpu.cfs_quota_us", "-1\n"),
            ],
        );
        write(
            &root.path().join("cpuacct").join(rel),
            &[
                ("cpuacct.usage", "123456789\n"),
                ("cpuacct.usage_user", "100000000\n"),
                ("cpuacct.usage_sys", "23456789\n"),
            ],
        );
        write(
            &root.path().join("memory").join(rel),
            &[
                ("memory.usage_in_bytes", "8388608\n"),
                ("memory.max_usage_in_bytes", "9437184\n"),
                ("memory.failcnt", "0\n"),
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.memsw.usage_in_bytes", "8392704\n"),
                ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
                ("memory.kmem.usage_in_bytes", "65536\n"),
                ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
                ("memory.stat", "cache 1\nrss 2\ntotal_cache 3145728\ntotal_rss 4194304\ntotal_mapped_file 1024\ntotal_inactive_file 1048576\ntotal_pgfault 77\ntotal_pgmajfault 1\n"),
            ],
        );
        write(
            &root.path().join("pids").join(rel),
            &[("pids.current", "2\n"), ("pids.max", "1024\n")],
        );
        let s = read_stats(&l, "/berth/pod/ctr").unwrap();
        assert_eq!(s.cpu_usage_ns, Some(123_456_789));
        assert_eq!((s.cpu_user_ns, s.cpu_system_ns), (Some(100_000_000), Some(23_456_789)));
        assert_eq!(
            (s.cpu_periods, s.cpu_throttled_periods, s.cpu_throttled_ns),
            (Some(4), Some(1), Some(999))
        );
        assert_eq!(
            (s.cpu_shares, s.cpu_period_us, s.cpu_quota_us),
            (Some(1024), Some(100_000), None)
        );
        assert_eq!(s.memory_usage, Some(8_388_608));
        assert_eq!(s.memory_working_set, Some(8_388_608 - 1_048_576));
        assert_eq!(
            (s.memory_rss, s.memory_cache, s.memory_mapped_file),
            (Some(4_194_304), Some(3_145_728), Some(1024))
        );
        assert_eq!(
            (s.memory_limit, s.memory_max_usage, s.memory_kernel),
            (None, Some(9_437_184), Some(65_536))
        );
        assert_eq!((s.page_faults, s.major_page_faults), (Some(77), Some(1)));
        assert_eq!((s.oom_kills, s.swap_usage, s.swap_limit), (Some(2), Some(4096), None));
        assert_eq!((s.pids, s.pids_limit), (Some(2), Some(1024)));
        let mem = root.path().join("memory").join(rel);
        assert_eq!(oom_file(&mem), mem.join("memory.oom_control"));
        assert!(matches!(read_stats(&l, "relative"), Err(CgroupError::BadPath(_))));
    }
}
