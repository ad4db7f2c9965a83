//! A small blocking HTTP/1.1 GET client for registry blobs, so a layer's bytes go from
//! the socket straight into extraction on one native thread and never cross the JS
//! heap. It does only what a blob download needs: `http://` over TCP and `https://`
//! over rustls (system roots plus extra CA certificates, or no verification for an
//! `insecure` registry), Content-Length / chunked / close-delimited bodies, redirects
//! followed by hand with credentials kept to the registry's own host (blob downloads
//! redirect to storage hosts), and an idle timeout on every read (a stalled registry
//! fails; a slow one does not). Retries and Range resume live one level up
//! (`layer::pull`), where the byte count is known.
mod body;
mod tls;

pub use body::Body;
pub use tls::{tls_config, ClientCert, TlsOptions};

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Hops followed before giving up (the TS registry client's limit too).
pub const MAX_REDIRECTS: usize = 5;
/// A response head larger than this is refused (registries send ~1 KiB).
const MAX_HEAD: usize = 64 * 1024;
/// Socket read buffer: large reads keep syscalls few at loopback speeds.
const READ_BUF: usize = 128 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("bad URL {0:?}")]
    BadUrl(String),
    #[error("{host} unreachable: {source}")]
    Connect { host: String, source: io::Error },
    #[error("TLS with {host}: {msg}")]
    Tls { host: String, msg: String },
    #[error("reading from {host} failed: {source}")]
    Io { host: String, source: io::Error },
    #[error("{host} sent a malformed response: {msg}")]
    Protocol { host: String, msg: String },
    #[error("{host}: more than {MAX_REDIRECTS} redirects")]
    Redirects { host: String },
}

impl FetchError {
    /// A failure worth retrying (the network or the peer, not our request).
    pub fn transient(&self) -> bool {
        matches!(
            self,
            FetchError::Connect { .. } | FetchError::Io { .. } | FetchError::Protocol { .. }
        )
    }
}

/// One GET: where, with which headers, over which TLS, with which idle timeout.
pub struct Request<'a> {
    pub url: &'a str,
    /// Sent only to `url`'s own host, never after a redirect to another one.
    pub authorization: Option<&'a str>,
    /// Other headers (e.g. Range), sent on every hop.
    pub headers: &'a [(&'a str, String)],
    pub tls: Arc<rustls::ClientConfig>,
    pub idle: Duration,
}

