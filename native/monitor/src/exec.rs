//! `berth-monitor exec`: ExecSync's process owner. `runc exec` without `--detach` copies
//! the process's output through pipes of its own and exits only at EOF on them, so a
//! background child (`sleep 3600 & echo started`) holds the answer until the timeout.
//! Here the runtime starts the process detached, with pipes this monitor owns; being the
//! subreaper, it reaps the process itself and answers once *that* exits: what was
//! written by then, plus a short drain, and its exit status as this process's own.
//!
//! Output is forwarded to our stdout/stderr (berthd's pipes) up to `--max-output` bytes
//! per stream; the rest is read and dropped (the command never blocks on a full pipe)
//! and a note at the end says how much. berthd so never holds more than the cap.
//!
//! Streaming exec (the Exec RPC) adds `--stdin 1` (our stdin is copied to the process's,
//! and its EOF closes it) and `--tty 1 --console-socket PATH` (the process gets a pty;
//! its master is relayed to our stdout, our stdin to it, and `COLS ROWS` lines on fd 3
//! resize it). Streaming passes no cap that matters: berthd reads as the client reads,
//! so a slow client slows the process through the pipes, never a buffer in between.
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// After the process exits, output still in the pipes is read for this long.
const DRAIN: Duration = Duration::from_millis(250);

struct Stream {
    from: Option<File>,
    to: Box<dyn Write>,
    kept: u64,
    dropped: u64,
}

impl Stream {
    /// Forwards what is ready, within the cap; closes at EOF.
    fn pump(&mut self, buf: &mut [u8], cap: u64) {
        let Some(f) = self.from.as_mut() else { return };
        match f.read(buf) {
            Ok(0) => self.from = None,
            Ok(n) => {
                let room = cap.saturating_sub(self.kept).min(n as u64) as usize;
                if room > 0 && self.to.write_all(&buf[..room]).is_err() {
                    // berthd went away: keep draining so the process is not blocked.
                    self.kept = cap;
                }
                self.kept += room as u64;
                self.dropped += (n - room) as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => self.from = None,
        }
    }

    fn finish(&mut self, cap: u64) {
        if self.dropped > 0 {
            let _ = write!(
                self.to,
                "\n[berth: output truncated: {} bytes beyond the {cap}-byte limit were dropped]\n",
                self.dropped
            );
        }
        let _ = self.to.flush();
    }
}

fn code_of(s: WaitStatus) -> Option<(i32, i32)> {
    match s {
        WaitStatus::Exited(p, c) => Some((p.as_raw(), c)),
        WaitStatus::Signaled(p, sig, _) => Some((p.as_raw(), 128 + sig as i32)),
        _ => None,
    }
}

/// Copies our stdin into `to` until EOF, then closes it (the process sees EOF).
fn copy_stdin(mut to: File) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to);
    });
}

