//! `ccr-sentinel demo` as a newcomer runs it: it prints the URLs, the daemon's reconcile creates the followers
//! and the auto-follow pattern on the empty follower cluster (counted in /metrics, written to the audit trail),
//! the followers turn healthy in /metrics with data flowing, the simulator's control endpoint answers, and Ctrl-C
//! (SIGINT) stops everything.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{bin, closed_port, send_signal, wait_exit};

fn http_get(url: &str) -> Option<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async { reqwest::get(url).await.ok()?.text().await.ok() })
}

#[test]
fn demo_runs_prints_urls_and_stops_on_ctrl_c() {
    let listen = format!("127.0.0.1:{}", closed_port());
    let mut child = bin()
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
    let audit = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("audit trail:"))
        .map(|p| std::path::PathBuf::from(p.trim()))
        .unwrap_or_else(|| panic!("no audit trail path in {text}"));

    // The demo creates no follower itself: reconcile (at start-up) sets the remote, follows both configured
    // leader indices and puts the auto-follow patterns, and says so in /metrics.
    let created_by_reconcile = [
        "ccr_sentinel_reconcile_actions_total{action=\"put_remote\",result=\"success\"} 1",
        "ccr_sentinel_reconcile_actions_total{action=\"follow\",result=\"success\"} 3",
        "ccr_sentinel_reconcile_actions_total{action=\"put_auto_follow\",result=\"success\"} 2",
    ];
    // Three followers (two configured, one auto-followed), healthy, with documents flowing, and the large
    // `archive` copied first: its progress is exported; the leader data stream's backing index followed into a
    // replicated data stream of the same name.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = http_get(&metrics_url).unwrap_or_default();
        let reconciled = created_by_reconcile.iter().all(|l| body.contains(l));
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
        let copy = body.lines().any(|l| {
            l.starts_with("ccr_sentinel_follower_bootstrap_progress_ratio{")
                && l.contains("follower_index=\"archive-copy\"")
        });
        if reconciled
            && healthy >= 3
            && written >= 3
            && copy
            && body.contains("follower_index=\"logs-demo-copy\"")
            && body.lines().any(|l| {
                l.starts_with("ccr_sentinel_data_stream_backing_indices{")
                    && l.contains("data_stream=\"metrics-app-demo\"")
                    && l.ends_with(" 1")
            })
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "demo followers not healthy with data within 30 s:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // The same actions in the audit trail, each a JSON line with rule `reconcile`.
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap_or_else(|e| panic!("audit trail {}: {e}", audit.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l}: {e}")))
        .collect();
    let mut followed: Vec<&str> = events
        .iter()
        .filter(|e| e["action"] == "follow" && e["rule"] == "reconcile" && e["result"] == "success")
        .filter_map(|e| e["follower_index"].as_str())
        .collect();
    followed.sort_unstable();
    assert_eq!(
        followed,
        ["archive-copy", "clicks-copy", "orders-copy"],
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "put_auto_follow" && e["rule"] == "reconcile"),
        "{events:?}"
    );

    send_signal(&child, "INT");
    let status = wait_exit(
        &mut child,
        Instant::now(),
        Duration::from_secs(8),
        "demo did not stop within 8 s",
    );
    assert!(status.success(), "{status:?}");
    assert!(
        http_get(&control).is_none(),
        "the simulator still answers after the demo stopped"
    );
    assert!(
        !audit.exists(),
        "the demo's temp dir (audit trail) is removed on exit"
    );
}