/// A response: status, headers (names lowercased) and the body to read.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// host[:port] that answered (after redirects): for error messages.
    pub host: String,
    pub body: Body,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A parsed `http(s)://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Url {
    pub tls: bool,
    /// host[:port] as written (the Host header, and what credentials are keyed on).
    pub authority: String,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, FetchError> {
        let bad = || FetchError::BadUrl(s.into());
        let (tls, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad());
        }
        let default = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(bad)?;
            let port = match &v6[end + 1..] {
                "" => default,
                p => p.strip_prefix(':').and_then(|p| p.parse().ok()).ok_or_else(bad)?,
            };
            (v6[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
                None => (authority.to_string(), default),
            }
        };
        Ok(Url {
            tls,
            authority: authority.to_string(),
            host,
            port,
            path: path.to_string(),
        })
    }

    /// Resolves a Location header against this URL (absolute, scheme-relative or path).
    fn join(&self, location: &str) -> Result<Url, FetchError> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Url::parse(location);
        }
        let scheme = if self.tls { "https" } else { "http" };
        if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("{scheme}://{rest}"));
        }
        let path = if location.starts_with('/') {
            location.to_string()
        } else {
            let dir = &self.path[..self
                .path
                .split('?')
                .next()
                .unwrap_or("")
                .rfind('/')
                .map_or(0, |i| i + 1)];
            format!("{dir}{location}")
        };
        Url::parse(&format!("{scheme}://{}{path}", self.authority))
    }
}

/// GETs `req.url`, following redirects, and returns the final response (any status).
pub fn get(req: &Request) -> Result<Response, FetchError> {
    let origin = Url::parse(req.url)?;
    let mut url = origin.clone();
    for _ in 0..=MAX_REDIRECTS {
        // Credentials only ever go to the registry's own host.
        let auth = req.authorization.filter(|_| url.authority == origin.authority);
        let res = once(&url, auth, req)?;
        if matches!(res.status, 301 | 302 | 303 | 307 | 308) {
            if let Some(loc) = res.header("location") {
                url = url.join(loc)?;
                continue;
            }
        }
        return Ok(res);
    }
    Err(FetchError::Redirects { host: origin.authority })
}

fn once(url: &Url, auth: Option<&str>, req: &Request) -> Result<Response, FetchError> {
    let host = url.authority.clone();
    let addrs: Vec<_> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|source| FetchError::Connect {
            host: host.clone(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    let mut tcp = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, req.idle) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let tcp = tcp.ok_or_else(|| FetchError::Connect {
        host: host.clone(),
        source: last,
    })?;
    let io_err = |source| FetchError::Io {
        host: host.clone(),
        source,
    };
    tcp.set_read_timeout(Some(req.idle)).map_err(io_err)?;
    tcp.set_write_timeout(Some(req.idle)).map_err(io_err)?;
    tcp.set_nodelay(true).map_err(io_err)?;
    let mut stream = if url.tls {
        tls::connect(tcp, &url.host, req.tls.clone()).map_err(|msg| FetchError::Tls {
            host: host.clone(),
            msg,
        })?
    } else {
        body::Stream::Plain(tcp)
    };
    // A value with a line break would smuggle headers: refuse it.
    if auth
        .into_iter()
        .chain(req.headers.iter().map(|(_, v)| v.as_str()))
        .any(|v| v.contains(['\r', '\n']))
    {
        return Err(FetchError::BadUrl("header value with a line break".into()));
    }
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: berth\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n",
        url.path, url.authority
    );
    if let Some(a) = auth {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    for (k, v) in req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.flush())
        .map_err(|e| classify(&host, e))?;
    let mut r = BufReader::with_capacity(READ_BUF, stream);
    let (status, headers) = read_head(&mut r).map_err(|e| match e {
        Head::Io(e) => classify(&host, e),
        Head::Bad(msg) => FetchError::Protocol {
            host: host.clone(),
            msg,
        },
    })?;
    let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let chunked = find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = match find("content-length") {
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| FetchError::Protocol {
            host: host.clone(),
            msg: format!("content-length {v:?}"),
        })?),
        None => None,
    };
    let body = Body::new(r, chunked, length, host.clone());
    Ok(Response {
        status,
        headers,
        host,
        body,
    })
}

/// A TLS alert or handshake failure shows up as an io::Error from rustls: name it.
fn classify(host: &str, e: io::Error) -> FetchError {
    if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
        FetchError::Tls {
            host: host.into(),
            msg: e.to_string(),
        }
    } else {
        FetchError::Io {
            host: host.into(),
            source: e,
        }
    }
}

enum Head {
    Io(io::Error),
    Bad(String),
}

/// Reads and parses the status line and headers (1xx interim responses skipped).
fn read_head<R: BufRead>(r: &mut R) -> Result<(u16, Vec<(String, String)>), Head> {
    loop {
        let mut buf = Vec::new();
        loop {
            let before = buf.len();
            let n = Read::take(&mut *r, (MAX_HEAD - before) as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(Head::Io)?;
            if n == 0 {
                return Err(Head::Bad("connection closed before the response head ended".into()));
            }
            if buf.len() > MAX_HEAD {
                return Err(Head::Bad(format!("response head over {MAX_HEAD} bytes")));
            }
            if buf.ends_with(b"\r\n\r\n") || buf.ends_with(b"\n\n") {
                break;
            }
        }
        let mut hs = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut hs);
        match res.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(Head::Bad("incomplete head".into())),
            Err(e) => return Err(Head::Bad(e.to_string())),
        }
        let status = res.code.unwrap_or(0);
        if (100..200).contains(&status) {
            continue;
        }
        let headers = res
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect();
        return Ok((status, headers));
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testserver;
