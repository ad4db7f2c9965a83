//! Running a short-lived command (a CNI plugin, `runc start`, …) to completion: its stdin
//! fed, stdout and stderr captured up to a cap, a time limit, and a short drain once it has
//! exited (a background child of the command may hold the pipes for its whole life).
//!
//! Why not Node's child_process: libuv spawns with fork(), whose cost grows with the
//! parent's memory (page tables copied, every anonymous page made copy-on-write, so the
//! daemon then takes a fault on each heap page it writes). A ~100 MB berthd paid several
//! milliseconds per spawn, and a pod start spawns half a dozen processes. Rust's
//! `Command` uses posix_spawn (clone with CLONE_VM|CLONE_VFORK: no page tables copied)
//! when the program is given by path and no pre-exec hook is set, as here.
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct RunSpec {
    /// An absolute path (a bare name would make std fall back to fork when env sets PATH).
    pub program: String,
    pub args: Vec<String>,
    /// The whole environment as `KEY=VALUE`; None inherits the caller's.
    pub env: Option<Vec<String>>,
    pub input: Vec<u8>,
    /// Per stream: bytes kept; the rest is read and counted, never blocking the command.
    pub max_output: usize,
    /// 0: no limit. On expiry the command is SIGKILLed and `timed_out` set.
    pub timeout: Duration,
    /// How long output may still arrive after the command exited.
    pub drain: Duration,
}

#[derive(Debug, Default)]
pub struct RunOutcome {
    /// The exit code; 128 when a signal ended it (as berthd's callers expect).
    pub code: i32,
    pub signal: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_dropped: u64,
    pub stderr_dropped: u64,
    pub timed_out: bool,
}

/// One captured stream: kept bytes, dropped count, open or at EOF.
struct Capture {
    fd: Option<OwnedFd>,
    kept: Vec<u8>,
    dropped: u64,
}

impl Capture {
    fn new(fd: Option<OwnedFd>) -> Self {
        Capture {
            fd,
            kept: Vec::new(),
            dropped: 0,
        }
    }

    /// Reads what is there now (the fd is non-blocking); closes it at EOF.
    fn pump(&mut self, cap: usize, buf: &mut [u8]) {
        let Some(fd) = self.fd.as_ref() else { return };
        loop {
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                let n = n as usize;
                let room = cap.saturating_sub(self.kept.len()).min(n);
                self.kept.extend_from_slice(&buf[..room]);
                self.dropped += (n - room) as u64;
                continue;
            }
            let e = io::Error::last_os_error();
            if n < 0 && e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if n < 0 && e.kind() == io::ErrorKind::WouldBlock {
                return;
            }
            self.fd = None; // EOF or a read error: this stream is done
            return;
        }
    }
}

fn into_nonblocking_fd<T: Into<OwnedFd>>(s: Option<T>) -> io::Result<Option<OwnedFd>> {
    let Some(s) = s else { return Ok(None) };
    let fd: OwnedFd = s.into();
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Some(fd))
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn spawn(spec: &RunSpec) -> io::Result<Child> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(env) = &spec.env {
        cmd.env_clear();
        for kv in env {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            cmd.env(k, v);
        }
    }
    cmd.spawn()
}

