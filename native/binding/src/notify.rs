//! sd_notify for berthd (systemd Type=notify).
use berth_core::notify;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Sends `state` to the datagram socket `socket` ($NOTIFY_SOCKET).
#[napi]
pub fn sd_notify(socket: String, state: String) -> Result<()> {
    notify::notify(&socket, &state)
        .map_err(|e| Error::new(Status::GenericFailure, format!("sd_notify to {socket}: {e}")))
}
