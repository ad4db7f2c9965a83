//! Response bodies: Content-Length, chunked, or until the peer closes (we always send
//! `Connection: close`, so nothing after the body is ever read).
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// The connection under a body: plain TCP or rustls over it.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => match s.read(buf) {
                // A registry that closes without close_notify after a complete body is
                // common; the length checks above us catch a truncated one.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

enum Framing {
    Length(u64),
    /// Bytes left in the current chunk; `None` before a chunk-size line, `Some(0)` at the end.
    Chunked(Option<u64>, bool),
    Close,
}

/// A response body. Reading past a Content-Length never happens; a body that ends early
/// is an `UnexpectedEof` error (the caller resumes it), never a short clean end.
pub struct Body {
    r: BufReader<Stream>,
    framing: Framing,
    host: String,
}

impl Body {
    pub(super) fn new(r: BufReader<Stream>, chunked: bool, length: Option<u64>, host: String) -> Body {
        let framing = match (chunked, length) {
            (true, _) => Framing::Chunked(None, false),
            (false, Some(n)) => Framing::Length(n),
            (false, None) => Framing::Close,
        };
        Body { r, framing, host }
    }

    /// The Content-Length, if the response gave one (and is not chunked).
    pub fn length(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        }
    }

    /// A second handle on the socket, to shut it down from another thread (cancel).
    pub fn socket(&self) -> io::Result<TcpStream> {
        self.r.get_ref().tcp().try_clone()
    }

    fn early_eof(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{} closed the connection mid-body", self.host),
        )
    }

    fn chunk_line(&mut self) -> io::Result<u64> {
        let mut line = Vec::new();
        self.r.by_ref().take(1024).read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(self.early_eof());
        }
        let text = String::from_utf8_lossy(&line);
        let size = text.trim().split(';').next().unwrap_or("");
        u64::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {size:?}")))
    }

    fn crlf(&mut self) -> io::Result<()> {
        let mut line = Vec::new();
        self.r.by_ref().take(2).read_until(b'\n', &mut line)?;
        if line != b"\r\n" && line != b"\n" {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "chunk not followed by CRLF"));
        }
        Ok(())
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.framing {
            Framing::Length(0) => Ok(0),
            Framing::Length(left) => {
                let max = buf.len().min(left.min(usize::MAX as u64) as usize);
                let n = self.r.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(self.early_eof());
                }
                self.framing = Framing::Length(left - n as u64);
                Ok(n)
            }
            Framing::Close => self.r.read(buf),
            Framing::Chunked(_, true) => Ok(0),
            Framing::Chunked(None, false) => {
                let size = self.chunk_line()?;
                if size == 0 {
                    // Trailers (ignored) up to the blank line.
                    loop {
                        let mut line = Vec::new();
                        self.r.by_ref().take(8192).read_until(b'\n', &mut line)?;
                        if line.is_empty() || line == b"\r\n" || line == b"\n" {
                            break;
                        }
                    }
                    self.framing = Framing::Chunked(Some(0), true);
                    return Ok(0);
                }
                self.framing = Framing::Chunked(Some(size), false);
                self.read(buf)
            }
            Framing::Chunked(Some(left), false) => {
                let max = buf.len().min(left.min(usize::MAX as u64) as usize);
                let n = self.r.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(self.early_eof());
                }
                let left = left - n as u64;
                if left == 0 {
                    self.crlf()?;
                    self.framing = Framing::Chunked(None, false);
                } else {
                    self.framing = Framing::Chunked(Some(left), false);
                }
                Ok(n)
            }
        }
    }
}
