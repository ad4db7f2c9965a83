//! cgroup hierarchies: v1, v2 ("unified") and the hybrid mix this host runs
//! (v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified holding hugetlb).
//! Each controller's hierarchy is resolved from mountinfo instead of assumed, and only
//! directories berth creates are ever touched.
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroup path {0:?} must be absolute and free of '..'")]
    BadPath(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("no cgroup hierarchy is mounted")]
    NoHierarchy,
    #[error("cgroup file {0:?} is not a controller file (<controller>.<name>)")]
    BadFile(String),
    #[error("cgroup {path}: controller {controller} is not mounted or the cgroup does not exist")]
    NoController { controller: String, path: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    V1,
    Hybrid,
    Unified,
}

impl Mode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::V1 => "v1",
            Mode::Hybrid => "hybrid",
            Mode::Unified => "v2",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// v1 controllers of this mount (`name=systemd` for named hierarchies); empty for v2.
    pub controllers: Vec<String>,
    pub mountpoint: PathBuf,
    pub v2: bool,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub mode: Mode,
    pub hierarchies: Vec<Hierarchy>,
    /// Controllers enabled on the cgroup2 mount (hybrid: what crun 1.8 refuses to share).
    pub unified_controllers: Vec<String>,
}

/// Parses mountinfo text. Mounts whose root is not "/" (bind mounts of a sub-cgroup)
/// are ignored: berth only manages hierarchies it sees from the top.
pub fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 || pre[3] != "/" {
            continue;
        }
        let mountpoint = PathBuf::from(pre[4]);
        match post[0] {
            "cgroup2" => out.push(Hierarchy {
                controllers: vec![],
                mountpoint,
                v2: true,
            }),
            "cgroup" => {
                let known = [
                    "cpu",
                    "cpuacct",
                    "cpuset",
                    "memory",
                    "devices",
                    "freezer",
                    "blkio",
                    "pids",
                    "hugetlb",
                    "net_cls",
                    "net_prio",
                    "perf_event",
                    "rdma",
                    "misc",
                ];
                let controllers = post[2]
                    .split(',')
                    .filter(|o| known.contains(o) || o.starts_with("name="))
                    .map(str::to_string)
                    .collect();
                out.push(Hierarchy {
                    controllers,
                    mountpoint,
                    v2: false,
                })
            }
            _ => {}
        }
    }
    out
}

pub fn layout_from(mountinfo: &str, read_controllers: impl Fn(&Path) -> Option<String>) -> Result<Layout, CgroupError> {
    let hierarchies = parse_mountinfo(mountinfo);
    let has_v1 = hierarchies.iter().any(|h| !h.v2);
    let v2 = hierarchies.iter().find(|h| h.v2);
    let mode = match (has_v1, v2.is_some()) {
        (false, false) => return Err(CgroupError::NoHierarchy),
        (true, false) => Mode::V1,
        (true, true) => Mode::Hybrid,
        (false, true) => Mode::Unified,
    };
    let unified_controllers = v2
        .and_then(|h| read_controllers(&h.mountpoint.join("cgroup.controllers")))
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    Ok(Layout {
        mode,
        hierarchies,
        unified_controllers,
    })
}

/// The layout, detected once per process. Cgroup hierarchies are mounted at boot and do not
/// move while berthd runs, and /proc/self/mountinfo grows with every pod's mounts: reading
/// it on every cgroup call cost a burst of 50 pod starts ~6% of berthd's main thread.
pub fn detected() -> Result<&'static Layout, CgroupError> {
    static LAYOUT: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();
    if let Some(l) = LAYOUT.get() {
        return Ok(l);
    }
    let l = detect()?;
    Ok(LAYOUT.get_or_init(|| l))
}

pub fn detect() -> Result<Layout, CgroupError> {
    let text = fs::read_to_string("/proc/self/mountinfo").map_err(|source| CgroupError::Io {
        op: "read",
        path: "/proc/self/mountinfo".into(),
        source,
    })?;
    layout_from(&text, |p| fs::read_to_string(p).ok())
}

fn rel_path(path: &str) -> Result<&str, CgroupError> {
    if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
        return Err(CgroupError::BadPath(path.to_string()));
    }
    Ok(path.trim_start_matches('/'))
}

