//! Hands back the page-table entries of a long-lived process's own code and read-only
//! data once it has gone quiet, and glibc's free heap pages with them.
//!
//! Why: the kernel maps file-backed text in fault-around windows (64 KiB by default), so a
//! one-off path (start-up, argument parsing, a module compiled once) keeps whole windows of
//! the binary mapped, i.e. counted in the process's RSS, for the rest of its life. For the
//! monitor that is most of its binary; for berthd it is most of node's 120 MB executable
//! that start-up touched (V8's snapshot, every builtin module's source and code) — about
//! 50 MB resident after start-up, of which one ordinary RPC later touches ~17 MB.
//!
//! Why this is sound: it only touches the `PT_LOAD` segments that are not writable (code,
//! read-only data, relocation tables) of the executable and of the object this function is
//! linked into (berthd's napi addon; the monitor is one static executable), and only when
//! that object has no text relocations, so every page there is still an unmodified private
//! mapping of the file. `MADV_DONTNEED` on such pages drops this process's mapping of them
//! and nothing else: the next access faults the same bytes back in from the page cache —
//! exactly what happens after the kernel reclaims clean file pages under memory pressure,
//! which it may do at any time. Writable segments (data, bss, the RELRO part with the
//! relocated GOT, whose pages are private copies) are never touched, nor is any other
//! mapping (the heap, stacks, other shared libraries). A mapping that holds a private copy
//! of any page is left alone as well: that is where a debugger's breakpoint or a uprobe
//! (bpftrace, perf) lives, and dropping the copy would silently remove it.
//!
//! What it does not do: the pages stay in the page cache, so this does not make memory
//! free on the host; it makes RSS show what the process still uses (its working set), and
//! leaves the rest to the kernel's ordinary reclaim of unmapped cache.
use std::ffi::c_int;

/// At most this many read-only segments are released (an object has two to four).
const MAX_RANGES: usize = 16;

/// Page-aligned `[start, end)` ranges to release, filled in by `each`.
struct Ranges {
    list: [(usize, usize); MAX_RANGES],
    len: usize,
    /// An address inside the object this function is linked into (found among the objects).
    own: usize,
    /// How many objects `each` has seen (the first is the executable).
    seen: usize,
}

/// Releases the clean file pages described above; returns how many bytes were advised
/// (resident or not). Call it from a quiet moment: what runs next faults its pages back.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub fn file_pages() -> usize {
    let mut ranges = Ranges {
        list: [(0, 0); MAX_RANGES],
        len: 0,
        own: file_pages as *const () as usize,
        seen: 0,
    };
    // SAFETY: dl_iterate_phdr calls `each` synchronously, with valid program headers and
    // the pointer to `ranges` it was given.
    unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut ranges).cast()) };
    // Only now, after the program headers were read and dl_iterate_phdr has returned:
    // code run after the madvise faults its pages back in, and nothing more should.
    let private = modified_mappings();
    let mut total = 0;
    for &(start, end) in &ranges.list[..ranges.len] {
        // A page with a private copy (a debugger's breakpoint, a uprobe) would lose it.
        if private.iter().any(|&(s, e)| s < end && start < e) {
            continue;
        }
        // SAFETY: see the module comment; these pages are clean private file pages.
        if unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) } == 0 {
            total += end - start;
        }
    }
    total
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
pub fn file_pages() -> usize {
    0
}

/// Returns glibc's free heap memory to the kernel (the main arena's top and every whole
/// free page inside any arena): after a burst of work it stays resident otherwise.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn malloc_heap() {
    // SAFETY: malloc_trim takes the arenas' locks itself; any thread may call it.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn malloc_heap() {}

/// The mappings that hold private (anonymous) copies of any page: a debugger's
/// breakpoint or a uprobe lives in such a copy of a text page, and an unreadable smaps
/// counts as everything being modified.
fn modified_mappings() -> Vec<(usize, usize)> {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return vec![(0, usize::MAX)];
    };
    let mut out = Vec::new();
    let mut current = (0, 0);
    for line in smaps.lines() {
        if let Some(kb) = line.strip_prefix("Anonymous:") {
            if kb.trim().trim_end_matches("kB").trim() != "0" {
                out.push(current);
            }
        } else if let Some((range, _)) = line.split_once(' ') {
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                    current = (a, b);
                }
            }
        }
    }
    out
}

// Not in the libc crate: <elf.h>.
const DT_NULL: i64 = 0;
const DT_TEXTREL: i64 = 22;
const DT_FLAGS: i64 = 30;
const DF_TEXTREL: u64 = 0x4;
#[repr(C)]
struct Elf64Dyn {
    d_tag: i64,
    d_val: u64,
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
unsafe extern "C" fn each(info: *mut libc::dl_phdr_info, _size: libc::size_t, data: *mut libc::c_void) -> c_int {
    // SAFETY (whole body): `info` and its program headers are valid for this call; the
    // dynamic section they point to is mapped, DT_NULL-terminated, of this object; `data`
    // is file_pages' `ranges`.
    let (info, ranges) = unsafe { (&*info, &mut *data.cast::<Ranges>()) };
    let first = ranges.seen == 0;
    ranges.seen += 1;
    let base = info.dlpi_addr as usize;
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let load = |p: &&libc::Elf64_Phdr| p.p_type == libc::PT_LOAD;
    let holds_own = phdrs
        .iter()
        .filter(load)
        .any(|p| (base + p.p_vaddr as usize..base + (p.p_vaddr + p.p_memsz) as usize).contains(&ranges.own));
    // The executable and the object this code is in; the rest (other shared libraries,
    // the vDSO) are not ours to touch.
    if !first && !holds_own {
        return 0;
    }
    let text_relocs = phdrs.iter().filter(|p| p.p_type == libc::PT_DYNAMIC).any(|p| {
        let mut d = (base + p.p_vaddr as usize) as *const Elf64Dyn;
        loop {
            let (tag, val) = unsafe { ((*d).d_tag, (*d).d_val) };
            match tag {
                DT_NULL => return false,
                DT_TEXTREL => return true,
                DT_FLAGS if val & DF_TEXTREL != 0 => return true,
                _ => d = unsafe { d.add(1) },
            }
        }
    });
    if !text_relocs {
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let read_only = |p: &&libc::Elf64_Phdr| p.p_type == libc::PT_LOAD && p.p_flags & libc::PF_W == 0;
        for p in phdrs.iter().filter(read_only) {
            // Whole pages inside the segment only: a page it shares with a neighbour is
            // mapped with that neighbour's protection.
            let start = (base + p.p_vaddr as usize).next_multiple_of(page);
            let end = (base + (p.p_vaddr + p.p_filesz) as usize) / page * page;
            if end > start && ranges.len < MAX_RANGES {
                ranges.list[ranges.len] = (start, end);
                ranges.len += 1;
            }
        }
    }
    0
}