/// `exec --runtime PATH --root DIR --id ID --pid-file PATH --max-output N [--stdin 1] [--tty 1 --console-socket PATH] -- CMD...`
pub fn exec(flags: HashMap<String, String>, cmd: &[String]) -> i32 {
    let get = |k: &str| flags.get(k).cloned().unwrap_or_else(|| super::usage());
    let (runtime, root, id, pid_file) = (get("runtime"), get("root"), get("id"), get("pid-file"));
    let cap: u64 = get("max-output").parse().unwrap_or_else(|_| super::usage());
    let stdin = flags.get("stdin").is_some_and(|v| v == "1");
    let tty = flags.get("tty").is_some_and(|v| v == "1");
    if cmd.is_empty() {
        super::usage();
    }
    let console = if tty {
        match super::console::ConsoleSocket::bind(&get("console-socket")) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("berth-monitor exec: console socket: {e}");
                return 255;
            }
        }
    } else {
        None
    };
    // The detached process is reparented to us when the runtime's intermediate exits.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let _ = mask.thread_block();
    let Ok(sigfd) = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK) else {
        eprintln!("berth-monitor exec: signalfd failed");
        return 255;
    };
    let pipe = || -> std::io::Result<(OwnedFd, OwnedFd)> { Ok(nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?) };
    let ((out_r, out_w), (err_r, err_w)) = match (pipe(), pipe()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            eprintln!("berth-monitor exec: pipe2 failed");
            return 255;
        }
    };
    let mut runtime_cmd = Command::new(&runtime);
    runtime_cmd.args(["--root", &root, "exec", "--detach", "--pid-file", &pid_file]);
    if console.is_some() {
        runtime_cmd.args(["--tty", "--console-socket", &get("console-socket")]);
    }
    runtime_cmd
        .arg(&id)
        .args(cmd)
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w));
    if stdin && console.is_none() {
        match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
            Ok((r, w)) => {
                runtime_cmd.stdin(Stdio::from(r));
                copy_stdin(File::from(w));
            }
            Err(e) => {
                eprintln!("berth-monitor exec: pipe2: {e}");
                return 255;
            }
        }
    } else {
        runtime_cmd.stdin(Stdio::null());
    }
    let child = runtime_cmd.spawn();
    let runtime_pid = match child {
        Ok(c) => c.id() as i32,
        Err(e) => {
            eprintln!("berth-monitor exec: cannot run {runtime}: {e}");
            return 255;
        }
    };
    // Our copies of the write ends went with the Command: EOF comes once the process
    // (and whatever inherited its stdio) has closed them.
    let mut streams = vec![
        Stream {
            from: Some(File::from(out_r)),
            to: Box::new(std::io::stdout()),
            kept: 0,
            dropped: 0,
        },
        Stream {
            from: Some(File::from(err_r)),
            to: Box::new(std::io::stderr()),
            kept: 0,
            dropped: 0,
        },
    ];
    let mut buf = vec![0u8; 64 * 1024];
    // Exits seen before we knew the process's PID (it may be reaped before the runtime is).
    let mut early: HashMap<i32, i32> = HashMap::new();
    let mut exec_pid: Option<i32> = None;
    let mut code: Option<i32> = None;
    let mut drain_until: Option<Instant> = None;
    loop {
        // Reap everything; note the runtime's and the process's exits.
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(s) => {
                    let Some((pid, c)) = code_of(s) else { continue };
                    if pid == runtime_pid {
                        if c != 0 {
                            // The process never started; the runtime said why on stderr.
                            code = Some(c);
                        } else {
                            exec_pid = fs::read_to_string(&pid_file).ok().and_then(|s| s.trim().parse().ok());
                            if exec_pid.is_none() {
                                eprintln!("berth-monitor exec: {runtime} exec wrote no pid file {pid_file}");
                                code = Some(255);
                            }
                        }
                    } else if Some(pid) == exec_pid {
                        code = Some(c);
                    } else if early.len() < 1024 {
                        early.insert(pid, c);
                    }
                }
            }
        }
        if let (None, Some(p)) = (code, exec_pid) {
            code = early.remove(&p);
        }
        if code.is_some() {
            let until = *drain_until.get_or_insert_with(|| Instant::now() + DRAIN);
            if streams.iter().all(|s| s.from.is_none()) || Instant::now() >= until {
                break;
            }
        }
        let mut fds = vec![PollFd::new(sigfd.as_fd(), PollFlags::POLLIN)];
        let waiting_console = console.as_ref().filter(|_| streams.len() == 2);
        if let Some(c) = waiting_console {
            fds.push(PollFd::new(c.listener().as_fd(), PollFlags::POLLIN));
        }
        let first_stream = fds.len();
        let open: Vec<usize> = (0..streams.len()).filter(|&i| streams[i].from.is_some()).collect();
        for &i in &open {
            fds.push(PollFd::new(
                streams[i].from.as_ref().unwrap().as_fd(),
                PollFlags::POLLIN,
            ));
        }
        let timeout = if code.is_some() {
            PollTimeout::from(50u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => {
                eprintln!("berth-monitor exec: poll: {e}");
                return 255;
            }
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        if ready[0] {
            while let Ok(Some(_)) = sigfd.read_signal() {}
        }
        if waiting_console.is_some() && ready[1] {
            match console.as_ref().map(|c| c.receive()) {
                Some(Ok(master)) => {
                    if let (Ok(input), Ok(sizer)) = (master.try_clone(), master.try_clone()) {
                        if stdin {
                            copy_stdin(input);
                        }
                        // SAFETY: berthd passes the resize pipe as fd 3 in tty mode; nothing else owns it.
                        let control = unsafe { File::from_raw_fd(3) };
                        std::thread::spawn(move || super::console::apply_resizes(control, sizer));
                    }
                    streams.push(Stream {
                        from: Some(master),
                        to: Box::new(std::io::stdout()),
                        kept: 0,
                        dropped: 0,
                    });
                }
                Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Some(Err(e)) => {
                    eprintln!("berth-monitor exec: console socket: {e}");
                    return 255;
                }
                None => {}
            }
        }
        for (k, &i) in open.iter().enumerate() {
            if ready[k + first_stream] {
                streams[i].pump(&mut buf, cap);
            }
        }
    }
    for s in streams.iter_mut() {
        s.finish(cap);
    }
    code.unwrap_or(255)
}
