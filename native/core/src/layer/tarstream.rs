//! A streaming tar reader with bounded memory: headers are parsed with the `tar` crate's
//! `Header`, but the framing (GNU long names, PAX records) is ours, because
//! `tar::Archive` reads long-name and PAX members of any size into memory — a 4 GiB PAX
//! header would be a 4 GiB allocation. Every buffer here lives in the caller's reused
//! [`Entry`], so nothing is kept per entry.
use std::io::{self, Read};
use std::ops::Range;
use tar::{EntryType, Header};

/// Largest GNU long-name/long-link or PAX member accepted (real ones are < 1 KiB, plus
/// xattrs such as `security.capability`; 1 MiB leaves room and bounds memory).
pub const MAX_EXTENSION: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    File,
    Dir,
    Symlink,
    Link,
    Char,
    Block,
    Fifo,
}

/// One member's metadata. Reused across members: its buffers keep their capacity.
#[derive(Default)]
pub struct Entry {
    pub kind: Kind,
    /// Path as in the archive (bytes; not yet normalised).
    pub path: Vec<u8>,
    /// Hard-link or symlink target (bytes).
    pub link: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: (i64, u32),
    pub size: u64,
    pub dev: (u32, u32),
    /// PAX `SCHILY.xattr.*` records as (name, value) ranges into `pax`.
    xattrs: Vec<(Range<usize>, Range<usize>)>,
    pax: Vec<u8>,
}

