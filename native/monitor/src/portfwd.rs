//! `berth-monitor port-forward --netns PATH --port N`: one port-forward connection.
//! Joins the pod's network namespace (this helper is a process of its own, so berthd
//! never moves a thread between namespaces), connects to localhost:N there, and relays
//! stdin → socket and socket → stdout until both directions are done. A failed connect
//! is one line on stderr and exit code 1 (berthd puts it on the error stream).
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

pub fn port_forward(flags: HashMap<String, String>) -> i32 {
    let Some(port) = flags.get("port").and_then(|p| p.parse::<u16>().ok()) else {
        super::usage()
    };
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    if let Some(ns) = flags.get("netns") {
        let joined = File::open(ns)
            .map_err(|e| e.to_string())
            .and_then(|f| nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string()));
        if let Err(e) = joined {
            eprintln!("cannot enter network namespace {ns}: {e}");
            return 1;
        }
    }
    let addrs: [SocketAddr; 2] = [
        ([127, 0, 0, 1], port).into(),
        (std::net::Ipv6Addr::LOCALHOST, port).into(),
    ];
    let mut last = None;
    let mut sock = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(10)) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(sock) = sock else {
        eprintln!(
            "failed to connect to localhost:{port} inside the pod: {}",
            last.map(|e| e.to_string()).unwrap_or_default()
        );
        return 1;
    };
    let _ = sock.set_nodelay(true);
    let mut to_sock = match sock.try_clone() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("port-forward: {e}");
            return 1;
        }
    };
    // Two blocking copies, one per direction: this process relays exactly one connection.
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to_sock);
        let _ = to_sock.shutdown(Shutdown::Write);
    });
    let mut from_sock = sock;
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from_sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    drop(out);
    // The pod side has finished: so has this connection (the Kubernetes clients wait for
    // the error stream to end before they close their side, so we must not wait for them).
    drop(upstream);
    0
}
