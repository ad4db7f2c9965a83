//! berth-core: the privileged, performance-critical work of the berth runtime.
//! Each domain module has its own error enum; nothing here knows about napi.
pub mod beneath;
pub mod cgdetail;
pub mod cgroup;
pub mod cgstats;
pub mod crilog;
pub mod fetch;
pub mod layer;
pub mod mount;
pub mod notify;
pub mod ns;
pub mod proc;
pub mod release;
pub mod tree;
pub mod userns;
