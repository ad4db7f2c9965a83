//! zstd layers, tars without the end-of-archive trailer (umoci writes them) and the
//! channel-fed sink the pull path uses; the sink must keep every check `extract` has.
use super::*;
use crate::layer::sink::{Job, Sink};

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

/// Feeds `blob` to a sink in `chunk`-byte pieces (optionally aborting midway) and
/// returns the worker's result.
fn stream(
    dest: PathBuf,
    blob: &[u8],
    chunk: usize,
    want: (Option<String>, Option<String>, Option<u64>),
    max: u64,
    abort_at: Option<usize>,
) -> Result<Extracted, LayerError> {
    // Plain threads stand in for the async producer: blocking_send waits as write's
    // future does when the channel is full.
    let mut s = Sink::start(Job {
        dest,
        layer: "streamed".into(),
        digest: want.0,
        diff_id: want.1,
        size: want.2,
        max_uncompressed: max,
    })
    .unwrap();
    let tx = s.sender().unwrap();
    for (i, c) in blob.chunks(chunk).enumerate() {
        if abort_at == Some(i) {
            drop(tx);
            return s.abort().unwrap().blocking_recv().unwrap();
        }
        if tx.blocking_send(c.to_vec()).is_err() {
            break; // The worker stopped: its result says why.
        }
    }
    drop(tx);
    s.finish().unwrap().blocking_recv().unwrap()
}

#[test]
fn extracts_zstd_and_checks_digests() {
    let f = Fixture::new();
    let tarball = Tar::default()
        .file("etc/hello", b"zstd\n")
        .file("etc/.wh.gone", b"")
        .done();
    // Two frames back to back, as a concatenating writer would leave them.
    let mut blob = zst(&tarball[..512]);
    blob.extend(zst(&tarball[512..]));
    let p = f.t.path().join("blob");
    fs::write(&p, &blob).unwrap();
    let r = extract(
        &p,
        &f.dest(),
        "z",
        Some(&sha(&blob)),
        Some(&sha(&tarball)),
        Some(blob.len() as u64),
        BIG,
    )
    .unwrap();
    assert_eq!(r.diff_id, sha(&tarball));
    assert_eq!(fs::read(f.dest().join("etc/hello")).unwrap(), b"zstd\n");
    assert!(fs::symlink_metadata(f.dest().join("etc/gone"))
        .unwrap()
        .file_type()
        .is_char_device());
}

#[test]
fn zstd_bomb_stops_at_the_cap() {
    let f = Fixture::new();
    let mut h = tar::Header::new_gnu();
    h.set_path("zeros").unwrap();
    h.set_mode(0o644);
    h.set_size(256 << 20);
    h.set_cksum();
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    enc.write_all(h.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let e = f.run_with(&bomb, None, 4 << 20).unwrap_err();
    assert!(matches!(e, LayerError::TooLarge { .. }), "{e}");
    assert!(fs::metadata(f.dest().join("zeros")).unwrap().len() <= 4 << 20);
    f.assert_outside_intact();
}

#[test]
fn accepts_a_tar_without_its_trailer() {
    // umoci ends its layer tars right after the last member (no two zero blocks).
    let f = Fixture::new();
    let mut tarball = Tar::default().file("a", b"x").done();
    tarball.truncate(tarball.len() - 1024);
    let blob = gz(&tarball);
    let r = f.run_with(&blob, Some(blob.len() as u64), BIG).unwrap();
    assert_eq!(r.diff_id, sha(&tarball));
    assert_eq!(fs::read(f.dest().join("a")).unwrap(), b"x");
    // umoci 0.4.7 also leaves out the last member's padding: the stream ends with its data.
    let mut unpadded = Tar::default().file("b", b"y").file("c", &[3; 700]).done();
    unpadded.truncate(unpadded.len() - 1024 - (512 - 700 % 512));
    let r = f.run_with(&gz(&unpadded), None, BIG).unwrap();
    assert_eq!(r.diff_id, sha(&unpadded));
    assert_eq!(fs::read(f.dest().join("c")).unwrap().len(), 700);
    // Part of a padding, or part of a member's data, is still a truncated archive.
    for cut in [unpadded.len() + 10, unpadded.len() - 1] {
        let mut t = Tar::default().file("b", b"y").file("c", &[3; 700]).done();
        t.truncate(cut);
        assert!(f.run_with(&gz(&t), None, BIG).is_err(), "cut at {cut}");
    }
}

#[test]
fn streamed_layer_matches_file_extraction() {
    let f = Fixture::new();
    let tarball = Tar::default()
        .file("big", &[5; 300_000])
        .dir("d")
        .sym("d/l", "../big")
        .done();
    let blob = gz(&tarball);
    let want = (Some(sha(&blob)), Some(sha(&tarball)), Some(blob.len() as u64));
    let r = stream(f.dest(), &blob, 1000, want, BIG, None).unwrap();
    assert_eq!(r.digest, sha(&blob));
    assert_eq!(r.size, blob.len() as u64);
    assert_eq!(fs::read(f.dest().join("big")).unwrap().len(), 300_000);
}

#[test]
fn streamed_layer_keeps_every_check() {
    let f = Fixture::new();
    let tarball = Tar::default().file("a", &[1; 10_000]).done();
    let blob = gz(&tarball);
    let n = blob.len() as u64;
    let sub = |name: &str| f.t.path().join(name);
    // Wrong digest, short and long blobs, an escape, an abort: all errors.
    let e = stream(
        sub("l1"),
        &blob,
        100,
        (Some("sha256:00".into()), None, Some(n)),
        BIG,
        None,
    )
    .unwrap_err();
    assert!(matches!(e, LayerError::DigestMismatch { kind: "blob", .. }), "{e}");
    let e = stream(sub("l2"), &blob, 100, (None, None, Some(n + 1)), BIG, None).unwrap_err();
    assert!(matches!(e, LayerError::SizeMismatch { .. }), "{e}");
    let e = stream(sub("l3"), &blob, 100, (None, None, Some(n - 1)), BIG, None).unwrap_err();
    assert!(matches!(e, LayerError::SizeMismatch { .. }), "{e}");
    let evil = gz(&Tar::default().file("../outside/victim", b"x").done());
    let e = stream(sub("l4"), &evil, 7, (None, None, None), BIG, None).unwrap_err();
    assert!(matches!(e, LayerError::Escape { .. }), "{e}");
    // Aborted halfway: an error even though what arrived so far is well-formed.
    let plain = Tar::default().file("a", b"x").file("b", b"y").done();
    let e = stream(sub("l5"), &plain, 512, (None, None, None), BIG, Some(2)).unwrap_err();
    assert!(e.to_string().contains("aborted"), "{e}");
    f.assert_outside_intact();
}
