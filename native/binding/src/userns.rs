//! Pod user namespaces: the namespace with its mappings (core userns.rs) and idmapped
//! binds through it (core mount::idmap_bind).
use crate::err;
use berth_core::{mount, userns};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::path::PathBuf;

/// One uid_map/gid_map range: `container_id` inside is `host_id` on the host, `length` ids.
#[napi(object)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub length: u32,
}

fn core_maps(m: &[IdMapping]) -> Vec<userns::IdMap> {
    m.iter()
        .map(|m| userns::IdMap {
            container_id: m.container_id,
            host_id: m.host_id,
            length: m.length,
        })
        .collect()
}

pub struct UsernsTask {
    dir: PathBuf,
    kinds: Vec<String>,
    hostname: Option<String>,
    uids: Vec<userns::IdMap>,
    gids: Vec<userns::IdMap>,
}

impl Task for UsernsTask {
    type Output = Vec<String>;
    type JsValue = Vec<String>;
    fn compute(&mut self) -> Result<Self::Output> {
        let pins = userns::pin_user_namespace(&self.dir, &self.kinds, self.hostname.as_deref(), &self.uids, &self.gids)
            .map_err(err)?;
        Ok(pins.iter().map(|p| p.display().to_string()).collect())
    }
    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

/// Creates a user namespace with the given mappings and, owned by it, new namespaces of
/// `kinds` ("net", "ipc", "uts"; the hostname set when uts is among them); pins them at
/// `<dir>/user` and `<dir>/<kind>`. Resolves to the pin paths, user first.
#[napi(ts_return_type = "Promise<string[]>")]
pub fn pin_user_namespace(
    dir: String,
    kinds: Vec<String>,
    hostname: Option<String>,
    uids: Vec<IdMapping>,
    gids: Vec<IdMapping>,
) -> AsyncTask<UsernsTask> {
    AsyncTask::new(UsernsTask {
        dir: dir.into(),
        kinds,
        hostname,
        uids: core_maps(&uids),
        gids: core_maps(&gids),
    })
}

/// An idmapped bind of `source` (recursive) at `target` through the user namespace pinned
/// at `userns`; `target` is made (directory or empty file) if missing.
#[napi]
pub fn idmap_bind(source: String, target: String, userns: String) -> Result<()> {
    mount::idmap_bind(&source, &target, &userns).map_err(err)
}
