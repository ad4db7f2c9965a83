//! berth-monitor: the conmon equivalent. One per container, spawned detached (setsid) by
//! berthd, so it outlives berthd restarts. It runs `<runtime> run --detach` (`create`
//! without `--start 1`), owns the container's stdout/stderr pipes, writes them to the CRI
//! log, becomes the subreaper of the container process and records its exit status to the
//! exit file, then exits.
//!
//! Protocol with berthd: exactly one JSON line on stdout once the runtime has finished —
//! `{"ok":true,"pid":N}` or `{"ok":false,"error":"..."}` — then stdout is closed.
mod attach;
mod console;
mod control;
mod exec;
mod oom;
mod portfwd;
mod rro;

use berth_core::beneath;
use berth_core::crilog::{self, Stream};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) fn usage() -> ! {
    eprintln!("usage: berth-monitor pause [--pod-dir DIR] [--userns PATH] | berth-monitor run --runtime PATH --root DIR --id ID --bundle DIR --log-root DIR --log REL --exit-file PATH --pid-file PATH --runtime-log PATH [--systemd-cgroup 1] [--start 1]");
    eprintln!(
        "       | berth-monitor exec --runtime PATH --root DIR --id ID --pid-file PATH --max-output BYTES [--stdin 1] [--tty 1 --console-socket PATH] -- CMD..."
    );
    eprintln!("       | berth-monitor port-forward [--netns PATH] --port N");
    eprintln!("  --log REL is the container log, relative to --log-root DIR; no symlink beneath DIR is followed");
    std::process::exit(2)
}

fn parse_flags(args: &[String]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let Some(k) = k.strip_prefix("--") else { usage() };
        let Some(v) = it.next() else { usage() };
        m.insert(k.to_string(), v.clone());
    }
    m
}

fn report(v: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
    drop(out);
    // Close the sync pipe: berthd may go away, and a later write must not SIGPIPE us.
    if let Ok(null) = File::open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
}

/// The runtime writes JSON log lines (`--log-format json`); keep the error messages.
fn runtime_errors(path: &str) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let msgs: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "error")
        .filter_map(|v| v["msg"].as_str().map(str::to_string))
        .collect();
    if msgs.is_empty() {
        text.trim().chars().take(2000).collect()
    } else {
        msgs.join("; ")
    }
}

/// One output pipe of the container, formatted into CRI log records as it arrives.
struct Pipe {
    file: Option<File>,
    stream: Stream,
}

/// Reads what is ready on `p`, appends it to the log and hands it to attached clients; closes the pipe at EOF.
fn drain(p: &mut Pipe, buf: &mut [u8], out: &mut Vec<u8>, log: &mut File, attach: &mut attach::Attach) {
    let Some(f) = p.file.as_mut() else { return };
    match f.read(buf) {
        Ok(0) => p.file = None,
        Ok(n) => {
            out.clear();
            let ts = crilog::timestamp(chrono::Utc::now());
            crilog::format_chunk(out, &ts, p.stream, &buf[..n]);
            let _ = log.write_all(out);
            let kind = if matches!(p.stream, Stream::Stderr) {
                attach::STDERR
            } else {
                attach::STDOUT
            };
            attach.broadcast(kind, &buf[..n]);
        }
        // A tty's master is non-blocking (shared with the stdin writer).
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted || e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(_) => p.file = None,
    }
}

/// Reaps every exited child; returns the container's exit code once it is among them.
fn reap(pid: i32) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) if p.as_raw() == pid => code = Some(c),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => code = Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(_) => {}
        }
    }
}

