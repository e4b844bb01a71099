//! The systemd notify protocol, end to end: the daemon as a process with `NOTIFY_SOCKET` pointing at a datagram
//! socket bound by the test and `WATCHDOG_USEC` set.

use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{bin, closed_port, run_with_config, send_signal, wait_exit};

fn recv_all(sock: &UnixDatagram, until: Instant) -> Vec<(Instant, String)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        sock.set_read_timeout(Some(
            until
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ))
        .unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => out.push((
                Instant::now(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            )),
            Err(_) => break,
        }
    }
    out
}

fn run_daemon_until_signal(signal: &str, json_logs: bool) {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let config = dir.path().join("ccr.toml");
    let http_port = closed_port();
    // A cluster nobody listens on: the first poll fails fast, and the daemon must still become ready.
    std::fs::write(
        &config,
        format!(
            r#"
[http]
listen = "127.0.0.1:{}"
[schedule]
poll = "* * * * * *"
doc_counts = "*/2 * * * * *"
[clusters.follower]
url = "http://127.0.0.1:{}"
timeout = "1s"
"#,
            http_port,
            closed_port()
        ),
    )
    .unwrap();
    let log_file = dir.path().join("stderr.log");
    let mut cmd = bin();
    cmd.args(["run", "--config"]).arg(&config);
    if json_logs {
        cmd.args(["--log-format", "json"]);
    }
    let mut child = cmd
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_file).unwrap())
        .spawn()
        .unwrap();

    // READY=1 (with a STATUS= line) after the first poll attempt.
    let start = Instant::now();
    let mut ready_at = None;
    let mut messages = Vec::new();
    while ready_at.is_none() && start.elapsed() < Duration::from_secs(15) {
        for (t, m) in recv_all(&sock, Instant::now() + Duration::from_millis(200)) {
            if m.lines().any(|l| l == "READY=1") {
                ready_at = Some(t);
                assert!(
                    m.contains("STATUS=0 followers; clusters up 0/1"),
                    "ready message: {m:?}"
                );
            }
            messages.push(m);
        }
    }
    let ready_at = ready_at.unwrap_or_else(|| panic!("no READY=1 within 15 s; got {messages:?}"));

    // WATCHDOG=1 every WATCHDOG_USEC/2 = 500 ms while the jobs run on time.
    let window = recv_all(&sock, ready_at + Duration::from_millis(2600));
    let pings = window
        .iter()
        .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
        .count();
    assert!(
        (4..=7).contains(&pings),
        "{pings} watchdog pings in ~2.5 s: {window:?}"
    );

    // The Docker HEALTHCHECK command finds the daemon from the same configuration.
    let hc = run_with_config(&["healthcheck"], &config);
    assert!(
        hc.status.success(),
        "healthcheck: {}",
        String::from_utf8_lossy(&hc.stderr)
    );

    send_signal(&child, signal);
    let stop_sent = Instant::now();
    let rest = recv_all(&sock, Instant::now() + Duration::from_secs(6));
    assert!(
        rest.iter()
            .any(|(_, m)| m.lines().any(|l| l == "STOPPING=1")),
        "no STOPPING=1: {rest:?}"
    );
    let status = wait_exit(
        &mut child,
        stop_sent,
        Duration::from_secs(6),
        &format!("daemon did not stop within 6 s of SIG{signal}"),
    );
    assert!(status.success(), "exit status {status:?}");
    let logs = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        logs.contains("shutting down") && logs.contains("stopped"),
        "{logs}"
    );
    if json_logs {
        for line in logs.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            assert!(
                v.get("level").is_some() && v.get("fields").is_some(),
                "{line}"
            );
        }
    } else {
        assert!(
            logs.lines()
                .any(|l| l.contains(" INFO ") && l.contains("first poll finished; ready")),
            "{logs}"
        );
    }
    let hc = bin()
        .args(["healthcheck", "--url"])
        .arg(format!("http://127.0.0.1:{http_port}"))
        .output()
        .unwrap();
    assert_eq!(hc.status.code(), Some(1), "healthcheck of a stopped daemon");
}

#[test]
fn ready_status_watchdog_and_stopping_on_sigterm() {
    run_daemon_until_signal("TERM", false);
}

#[test]
fn stops_cleanly_on_sigint_with_json_logs() {
    run_daemon_until_signal("INT", true);
}
