//! A layer fed chunk by chunk (an HTTP body, as it arrives) instead of from a file: the
//! chunks cross a bounded channel to a worker thread that runs [`super::extract_from`]
//! on them. The channel's capacity is the whole buffer a layer may hold (so memory stays
//! bounded however fast the registry sends), and a full channel makes the producer wait
//! — backpressure — without blocking anything else: `write` is async.
use super::{extract_from, Expect, Extracted, LayerError};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Chunks buffered per layer before `write` waits. berthd writes chunks of up to 1 MiB,
/// so a layer holds at most ~4 MiB in flight (enough: the worker takes a few ms per
/// chunk, the event loop refills in less; 8 cost 12 MiB more RSS over 3 layers, no speed).
pub const CAPACITY: usize = 4;

/// What the worker is told to extract, and where.
pub struct Job {
    pub dest: PathBuf,
    pub layer: String,
    pub digest: Option<String>,
    pub diff_id: Option<String>,
    pub size: Option<u64>,
    pub max_uncompressed: u64,
}

/// The worker's half: reads chunks until the producer closes (end of blob) or aborts.
struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    aborted: Arc<AtomicBool>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                // An aborted download must not look like a clean end of the blob.
                None if self.aborted.load(Ordering::SeqCst) => return Err(io::Error::other("download aborted")),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The producer's half.
pub struct Sink {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    done: Option<oneshot::Receiver<Result<Extracted, LayerError>>>,
    aborted: Arc<AtomicBool>,
}

/// The worker stopped reading (it failed, or the sink was finished): `finish` tells why.
#[derive(Debug, thiserror::Error)]
#[error("layer extraction is no longer reading")]
pub struct Closed;

impl Sink {
    /// Starts the worker thread for `job`.
    pub fn start(job: Job) -> io::Result<Sink> {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let (done_tx, done) = oneshot::channel();
        let aborted = Arc::new(AtomicBool::new(false));
        let reader = ChannelReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            aborted: aborted.clone(),
        };
        std::thread::Builder::new().name("berth-layer".into()).spawn(move || {
            let want = Expect {
                digest: job.digest.as_deref(),
                diff_id: job.diff_id.as_deref(),
                size: job.size,
            };
            let r = extract_from(
                reader,
                "<http body>",
                &job.dest,
                &job.layer,
                &want,
                job.max_uncompressed,
            );
            // The producer may be gone; nobody to tell then.
            let _ = done_tx.send(r);
        })?;
        Ok(Sink {
            tx: Some(tx),
            done: Some(done),
            aborted,
        })
    }

    /// A handle to send with, or None once finished/aborted.
    pub fn sender(&self) -> Option<mpsc::Sender<Vec<u8>>> {
        self.tx.clone()
    }

    /// Ends the blob; the returned receiver yields the extraction's result.
    pub fn finish(&mut self) -> Option<oneshot::Receiver<Result<Extracted, LayerError>>> {
        self.tx = None;
        self.done.take()
    }

    /// Ends the blob as failed: the worker stops with an error instead of checking a
    /// partial blob.
    pub fn abort(&mut self) -> Option<oneshot::Receiver<Result<Extracted, LayerError>>> {
        self.aborted.store(true, Ordering::SeqCst);
        self.finish()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Dropped without finish (e.g. garbage-collected): stop the worker as aborted.
        if self.tx.is_some() {
            self.aborted.store(true, Ordering::SeqCst);
        }
    }
}

/// Sends one chunk, waiting while the channel is full.
pub async fn send(tx: &mpsc::Sender<Vec<u8>>, chunk: Vec<u8>) -> Result<(), Closed> {
    tx.send(chunk).await.map_err(|_| Closed)
}
