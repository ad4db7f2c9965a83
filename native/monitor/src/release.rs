//! Hands back the page-table entries of the monitor's own code and read-only data once
//! start-up is over. A `run` monitor lives as long as its container, but most of the code
//! it ever touched ran once: argument parsing, `<runtime> create` through std's process
//! spawning, the JSON report, and (in the static build) glibc's start-up and ifunc
//! resolution. The kernel maps file-backed text in fault-around windows (64 KiB by
//! default), so those one-off paths kept most of the binary mapped, i.e. counted in the
//! monitor's RSS, for the container's whole life.
//!
//! Why this is sound: it only touches the executable's `PT_LOAD` segments that are not
//! writable (code, read-only data, relocation tables), and only when the executable has no
//! text relocations, so every page there is still an unmodified private mapping of the
//! file. `MADV_DONTNEED` on such pages drops this process's mapping of them and nothing
//! else: the next access faults the same bytes back in from the page cache (or the file)
//! — exactly what happens after the kernel reclaims clean file pages under memory
//! pressure, which it may do at any time. Writable segments (data, bss, the RELRO part
//! with the relocated GOT, whose pages are private copies) are never touched, nor is any
//! other mapping (the heap, the stack, shared libraries of a dynamic build). One caveat:
//! a breakpoint that a debugger or uprobe put into this process's text at that moment is
//! dropped with the page (it lives in a private copy of it).
use std::ffi::c_int;

/// At most this many read-only segments are released (an executable has two or three).
const MAX_RANGES: usize = 8;

/// Page-aligned `[start, end)` ranges to release, filled in by `each`.
#[derive(Default)]
struct Ranges {
    list: [(usize, usize); MAX_RANGES],
    len: usize,
}

#[cfg(target_pointer_width = "64")]
pub(crate) fn startup_pages() {
    let mut ranges = Ranges::default();
    // SAFETY: dl_iterate_phdr calls `each` synchronously, with valid program headers and
    // the pointer to `ranges` it was given.
    unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut ranges).cast()) };
    // Only now, after the program headers were read and dl_iterate_phdr has returned:
    // code run after the madvise faults its pages back in, and nothing more should.
    for &(start, end) in &ranges.list[..ranges.len] {
        // SAFETY: see the module comment; these pages are clean private file pages.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

#[cfg(not(target_pointer_width = "64"))]
pub(crate) fn startup_pages() {}

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

#[cfg(target_pointer_width = "64")]
unsafe extern "C" fn each(info: *mut libc::dl_phdr_info, _size: libc::size_t, data: *mut libc::c_void) -> c_int {
    // SAFETY (whole body): `info` and its program headers are valid for this call; the
    // dynamic section they point to is mapped, DT_NULL-terminated, of this object; `data`
    // is startup_pages' `ranges`.
    let (info, ranges) = unsafe { (&*info, &mut *data.cast::<Ranges>()) };
    let base = info.dlpi_addr as usize;
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
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
    // The first object is the executable itself; the rest (a dynamic build's shared
    // libraries, the vDSO) are not ours to touch.
    1
}
