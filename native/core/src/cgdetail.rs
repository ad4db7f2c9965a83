//! The costlier figures of a cgroup that only the CRI metrics ask for: its processes
//! (threads, open files, sockets, walked through /proc) and block I/O per device (v1
//! blkio throttle counters, v2 io.stat). Read-only; a process that exits mid-walk is
//! skipped.
use crate::cgroup::{CgroupError, Layout};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Processes {
    pub processes: u64,
    pub threads: u64,
    pub file_descriptors: u64,
    pub sockets: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeviceIo {
    pub major: u32,
    pub minor: u32,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub reads: u64,
    pub writes: u64,
}

/// The cgroup's directory in a hierarchy that lists its processes (any will do).
fn procs_dir(layout: &Layout, path: &str) -> Result<Option<std::path::PathBuf>, CgroupError> {
    for c in ["pids", "memory", "cpu"] {
        if let Some(d) = layout.controller_dir(c, path)? {
            if d.join("cgroup.procs").exists() {
                return Ok(Some(d));
            }
        }
    }
    Ok(None)
}

/// Processes of cgroup `path` and its sub-cgroups, with their threads, fds and sockets.
pub fn processes(layout: &Layout, path: &str, proc_root: &Path) -> Result<Option<Processes>, CgroupError> {
    let Some(dir) = procs_dir(layout, path)? else {
        return Ok(None);
    };
    let mut pids = Vec::new();
    collect_pids(&dir, &mut pids);
    let mut p = Processes::default();
    for pid in pids {
        let base = proc_root.join(pid.to_string());
        let Ok(status) = fs::read_to_string(base.join("status")) else {
            continue;
        };
        p.processes += 1;
        p.threads += status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1);
        if let Ok(fds) = fs::read_dir(base.join("fd")) {
            for fd in fds.flatten() {
                p.file_descriptors += 1;
                if fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")) {
                    p.sockets += 1;
                }
            }
        }
    }
    Ok(Some(p))
}

fn collect_pids(dir: &Path, out: &mut Vec<u32>) {
    if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_pids(&e.path(), out);
            }
        }
    }
}

fn device<'a>(map: &'a mut BTreeMap<(u32, u32), DeviceIo>, dev: &str) -> Option<&'a mut DeviceIo> {
    let (maj, min) = dev.split_once(':')?;
    let key = (maj.parse().ok()?, min.parse().ok()?);
    Some(map.entry(key).or_insert_with(|| DeviceIo {
        major: key.0,
        minor: key.1,
        ..Default::default()
    }))
}

/// v2 io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N`.
pub fn parse_io_stat(text: &str) -> Vec<DeviceIo> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(d) = f.next().and_then(|dev| device(&mut map, dev)) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else { continue };
            let v = v.parse().unwrap_or(0);
            match k {
                "rbytes" => d.read_bytes = v,
                "wbytes" => d.write_bytes = v,
                "rios" => d.reads = v,
                "wios" => d.writes = v,
                _ => {}
            }
        }
    }
    map.into_values().collect()
}

/// v1 blkio.throttle.io_service_bytes_recursive and …io_serviced_recursive:
/// `MAJ:MIN Read N` / `MAJ:MIN Write N` lines (and totals, ignored).
pub fn parse_blkio(bytes: &str, ops: &str) -> Vec<DeviceIo> {
    let mut map = BTreeMap::new();
    for (text, is_bytes) in [(bytes, true), (ops, false)] {
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() != 3 {
                continue;
            }
            let Ok(v) = f[2].parse::<u64>() else { continue };
            let Some(d) = device(&mut map, f[0]) else { continue };
            match (f[1], is_bytes) {
                ("Read", true) => d.read_bytes = v,
                ("Write", true) => d.write_bytes = v,
                ("Read", false) => d.reads = v,
                ("Write", false) => d.writes = v,
                _ => {}
            }
        }
    }
    map.into_values().collect()
}

/// Block I/O of cgroup `path` per device (empty when no I/O controller is there).
pub fn io(layout: &Layout, path: &str) -> Result<Vec<DeviceIo>, CgroupError> {
    if let Some(d) = layout.controller_dir("io", path)? {
        if let Ok(text) = fs::read_to_string(d.join("io.stat")) {
            return Ok(parse_io_stat(&text));
        }
    }
    if let Some(d) = layout.controller_dir("blkio", path)? {
        let read = |f: &str| fs::read_to_string(d.join(f)).unwrap_or_default();
        return Ok(parse_blkio(
            &read("blkio.throttle.io_service_bytes_recursive"),
            &read("blkio.throttle.io_serviced_recursive"),
        ));
    }
    Ok(vec![])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{Hierarchy, Mode};

    #[test]
    fn io_counters_v1_and_v2() {
        let v2 = parse_io_stat(
            "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=0 wbytes=512 rios=0 wios=1\n",
        );
        assert_eq!(v2.len(), 2);
        assert_eq!(
            v2[0],
            DeviceIo {
                major: 8,
                minor: 0,
                read_bytes: 4096,
                write_bytes: 8192,
                reads: 1,
                writes: 2
            }
        );
        let v1 = parse_blkio(
            "8:0 Read 100\n8:0 Write 200\n8:0 Sync 300\n8:0 Total 300\nTotal 300\n",
            "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n",
        );
        assert_eq!(v1.len(), 1);
        assert_eq!(
            (v1[0].read_bytes, v1[0].write_bytes, v1[0].reads, v1[0].writes),
            (100, 200, 1, 2)
        );
        assert!(parse_blkio("Total 0\n", "").is_empty());
    }

    /// A recorded cgroup and /proc: processes in the cgroup and a sub-cgroup are counted.
    #[test]
    fn processes_from_a_recorded_tree() {
        let root = tempfile::tempdir().unwrap();
        let cg = root.path().join("pids/berth/pod");
        fs::create_dir_all(cg.join("ctr")).unwrap();
        fs::write(cg.join("cgroup.procs"), "").unwrap();
        fs::write(cg.join("ctr/cgroup.procs"), "10\n11\n99\n").unwrap();
        let proc_root = root.path().join("proc");
        for (pid, threads) in [(10, 3), (11, 1)] {
            let p = proc_root.join(pid.to_string());
            fs::create_dir_all(p.join("fd")).unwrap();
            fs::write(p.join("status"), format!("Name:\tsh\nThreads:\t{threads}\n")).unwrap();
            std::os::unix::fs::symlink("/dev/null", p.join("fd/0")).unwrap();
            std::os::unix::fs::symlink("socket:[1234]", p.join("fd/3")).unwrap();
        }
        let l = Layout {
            mode: Mode::V1,
            hierarchies: vec![Hierarchy {
                controllers: vec!["pids".into()],
                mountpoint: root.path().join("pids"),
                v2: false,
            }],
            unified_controllers: vec![],
        };
        let p = processes(&l, "/berth/pod", &proc_root).unwrap().unwrap();
        // pid 99 has exited (no /proc entry): skipped.
        assert_eq!(
            p,
            Processes {
                processes: 2,
                threads: 4,
                file_descriptors: 4,
                sockets: 2
            }
        );
        assert_eq!(processes(&l, "/berth/gone", &proc_root).unwrap(), None);
    }
}
