//! The pty master of a `--tty` process. The OCI runtime creates the pty inside the
//! container and hands the master to whoever listens on `--console-socket`, as one
//! SCM_RIGHTS message. We listen on a filesystem socket in a directory only root can
//! enter (never an abstract socket), take the one fd, and remove the socket.
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::fs::File;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

pub struct ConsoleSocket {
    listener: UnixListener,
    path: String,
}

impl ConsoleSocket {
    pub fn bind(path: &str) -> std::io::Result<Self> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(Path::new(path))?;
        listener.set_nonblocking(true)?;
        Ok(ConsoleSocket {
            listener,
            path: path.to_string(),
        })
    }

    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    /// Accepts the runtime's connection and takes the master fd it sends.
    pub fn receive(&self) -> std::io::Result<File> {
        let (conn, _) = self.listener.accept()?;
        conn.set_nonblocking(false)?;
        receive_fd(&conn)
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn receive_fd(conn: &UnixStream) -> std::io::Result<File> {
    let mut name = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(std::io::Error::from)?;
    for c in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                for &extra in &fds[1..] {
                    let _ = nix::unistd::close(extra);
                }
                // SAFETY: the fd was just received and is owned by nobody else.
                return Ok(unsafe { File::from_raw_fd(fd) });
            }
        }
    }
    Err(std::io::Error::other("console socket: no file descriptor received"))
}

/// Applies a window size to the pty.
pub fn resize(master: &impl AsRawFd, cols: u16, rows: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct that lives through the call.
    unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

/// Reads `COLS ROWS\n` lines from `control` and resizes the pty until EOF.
pub fn apply_resizes(control: File, master: File) {
    use std::io::BufRead;
    for line in std::io::BufReader::new(control).lines() {
        let Ok(line) = line else { break };
        let mut it = line.split_whitespace().map(|s| s.parse::<u16>());
        if let (Some(Ok(c)), Some(Ok(r))) = (it.next(), it.next()) {
            resize(&master, c, r);
        }
    }
}
