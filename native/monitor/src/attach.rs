//! Attach for `run` mode: the container's stdin (a pipe, or the pty master of a tty
//! container) and an attach socket berthd connects to for each Attach session.
//!
//! Socket protocol (stream socket, filesystem path in a root-only directory), both ways
//! frames of `[kind u8][len u32 BE][bytes]`:
//!   monitor → client: 1 stdout, 2 stderr (a tty container's output is all stdout);
//!   client → monitor: 0 stdin bytes, 3 end of the client's stdin, 4 resize "COLS ROWS".
//! Output is never held up by a client: each has a bounded backlog, and a client that
//! falls further behind is disconnected (the CRI log still has everything). Input is
//! written without blocking; while the container is not reading, clients are not read.
//! With `stdin_once`, the container's stdin closes when the first session's stdin ends.
use nix::poll::{PollFd, PollFlags};
use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Stdio;

const MAX_CLIENTS: usize = 64;
/// Output a client may lag behind by before it is disconnected.
const MAX_CLIENT_BACKLOG: usize = 4 << 20;
/// Input waiting for the container; clients are not read while this much is pending.
const MAX_STDIN_PENDING: usize = 256 << 10;
const MAX_FRAME: usize = 1 << 20;

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

struct Client {
    sock: UnixStream,
    inbuf: Vec<u8>,
    backlog: Vec<u8>,
    gone: bool,
}

enum Slot {
    Listener,
    Client(usize),
    Stdin,
}

pub struct Attach {
    listener: Option<UnixListener>,
    path: Option<String>,
    clients: Vec<Client>,
    stdin: Option<File>,
    stdin_pending: Vec<u8>,
    stdin_once: bool,
    stdin_closing: bool,
    tty: bool,
    master: Option<File>,
    console: Option<super::console::ConsoleSocket>,
    runtime_stdin: Option<OwnedFd>,
    slots: Vec<Slot>,
}

