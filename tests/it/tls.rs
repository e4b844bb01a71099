//! TLS as the client meets it: a cluster behind HTTPS with a private CA. Without the CA the connection is
//! refused (and counted), with `ca_cert` or `insecure_skip_verify` the daemon reads the cluster. The server is
//! Python's `http.server` with a certificate made by the `openssl` CLI; the test is skipped when either tool is
//! missing.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{closed_port, one_shot};

/// `tool` runs, with `--version` or `version`.
fn have(tool: &str) -> bool {
    ["--version", "version"].iter().any(|arg| {
        Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `openssl <args>`, then each `(flag, file)` with the file in `dir`; it must succeed.
fn openssl(dir: &Path, args: &[&str], files: &[(&str, &str)]) {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    for (flag, file) in files {
        cmd.arg(flag).arg(dir.join(file));
    }
    sh(&mut cmd);
}

/// A CA and a server certificate for 127.0.0.1, signed by it.
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
        ],
        &[("-keyout", "ca.key"), ("-out", "ca.pem")],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ],
        &[("-keyout", "server.key"), ("-out", "server.csr")],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &["x509", "-req", "-days", "2", "-CAcreateserial"],
        &[
            ("-in", "server.csr"),
            ("-CA", "ca.pem"),
            ("-CAkey", "ca.key"),
            ("-extfile", "ext.cnf"),
            ("-out", "server.pem"),
        ],
    );
}

/// Serves `root` over HTTPS on `port`; the files stand for the endpoints (queries are ignored).
fn serve(root: &Path, port: u16) -> Child {
    let script = format!(
        "import http.server, ssl, functools\n\
         h = functools.partial(http.server.SimpleHTTPRequestHandler, directory={root:?})\n\
         s = http.server.ThreadingHTTPServer(('127.0.0.1', {port}), h)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
         c.load_cert_chain({cert:?}, {key:?})\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         s.serve_forever()\n",
        root = root.display().to_string(),
        cert = root.join("../server.pem").display().to_string(),
        key = root.join("../server.key").display().to_string(),
    );
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_ca_and_insecure_skip_verify() {
    if !have("openssl") || !have("python3") {
        eprintln!("openssl or python3 missing; skipping the TLS test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let root = dir.path().join("www");
    for (path, body) in [
        (
            "_ccr/stats",
            r#"{"auto_follow_stats":{},"follow_stats":{"indices":[]}}"#,
        ),
        ("_all/_ccr/info", r#"{"follower_indices":[]}"#),
        ("_remote/info", r#"{}"#),
        ("_recovery", r#"{}"#),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let port = closed_port();
    let mut server = serve(&root, port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "HTTPS test server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let ca = dir.path().join("ca.pem");
    let cases = [
        ("", false),
        (&*format!("ca_cert = {:?}", ca.display().to_string()), true),
        ("insecure_skip_verify = true", true),
    ];
    for (tls, reachable) in cases {
        let d = one_shot(&format!(
            "[clusters.follower]\nurl = \"https://127.0.0.1:{port}\"\ntimeout = \"3s\"\n{tls}\n"
        ));
        d.poll_once().await;
        let r = d.report();
        assert_eq!(r.clusters[0].up, reachable, "{tls:?}: {:?}", r.clusters[0]);
        let text = d.metrics().render().unwrap();
        let counted = text.contains(r#"ccr_sentinel_request_errors_total{cluster="follower",endpoint="ccr_stats",reason="connect"} 1"#);
        assert_eq!(counted, !reachable, "{tls:?}:\n{text}");
        if !reachable {
            let err = r.clusters[0].errors.values().next().unwrap();
            assert!(err.to_lowercase().contains("certificate"), "{err}");
            assert!(!err.contains("https://"), "URL in error: {err}");
        }
    }
    let _ = server.kill();
    let _ = server.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_server_certificate_as_ca_cert_gets_a_helpful_error() {
    if !have("openssl") || !have("python3") {
        eprintln!("openssl or python3 missing; skipping the TLS test");
        return;
    }
    // `openssl req -x509` makes a CA certificate (basicConstraints CA:TRUE); served directly as the server's
    // own certificate, rustls refuses it even when it is the configured `ca_cert`.
    let dir = tempfile::tempdir().unwrap();
    openssl(
        dir.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        &[("-keyout", "server.key"), ("-out", "server.pem")],
    );
    let root = dir.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    let port = closed_port();
    let mut server = serve(&root, port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "HTTPS test server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let d = one_shot(&format!(
        "[clusters.follower]\nurl = \"https://127.0.0.1:{port}\"\ntimeout = \"3s\"\nca_cert = {:?}\n",
        dir.path().join("server.pem").display().to_string()
    ));
    d.poll_once().await;
    let r = d.report();
    let err = r.clusters[0].errors.values().next().unwrap().clone();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        err.contains("the server presents a CA certificate as its own"),
        "{err}"
    );
}