/// Runs `spec` to completion. Errors only when the command cannot be started.
pub fn run(spec: RunSpec) -> io::Result<RunOutcome> {
    let mut child = spawn(&spec)?;
    let pidfd = pidfd_open(child.id());
    // Stdin on a thread of its own: a command that writes a lot before reading its input
    // would otherwise deadlock against us. A command that never reads gets EPIPE, ignored.
    let stdin = child.stdin.take();
    let input = spec.input;
    let feeder = stdin.map(|mut w| {
        std::thread::spawn(move || {
            let _ = w.write_all(&input);
        })
    });
    let mut out = Capture::new(into_nonblocking_fd(child.stdout.take())?);
    let mut err = Capture::new(into_nonblocking_fd(child.stderr.take())?);
    let started = Instant::now();
    let mut outcome = RunOutcome::default();
    let mut status: Option<ExitStatus> = None;
    let mut drain_until: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if status.is_none() {
            status = child.try_wait()?;
            if status.is_some() {
                drain_until = Some(Instant::now() + spec.drain);
            }
        }
        if status.is_some() && out.fd.is_none() && err.fd.is_none() {
            break;
        }
        let now = Instant::now();
        if drain_until.is_some_and(|d| now >= d) {
            break; // a background child still holds the pipes: answer with what is there
        }
        if !outcome.timed_out && !spec.timeout.is_zero() && now >= started + spec.timeout {
            outcome.timed_out = true;
            let _ = child.kill();
        }
        let mut wait_ms: i64 = 1000;
        if let Some(d) = drain_until {
            wait_ms = wait_ms.min(d.saturating_duration_since(now).as_millis() as i64 + 1);
        }
        if !outcome.timed_out && !spec.timeout.is_zero() {
            wait_ms = wait_ms.min((started + spec.timeout).saturating_duration_since(now).as_millis() as i64 + 1);
        }
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
        for fd in [&out.fd, &err.fd].into_iter().flatten() {
            fds.push(libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        match (&pidfd, status) {
            (Ok(p), None) => fds.push(libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }),
            // No pidfd (an old kernel): look again for the exit every few milliseconds.
            (Err(_), None) => wait_ms = wait_ms.min(5),
            _ => {}
        }
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms as libc::c_int) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        out.pump(spec.max_output, &mut buf);
        err.pump(spec.max_output, &mut buf);
    }
    let status = match status {
        Some(s) => s,
        None => child.wait()?,
    };
    if let Some(f) = feeder {
        // The command has exited: its stdin's read end is closed, so the writer is done or failing.
        let _ = f.join();
    }
    use std::os::unix::process::ExitStatusExt;
    outcome.code = status.code().unwrap_or(128);
    outcome.signal = status.signal().unwrap_or(0);
    outcome.stdout = out.kept;
    outcome.stderr = err.kept;
    outcome.stdout_dropped = out.dropped;
    outcome.stderr_dropped = err.dropped;
    Ok(outcome)
}

/// What a detached start reported: the child's PID and its first line of stdout.
pub struct DetachedStart {
    pub pid: u32,
    /// The first line, without its newline; None when stdout closed or the time ran out first.
    pub line: Option<Vec<u8>>,
    pub timed_out: bool,
}

/// Starts a long-lived child (berth-monitor) that reports on its stdout: waits for its
/// first line (or EOF, or `timeout`), then leaves it running. The child is reaped in the
/// background when it exits, so it never lingers as a zombie of the daemon. It makes its
/// own session (berth-monitor calls setsid), so it outlives the daemon.
pub fn spawn_detached(
    program: &str,
    args: &[String],
    argv0: Option<&str>,
    stderr: Option<OwnedFd>,
    timeout: Duration,
) -> io::Result<DetachedStart> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped());
    cmd.stderr(match stderr {
        Some(fd) => Stdio::from(fd),
        None => Stdio::null(),
    });
    if let Some(a) = argv0 {
        cmd.arg0(a);
    }
    let mut child = cmd.spawn()?;
    let pid = child.id();
    // The report is one short line: a stdout that says more than this before a newline is
    // not a report (Capture keeps one byte past it, so the cut is seen).
    const MAX_REPORT: usize = 64 * 1024;
    let mut out = Capture::new(into_nonblocking_fd(child.stdout.take())?);
    let started = Instant::now();
    let mut result = DetachedStart {
        pid,
        line: None,
        timed_out: false,
    };
    let mut buf = [0u8; 4096];
    while let Some(fd) = out.fd.as_ref() {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            result.timed_out = true;
            break;
        }
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let r = unsafe { libc::poll(&mut p, 1, left.as_millis().min(i32::MAX as u128) as libc::c_int + 1) };
        if r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break;
        }
        out.pump(MAX_REPORT + 1, &mut buf);
        if let Some(nl) = out.kept.iter().position(|&b| b == b'\n') {
            out.kept.truncate(nl);
            result.line = Some(std::mem::take(&mut out.kept));
            break;
        }
        if out.kept.len() > MAX_REPORT {
            break; // not a report
        }
    }
    reaper::adopt(child);
    Ok(result)
}

/// Reaps detached children when they exit: one thread for all of them, waiting on their
/// pidfds (a thread per child would park one thread per running container).
mod reaper {
    use std::collections::HashMap;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::process::Child;
    use std::sync::{Mutex, OnceLock};

    struct Reaper {
        epoll: OwnedFd,
        children: Mutex<HashMap<i32, (Child, OwnedFd)>>,
    }