fn write_atomic(path: &str, data: &[u8]) -> std::io::Result<()> {
    let tmp = format!("{path}.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

fn run(flags: HashMap<String, String>) -> i32 {
    let get = |k: &str| flags.get(k).cloned().unwrap_or_else(|| usage());
    let (runtime, root, id, bundle) = (get("runtime"), get("root"), get("id"), get("bundle"));
    let (log_root, log_rel, exit_file, pid_file, runtime_log) = (
        get("log-root"),
        get("log"),
        get("exit-file"),
        get("pid-file"),
        get("runtime-log"),
    );

    // Orphaned container processes (runc create exits) are reparented to us.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };

    // A symlink planted at the log path or at a parent (by whatever else can write in
    // the log dirs) must not redirect our root-owned writes elsewhere on the host, so
    // nothing beneath the log root is followed (the error names the path).
    let mut log = match beneath::create_log_file(Path::new(&log_root), Path::new(&log_rel)) {
        Ok(f) => f,
        Err(e) => {
            report(serde_json::json!({"ok": false, "error": format!("open log: {e}")}));
            return 1;
        }
    };
    let mut attach = match attach::Attach::setup(&flags) {
        Ok(a) => a,
        Err(e) => {
            report(serde_json::json!({"ok": false, "error": format!("stdin/tty/attach socket: {e}")}));
            return 1;
        }
    };
    let pipes = || -> std::io::Result<(OwnedFd, OwnedFd)> { Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?) };
    let ((out_r, out_w), (err_r, err_w)) = match (pipes(), pipes()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            report(serde_json::json!({"ok": false, "error": "pipe2 failed"}));
            return 1;
        }
    };
    // A systemd-driver container: runc/crun make its scope through systemd (cgroupsPath
    // `slice:prefix:name`) only when told so by this global flag.
    let systemd_cgroup = flags.get("systemd-cgroup").is_some_and(|v| v == "1");
    // `--start 1`: StartContainer, with nothing created before (berthd creates containers
    // the way containerd does: CreateContainer prepares, StartContainer runs): `run
    // --detach` creates and starts in one runtime process instead of `create` + `start`.
    let verb: &[&str] = if flags.get("start").is_some_and(|v| v == "1") {
        &["run", "--detach"]
    } else {
        &["create"]
    };
    let status = Command::new(&runtime)
        .args(systemd_cgroup.then_some("--systemd-cgroup"))
        .args(["--root", &root, "--log", &runtime_log, "--log-format", "json"])
        .args(verb)
        .args(["--bundle", &bundle, "--pid-file", &pid_file])
        .args(attach.runtime_args(&flags))
        .arg(&id)
        .stdin(attach.runtime_stdin())
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w))
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            report(
                serde_json::json!({"ok": false, "error": format!("{runtime} {} exited with {s}: {}", verb[0], runtime_errors(&runtime_log))}),
            );
            return 1;
        }
        Err(e) => {
            report(serde_json::json!({"ok": false, "error": format!("exec {runtime}: {e}")}));
            return 1;
        }
    }
    let pid: i32 = match fs::read_to_string(&pid_file).ok().and_then(|s| s.trim().parse().ok()) {
        Some(p) => p,
        None => {
            report(serde_json::json!({"ok": false, "error": format!("{runtime} create wrote no pid file {pid_file}")}));
            return 1;
        }
    };
    let master = match attach.take_master() {
        Ok(m) => m,
        Err(e) => {
            report(
                serde_json::json!({"ok": false, "error": format!("{runtime} create: no pty from the console socket: {e}")}),
            );
            return 1;
        }
    };
    // Blocked before berthd learns the PID (so before it can ask for anything): a control
    // signal (control.rs) then waits for the poll loop instead of killing us. Not earlier:
    // `runc create` would pass the mask on to the container's process.
    let mask = control::signals();
    let _ = mask.thread_block();
    report(serde_json::json!({"ok": true, "pid": pid}));
    let oom = match flags.get("cgroup") {
        Some(path) if verb[0] == "run" => oom::OomWatch::open_since_made(path),
        _ => oom::OomWatch::open(pid),
    };

    // One thread, one poll loop (small and cheap per pod): the two output pipes plus a
    // signalfd for SIGCHLD and the control signals (blocked since the start). A sweep
    // right after setting it up catches an early exit.
    let sigfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("berth-monitor {id}: signalfd: {e}");
            return 1;
        }
    };
    let mut pipes = vec![
        Pipe {
            file: Some(File::from(out_r)),
            stream: Stream::Stdout,
        },
        Pipe {
            file: Some(File::from(err_r)),
            stream: Stream::Stderr,
        },
    ];
    if let Some(m) = master {
        pipes.push(Pipe {
            file: Some(m),
            stream: Stream::Stdout,
        });
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::with_capacity(16 * 1024 + 256);
    let mut exit_code = reap(pid);
    let mut exited_at = exit_code.map(|_| crilog::timestamp(chrono::Utc::now()));
    // Read as the exit is seen, before anything else in the cgroup can change it.
    let mut oom_killed = exit_code.is_some() && oom.killed();
    // After the exit, a daemonised grandchild holding the pipes must not delay the record.
    let mut drain_until: Option<std::time::Instant> = None;
    // Start-up is over: what the loop needs from here on faults back in (berth-core's release.rs).
    berth_core::release::file_pages();
    loop {
        if exit_code.is_some() {
            let until = *drain_until.get_or_insert_with(|| std::time::Instant::now() + Duration::from_secs(2));
            if pipes.iter().all(|p| p.file.is_none()) || std::time::Instant::now() >= until {
                break;
            }
        }
        let mut fds = vec![PollFd::new(sigfd.as_fd(), PollFlags::POLLIN)];
        for f in pipes.iter().filter_map(|p| p.file.as_ref()) {
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
        }
        let attach_from = fds.len();
        attach.poll_fds(&mut fds);
        let timeout = if exit_code.is_some() {
            PollTimeout::from(100u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::Error::EINTR) => continue,
            Err(e) => {
                eprintln!("berth-monitor {id}: poll: {e}");
                break;
            }
        }
        let revents: Vec<PollFlags> = fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())).collect();
        let ready: Vec<bool> = revents.iter().map(|r| !r.is_empty()).collect();
        drop(fds);
        attach.handle(&revents[attach_from..]);
        if ready[0] {
            while let Ok(Some(si)) = sigfd.read_signal() {
                if si.ssi_signo == control::REOPEN_LOG as u32 {
                    control::reopen_log(&id, &log_root, &log_rel, &mut log);
                }
            }
            if exit_code.is_none() {
                exit_code = reap(pid);
                if exit_code.is_some() {
                    exited_at = Some(crilog::timestamp(chrono::Utc::now()));
                    oom_killed = oom.killed();
                }
            } else {
                reap(pid);
            }
        }
        let mut i = 1;
        for p in pipes.iter_mut() {
            if p.file.is_none() {
                continue;
            }
            if ready.get(i).copied().unwrap_or(false) {
                drain(p, &mut buf, &mut out, &mut log, &mut attach);
            }
            i += 1;
        }
    }
    let exit_code = exit_code.unwrap_or(255);
    let exited_at = exited_at.unwrap_or_else(|| crilog::timestamp(chrono::Utc::now()));
    let record = serde_json::json!({"exitCode": exit_code, "exitedAt": exited_at, "oomKilled": oom_killed});
    if let Err(e) = write_atomic(&exit_file, record.to_string().as_bytes()) {
        eprintln!("berth-monitor {id}: write exit file {exit_file}: {e}");
        return 1;
    }
    0
}

