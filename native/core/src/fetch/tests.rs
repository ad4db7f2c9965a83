//! The blob client against a real loopback server: framing, redirects, credentials.
use super::testserver::{respond, Server};
use super::*;
use std::io::Read;

fn req<'a>(url: &'a str, auth: Option<&'a str>) -> Request<'a> {
    Request {
        url,
        authorization: auth,
        headers: &[],
        tls: tls_config(&TlsOptions::default()).unwrap(),
        idle: Duration::from_secs(5),
    }
}

fn body(mut r: Response) -> Vec<u8> {
    let mut v = Vec::new();
    r.body.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn urls_parse_and_join() {
    let u = Url::parse("https://reg.example:5000/v2/a/blobs/sha256:1").unwrap();
    assert_eq!(
        (u.tls, u.host.as_str(), u.port, u.path.as_str()),
        (true, "reg.example", 5000, "/v2/a/blobs/sha256:1")
    );
    assert_eq!(Url::parse("http://[::1]/x").unwrap().port, 80);
    assert_eq!(u.join("/other").unwrap().authority, "reg.example:5000");
    assert_eq!(u.join("//cdn.example/b").unwrap().authority, "cdn.example");
    assert!(!u.join("http://cdn.example/b").unwrap().tls);
    assert_eq!(u.join("rel").unwrap().path, "/v2/a/blobs/rel");
    for bad in ["ftp://x/", "http://", "http://u@h/", "http://h/a b", "http://h:99999/"] {
        assert!(Url::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn chunked_bodies_are_decoded() {
    let s = Server::start(|_, _, c| {
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: y\r\n\r\n");
    });
    let url = s.url("/b");
    assert_eq!(body(get(&req(&url, None)).unwrap()), b"hello world");
}

#[test]
fn a_body_cut_short_is_an_error_not_an_end() {
    let s = Server::start(|_, _, c| {
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf");
    });
    let url = s.url("/b");
    let mut r = get(&req(&url, None)).unwrap();
    let e = r.body.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn credentials_follow_redirects_only_on_the_same_host() {
    let storage = Server::start(|_, _, c| respond(c, "200 OK", &[], b"blob"));
    // localhost:P and 127.0.0.1:P are different hosts as far as credentials go.
    let elsewhere = format!("http://localhost:{}/s3/blob", storage.addr.port());
    let registry = Server::start(move |n, _, c| match n {
        0 => respond(c, "307 Temporary Redirect", &[("Location", "/v2/moved")], b""),
        _ => respond(c, "302 Found", &[("Location", &elsewhere)], b""),
    });
    let url = registry.url("/v2/r/blobs/sha256:1");
    let r = get(&req(&url, Some("Bearer secret"))).unwrap();
    assert_eq!(
        (r.status, r.host.clone()),
        (200, format!("localhost:{}", storage.addr.port()))
    );
    assert_eq!(body(r), b"blob");
    let reg = registry.heads();
    assert!(
        reg.iter().all(|h| h.contains("Authorization: Bearer secret")),
        "{reg:?}"
    );
    assert!(reg[1].starts_with("GET /v2/moved "));
    assert!(
        !storage.heads()[0].to_ascii_lowercase().contains("authorization"),
        "{:?}",
        storage.heads()
    );
}

#[test]
fn redirect_loops_and_header_injection_are_refused() {
    let s = Server::start(|_, _, c| respond(c, "302 Found", &[("Location", "/again")], b""));
    let url = s.url("/x");
    assert!(matches!(get(&req(&url, None)), Err(FetchError::Redirects { .. })));
    assert_eq!(s.heads().len(), MAX_REDIRECTS + 1);
    assert!(matches!(
        get(&req(&url, Some("Bearer a\r\nX-Evil: 1"))),
        Err(FetchError::BadUrl(_))
    ));
}

#[test]
fn a_plain_http_server_fails_a_tls_handshake_cleanly() {
    let s = Server::start(|_, _, c| {
        respond(
            c,
            "400 Bad Request",
            &[],
            b"Client sent an HTTP request to an HTTPS server.",
        )
    });
    let url = format!("https://{}/x", s.addr);
    let e = get(&req(&url, None)).err().expect("TLS to a plain server must fail");
    assert!(
        matches!(
            e,
            FetchError::Tls { .. } | FetchError::Io { .. } | FetchError::Protocol { .. }
        ),
        "{e:?}"
    );
}

/// A client certificate pair that cannot be used is refused when the TLS config is
/// built, naming its file, and neither the error nor Debug output quotes the key.
#[test]
fn client_certificates_are_checked_and_keys_never_shown() {
    // Base64 of "secret-key-bytes": what must not leak.
    let key = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
    let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let pair = |cert: &str, key: &str| TlsOptions {
        client_certs: vec![ClientCert {
            cert_pem: cert.into(),
            key_pem: key.into(),
            source: "/etc/containers/certs.d/reg:5000/client.cert".into(),
        }],
        ..TlsOptions::default()
    };
    for (opts, why) in [
        (pair("not pem", key), "no PEM certificate"),
        (pair(cert, "not pem"), "no PEM private key"),
        (pair(cert, key), "private key"),
    ] {
        let e = tls_config(&opts).unwrap_err();
        assert!(e.contains("certs.d/reg:5000/client.cert") && e.contains(why), "{e}");
        assert!(!e.contains("c2VjcmV0") && !e.contains("secret"), "{e}");
        assert!(!format!("{opts:?}").contains("c2VjcmV0"));
    }
    assert!(tls_config(&TlsOptions::default()).is_ok());
}