    fn reaper() -> Option<&'static Reaper> {
        static R: OnceLock<Option<Reaper>> = OnceLock::new();
        R.get_or_init(|| {
            let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if fd < 0 {
                return None;
            }
            let r = Reaper {
                epoll: unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) },
                children: Mutex::new(HashMap::new()),
            };
            std::thread::Builder::new()
                .name("berth-reaper".into())
                .stack_size(64 * 1024)
                .spawn(|| run(reaper().expect("reaper initialised")))
                .ok()?;
            Some(r)
        })
        .as_ref()
    }

    fn run(r: &'static Reaper) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 16];
        loop {
            let n = unsafe { libc::epoll_wait(r.epoll.as_raw_fd(), events.as_mut_ptr(), events.len() as i32, -1) };
            for e in events.iter().take(n.max(0) as usize) {
                let pid = e.u64 as i32;
                if let Some((mut child, pidfd)) = r.children.lock().unwrap().remove(&pid) {
                    let _ = child.wait();
                    unsafe {
                        libc::epoll_ctl(
                            r.epoll.as_raw_fd(),
                            libc::EPOLL_CTL_DEL,
                            pidfd.as_raw_fd(),
                            std::ptr::null_mut(),
                        )
                    };
                }
            }
        }
    }

    pub fn adopt(mut child: Child) {
        let pid = child.id() as i32;
        if let (Some(r), Ok(pidfd)) = (reaper(), super::pidfd_open(child.id())) {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: pid as u64,
            };
            let mut map = r.children.lock().unwrap();
            if unsafe { libc::epoll_ctl(r.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, pidfd.as_raw_fd(), &mut ev) } == 0 {
                map.insert(pid, (child, pidfd));
                return;
            }
        }
        // No epoll, pidfd or registration: a small thread of its own waits for this one.
        let _ = std::thread::Builder::new().stack_size(64 * 1024).spawn(move || {
            let _ = child.wait();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(program: &str, args: &[&str]) -> RunSpec {
        RunSpec {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: None,
            input: Vec::new(),
            max_output: 1 << 20,
            timeout: Duration::from_secs(10),
            drain: Duration::from_millis(250),
        }
    }

    #[test]
    fn captures_output_input_and_code() {
        let mut s = spec("/bin/sh", &["-c", "cat; echo err >&2; exit 3"]);
        s.input = b"hello".to_vec();
        let o = run(s).unwrap();
        assert_eq!((o.code, o.signal, o.timed_out), (3, 0, false));
        assert_eq!(o.stdout, b"hello");
        assert_eq!(o.stderr, b"err\n");
    }

    #[test]
    fn caps_output_and_counts_the_rest() {
        let mut s = spec("/bin/sh", &["-c", "head -c 100000 /dev/zero"]);
        s.max_output = 1000;
        let o = run(s).unwrap();
        assert_eq!((o.stdout.len(), o.stdout_dropped), (1000, 99_000));
    }

    #[test]
    fn kills_on_timeout() {
        let mut s = spec("/bin/sleep", &["10"]);
        s.timeout = Duration::from_millis(100);
        let t = Instant::now();
        let o = run(s).unwrap();
        assert!(o.timed_out && o.code == 128 && o.signal == libc::SIGKILL);
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn answers_although_a_background_child_holds_the_pipes() {
        let s = spec("/bin/sh", &["-c", "sleep 5 & echo started"]);
        let t = Instant::now();
        let o = run(s).unwrap();
        assert_eq!((o.code, o.stdout.as_slice()), (0, &b"started\n"[..]));
        assert!(t.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn env_replaces_the_environment() {
        let mut s = spec("/usr/bin/env", &[]);
        s.env = Some(vec!["A=1".into(), "B=x=y".into()]);
        assert_eq!(run(s).unwrap().stdout, b"A=1\nB=x=y\n");
    }

    #[test]
    fn a_detached_start_reports_its_first_line_and_is_reaped() {
        let args = vec!["-c".to_string(), "echo '{\"ok\":true}'; sleep 0.2".to_string()];
        let d = spawn_detached("/bin/sh", &args, None, None, Duration::from_secs(5)).unwrap();
        assert_eq!(d.line.as_deref(), Some(&br#"{"ok":true}"#[..]));
        let stat = format!("/proc/{}/stat", d.pid);
        let t = Instant::now();
        while std::path::Path::new(&stat).exists() {
            assert!(t.elapsed() < Duration::from_secs(5), "child {} was not reaped", d.pid);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_detached_start_times_out() {
        let args = vec!["5".to_string()];
        let d = spawn_detached("/bin/sleep", &args, None, None, Duration::from_millis(100)).unwrap();
        assert!(d.timed_out && d.line.is_none());
        unsafe { libc::kill(d.pid as i32, libc::SIGKILL) };
    }

    #[test]
    fn a_missing_program_is_an_error() {
        assert!(run(spec("/nonexistent/berth", &[])).is_err());
    }
}
