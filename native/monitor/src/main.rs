//! berth-monitor: the conmon equivalent. One per container, spawned detached (setsid) by
//! berthd, so it outlives berthd restarts. It runs `<runtime> create`, owns the
//! container's stdout/stderr pipes, writes them to the CRI log, becomes the subreaper of
//! the container process and records its exit status to the exit file, then exits.
//!
//! Protocol with berthd: exactly one JSON line on stdout once `create` has finished —
//! `{"ok":true,"pid":N}` or `{"ok":false,"error":"..."}` — then stdout is closed.
use berth_core::crilog::{self, Stream};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

fn usage() -> ! {
    eprintln!("usage: berth-monitor pause [--pod-dir DIR] | berth-monitor run --runtime PATH --root DIR --id ID --bundle DIR --log PATH --exit-file PATH --pid-file PATH --runtime-log PATH");
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
    if msgs.is_empty() { text.trim().chars().take(2000).collect() } else { msgs.join("; ") }
}

fn pump(mut src: File, stream: Stream, log: Arc<Mutex<File>>, done: mpsc::Sender<()>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 32 * 1024];
        let mut out = Vec::with_capacity(64 * 1024);
        loop {
            match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.clear();
                    let ts = crilog::timestamp(chrono::Utc::now());
                    crilog::format_chunk(&mut out, &ts, stream, &buf[..n]);
                    if let Ok(mut f) = log.lock() {
                        let _ = f.write_all(&out);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = done.send(());
    });
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
    let (log_path, exit_file, pid_file, runtime_log) = (get("log"), get("exit-file"), get("pid-file"), get("runtime-log"));

    // Orphaned container processes (runc create exits) are reparented to us.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };

    if let Some(dir) = Path::new(&log_path).parent() {
        let _ = fs::create_dir_all(dir);
    }
    let log = match OpenOptions::new().create(true).append(true).open(&log_path) {
        Ok(f) => Arc::new(Mutex::new(f)),
        Err(e) => {
            report(serde_json::json!({"ok": false, "error": format!("open log {log_path}: {e}")}));
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
    let status = Command::new(&runtime)
        .args(["--root", &root, "--log", &runtime_log, "--log-format", "json", "create", "--bundle", &bundle, "--pid-file", &pid_file, &id])
        .stdin(Stdio::null())
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w))
        .status();
    let (done_tx, done_rx) = mpsc::channel();
    pump(File::from(out_r), Stream::Stdout, log.clone(), done_tx.clone());
    pump(File::from(err_r), Stream::Stderr, log.clone(), done_tx);
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            report(serde_json::json!({"ok": false, "error": format!("{runtime} create exited with {s}: {}", runtime_errors(&runtime_log))}));
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
    report(serde_json::json!({"ok": true, "pid": pid}));

    // Reap every child; the container's own status is the one that counts.
    let exit_code = loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => break code,
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => break 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(_) => {
                // Not our descendant (should not happen): fall back to polling.
                if nix::sys::signal::kill(Pid::from_raw(pid), None).is_err() {
                    break 255;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    let exited_at = crilog::timestamp(chrono::Utc::now());
    // Let the pumps drain what the container wrote last; a daemonised grandchild that
    // keeps the pipes open must not keep the exit from being recorded.
    for _ in 0..2 {
        let _ = done_rx.recv_timeout(Duration::from_secs(2));
    }
    let record = serde_json::json!({"exitCode": exit_code, "exitedAt": exited_at});
    if let Err(e) = write_atomic(&exit_file, record.to_string().as_bytes()) {
        eprintln!("berth-monitor {id}: write exit file {exit_file}: {e}");
        return 1;
    }
    0
}

/// `pause`: the PID 1 of a pod whose containers share one PID namespace. Prints
/// `{"ok":true,"pid":N}` (N = its host PID) and leaves it running; it only reaps
/// (SIGCHLD ignored → the kernel reaps) and exits on SIGTERM/SIGINT.
fn pause() -> i32 {
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
    match args.first().map(String::as_str) {
        Some("run") => std::process::exit(run(parse_flags(&args[1..]))),
        // `--pod-dir` only names the pod in the process list (ps, leak checks).
        Some("pause") => std::process::exit(pause()),
        Some("--version") => println!("berth-monitor {}", env!("CARGO_PKG_VERSION")),
        _ => usage(),
    }
}
