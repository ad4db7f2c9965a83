//! Hostile archives, built member by member with raw headers (tar::Builder refuses
//! `..` and the like). Each test keeps sentinels outside the layer dir and checks that
//! they are unchanged afterwards.
use super::*;
use crate::tree;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

const BIG: u64 = DEFAULT_MAX_UNCOMPRESSED;

#[derive(Default)]
struct Tar(Vec<u8>);

impl Tar {
    fn raw(&mut self, name: &[u8], kind: u8, link: &[u8], data: &[u8], mode: u32, ids: (u64, u64)) -> &mut Self {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        h.as_gnu_mut().unwrap().linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(ids.0);
        h.set_gid(ids.1);
        h.set_mtime(1_000_000);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        self
    }
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.raw(name.as_bytes(), b'0', b"", data, 0o644, (0, 0))
    }
    fn dir(&mut self, name: &str) -> &mut Self {
        self.raw(name.as_bytes(), b'5', b"", b"", 0o755, (0, 0))
    }
    fn sym(&mut self, name: &str, to: &str) -> &mut Self {
        self.raw(name.as_bytes(), b'2', to.as_bytes(), b"", 0o777, (0, 0))
    }
    fn hard(&mut self, name: &str, to: &str) -> &mut Self {
        self.raw(name.as_bytes(), b'1', to.as_bytes(), b"", 0o644, (0, 0))
    }
    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = k.len() + v.len() + 3;
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            body.extend_from_slice(format!("{len} {k}=").as_bytes());
            body.extend_from_slice(v);
            body.push(b'\n');
        }
        self.raw(b"PaxHeaders/x", b'x', b"", &body, 0o644, (0, 0))
    }
    fn done(&mut self) -> Vec<u8> {
        let mut v = std::mem::take(&mut self.0);
        v.extend_from_slice(&[0; 1024]);
        v
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn sha(d: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(d)))
}

/// A temp dir with `outside/` (sentinels) and the layer dir `layer/` (not yet made).
struct Fixture {
    t: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("outside");
        fs::create_dir_all(out.join("sub")).unwrap();
        fs::write(out.join("victim"), b"precious").unwrap();
        Fixture { t }
    }
    fn out(&self) -> String {
        self.t.path().join("outside").display().to_string()
    }
    fn dest(&self) -> PathBuf {
        self.t.path().join("layer")
    }
    fn run(&self, tarball: &[u8]) -> Result<Extracted, LayerError> {
        self.run_with(tarball, None, BIG)
    }
    fn run_with(&self, blob: &[u8], size: Option<u64>, max: u64) -> Result<Extracted, LayerError> {
        let p = self.t.path().join("blob");
        fs::write(&p, blob).unwrap();
        extract(&p, &self.dest(), "test", None, None, size, max)
    }
    fn assert_outside_intact(&self) {
        let out = self.t.path().join("outside");
        let mut names: Vec<_> = fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["sub", "victim"]);
        assert_eq!(fs::read_dir(out.join("sub")).unwrap().count(), 0);
        let v = fs::symlink_metadata(out.join("victim")).unwrap();
        assert!(v.file_type().is_file());
        assert_eq!(v.nlink(), 1);
        assert_eq!(fs::read(out.join("victim")).unwrap(), b"precious");
        for p in [out.clone(), out.join("sub"), out.join("victim")] {
            assert_eq!(xattr::list(&p).unwrap().count(), 0, "{}", p.display());
        }
        for stray in ["victim", "x", "f", "dev"] {
            assert!(fs::symlink_metadata(self.t.path().join(stray)).is_err(), "{stray}");
        }
    }
}

