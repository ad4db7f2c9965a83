//! `berth-monitor rro <rootfs> <dest>...`: an OCI createContainer hook. The runtime runs
//! it in the container's mount namespace once the mounts are in place, before pivot_root;
//! each `<dest>` (resolved in `<rootfs>` as the runtime resolved it) is made read-only all the way down (mount_setattr with
//! AT_RECURSIVE), which runc 1.1 and crun 1.8 cannot do from the spec. Done in the
//! container's namespace, not the host's, so the host's submounts stay free to go.
use berth_core::mount::readonly_recursive_in_root;
use std::path::Path;

pub fn rro(args: &[String]) -> i32 {
    let Some((rootfs, dests)) = args.split_first() else {
        eprintln!("usage: berth-monitor rro <rootfs> <dest>...");
        return 2;
    };
    for d in dests {
        if let Err(e) = readonly_recursive_in_root(Path::new(rootfs), Path::new(d)) {
            eprintln!("berth-monitor rro: {rootfs} {d}: {e}");
            return 1;
        }
    }
    0
}