impl Layout {
    /// The hierarchies berth manages: every v1 hierarchy, and the v2 one only on a
    /// pure v2 host (in hybrid mode the OCI runtime handles the unified mount itself).
    fn managed(&self) -> impl Iterator<Item = &Hierarchy> {
        let unified = self.mode == Mode::Unified;
        self.hierarchies.iter().filter(move |h| h.v2 == unified)
    }

    /// Creates `path` (absolute, relative to each hierarchy root) in every managed
    /// hierarchy; returns the directories it created, deepest last.
    pub fn create(&self, path: &str) -> Result<Vec<PathBuf>, CgroupError> {
        let rel = rel_path(path)?;
        let mut made = Vec::new();
        for h in self.managed() {
            let mut dir = h.mountpoint.clone();
            for comp in rel.split('/').filter(|c| !c.is_empty()) {
                let parent = dir.clone();
                dir.push(comp);
                if dir.exists() {
                    continue;
                }
                if let Err(source) = fs::create_dir(&dir) {
                    let _ = self.undo(&made);
                    return Err(CgroupError::Io {
                        op: "mkdir",
                        path: dir.display().to_string(),
                        source,
                    });
                }
                made.push(dir.clone());
                if h.controllers.iter().any(|c| c == "cpuset") {
                    // v1 cpuset children start empty and refuse tasks: inherit the parent's.
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        if let Ok(v) = fs::read_to_string(parent.join(f)) {
                            let _ = fs::write(dir.join(f), v.trim());
                        }
                    }
                }
                if h.v2 {
                    enable_subtree(&parent);
                }
            }
        }
        Ok(made)
    }

    fn undo(&self, made: &[PathBuf]) -> Result<(), CgroupError> {
        for d in made.iter().rev() {
            let _ = fs::remove_dir(d);
        }
        Ok(())
    }

    /// Removes `path` and the sub-cgroups under it (deepest first) in every hierarchy —
    /// the unified one too in hybrid mode: berth does not create there, but the OCI
    /// runtime mirrors the container's path into it and removes only the leaf.
    /// Idempotent; fails with EBUSY context if a process is still inside.
    pub fn remove(&self, path: &str) -> Result<(), CgroupError> {
        let rel = rel_path(path)?;
        if rel.is_empty() {
            return Err(CgroupError::BadPath(path.to_string()));
        }
        for h in &self.hierarchies {
            remove_tree(&h.mountpoint.join(rel))?;
        }
        Ok(())
    }

    /// The directory of cgroup `path` (absolute, from the hierarchy root) for one
    /// controller: its v1 hierarchy if one holds it, else the cgroup2 mount on a pure v2
    /// host or when the unified mount holds that controller (hybrid hugetlb).
    pub fn controller_dir(&self, controller: &str, path: &str) -> Result<Option<PathBuf>, CgroupError> {
        let rel = rel_path(path)?;
        Ok(self.controller_root(controller).map(|m| m.join(rel)))
    }

    fn controller_root(&self, controller: &str) -> Option<&Path> {
        if let Some(h) = self
            .hierarchies
            .iter()
            .find(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
        {
            return Some(&h.mountpoint);
        }
        let v2 = self.hierarchies.iter().find(|h| h.v2)?;
        (self.mode == Mode::Unified || self.unified_controllers.iter().any(|c| c == controller))
            .then_some(v2.mountpoint.as_path())
    }

    /// Where process `pid` sits for `controller`, from its /proc/<pid>/cgroup text (paths
    /// there are relative to the reader's cgroup namespace, i.e. ours: the host's).
    pub fn proc_controller_dir(&self, proc_cgroup: &str, controller: &str) -> Option<PathBuf> {
        let root = self.controller_root(controller)?;
        let v1 = self.hierarchies.iter().any(|h| !h.v2 && h.mountpoint == root);
        let path = proc_cgroup.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            let hit = if v1 {
                ctrls.split(',').any(|c| c == controller)
            } else {
                ctrls.is_empty()
            };
            hit.then_some(path)
        })?;
        Some(root.join(rel_path(path).ok()?))
    }

    /// Writes controller files of cgroup `path` in order, e.g. ("memory.limit_in_bytes",
    /// "268435456"): each file goes to its controller's hierarchy, into a directory that
    /// must already exist (nothing is created). Stops at the first failure.
    pub fn set(&self, path: &str, settings: &[(String, String)]) -> Result<(), CgroupError> {
        for (file, value) in settings {
            let controller = file
                .split_once('.')
                .map(|(c, _)| c)
                .filter(|c| !c.is_empty() && *c != "cgroup" && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .filter(|_| !file.contains('/'))
                .ok_or_else(|| CgroupError::BadFile(file.clone()))?;
            let dir = self
                .controller_dir(controller, path)?
                .filter(|d| d.is_dir())
                .ok_or_else(|| CgroupError::NoController {
                    controller: controller.to_string(),
                    path: path.to_string(),
                })?;
            let target = dir.join(file);
            fs::write(&target, value).map_err(|source| CgroupError::Io {
                op: "write",
                path: target.display().to_string(),
                source,
            })?;
        }
        Ok(())
    }

    /// Directories of `path` that exist in any hierarchy (for leak checks).
    pub fn existing(&self, path: &str) -> Result<Vec<PathBuf>, CgroupError> {
        let rel = rel_path(path)?;
        Ok(self
            .hierarchies
            .iter()
            .map(|h| h.mountpoint.join(rel))
            .filter(|p| p.exists())
            .collect())
    }
}

