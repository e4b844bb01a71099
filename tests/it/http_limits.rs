//! The daemon's own port under a flood: thousands of idle TCP connections and slowloris clients (a header byte
//! a second) neither starve a scrape nor the polls, and idle and slow connections are closed.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::policy::{connected_pair, following};
use crate::common::{daemon_config, Running};

/// The open descriptors of this process (the daemon runs in it).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The runs of job `poll`, from `/status`.
async fn poll_runs(d: &Running) -> u64 {
    let (_, body) = d.get("/status").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["jobs"]["poll"]["runs"].as_u64().unwrap_or(0)
}

/// Whether the server closed `s` (EOF or reset) within `within`.
async fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before closing is fine: keep reading until EOF.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// A client sending a request head one byte a second, never finishing it.
fn slowloris(addr: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(mut s) = TcpStream::connect(&addr).await else {
            return;
        };
        if s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .await
            .is_err()
        {
            return;
        }
        for _ in 0..120 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if s.write_all(b"X").await.is_err() {
                return;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_and_slowloris_do_not_starve_scrapes_or_polls() {
    let sim = connected_pair(false).await;
    following(&sim, "logs", "logs-copy", 3).await;
    let cfg = daemon_config(
        &sim,
        r#"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "logs-copy"
"#,
    )
    .replace(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:0\"\nmax_connections = 256\nheader_read_timeout = \"2s\"",
    );
    let d = Running::start(&cfg).await;
    d.wait_for("/metrics", 20, |b| {
        b.contains("ccr_sentinel_cluster_up{cluster=\"follower\"} 1")
    })
    .await;
    let addr = d.base.trim_start_matches("http://").to_string();
    let before = open_fds();

    let mut idle = Vec::with_capacity(2000);
    for _ in 0..2000 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let loris: Vec<_> = (0..50).map(|_| slowloris(addr.clone())).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let t0 = Instant::now();
    let (status, body) = d.get("/metrics").await;
    let latency = t0.elapsed();
    println!(
        "scrape with 2,000 idle connections and 50 slowloris held: {} ms",
        latency.as_millis()
    );
    assert_eq!(status, 200);
    assert!(body.contains("ccr_sentinel_follower_state"), "{body}");
    // The daemon holds at most `max_connections` of them (plus the few of its own and of the scrape).
    let held = open_fds().saturating_sub(before);
    assert!(
        held <= 2000 + 50 + 256 + 64,
        "{held} descriptors opened for 2,050 client connections with a cap of 256"
    );

    // The polls go on: `poll` keeps finishing runs.
    let runs = poll_runs(&d).await;
    d.wait_for("/status", 20, |b| {
        serde_json::from_str::<serde_json::Value>(b).unwrap()["jobs"]["poll"]["runs"]
            .as_u64()
            .unwrap_or(0)
            >= runs + 2
    })
    .await;

    // Every idle connection is closed by the server: the oldest ones made room, the rest timed out.
    for s in idle.iter_mut().rev().take(50) {
        assert!(
            closed_by_server(s, Duration::from_secs(20)).await,
            "an idle connection stayed open"
        );
    }
    for l in &loris {
        l.abort();
    }
    let (status, _) = d.get("/metrics").await;
    assert_eq!(status, 200);
    d.stop().await;
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed_after_the_header_read_timeout() {
    let sim = connected_pair(false).await;
    let cfg = daemon_config(&sim, "").replace(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:0\"\nheader_read_timeout = \"1s\"",
    );
    let d = Running::start(&cfg).await;
    let addr = d.base.trim_start_matches("http://").to_string();
    // Far below the cap: nothing is evicted, only the timeout can close them.
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\n").await.unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow.write_all(b"X").await.is_err() {
                return true;
            }
        }
        false
    });
    assert!(
        closed_by_server(&mut silent, Duration::from_secs(15)).await,
        "a connection that never sent anything stayed open"
    );
    assert!(
        writer.await.unwrap(),
        "a connection sending its head a byte at a time stayed open"
    );
    // A kept-alive connection between two scrapes is not held past the timeout either.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 "), "{:?}", &buf[..n]);
    assert!(closed_by_server(&mut kept, Duration::from_secs(15)).await);
    d.stop().await;
}
