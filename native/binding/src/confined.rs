//! napi glue for reads beneath a container's rootfs, read-only overlays (image users,
//! image volumes) and pod /dev/shm: kept apart from lib.rs so merges stay easy.
use crate::err;
use berth_core::{beneath, mount};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::path::PathBuf;

pub struct ReadBeneathTask {
    root: PathBuf,
    rel: PathBuf,
    max: u64,
}

impl Task for ReadBeneathTask {
    type Output = Option<Vec<u8>>;
    type JsValue = Option<Buffer>;
    fn compute(&mut self) -> Result<Self::Output> {
        beneath::read_file_beneath(&self.root, &self.rel, self.max).map_err(err)
    }
    fn resolve(&mut self, _env: Env, o: Self::Output) -> Result<Self::JsValue> {
        Ok(o.map(Buffer::from))
    }
}

/// Reads the regular file `rel` beneath `root` (no symlink followed, no `..` out), at most
/// `maxBytes`; null when it does not exist, an error when it is larger or not regular.
#[napi(ts_return_type = "Promise<Buffer | null>")]
pub fn read_file_beneath(root: String, rel: String, max_bytes: u32) -> AsyncTask<ReadBeneathTask> {
    AsyncTask::new(ReadBeneathTask {
        root: root.into(),
        rel: rel.into(),
        max: u64::from(max_bytes),
    })
}

/// "dir", "file", "symlink" or "other" for `rel` beneath `root` (nothing followed), null
/// if missing; a symlink among its parents is an error.
#[napi]
pub fn kind_beneath(root: String, rel: String) -> Result<Option<String>> {
    beneath::kind_beneath(root.as_ref(), rel.as_ref())
        .map(|k| k.map(str::to_string))
        .map_err(err)
}

pub struct MountReadonlyTask {
    lowers: Vec<String>,
    target: String,
}

impl Task for MountReadonlyTask {
    type Output = ();
    type JsValue = ();
    fn compute(&mut self) -> Result<()> {
        mount::mount_overlay_readonly(&self.lowers, &self.target).map_err(err)
    }
    fn resolve(&mut self, _env: Env, _o: ()) -> Result<()> {
        Ok(())
    }
}

/// Mounts a read-only overlay of `lowers` (top-most first, at least two) at `target`.
#[napi(ts_return_type = "Promise<void>")]
pub fn mount_overlay_readonly(lowers: Vec<String>, target: String) -> AsyncTask<MountReadonlyTask> {
    AsyncTask::new(MountReadonlyTask { lowers, target })
}

/// Mounts a pod's /dev/shm: a tmpfs of at most `sizeBytes` at `target`.
#[napi]
pub fn mount_shm(target: String, size_bytes: f64) -> Result<()> {
    mount::mount_shm(&target, size_bytes as u64).map_err(err)
}

/// Creates the directory `rel` and its missing parents (0755) beneath `root`, following no
/// symlink and never climbing out (an image VOLUME inside the container's rootfs).
#[napi]
pub fn mkdir_beneath(root: String, rel: String) -> Result<()> {
    let dir = std::fs::File::open(&root).map_err(|e| err(format!("{root}: {e}")))?;
    beneath::mkdir_all_beneath(std::os::fd::AsFd::as_fd(&dir), rel.as_ref(), 0o755)
        .map(drop)
        .map_err(|e| err(format!("{rel}: {e}")))
}