/// `pause`: the PID 1 of a pod whose containers share one PID namespace. Prints
/// `{"ok":true,"pid":N}` (N = its host PID) and leaves it running; it only reaps
/// (SIGCHLD ignored → the kernel reaps) and exits on SIGTERM/SIGINT. With `--userns PATH`
/// it first joins the pod's user namespace, so the PID namespace it makes is owned by it:
/// the containers' root may then mount /proc for it (the kernel wants CAP_SYS_ADMIN in
/// the user namespace that owns the PID namespace).
fn pause(flags: HashMap<String, String>) -> i32 {
    if let Some(userns) = flags.get("userns") {
        let joined = File::open(userns)
            .map_err(|e| e.to_string())
            .and_then(|f| nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| e.to_string()));
        if let Err(e) = joined {
            report(serde_json::json!({"ok": false, "error": format!("join user namespace {userns}: {e}")}));
            return 1;
        }
    }
    if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID) {
        report(serde_json::json!({"ok": false, "error": format!("unshare(CLONE_NEWPID): {e}")}));
        return 1;
    }
    // SAFETY: single-threaded at this point; the child only calls async-signal-safe code.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            report(serde_json::json!({"ok": true, "pid": child.as_raw()}));
            0
        }
        Ok(nix::unistd::ForkResult::Child) => {
            // Let go of berthd's report pipe and the rest of the caller's stdio.
            if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
                for fd in 0..3 {
                    let _ = nix::unistd::dup2(null.as_raw_fd(), fd);
                }
            }
            extern "C" fn quit(_: libc::c_int) {
                unsafe { libc::_exit(0) };
            }
            unsafe {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                libc::signal(libc::SIGTERM, quit as extern "C" fn(libc::c_int) as libc::sighandler_t);
                libc::signal(libc::SIGINT, quit as extern "C" fn(libc::c_int) as libc::sighandler_t);
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                loop {
                    libc::pause();
                }
            }
        }
        Err(e) => {
            report(serde_json::json!({"ok": false, "error": format!("fork: {e}")}));
            1
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("run" | "pause")) {
        // A session of its own, so that it outlives berthd and no signal meant for berthd's
        // session reaches it. berthd spawns it with posix_spawn, which cannot do this.
        unsafe { libc::setsid() };
    }
    match args.first().map(String::as_str) {
        Some("run") => std::process::exit(run(parse_flags(&args[1..]))),
        Some("exec") => {
            // Flags, then `--`, then the command to run in the container.
            let split = args.iter().position(|a| a == "--").unwrap_or_else(|| usage());
            std::process::exit(exec::exec(parse_flags(&args[1..split]), &args[split + 1..]))
        }
        Some("port-forward") => std::process::exit(portfwd::port_forward(parse_flags(&args[1..]))),
        // `--pod-dir` only names the pod in the process list (ps, leak checks).
        Some("pause") => std::process::exit(pause(parse_flags(&args[1..]))),
        Some("rro") => std::process::exit(rro::rro(&args[1..])),
        Some("--version") => println!("berth-monitor {}", env!("CARGO_PKG_VERSION")),
        _ => usage(),
    }
}