fn enable_subtree(dir: &Path) {
    let Ok(avail) = fs::read_to_string(dir.join("cgroup.controllers")) else {
        return;
    };
    let want: Vec<String> = avail.split_whitespace().map(|c| format!("+{c}")).collect();
    let _ = fs::write(dir.join("cgroup.subtree_control"), want.join(" "));
}

fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CgroupError::Io {
                op: "readdir",
                path: dir.display().to_string(),
                source,
            })
        }
    };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_tree(&e.path())?;
        }
    }
    // A cgroup that just lost its last task may report EBUSY for a moment.
    let mut last = None;
    for _ in 0..50 {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                last = Some(e);
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(source) => {
                return Err(CgroupError::Io {
                    op: "rmdir",
                    path: dir.display().to_string(),
                    source,
                })
            }
        }
    }
    Err(CgroupError::Io {
        op: "rmdir",
        path: dir.display().to_string(),
        source: last.unwrap(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_hybrid_host() {
        let text = include_str!("../testdata/mountinfo-hybrid.txt");
        let l = layout_from(text, |_| Some("hugetlb\n".into())).unwrap();
        assert_eq!(l.mode, Mode::Hybrid);
        assert_eq!(l.unified_controllers, vec!["hugetlb"]);
        let mem = l.hierarchies.iter().find(|h| h.controllers == ["memory"]).unwrap();
        assert_eq!(mem.mountpoint, PathBuf::from("/sys/fs/cgroup/memory"));
        assert!(l.hierarchies.iter().any(|h| h.controllers == ["name=systemd"]));
        assert_eq!(l.managed().count(), l.hierarchies.len() - 1);
    }

    #[test]
    fn controller_dirs_on_hybrid_and_v2_hosts() {
        let hybrid = layout_from(include_str!("../testdata/mountinfo-hybrid.txt"), |_| {
            Some("hugetlb\n".into())
        })
        .unwrap();
        let d = |l: &Layout, c: &str| l.controller_dir(c, "/berth/pod/ctr").unwrap();
        assert_eq!(
            d(&hybrid, "memory"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/berth/pod/ctr"))
        );
        assert_eq!(
            d(&hybrid, "hugetlb"),
            Some(PathBuf::from("/sys/fs/cgroup/unified/berth/pod/ctr"))
        );
        assert_eq!(d(&hybrid, "rdma"), None);
        let proc = "9:name=systemd:/\n4:memory:/berth/pod/ctr\n2:cpu,cpuacct:/x\n0::/\n";
        assert_eq!(
            hybrid.proc_controller_dir(proc, "memory"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/berth/pod/ctr"))
        );
        let v2 = layout_from(include_str!("../testdata/mountinfo-v2.txt"), |_| {
            Some("cpu memory pids".into())
        })
        .unwrap();
        assert_eq!(d(&v2, "memory"), Some(PathBuf::from("/sys/fs/cgroup/berth/pod/ctr")));
        assert_eq!(
            v2.proc_controller_dir("0::/kubepods/pod1/ctr\n", "memory"),
            Some(PathBuf::from("/sys/fs/cgroup/kubepods/pod1/ctr"))
        );
        assert!(matches!(
            v2.controller_dir("memory", "/a/../b"),
            Err(CgroupError::BadPath(_))
        ));
    }

    #[test]
    fn set_writes_each_file_in_its_controller_hierarchy_and_creates_nothing() {
        let root = tempfile::tempdir().unwrap();
        let h = |c: &str| Hierarchy {
            controllers: vec![c.into()],
            mountpoint: root.path().join(c),
            v2: false,
        };
        let l = Layout {
            mode: Mode::V1,
            hierarchies: vec![h("cpu"), h("memory")],
            unified_controllers: vec![],
        };
        for c in ["cpu", "memory"] {
            fs::create_dir_all(root.path().join(c).join("berth/pod")).unwrap();
        }
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        l.set(
            "/berth/pod",
            &[kv("cpu.shares", "512"), kv("memory.limit_in_bytes", "1048576")],
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(root.path().join("cpu/berth/pod/cpu.shares")).unwrap(),
            "512"
        );
        assert_eq!(
            fs::read_to_string(root.path().join("memory/berth/pod/memory.limit_in_bytes")).unwrap(),
            "1048576"
        );
        for bad in ["../cpu.shares", "cgroup.procs", "cpu", "cpu/x.y", ".shares"] {
            assert!(
                matches!(l.set("/berth/pod", &[kv(bad, "1")]), Err(CgroupError::BadFile(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            l.set("/berth/gone", &[kv("cpu.shares", "2")]),
            Err(CgroupError::NoController { .. })
        ));
        assert!(!root.path().join("cpu/berth/gone").exists());
        assert!(matches!(
            l.set("/berth/pod", &[kv("pids.max", "5")]),
            Err(CgroupError::NoController { .. })
        ));
    }

    #[test]
    fn recorded_v2_host() {
        let text = include_str!("../testdata/mountinfo-v2.txt");
        let l = layout_from(text, |_| Some("cpu memory pids".into())).unwrap();
        assert_eq!(l.mode, Mode::Unified);
        assert_eq!(l.managed().count(), 1);
    }

    #[test]
    fn hybrid_remove_also_clears_what_the_runtime_mirrored_into_unified() {
        let root = tempfile::tempdir().unwrap();
        let (v1, v2) = (root.path().join("memory"), root.path().join("unified"));
        fs::create_dir_all(&v1).unwrap();
        fs::create_dir_all(v2.join("berth/pod-a/ctr")).unwrap();
        let l = Layout {
            mode: Mode::Hybrid,
            hierarchies: vec![
                Hierarchy {
                    controllers: vec!["memory".into()],
                    mountpoint: v1.clone(),
                    v2: false,
                },
                Hierarchy {
                    controllers: vec![],
                    mountpoint: v2.clone(),
                    v2: true,
                },
            ],
            unified_controllers: vec!["hugetlb".into()],
        };
        l.create("/berth/pod-a").unwrap();
        assert!(v1.join("berth/pod-a").is_dir());
        assert_eq!(l.existing("/berth/pod-a").unwrap().len(), 2);
        l.remove("/berth").unwrap();
        assert!(!v1.join("berth").exists() && !v2.join("berth").exists());
    }

    #[test]
    fn v2_tree_create_and_remove() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.controllers"), "cpu memory").unwrap();
        let l = Layout {
            mode: Mode::Unified,
            hierarchies: vec![Hierarchy {
                controllers: vec![],
                mountpoint: root.path().into(),
                v2: true,
            }],
            unified_controllers: vec![],
        };
        let made = l.create("/berth/pod-a").unwrap();
        assert_eq!(made.len(), 2);
        assert_eq!(
            fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory"
        );
        fs::create_dir(root.path().join("berth/pod-a/ctr")).unwrap();
        l.remove("/berth/pod-a").unwrap();
        assert!(!root.path().join("berth/pod-a").exists());
        l.remove("/berth/pod-a").unwrap();
        assert!(matches!(l.create("/berth/../x"), Err(CgroupError::BadPath(_))));
        assert!(matches!(l.remove("/"), Err(CgroupError::BadPath(_))));
    }
}