#[test]
fn extracts_gzip_with_whiteouts_and_checks_digests() {
    let f = Fixture::new();
    let tarball = Tar::default()
        .file("etc/hello", b"hi\n")
        .file("etc/.wh.gone", b"")
        .file("var/.wh..wh..opq", b"")
        .file(".wh..wh.plnk", b"")
        .done();
    let blob = gz(&tarball);
    fs::write(f.t.path().join("blob"), &blob).unwrap();
    let r = extract(
        &f.t.path().join("blob"),
        &f.dest(),
        "l1",
        Some(&sha(&blob)),
        Some(&sha(&tarball)),
        Some(blob.len() as u64),
        BIG,
    )
    .unwrap();
    assert_eq!(r.diff_id, sha(&tarball));
    assert_eq!(r.size, blob.len() as u64);
    let d = f.dest();
    assert_eq!(fs::read(d.join("etc/hello")).unwrap(), b"hi\n");
    let wh = fs::symlink_metadata(d.join("etc/gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert_eq!(
        xattr::get(d.join("var"), "trusted.overlay.opaque").unwrap().as_deref(),
        Some(&b"y"[..])
    );
    assert!(
        fs::symlink_metadata(d.join(".wh.plnk")).is_err(),
        "aufs metadata skipped"
    );
}

#[test]
fn rejects_bad_digest_zstd_and_escapes() {
    let f = Fixture::new();
    let tarball = Tar::default().file("a", b"x").done();
    let p = f.t.path().join("blob");
    fs::write(&p, &tarball).unwrap();
    let e = extract(&p, &f.dest(), "l2", Some("sha256:00"), None, None, BIG).unwrap_err();
    assert!(matches!(e, LayerError::DigestMismatch { kind: "blob", .. }));
    // A zstd frame header with nothing valid after it: a clean read error.
    let e = f.run(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).unwrap_err();
    assert!(matches!(e, LayerError::Io { .. }), "{e}");
    for evil in ["../evil", "a/../../evil", "../outside/victim"] {
        let e = f.run(&Tar::default().file(evil, b"x").done()).unwrap_err();
        assert!(matches!(e, LayerError::Escape { .. }), "{evil}: {e}");
        assert!(e.to_string().contains(evil), "{e}");
    }
    assert!(!f.t.path().join("evil").exists());
    f.assert_outside_intact();
}

#[test]
fn absolute_and_dotdot_inside_stay_in_the_root() {
    let f = Fixture::new();
    let out = format!("{}/victim", f.out());
    f.run(
        &Tar::default()
            .file(&out, b"mine")
            .file("a/../b", b"b")
            .file("/abs", b"c")
            .done(),
    )
    .unwrap();
    let d = f.dest();
    assert_eq!(fs::read(d.join(out.trim_start_matches('/'))).unwrap(), b"mine");
    assert_eq!(fs::read(d.join("b")).unwrap(), b"b");
    assert_eq!(fs::read(d.join("abs")).unwrap(), b"c");
    f.assert_outside_intact();
}

#[test]
fn nothing_is_written_through_a_symlinked_parent() {
    let f = Fixture::new();
    let targets = [
        f.out(),
        "../../../../../../..".into(),
        "../outside".into(),
        "inside".into(),
    ];
    type Op = fn(&mut Tar) -> &mut Tar;
    let ops: [(&str, Op); 9] = [
        ("file", |t| t.file("d/victim", b"pwned")),
        ("dir", |t| t.dir("d/sub/new/")),
        ("whiteout", |t| t.file("d/.wh.victim", b"")),
        ("opaque", |t| t.file("d/.wh..wh..opq", b"")),
        ("opaque-deep", |t| t.file("d/sub/.wh..wh..opq", b"")),
        ("hardlink", |t| t.file("ok", b"").hard("d/h", "ok")),
        ("symlink", |t| t.sym("d/s", "/etc")),
        ("char", |t| t.raw(b"d/dev", b'3', b"", b"", 0o666, (0, 0))),
        ("fifo", |t| t.raw(b"d/fifo", b'6', b"", b"", 0o666, (0, 0))),
    ];
    for target in &targets {
        for (what, op) in &ops {
            let mut t = Tar::default();
            t.dir("inside/").sym("d", target);
            op(&mut t);
            let e = f.run(&t.done()).unwrap_err();
            assert!(matches!(e, LayerError::Escape { .. }), "{what} via {target}: {e}");
            f.assert_outside_intact();
            assert_eq!(fs::read_dir(f.dest().join("inside")).unwrap().count(), 0, "{what}");
            tree::remove_tree(&f.dest()).unwrap();
        }
    }
    // A hard link whose target path crosses a symlink is refused too.
    let t = Tar::default().sym("d", &f.out()).hard("h", "d/victim").done();
    assert!(matches!(f.run(&t).unwrap_err(), LayerError::Escape { .. }));
    f.assert_outside_intact();
}

#[test]
fn replacing_a_directory_removes_it_without_following() {
    let f = Fixture::new();
    // A dir full of symlinks to the host, replaced by a file: the tree goes, the host stays.
    let t = Tar::default()
        .dir("d/")
        .file("d/f", b"1")
        .sym("d/l", &f.out())
        .dir("d/sub/")
        .sym("d/sub/l", &format!("{}/victim", f.out()))
        .file("d", b"now a file")
        .done();
    f.run(&t).unwrap();
    assert_eq!(fs::read(f.dest().join("d")).unwrap(), b"now a file");
    f.assert_outside_intact();
    // Replaced by a symlink to the host, then written beneath: refused.
    let t = Tar::default()
        .dir("e/")
        .file("e/f", b"1")
        .sym("e", &f.out())
        .file("e/victim", b"pwned")
        .done();
    assert!(matches!(f.run(&t).unwrap_err(), LayerError::Escape { .. }));
    assert!(fs::symlink_metadata(f.dest().join("e"))
        .unwrap()
        .file_type()
        .is_symlink());
    f.assert_outside_intact();
    // A dir over a dir is kept (children stay) and gets the new mode.
    let t = Tar::default()
        .dir("k/")
        .file("k/child", b"c")
        .raw(b"k/", b'5', b"", b"", 0o700, (0, 0))
        .done();
    f.run(&t).unwrap();
    assert!(f.dest().join("k/child").exists());
    assert_eq!(
        fs::metadata(f.dest().join("k")).unwrap().permissions().mode() & 0o7777,
        0o700
    );
    // A symlink over a file, a file over a symlink (the target is not written).
    let t = Tar::default()
        .file("s", b"x")
        .sym("s", &f.out())
        .sym("v", &f.out())
        .file("v", b"v")
        .done();
    f.run(&t).unwrap();
    assert_eq!(
        fs::read_link(f.dest().join("s")).unwrap().display().to_string(),
        f.out()
    );
    assert_eq!(fs::read(f.dest().join("v")).unwrap(), b"v");
    f.assert_outside_intact();
}

#[test]
fn hard_links_resolve_beneath_the_root() {
    let f = Fixture::new();
    let t = Tar::default()
        .file("f", b"data")
        .hard("h", "f")
        .hard("h2", "/f")
        .sym("s", "/etc/passwd")
        .hard("hs", "s")
        .hard("h", "f")
        .done();
    f.run(&t).unwrap();
    let d = f.dest();
    let ino = fs::metadata(d.join("f")).unwrap().ino();
    assert_eq!(fs::metadata(d.join("h")).unwrap().ino(), ino);
    assert_eq!(fs::metadata(d.join("h2")).unwrap().ino(), ino);
    let hs = fs::symlink_metadata(d.join("hs")).unwrap();
    assert!(hs.file_type().is_symlink());
    assert_eq!(hs.ino(), fs::symlink_metadata(d.join("s")).unwrap().ino());

    let e = f
        .run(&Tar::default().hard("x", "../outside/victim").done())
        .unwrap_err();
    assert!(matches!(e, LayerError::Escape { .. }), "{e}");
    let e = f.run(&Tar::default().hard("x", "/etc/passwd").done()).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    let e = f.run(&Tar::default().hard("x", "nope/nothing").done()).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    f.assert_outside_intact();
}

#[test]
fn metadata_xattrs_devices_and_fifos() {
    let f = Fixture::new();
    // vfs_cap_data revision 2: magic, then permitted/inheritable pairs (cap_net_raw).
    let mut cap = vec![0u8; 20];
    cap[..4].copy_from_slice(&0x0200_0000u32.to_le_bytes());
    cap[4..8].copy_from_slice(&(1u32 << 13).to_le_bytes());
    let t = Tar::default()
        .raw(b"dd/", b'5', b"", b"", 0o1777, (1000, 1000))
        .pax(&[
            ("SCHILY.xattr.user.keep", b"1"),
            ("SCHILY.xattr.trusted.keep", b"2"),
            ("SCHILY.xattr.trusted.overlay.opaque", b"y"),
            ("SCHILY.xattr.user.overlay.redirect", b"/x"),
            ("SCHILY.xattr.security.selinux", b"system_u:object_r:x:s0"),
            ("SCHILY.xattr.security.capability", &cap),
            ("mtime", b"12345.5"),
            ("uid", b"2000"),
        ])
        .raw(b"dd/suid", b'0', b"", b"#!", 0o4755, (1000, 1000))
        .raw(b"dev/null", b'3', b"", b"", 0o666, (0, 0))
        .raw(b"dev/loop0", b'4', b"", b"", 0o660, (0, 6))
        .raw(b"dev/fifo", b'6', b"", b"", 0o620, (0, 0))
        .done();
    // Device numbers live in the header's devmajor/devminor fields.
    let mut t = t;
    set_dev(&mut t, b"dev/null", 1, 3);
    set_dev(&mut t, b"dev/loop0", 7, 0);
    f.run(&t).unwrap();
    let d = f.dest();
    let dd = fs::metadata(d.join("dd")).unwrap();
    assert_eq!(dd.permissions().mode() & 0o7777, 0o1777);
    assert_eq!((dd.uid(), dd.gid()), (1000, 1000));
    assert_eq!(dd.mtime(), 1_000_000, "directory mtime set after its children");
    let s = fs::metadata(d.join("dd/suid")).unwrap();
    assert_eq!(s.permissions().mode() & 0o7777, 0o4755);
    assert_eq!((s.uid(), s.gid()), (2000, 1000));
    assert_eq!((s.mtime(), s.mtime_nsec()), (12345, 500_000_000));
    let p = d.join("dd/suid");
    assert_eq!(xattr::get(&p, "user.keep").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(xattr::get(&p, "trusted.keep").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(
        xattr::get(&p, "security.capability").unwrap().as_deref(),
        Some(&cap[..])
    );
    for dropped in ["trusted.overlay.opaque", "user.overlay.redirect", "security.selinux"] {
        assert_eq!(xattr::get(&p, dropped).unwrap(), None, "{dropped}");
    }
    let n = fs::symlink_metadata(d.join("dev/null")).unwrap();
    assert!(n.file_type().is_char_device());
    assert_eq!((rustix::fs::major(n.rdev()), rustix::fs::minor(n.rdev())), (1, 3));
    assert_eq!(n.permissions().mode() & 0o7777, 0o666);
    let l = fs::symlink_metadata(d.join("dev/loop0")).unwrap();
    assert!(l.file_type().is_block_device());
    assert_eq!((l.gid(), l.permissions().mode() & 0o7777), (6, 0o660));
    let fifo = fs::symlink_metadata(d.join("dev/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.permissions().mode() & 0o7777, 0o620);
    f.assert_outside_intact();
}

fn set_dev(t: &mut [u8], name: &[u8], major: u32, minor: u32) {
    for off in (0..t.len()).step_by(512) {
        if t[off..].starts_with(name) && t[off + name.len()] == 0 {
            let h = tar::Header::from_byte_slice(&t[off..off + 512]);
            let mut h = h.clone();
            h.set_device_major(major).unwrap();
            h.set_device_minor(minor).unwrap();
            h.set_cksum();
            t[off..off + 512].copy_from_slice(h.as_bytes());
            return;
        }
    }
    panic!("no member");
}

#[test]
fn whiteouts_remove_trees_without_following() {
    let f = Fixture::new();
    let t = Tar::default()
        .dir("gone/")
        .dir("gone/a/b/")
        .file("gone/a/b/f", b"1")
        .sym("gone/l", &f.out())
        .hard("gone/h", "gone/a/b/f")
        .file(".wh.gone", b"")
        .file("new/deep/.wh.x", b"")
        .done();
    f.run(&t).unwrap();
    let g = fs::symlink_metadata(f.dest().join("gone")).unwrap();
    assert!(g.file_type().is_char_device());
    assert!(fs::symlink_metadata(f.dest().join("new/deep/x"))
        .unwrap()
        .file_type()
        .is_char_device());
    for bad in ["d/.wh..", "d/.wh...", "d/.wh."] {
        let e = f.run(&Tar::default().file(bad, b"").done()).unwrap_err();
        assert!(matches!(e, LayerError::Invalid { .. }), "{bad}: {e}");
    }
    f.assert_outside_intact();
}

#[test]
fn oversized_headers_paths_and_depth_are_refused() {
    let f = Fixture::new();
    let huge = vec![b'a'; (MAX_EXTENSION + 1) as usize];
    let e = f
        .run(&Tar::default().raw(b"././@LongLink", b'L', b"", &huge, 0, (0, 0)).done())
        .unwrap_err();
    assert!(e.to_string().contains("exceeds"), "{e}");
    let e = f
        .run(&Tar::default().pax(&[("comment", &huge)]).file("x", b"").done())
        .unwrap_err();
    assert!(e.to_string().contains("PAX header"), "{e}");
    let long = "a/".repeat(2100) + "f";
    let e = f
        .run(&Tar::default().pax(&[("path", long.as_bytes())]).file("x", b"").done())
        .unwrap_err();
    assert!(e.to_string().contains("exceeds 4096"), "{e}");
    let deep = "a/".repeat(MAX_DEPTH) + "f";
    let e = f
        .run(&Tar::default().pax(&[("path", deep.as_bytes())]).file("x", b"").done())
        .unwrap_err();
    assert!(e.to_string().contains("deeper than"), "{e}");
    // Within the limits, PAX and GNU long names work.
    let ok = "b/".repeat(100) + "f";
    let t = Tar::default()
        .pax(&[("path", ok.as_bytes())])
        .file("x", b"pax")
        .raw(
            b"././@LongLink",
            b'L',
            b"",
            format!("{}g\0", "c/".repeat(100)).as_bytes(),
            0,
            (0, 0),
        )
        .file("y", b"gnu")
        .done();
    f.run(&t).unwrap();
    assert_eq!(fs::read(f.dest().join(&ok)).unwrap(), b"pax");
    assert_eq!(fs::read(f.dest().join("c/".repeat(100) + "g")).unwrap(), b"gnu");
    f.assert_outside_intact();
}

#[test]
fn sizes_are_enforced() {
    let f = Fixture::new();
    let t = Tar::default().file("a", &[7; 100_000]).done();
    let blob = gz(&t);
    let n = blob.len() as u64;
    f.run_with(&blob, Some(n), BIG).unwrap();
    for want in [n - 1, n + 1] {
        let e = f.run_with(&blob, Some(want), BIG).unwrap_err();
        assert!(matches!(e, LayerError::SizeMismatch { .. }), "{e}");
    }
    let e = f.run_with(&blob, Some(n), 50_000).unwrap_err();
    assert!(matches!(e, LayerError::TooLarge { limit: 50_000, .. }), "{e}");
    // A gzip bomb: 256 MiB of zeros stops at the cap, long before it is all inflated.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut h = tar::Header::new_gnu();
    h.set_path("zeros").unwrap();
    h.set_mode(0o644);
    h.set_size(256 << 20);
    h.set_cksum();
    bomb.write_all(h.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb = bomb.finish().unwrap();
    let e = f.run_with(&bomb, None, 4 << 20).unwrap_err();
    assert!(matches!(e, LayerError::TooLarge { .. }), "{e}");
    assert!(fs::metadata(f.dest().join("zeros")).unwrap().len() <= 4 << 20);
    f.assert_outside_intact();
}

// zstd, umoci's trailerless tars and streamed (channel-fed) extraction.
mod pull;
mod stream;
