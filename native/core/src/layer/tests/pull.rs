//! The native pull path against a real loopback HTTP server that misbehaves on cue:
//! connections cut mid-blob (resumed with Range, or skipped to where a registry that
//! ignores Range resends from 0), 5xx retried, 4xx reported with the challenge, lengths
//! that contradict the descriptor refused, and a stalled download cancelled.
use super::*;
use crate::fetch::testserver::{range_start, respond, Server};
use crate::fetch::TlsOptions;
use crate::layer::pull::{pull, Control, PullError, PullJob};
use crate::layer::sink::Job;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn blob() -> (Vec<u8>, String, String) {
    let mut t = Tar::default();
    for i in 0..40 {
        t.file(&format!("d/f{i}"), &vec![i as u8; 10_000]);
    }
    let tarball = t.done();
    let b = gz(&tarball);
    let (d, diff) = (sha(&b), sha(&tarball));
    (b, d, diff)
}

fn job(f: &Fixture, url: String, b: &[u8], digest: &str, diff: &str) -> PullJob {
    PullJob {
        extract: Job {
            dest: f.dest(),
            layer: "L of image I".into(),
            digest: Some(digest.into()),
            diff_id: Some(diff.into()),
            size: Some(b.len() as u64),
            max_uncompressed: BIG,
        },
        url,
        authorization: Some("Bearer t".into()),
        tls: TlsOptions::default(),
        idle: Duration::from_secs(5),
    }
}

#[test]
fn a_cut_connection_resumes_with_range() {
    let f = Fixture::new();
    let (b, d, diff) = blob();
    let data = b.clone();
    let s = Server::start(move |n, head, c| match range_start(head) {
        None if n == 0 => {
            let _ = c.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len()).as_bytes());
            let _ = c.write_all(&data[..data.len() / 3]);
        }
        Some(at) => {
            let range = format!("bytes {at}-{}/{}", data.len() - 1, data.len());
            respond(c, "206 Partial Content", &[("Content-Range", &range)], &data[at..]);
        }
        None => respond(c, "500 No", &[], b""),
    });
    let ctl = Arc::new(Control::default());
    let r = pull(job(&f, s.url("/v2/r/blobs/x"), &b, &d, &diff), ctl.clone()).unwrap();
    assert_eq!((r.digest, r.diff_id, ctl.bytes()), (d, diff, b.len() as u64));
    let heads = s.heads();
    assert_eq!(heads.len(), 2);
    let resumed = ctl.take_resumes();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].0, (b.len() / 3) as u64);
    assert!(ctl.take_resumes().is_empty());
    assert!(
        heads[1].contains(&format!("Range: bytes={}-", b.len() / 3)),
        "{heads:?}"
    );
    assert_eq!(fs::read(f.dest().join("d/f39")).unwrap(), vec![39u8; 10_000]);
}

#[test]
fn a_registry_that_ignores_range_is_skipped_ahead_and_5xx_is_retried() {
    let f = Fixture::new();
    let (b, d, diff) = blob();
    let data = b.clone();
    let s = Server::start(move |n, _, c| match n {
        0 => respond(c, "503 Busy", &[], b""),
        1 => {
            let _ = c.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len()).as_bytes());
            let _ = c.write_all(&data[..1000]);
        }
        _ => respond(c, "200 OK", &[], &data),
    });
    let r = pull(job(&f, s.url("/b"), &b, &d, &diff), Arc::new(Control::default())).unwrap();
    assert_eq!(r.digest, d);
    assert_eq!(s.heads().len(), 3);
}

#[test]
fn refusals_carry_status_host_and_challenge() {
    let f = Fixture::new();
    let (b, d, diff) = blob();
    let s = Server::start(|_, _, c| {
        respond(
            c,
            "401 Unauthorized",
            &[("WWW-Authenticate", "Bearer realm=\"http://t/token\"")],
            b"",
        )
    });
    match pull(job(&f, s.url("/b"), &b, &d, &diff), Arc::new(Control::default())) {
        Err(PullError::Status {
            status: 401,
            challenge: Some(c),
            host,
            ..
        }) => {
            assert!(c.starts_with("Bearer realm"));
            assert_eq!(host, s.addr.to_string());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.heads().len(), 1, "a 401 is not retried");
    let long = Server::start(|_, _, c| respond(c, "200 OK", &[], &[0u8; 100_000]));
    let e = pull(job(&f, long.url("/b"), &b, &d, &diff), Arc::new(Control::default())).unwrap_err();
    assert!(matches!(e, PullError::Invalid { .. }), "{e:?}");
    assert!(e.to_string().contains("L of image I"), "{e}");
}

#[test]
fn a_wrong_blob_fails_verification() {
    let f = Fixture::new();
    let (b, d, diff) = blob();
    let mut evil = b.clone();
    let n = evil.len();
    evil[n - 9] ^= 1; // the gzip trailer's CRC: the tar still parses
    let s = Server::start(move |_, _, c| respond(c, "200 OK", &[], &evil));
    let e = pull(job(&f, s.url("/b"), &b, &d, &diff), Arc::new(Control::default())).unwrap_err();
    assert!(matches!(e, PullError::Layer(_)), "{e:?}");
}

#[test]
fn cancel_stops_a_stalled_download_at_once() {
    let f = Fixture::new();
    let (b, d, diff) = blob();
    let data = b.clone();
    let s = Server::start(move |_, _, c| {
        let _ = c.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len()).as_bytes());
        let _ = c.write_all(&data[..100]);
        std::thread::sleep(Duration::from_secs(3));
    });
    let ctl = Arc::new(Control::default());
    let c2 = ctl.clone();
    let t0 = Instant::now();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        c2.cancel();
    });
    let e = pull(job(&f, s.url("/b"), &b, &d, &diff), ctl).unwrap_err();
    assert!(matches!(e, PullError::Cancelled { .. }), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
}