impl Entry {
    pub fn xattrs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.xattrs
            .iter()
            .map(|(n, v)| (&self.pax[n.clone()], &self.pax[v.clone()]))
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

pub struct TarReader<R> {
    inner: R,
    /// Unread data bytes of the current member, then its padding to the block size.
    remaining: u64,
    pad: u64,
    done: bool,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            remaining: 0,
            pad: 0,
            done: false,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads one 512-byte block; false at a clean end of stream.
    fn block(&mut self, b: &mut [u8; 512]) -> io::Result<bool> {
        let mut n = 0;
        while n < 512 {
            match self.inner.read(&mut b[n..]) {
                Ok(0) if n == 0 => return Ok(false),
                Ok(0) => return Err(bad("truncated tar header")),
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let got = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if got != n {
            return Err(bad("truncated tar member"));
        }
        Ok(())
    }

    /// Reads an extension member's body (bounded) into `buf`, and its padding.
    fn extension(&mut self, size: u64, buf: &mut Vec<u8>, what: &str) -> io::Result<()> {
        if size > MAX_EXTENSION {
            return Err(bad(format!(
                "{what} member of {size} bytes exceeds the {MAX_EXTENSION}-byte limit"
            )));
        }
        buf.clear();
        buf.resize(size as usize, 0);
        self.inner.read_exact(buf).map_err(|_| bad("truncated tar member"))?;
        self.skip(padding(size))
    }

    /// Advances to the next member, filling `e`; false at the end of the archive. Its
    /// data (`e.size` bytes for a regular file) is then read through `Read`.
    pub fn next(&mut self, e: &mut Entry) -> io::Result<bool> {
        if self.done {
            return Ok(false);
        }
        self.skip(self.remaining)?;
        // A stream that ends right after the last member's data — no padding, no
        // trailer, as umoci writes its layers — is a clean end (Go's archive/tar, so
        // containerd and containers/storage, read it so). Part of a padding is not.
        let pad = self.pad;
        self.remaining = 0;
        self.pad = 0;
        if pad > 0 {
            let got = io::copy(&mut (&mut self.inner).take(pad), &mut io::sink())?;
            if got == 0 {
                self.done = true;
                return Ok(false);
            }
            if got != pad {
                return Err(bad("truncated tar padding"));
            }
        }
        let (mut long_path, mut long_link, mut have_pax) = (false, false, false);
        let mut b = [0u8; 512];
        loop {
            if !self.block(&mut b)? || b.iter().all(|&x| x == 0) {
                if long_path || long_link || have_pax {
                    return Err(bad("extension member with no member after it"));
                }
                self.done = true;
                return Ok(false);
            }
            check_sum(&b)?;
            let h = Header::from_byte_slice(&b);
            let size = h.entry_size()?;
            match h.entry_type() {
                EntryType::GNULongName if !long_path => {
                    self.extension(size, &mut e.path, "GNU long name")?;
                    trim_nuls(&mut e.path);
                    long_path = true;
                }
                EntryType::GNULongLink if !long_link => {
                    self.extension(size, &mut e.link, "GNU long link")?;
                    trim_nuls(&mut e.link);
                    long_link = true;
                }
                EntryType::XHeader if !have_pax => {
                    self.extension(size, &mut e.pax, "PAX header")?;
                    have_pax = true;
                }
                EntryType::XGlobalHeader => {
                    // Global records (comments, mostly) change nothing we apply: skip
                    // them without buffering.
                    self.skip(size.checked_add(padding(size)).ok_or_else(|| bad("size overflow"))?)?;
                }
                EntryType::GNULongName | EntryType::GNULongLink | EntryType::XHeader => {
                    return Err(bad("two extension members of one kind for one member"))
                }
                t => {
                    if !long_path {
                        e.path.clear();
                        e.path.extend_from_slice(&h.path_bytes());
                    }
                    if !long_link {
                        e.link.clear();
                        if let Some(l) = h.link_name_bytes() {
                            e.link.extend_from_slice(&l);
                        }
                    }
                    // Empty numeric fields mean 0, as Go's reader (and most writers) have it.
                    let old = h.as_old();
                    e.mode = if blank(&old.mode) { 0 } else { h.mode()? & 0o7777 };
                    e.uid = if blank(&old.uid) { 0 } else { h.uid()? };
                    e.gid = if blank(&old.gid) { 0 } else { h.gid()? };
                    e.mtime = (if blank(&old.mtime) { 0 } else { h.mtime()? as i64 }, 0);
                    e.size = size;
                    // Only devices carry numbers (other writers leave the fields empty).
                    e.dev = match t {
                        EntryType::Char | EntryType::Block => {
                            let major = if blank(&b[329..337]) {
                                Some(0)
                            } else {
                                h.device_major()?
                            };
                            let minor = if blank(&b[337..345]) {
                                Some(0)
                            } else {
                                h.device_minor()?
                            };
                            match (major, minor) {
                                (Some(ma), Some(mi)) => (ma, mi),
                                _ => return Err(bad("device member without device numbers")),
                            }
                        }
                        _ => (0, 0),
                    };
                    e.xattrs.clear();
                    if have_pax {
                        apply_pax(e)?;
                    } else {
                        e.pax.clear();
                    }
                    // After PAX: the trailing-slash rule looks at the final path.
                    e.kind = kind(t, &e.path)?;
                    self.remaining = e.size;
                    self.pad = padding(e.size);
                    return Ok(true);
                }
            }
        }
    }
}

impl<R: Read> Read for TarReader<R> {
    /// The current member's data.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let max = buf.len().min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(bad("truncated tar member"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn padding(size: u64) -> u64 {
    (512 - size % 512) % 512
}

fn blank(field: &[u8]) -> bool {
    field.iter().all(|&b| b == 0 || b == b' ')
}

fn trim_nuls(v: &mut Vec<u8>) {
    while v.last() == Some(&0) {
        v.pop();
    }
}

fn check_sum(b: &[u8; 512]) -> io::Result<()> {
    let want = Header::from_byte_slice(b).cksum()?;
    let field = 148..156;
    let (mut unsigned, mut signed) = (8 * 32u32, 8 * 32i32);
    for (i, &x) in b.iter().enumerate() {
        if !field.contains(&i) {
            unsigned += x as u32;
            signed += x as i8 as i32;
        }
    }
    // Some old writers summed signed bytes; accept both, as Go's reader does.
    if want == unsigned || want as i32 == signed {
        Ok(())
    } else {
        Err(bad("tar header checksum mismatch"))
    }
}

fn kind(t: EntryType, path: &[u8]) -> io::Result<Kind> {
    Ok(match t {
        // Pre-POSIX archives mark directories with a trailing slash on a regular entry.
        EntryType::Regular if path.ends_with(b"/") => Kind::Dir,
        EntryType::Regular | EntryType::Continuous => Kind::File,
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink => Kind::Symlink,
        EntryType::Link => Kind::Link,
        EntryType::Char => Kind::Char,
        EntryType::Block => Kind::Block,
        EntryType::Fifo => Kind::Fifo,
        EntryType::GNUSparse => return Err(bad("GNU sparse members are not supported")),
        t => return Err(bad(format!("unsupported tar member type {:?}", t.as_byte() as char))),
    })
}

fn num<T: std::str::FromStr>(v: &[u8], key: &str) -> io::Result<T> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad PAX {key} value")))
}

/// PAX mtime: decimal seconds with an optional fraction, possibly negative.
fn pax_time(v: &[u8]) -> io::Result<(i64, u32)> {
    let s = std::str::from_utf8(v).map_err(|_| bad("bad PAX mtime"))?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().map_err(|_| bad("bad PAX mtime"))?;
    let mut nanos = 0u32;
    for (i, c) in frac.bytes().take(9).enumerate() {
        if !c.is_ascii_digit() {
            return Err(bad("bad PAX mtime"));
        }
        nanos += (c - b'0') as u32 * 10u32.pow(8 - i as u32);
    }
    // "-1.5" is 1.5 s before the epoch.
    if s.starts_with('-') && nanos > 0 {
        return Ok((secs - 1, 1_000_000_000 - nanos));
    }
    Ok((secs, nanos))
}

/// Applies the records of `e.pax` ("<len> <key>=<value>\n") over the header's fields.
fn apply_pax(e: &mut Entry) -> io::Result<()> {
    let mut pos = 0;
    while pos < e.pax.len() {
        let rest = &e.pax[pos..];
        let sp = rest
            .iter()
            .position(|&c| c == b' ')
            .ok_or_else(|| bad("bad PAX record"))?;
        let len: usize = num(&rest[..sp], "record length")?;
        if len <= sp + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(bad("bad PAX record"));
        }
        let rec = &rest[sp + 1..len - 1];
        let eq = rec
            .iter()
            .position(|&c| c == b'=')
            .ok_or_else(|| bad("bad PAX record"))?;
        let (key, val) = (&rec[..eq], &rec[eq + 1..]);
        let vstart = pos + sp + 1 + eq + 1;
        match key {
            b"path" => {
                e.path.clear();
                e.path.extend_from_slice(val);
            }
            b"linkpath" => {
                e.link.clear();
                e.link.extend_from_slice(val);
            }
            // The PAX size overrides the header's (how files over 8 GiB are written).
            b"size" => e.size = num(val, "size")?,
            b"uid" => e.uid = num(val, "uid")?,
            b"gid" => e.gid = num(val, "gid")?,
            b"mtime" => e.mtime = pax_time(val)?,
            k if k.starts_with(b"GNU.sparse.") => return Err(bad("PAX sparse members are not supported")),
            k if k.starts_with(b"SCHILY.xattr.") => {
                let nstart = pos + sp + 1 + b"SCHILY.xattr.".len();
                e.xattrs.push((nstart..pos + sp + 1 + eq, vstart..vstart + val.len()));
            }
            _ => {}
        }
        pos += len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(pax_time(b"12").unwrap(), (12, 0));
        assert_eq!(pax_time(b"12.5").unwrap(), (12, 500_000_000));
        assert_eq!(pax_time(b"-1.25").unwrap(), (-2, 750_000_000));
        assert!(pax_time(b"x").is_err());
    }
}
