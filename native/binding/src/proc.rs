//! Short-lived commands run natively (posix_spawn, see berth_core::proc for why), each
//! waited for on a thread of its own so that none holds one of libuv's few pool threads.
use crate::err;
use berth_core::proc;
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;
use std::time::Duration;

#[napi(object)]
pub struct RunProcessOptions {
    /// An absolute path.
    pub program: String,
    pub args: Vec<String>,
    /// The whole environment as KEY=VALUE; absent: berthd's own.
    pub env: Option<Vec<String>>,
    pub input: Option<String>,
    pub max_output: u32,
    /// 0: no limit.
    pub timeout_ms: u32,
    pub drain_ms: u32,
}

#[napi(object)]
pub struct RunProcessOutcome {
    /// The exit code; 128 when a signal ended the command.
    pub code: i32,
    pub signal: i32,
    pub stdout: Buffer,
    pub stderr: Buffer,
    pub stdout_dropped: f64,
    pub stderr_dropped: f64,
    pub timed_out: bool,
}

/// Runs a command to completion; rejects only when it cannot be started (ENOENT, EACCES…).
/// The worker thread settles the promise itself: one wake-up of the JS thread, no hop
/// through a runtime in between (each hop is a scheduling delay on a loaded node).
#[napi(ts_return_type = "Promise<RunProcessOutcome>")]
pub fn run_process(env: &Env, opts: RunProcessOptions) -> Result<Object<'_>> {
    let spec = proc::RunSpec {
        program: opts.program,
        args: opts.args,
        env: opts.env,
        input: opts.input.map(String::into_bytes).unwrap_or_default(),
        max_output: opts.max_output as usize,
        timeout: Duration::from_millis(u64::from(opts.timeout_ms)),
        drain: Duration::from_millis(u64::from(opts.drain_ms)),
    };
    let (deferred, promise) = env.create_deferred()?;
    std::thread::Builder::new()
        .name("berth-run".into())
        .spawn(move || {
            let what = spec.program.clone();
            match proc::run(spec) {
                Ok(o) => deferred.resolve(move |_| {
                    Ok(RunProcessOutcome {
                        code: o.code,
                        signal: o.signal,
                        stdout: o.stdout.into(),
                        stderr: o.stderr.into(),
                        stdout_dropped: o.stdout_dropped as f64,
                        stderr_dropped: o.stderr_dropped as f64,
                        timed_out: o.timed_out,
                    })
                }),
                Err(e) => deferred.reject(Error::new(Status::GenericFailure, format!("spawn {what}: {e}"))),
            }
        })
        .map_err(err)?;
    Ok(promise)
}

#[napi(object)]
pub struct DetachedStart {
    pub pid: u32,
    /// The child's first line of stdout (its report); absent on EOF or timeout.
    pub line: Option<String>,
    pub timed_out: bool,
}

/// Starts a long-lived child that reports one line on stdout (berth-monitor), waits for
/// that line (or EOF, or the time limit) and leaves it running; it is reaped natively when
/// it exits. `stderr_fd` is duplicated, so the caller may close its own copy at once.
#[napi(ts_return_type = "Promise<DetachedStart>")]
pub fn spawn_detached(
    env: &Env,
    program: String,
    args: Vec<String>,
    argv0: Option<String>,
    stderr_fd: Option<i32>,
    timeout_ms: u32,
) -> Result<Object<'_>> {
    let stderr = match stderr_fd {
        Some(fd) => {
            let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
            if d < 0 {
                return Err(err(format!("dup stderr fd {fd}: {}", std::io::Error::last_os_error())));
            }
            Some(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(d) })
        }
        None => None,
    };
    let (deferred, promise) = env.create_deferred()?;
    std::thread::Builder::new()
        .name("berth-spawn".into())
        .spawn(move || {
            match proc::spawn_detached(
                &program,
                &args,
                argv0.as_deref(),
                stderr,
                Duration::from_millis(u64::from(timeout_ms)),
            ) {
                Ok(d) => deferred.resolve(move |_| {
                    Ok(DetachedStart {
                        pid: d.pid,
                        line: d.line.map(|l| String::from_utf8_lossy(&l).into_owned()),
                        timed_out: d.timed_out,
                    })
                }),
                Err(e) => deferred.reject(Error::new(Status::GenericFailure, format!("spawn {program}: {e}"))),
            }
        })
        .map_err(err)?;
    Ok(promise)
}
