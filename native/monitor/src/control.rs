//! Control requests from berthd to a running monitor, by signal (read through the same
//! signalfd as SIGCHLD, so the poll loop stays single-threaded):
//!   SIGUSR1 — reopen the container log (ReopenContainerLog: the kubelet renamed the
//!             file to rotate it; writing on would fill the rotated copy).
//! The signals are blocked before the monitor reports the container's PID (berthd asks
//! nothing before that), so a request that arrives before the poll loop runs waits
//! instead of killing the monitor; berthd also checks the mask before it signals.
use berth_core::beneath;
use nix::sys::signal::{SigSet, Signal};
use std::fs::File;
use std::path::Path;

pub const REOPEN_LOG: Signal = Signal::SIGUSR1;

/// The signals the monitor takes through its signalfd.
pub fn signals() -> SigSet {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.add(REOPEN_LOG);
    mask
}

/// Opens the log afresh at the same confined path (created if the kubelet moved the
/// old one away; appended to if it is still there). On failure the old file is kept,
/// so output is never lost, and the reason goes to the monitor log.
pub fn reopen_log(id: &str, log_root: &str, log_rel: &str, log: &mut File) {
    match beneath::create_log_file(Path::new(log_root), Path::new(log_rel)) {
        Ok(f) => *log = f,
        Err(e) => eprintln!("berth-monitor {id}: reopen log: {e}"),
    }
}
