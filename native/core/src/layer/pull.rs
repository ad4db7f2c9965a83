//! A layer downloaded by the native side itself: the blob's HTTP body is read on the
//! extraction thread (`crate::fetch`) and fed straight into [`super::extract_from`], so
//! no byte crosses into JS and no buffer sits between the socket and the inflater.
//! A connection that drops mid-blob (or stalls past the idle timeout) is resumed with
//! `Range` from the byte reached — inside the reader, so the single extraction pass
//! never notices; a registry that ignores Range answers 200 and the bytes already seen
//! are skipped. 5xx, 429 and network errors are retried with backoff first.
use super::{extract_from, sink::Job, Expect, Extracted, LayerError};
use crate::fetch::{self, Body, FetchError, Request, TlsOptions};
use std::cell::RefCell;
use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Attempts per request (first try included) on 5xx, 429 and network errors.
pub const ATTEMPTS: u32 = 4;
/// Times one blob download may be resumed after its connection dropped.
pub const MAX_RESUMES: u32 = 5;
const BACKOFF: Duration = Duration::from_millis(250);

/// What to download, and where to extract it.
pub struct PullJob {
    pub extract: Job,
    pub url: String,
    /// The registry's Authorization header value, if any (never sent to another host).
    pub authorization: Option<String>,
    pub tls: TlsOptions,
    /// A read that waits longer than this fails (and is resumed).
    pub idle: Duration,
}

/// Shared with the caller while the pull runs: progress, and a way to stop it.
#[derive(Default)]
pub struct Control {
    bytes: AtomicU64,
    cancelled: AtomicBool,
    socket: Mutex<Option<TcpStream>>,
    /// Resumes not yet reported: (byte reached, why the connection ended).
    resumed: Mutex<Vec<(u64, String)>>,
}

impl Control {
    /// Bytes of the blob received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Stops the pull: a blocked read returns at once (its socket is shut down).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(s) = self.socket.lock().unwrap().take() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Takes the resumes that happened since the last call (for the daemon's log).
    pub fn take_resumes(&self) -> Vec<(u64, String)> {
        std::mem::take(&mut *self.resumed.lock().unwrap())
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The registry's final answer was not 2xx (after retries for 5xx/429).
    #[error("layer {layer}: {host} answered {status} for the blob")]
    Status {
        layer: String,
        host: String,
        status: u16,
        /// Its WWW-Authenticate header (a 401's challenge).
        challenge: Option<String>,
    },
    /// The network failed, after retries and resumes.
    #[error("layer {layer}: download failed: {source}")]
    Network { layer: String, source: FetchError },
    /// The certificate or the TLS handshake was refused (not retried).
    #[error("layer {layer}: {source}")]
    Tls { layer: String, source: FetchError },
    /// The registry's answer contradicts the descriptor (length, range).
    #[error("layer {layer}: {msg}")]
    Invalid { layer: String, msg: String },
    #[error("layer {layer}: download cancelled")]
    Cancelled { layer: String },
    /// Extraction or verification failed.
    #[error(transparent)]
    Layer(#[from] LayerError),
}

/// Downloads and extracts `job`; the blob's digest and size and the diffID are
/// verified as in [`super::extract`].
pub fn pull(job: PullJob, ctl: Arc<Control>) -> Result<Extracted, PullError> {
    let layer = job.extract.layer.clone();
    let tls = fetch::tls_config(&job.tls).map_err(|msg| PullError::Invalid {
        layer: layer.clone(),
        msg,
    })?;
    let failure = Rc::new(RefCell::new(None));
    let remote = Remote {
        url: job.url.clone(),
        authorization: job.authorization,
        tls,
        idle: job.idle,
        layer: layer.clone(),
        size: job.extract.size,
        ctl: ctl.clone(),
        body: None,
        received: 0,
        skip: 0,
        resumes: 0,
        failure: failure.clone(),
    };
    let want = Expect {
        digest: job.extract.digest.as_deref(),
        diff_id: job.extract.diff_id.as_deref(),
        size: job.extract.size,
    };
    let r = extract_from(
        remote,
        &job.url,
        &job.extract.dest,
        &layer,
        &want,
        job.extract.max_uncompressed,
    );
    // The download's own failure is the cause of the read error extraction reports.
    if let Some(f) = failure.borrow_mut().take() {
        return Err(f);
    }
    if ctl.is_cancelled() {
        return Err(PullError::Cancelled { layer });
    }
    Ok(r?)
}

/// The blob as one `Read`, whatever happens to the connections underneath.
struct Remote {
    url: String,
    authorization: Option<String>,
    tls: Arc<rustls::ClientConfig>,
    idle: Duration,
    layer: String,
    size: Option<u64>,
    ctl: Arc<Control>,
    body: Option<Body>,
    received: u64,
    /// Bytes to drop from the current body (a 200 where a 206 was asked for).
    skip: u64,
    resumes: u32,
    failure: Rc<RefCell<Option<PullError>>>,
}

impl Remote {
    /// Records why the download stopped and returns the error extraction will see.
    fn fail(&self, e: PullError) -> io::Error {
        let msg = e.to_string();
        *self.failure.borrow_mut() = Some(e);
        io::Error::other(msg)
    }

    fn backoff(&self, attempt: u32) {
        // ±25 % jitter from the clock, so layers retrying together spread out.
        let jitter = 0.75
            + f64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .subsec_nanos()
                    % 1000,
            ) / 2000.0;
        std::thread::sleep(BACKOFF.mul_f64(f64::from(1u32 << attempt.min(6)) * jitter));
    }

    /// Opens the body from `received` on, retrying transient failures.
    fn open(&mut self) -> Result<(), PullError> {
        let layer = || self.layer.clone();
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                self.backoff(attempt - 1);
            }
            if self.ctl.is_cancelled() {
                return Err(PullError::Cancelled { layer: layer() });
            }
            let headers = if self.received > 0 {
                vec![("Range", format!("bytes={}-", self.received))]
            } else {
                vec![]
            };
            let req = Request {
                url: &self.url,
                authorization: self.authorization.as_deref(),
                headers: &headers,
                tls: self.tls.clone(),
                idle: self.idle,
            };
            let res = match fetch::get(&req) {
                Ok(r) => r,
                Err(e) if e.transient() => {
                    last = Some(PullError::Network {
                        layer: layer(),
                        source: e,
                    });
                    continue;
                }
                Err(e @ FetchError::Tls { .. }) => {
                    return Err(PullError::Tls {
                        layer: layer(),
                        source: e,
                    })
                }
                Err(e) => {
                    return Err(PullError::Network {
                        layer: layer(),
                        source: e,
                    })
                }
            };
            let status = res.status;
            if status >= 500 || status == 429 {
                last = Some(PullError::Status {
                    layer: layer(),
                    host: res.host,
                    status,
                    challenge: None,
                });
                continue;
            }
            if !(200..300).contains(&status) {
                let challenge = res.header("www-authenticate").map(str::to_string);
                return Err(PullError::Status {
                    layer: layer(),
                    host: res.host,
                    status,
                    challenge,
                });
            }
            let mut skip = 0;
            if self.received > 0 && status != 206 {
                skip = self.received;
            } else if status == 206
                && !res
                    .header("content-range")
                    .unwrap_or("")
                    .starts_with(&format!("bytes {}-", self.received))
            {
                return Err(PullError::Invalid {
                    layer: layer(),
                    msg: format!(
                        "{} answered range {:?} for bytes {}- of the blob",
                        res.host,
                        res.header("content-range"),
                        self.received
                    ),
                });
            }
            if let (Some(len), Some(size)) = (res.body.length(), self.size) {
                if len.saturating_sub(skip) > size.saturating_sub(self.received) {
                    return Err(PullError::Invalid {
                        layer: layer(),
                        msg: format!(
                            "{} sends {} bytes, but the descriptor says {size}",
                            res.host,
                            len - skip + self.received
                        ),
                    });
                }
            }
            *self.ctl.socket.lock().unwrap() = res.body.socket().ok();
            // Cancelled between the check above and the socket being published.
            if self.ctl.is_cancelled() {
                return Err(PullError::Cancelled { layer: layer() });
            }
            self.skip = skip;
            self.body = Some(res.body);
            return Ok(());
        }
        Err(last.expect("at least one attempt"))
    }
}

