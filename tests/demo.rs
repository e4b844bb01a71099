//! `ccr-sentinel demo` as a newcomer runs it: it prints the URLs, the followers turn healthy in /metrics with
//! data flowing, the simulator's control endpoint answers, and Ctrl-C (SIGINT) stops everything.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn http_get(url: &str) -> Option<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { reqwest::get(url).await.ok()?.text().await.ok() })
}

#[test]
fn demo_runs_prints_urls_and_stops_on_ctrl_c() {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ccr-sentinel"))
        .args([
            "demo",
            "--no-events",
            "--sim-port",
            "0",
            "--listen",
            &listen,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.iter().any(|l: &String| l.starts_with("Ctrl-C")) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => lines.push(l),
            Err(_) => panic!("demo did not print its URLs within 30 s: {lines:?}"),
        }
    }
    let text = lines.join("\n");
    let metrics_url = format!("http://{listen}/metrics");
    assert!(text.contains(&metrics_url), "{text}");
    assert!(text.contains(&format!("http://{listen}/status")), "{text}");
    let control = text
        .split_whitespace()
        .find(|w| w.ends_with("/_sim/state"))
        .unwrap_or_else(|| panic!("no control URL in {text}"))
        .to_string();
    let state = http_get(&control).expect("simulator control endpoint answers");
    assert!(state.contains("\"indices\""), "{state}");

    // Three followers (two configured, one auto-followed), healthy, with documents flowing.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = http_get(&metrics_url).unwrap_or_default();
        let healthy = body
            .lines()
            .filter(|l| {
                l.starts_with("ccr_sentinel_follower_state") && l.contains("state=\"healthy\"} 1")
            })
            .count();
        let written = body
            .lines()
            .filter(|l| l.starts_with("elasticsearch_ccr_follower_operations_written_total"))
            .filter(|l| {
                l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v > 0.0)
            })
            .count();
        if healthy == 3 && written == 3 && body.contains("follower_index=\"logs-demo-copy\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "demo followers not healthy with data within 30 s:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let kill = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
    let stop = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stop.elapsed() < Duration::from_secs(8),
            "demo did not stop within 8 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        http_get(&control).is_none(),
        "the simulator still answers after the demo stopped"
    );
}