fn set_nonblocking(fd: &impl AsRawFd) {
    // SAFETY: F_GETFL/F_SETFL on an fd we own.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

impl Attach {
    /// From the `run` flags: `--tty 1 --console-socket PATH`, `--stdin 1`, `--stdin-once 1`, `--attach-socket PATH`.
    pub fn setup(flags: &HashMap<String, String>) -> std::io::Result<Attach> {
        let on = |k: &str| flags.get(k).is_some_and(|v| v == "1");
        let tty = on("tty");
        let mut a = Attach {
            listener: None,
            path: flags.get("attach-socket").cloned(),
            clients: Vec::new(),
            stdin: None,
            stdin_pending: Vec::new(),
            stdin_once: on("stdin-once"),
            stdin_closing: false,
            tty,
            master: None,
            console: None,
            runtime_stdin: None,
            slots: Vec::new(),
        };
        if tty {
            let path = flags
                .get("console-socket")
                .ok_or_else(|| std::io::Error::other("--tty needs --console-socket"))?;
            a.console = Some(super::console::ConsoleSocket::bind(path)?);
        } else if on("stdin") {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
            set_nonblocking(&w);
            a.runtime_stdin = Some(r);
            a.stdin = Some(File::from(w));
        }
        if let Some(p) = &a.path {
            let _ = std::fs::remove_file(p);
            let l = UnixListener::bind(p)?;
            l.set_nonblocking(true)?;
            a.listener = Some(l);
        }
        Ok(a)
    }

    /// Extra arguments for `<runtime> create`.
    pub fn runtime_args(&self, flags: &HashMap<String, String>) -> Vec<String> {
        match (&self.console, flags.get("console-socket")) {
            (Some(_), Some(p)) => vec!["--console-socket".into(), p.clone()],
            _ => vec![],
        }
    }

    /// What the runtime passes on as the container's stdin.
    pub fn runtime_stdin(&mut self) -> Stdio {
        match self.runtime_stdin.take() {
            Some(fd) => Stdio::from(fd),
            None => Stdio::null(),
        }
    }

    /// After a successful create: a tty container's pty master, to be read as its output.
    pub fn take_master(&mut self) -> std::io::Result<Option<File>> {
        let Some(console) = self.console.take() else {
            return Ok(None);
        };
        let master = console.receive()?;
        let input = master.try_clone()?;
        self.master = Some(master.try_clone()?);
        // The master is shared by reader and writer; non-blocking so neither stalls the loop.
        set_nonblocking(&input);
        self.stdin = Some(input);
        Ok(Some(master))
    }

    pub fn poll_fds<'a>(&'a mut self, fds: &mut Vec<PollFd<'a>>) {
        self.slots.clear();
        if let Some(l) = &self.listener {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            self.slots.push(Slot::Listener);
        }
        let reading = self.stdin_pending.len() < MAX_STDIN_PENDING;
        for (i, c) in self.clients.iter().enumerate() {
            let mut ev = PollFlags::empty();
            if reading {
                ev |= PollFlags::POLLIN;
            }
            if !c.backlog.is_empty() {
                ev |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.sock.as_fd(), ev));
            self.slots.push(Slot::Client(i));
        }
        if let (Some(s), false) = (&self.stdin, self.stdin_pending.is_empty()) {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLOUT));
            self.slots.push(Slot::Stdin);
        }
    }

    /// Handles what poll reported for the fds `poll_fds` added (in the same order).
    pub fn handle(&mut self, revents: &[PollFlags]) {
        let slots = std::mem::take(&mut self.slots);
        for (slot, rev) in slots.iter().zip(revents) {
            if rev.is_empty() {
                continue;
            }
            match *slot {
                Slot::Listener => self.accept(),
                Slot::Client(i) => {
                    if rev.contains(PollFlags::POLLOUT) {
                        flush_client(&mut self.clients[i]);
                    }
                    if rev.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                        self.read_client(i);
                    }
                }
                Slot::Stdin => self.flush_stdin(),
            }
        }
        let before = self.clients.len();
        self.clients.retain(|c| !c.gone);
        if self.clients.len() < before && self.stdin_once {
            // The first session is over: so is the container's stdin.
            self.close_stdin();
        }
    }

    /// Output of the container, to every attached client.
    pub fn broadcast(&mut self, kind: u8, data: &[u8]) {
        let kind = if self.tty { STDOUT } else { kind };
        for c in self.clients.iter_mut().filter(|c| !c.gone) {
            let mut frame = Vec::with_capacity(5 + data.len());
            frame.push(kind);
            frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
            frame.extend_from_slice(data);
            if c.backlog.is_empty() {
                match c.sock.write(&frame) {
                    Ok(n) => c.backlog.extend_from_slice(&frame[n..]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => c.backlog.extend_from_slice(&frame),
                    Err(_) => c.gone = true,
                }
            } else {
                c.backlog.extend_from_slice(&frame);
            }
            if c.backlog.len() > MAX_CLIENT_BACKLOG {
                c.gone = true;
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((sock, _)) = self
            .listener
            .as_ref()
            .map_or(Err(ErrorKind::NotFound.into()), |l| l.accept())
        {
            if self.clients.len() >= MAX_CLIENTS || sock.set_nonblocking(true).is_err() {
                continue;
            }
            self.clients.push(Client {
                sock,
                inbuf: Vec::new(),
                backlog: Vec::new(),
                gone: false,
            });
        }
    }

    fn read_client(&mut self, i: usize) {
        let mut buf = [0u8; 32 * 1024];
        loop {
            let c = &mut self.clients[i];
            match c.sock.read(&mut buf) {
                Ok(0) => {
                    c.gone = true;
                    break;
                }
                Ok(n) => c.inbuf.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    c.gone = true;
                    break;
                }
            }
            if c.inbuf.len() > MAX_STDIN_PENDING {
                break;
            }
        }
        self.frames(i);
    }

    fn frames(&mut self, i: usize) {
        loop {
            let c = &mut self.clients[i];
            if c.inbuf.len() < 5 {
                return;
            }
            let len = u32::from_be_bytes([c.inbuf[1], c.inbuf[2], c.inbuf[3], c.inbuf[4]]) as usize;
            if len > MAX_FRAME {
                c.gone = true;
                return;
            }
            if c.inbuf.len() < 5 + len {
                return;
            }
            let kind = c.inbuf[0];
            let data: Vec<u8> = c.inbuf[5..5 + len].to_vec();
            c.inbuf.drain(..5 + len);
            match kind {
                0 if self.stdin.is_some() => {
                    self.stdin_pending.extend_from_slice(&data);
                    self.flush_stdin();
                }
                3 if self.stdin_once => self.close_stdin(),
                4 => {
                    let text = String::from_utf8_lossy(&data);
                    let mut it = text.split_whitespace().map(|s| s.parse::<u16>());
                    if let (Some(Ok(cols)), Some(Ok(rows)), Some(m)) = (it.next(), it.next(), &self.master) {
                        super::console::resize(m, cols, rows);
                    }
                }
                _ => {}
            }
        }
    }

    fn flush_stdin(&mut self) {
        let Some(s) = self.stdin.as_mut() else {
            self.stdin_pending.clear();
            return;
        };
        while !self.stdin_pending.is_empty() {
            match s.write(&self.stdin_pending) {
                Ok(n) => {
                    self.stdin_pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => {
                    // The container closed its stdin: what is pending has nowhere to go.
                    self.stdin_pending.clear();
                    self.stdin = None;
                    return;
                }
            }
        }
        if self.stdin_closing {
            self.stdin = None;
        }
    }

    fn close_stdin(&mut self) {
        if self.tty {
            // A pty has no half-close; the line discipline's EOF character is what a terminal sends.
            self.stdin_pending.push(4);
            self.flush_stdin();
            return;
        }
        self.stdin_closing = true;
        self.flush_stdin();
    }
}

fn flush_client(c: &mut Client) {
    while !c.backlog.is_empty() {
        match c.sock.write(&c.backlog) {
            Ok(n) => {
                c.backlog.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(_) => {
                c.gone = true;
                return;
            }
        }
    }
}

impl Drop for Attach {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut f = vec![kind];
        f.extend_from_slice(&(data.len() as u32).to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    /// One poll round, as the monitor's loop does it.
    fn round(a: &mut Attach) {
        let mut fds = Vec::new();
        a.poll_fds(&mut fds);
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16));
        let revents: Vec<PollFlags> = fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())).collect();
        drop(fds);
        a.handle(&revents);
    }

    fn setup(stdin_once: bool) -> (Attach, File, tempdir::Dir) {
        let dir = tempdir::Dir::new();
        let mut flags = HashMap::new();
        flags.insert("stdin".to_string(), "1".to_string());
        flags.insert("stdin-once".to_string(), if stdin_once { "1" } else { "0" }.to_string());
        flags.insert("attach-socket".to_string(), dir.path("attach"));
        let mut a = Attach::setup(&flags).unwrap();
        // What the runtime would hand the container as its stdin: we read it here.
        let container_stdin = match a.runtime_stdin.take() {
            Some(fd) => File::from(fd),
            None => panic!("no stdin pipe"),
        };
        (a, container_stdin, dir)
    }

    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let p = std::env::temp_dir().join(format!("berth-attach-test-{}-{}", std::process::id(), rand()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self, name: &str) -> String {
                self.0.join(name).to_string_lossy().into_owned()
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        fn rand() -> u64 {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        }
    }

    #[test]
    fn input_reaches_stdin_output_reaches_clients_and_stdin_once_closes() {
        let (mut a, mut container_stdin, dir) = setup(true);
        let mut client = UnixStream::connect(dir.path("attach")).unwrap();
        round(&mut a); // accept
        client.write_all(&frame(0, b"echo hi\n")).unwrap();
        client.write_all(&frame(4, b"80 24")).unwrap(); // resize without a tty: ignored
        round(&mut a);
        let mut got = [0u8; 8];
        container_stdin.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"echo hi\n");

        a.broadcast(STDERR, b"oops");
        let mut back = [0u8; 9];
        client.read_exact(&mut back).unwrap();
        assert_eq!(back.to_vec(), frame(STDERR, b"oops"));

        // The first session's stdin ends: with stdin_once the container sees EOF.
        client.write_all(&frame(3, b"")).unwrap();
        round(&mut a);
        let mut rest = Vec::new();
        container_stdin.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn without_stdin_once_a_detach_leaves_stdin_open_and_oversized_frames_drop_the_client() {
        let (mut a, container_stdin, dir) = setup(false);
        let mut first = UnixStream::connect(dir.path("attach")).unwrap();
        round(&mut a);
        drop(first.write_all(&frame(3, b"")));
        drop(first);
        round(&mut a);
        assert!(a.stdin.is_some(), "stdin stays open for the next session");

        let mut bad = UnixStream::connect(dir.path("attach")).unwrap();
        round(&mut a);
        let mut huge = vec![0u8];
        huge.extend_from_slice(&(MAX_FRAME as u32 + 1).to_be_bytes());
        bad.write_all(&huge).unwrap();
        round(&mut a);
        assert!(
            a.clients.is_empty(),
            "a client announcing an oversized frame is dropped"
        );
        drop(container_stdin);
    }
}