impl Read for Remote {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.ctl.is_cancelled() {
                return Err(self.fail(PullError::Cancelled {
                    layer: self.layer.clone(),
                }));
            }
            if self.body.is_none() {
                if let Err(e) = self.open() {
                    return Err(self.fail(e));
                }
            }
            let body = self.body.as_mut().expect("opened");
            let err = match body.read(buf) {
                // A close-delimited body that ends short of the descriptor's size was cut.
                Ok(0) if self.size.is_some_and(|s| self.received < s) => io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("connection closed after {} bytes", self.received),
                ),
                Ok(0) => return Ok(0),
                Ok(n) if self.skip > 0 => {
                    let drop = (n as u64).min(self.skip);
                    self.skip -= drop;
                    if (drop as usize) < n {
                        buf.copy_within(drop as usize..n, 0);
                        return Ok(self.took(n - drop as usize));
                    }
                    continue;
                }
                Ok(n) => return Ok(self.took(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => e,
            };
            self.body = None;
            *self.ctl.socket.lock().unwrap() = None;
            if self.ctl.is_cancelled() {
                return Err(self.fail(PullError::Cancelled {
                    layer: self.layer.clone(),
                }));
            }
            if self.resumes >= MAX_RESUMES {
                let source = FetchError::Io {
                    host: self.url.clone(),
                    source: err,
                };
                return Err(self.fail(PullError::Network {
                    layer: self.layer.clone(),
                    source,
                }));
            }
            self.ctl.resumed.lock().unwrap().push((self.received, err.to_string()));
            self.backoff(self.resumes);
            self.resumes += 1;
        }
    }
}

impl Remote {
    fn took(&mut self, n: usize) -> usize {
        self.received += n as u64;
        self.ctl.bytes.store(self.received, Ordering::Relaxed);
        n
    }
}
