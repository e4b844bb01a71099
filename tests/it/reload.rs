//! Configuration reload: the daemon as a process against the simulator, its file changed and SIGHUP sent. A
//! valid change takes effect without a restart (systemd hears RELOADING=1, MONOTONIC_USEC, READY=1); an invalid
//! one is refused with every problem logged while the daemon keeps running on the old one.

use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::policy::{connected_pair, following};
use crate::common::{bin, closed_port, daemon_config, get, sample, send_signal, wait_exit};

fn follower(leader: &str, follower: &str) -> String {
    format!(
        "\n[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"{leader}\"\nfollower_index = \"{follower}\"\n"
    )
}

/// The daemon process, killed if the test fails before stopping it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Every notify message received so far.
fn drain(sock: &UnixDatagram, into: &mut Vec<String>) {
    let mut buf = [0u8; 4096];
    sock.set_nonblocking(true).unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        into.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
}

/// GETs `url` until `pred` holds on the body (the request may fail meanwhile), or fails after 20 s.
async fn wait_body(url: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(url).await {
            let body = r.text().await.unwrap_or_default();
            if pred(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}:\n{body}"
            );
        } else {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_valid_config_and_keeps_the_old_one_when_invalid() {
    let sim = connected_pair(false).await;
    following(&sim, "logs", "logs-copy", 3).await;
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let port = closed_port();
    let base = format!("http://127.0.0.1:{port}");
    let config_text = |extra: &str| {
        daemon_config(&sim, extra).replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
    };
    let path = dir.path().join("ccr-sentinel.toml");
    std::fs::write(&path, config_text(&follower("logs", "logs-copy"))).unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = KillOnDrop(
        bin()
            .args(["run", "--config"])
            .arg(&path)
            .env("NOTIFY_SOCKET", &sock_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let metrics = format!("{base}/metrics");
    // Configured but absent: watched (state `missing`) only once the configuration names it.
    let orders = "follower_index=\"orders-copy\"";
    let body = wait_body(&metrics, "logs-copy is watched", |b| {
        b.contains("follower_index=\"logs-copy\"")
    })
    .await;
    assert!(!body.contains(orders), "orders-copy is not configured yet");
    // READY=1 follows the first poll, which /metrics may show a moment before it is sent.
    let mut notes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !notes.iter().any(|m: &String| m.contains("READY=1")) {
        assert!(Instant::now() < deadline, "no READY=1: {notes:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        drain(&sock, &mut notes);
    }

    // A valid change: one more follower (absent on the cluster, so it shows as `missing`).
    std::fs::write(
        &path,
        config_text(&format!(
            "{}{}",
            follower("logs", "logs-copy"),
            follower("orders", "orders-copy")
        )),
    )
    .unwrap();
    send_signal(&child.0, "HUP");
    let body = wait_body(&metrics, "orders-copy is watched after the reload", |b| {
        b.contains(orders)
    })
    .await;
    assert_eq!(
        sample(
            &body,
            "ccr_sentinel_config_reloads_total{result=\"success\"}"
        ),
        Some(1.0)
    );
    assert_eq!(sample(&body, "ccr_sentinel_config_generation"), Some(2.0));
    let (_, status) = get(&format!("{base}/status")).await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["config"]["generation"], 2, "{}", status["config"]);
    assert_eq!(
        status["config"]["sha256"].as_str().map(str::len),
        Some(64),
        "{}",
        status["config"]
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        drain(&sock, &mut notes);
        let reloading = notes.iter().position(|m| m.contains("RELOADING=1"));
        if let Some(i) = reloading {
            assert!(notes[i].contains("MONOTONIC_USEC="), "{}", notes[i]);
            if notes[i + 1..].iter().any(|m| m.contains("READY=1")) {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no RELOADING=1 then READY=1: {notes:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // An invalid file: refused with every problem, the daemon keeps the running configuration.
    std::fs::write(
        &path,
        config_text(&follower("logs", "logs-copy"))
            .replace("poll = \"* * * * * *\"", "poll = \"every second\"")
            .replace("[http]", "[http]\ncolour = \"blue\""),
    )
    .unwrap();
    send_signal(&child.0, "HUP");
    let body = wait_body(&metrics, "the invalid reload is counted", |b| {
        sample(b, "ccr_sentinel_config_reloads_total{result=\"failure\"}") == Some(1.0)
    })
    .await;
    assert!(
        body.contains(orders),
        "the running configuration was replaced"
    );
    assert_eq!(
        sample(&body, "ccr_sentinel_config_last_reload_successful"),
        Some(0.0)
    );
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "SIGHUP stopped the daemon"
    );
    let (_, status) = get(&format!("{base}/status")).await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let problems = status["config"]["last_reload"]["problems"].to_string();
    assert!(
        problems.contains("schedule.poll") && problems.contains("http.colour"),
        "{problems}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    for needle in ["schedule.poll", "http.colour", "keeping the running one"] {
        assert!(logged.contains(needle), "{needle:?} not logged:\n{logged}");
    }
    // Still polling on the old configuration.
    let runs = |s: &str| {
        serde_json::from_str::<serde_json::Value>(s).unwrap()["jobs"]["poll"]["runs"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = runs(&get(&format!("{base}/status")).await.1);
    wait_body(&format!("{base}/status"), "poll runs on", |b| {
        runs(b) >= before + 2
    })
    .await;

    send_signal(&child.0, "TERM");
    let status = wait_exit(
        &mut child.0,
        Instant::now(),
        Duration::from_secs(10),
        "no exit on SIGTERM",
    );
    assert!(status.success(), "{status:?}");
    drain(&sock, &mut notes);
    assert!(notes.iter().any(|m| m.contains("STOPPING=1")), "{notes:?}");
}
