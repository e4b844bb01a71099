//! What goes over the wire to Elasticsearch: every read carries its `filter_path`, answers are gzipped and
//! decoded, a poll costs a fixed number of requests per cluster, and the response cap holds on decoded bytes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use ccr_sim::{ClusterConfig, Sim};
use serde_json::Value;

use crate::common::{
    closed_port, connect, create_leader_index, daemon_config, logs_already_followed, one_shot,
    run_cli_with_config, write_config,
};

/// A TCP proxy on a loopback port in front of `upstream`: it records the request line of every request and the
/// bytes the server sent back. With `strip_filter` it removes `filter_path` from request lines, with `strip_gzip`
/// it drops `Accept-Encoding`: together they play a server that ignores both (bodyless requests only, which is
/// what polls send).
struct Recorder {
    port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    bytes_back: Arc<AtomicUsize>,
}

fn recorder(upstream: u16) -> Recorder {
    proxy(upstream, false, false)
}

/// Removes the `filter_path` parameter from a request target.
fn without_filter_path(line: &str) -> String {
    let mut parts = line.splitn(3, ' ');
    let (m, target, v) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let Some((path, q)) = target.split_once('?') else {
        return line.to_string();
    };
    let kept: Vec<&str> = q
        .split('&')
        .filter(|kv| !kv.starts_with("filter_path="))
        .collect();
    if kept.is_empty() {
        format!("{m} {path} {v}")
    } else {
        format!("{m} {path}?{} {v}", kept.join("&"))
    }
}

fn proxy(upstream: u16, strip_filter: bool, strip_gzip: bool) -> Recorder {
    let strip = strip_filter || strip_gzip;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let bytes_back = Arc::new(AtomicUsize::new(0));
    let (lines2, back2) = (lines.clone(), bytes_back.clone());
    std::thread::spawn(move || {
        for client in l.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let back = back2.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = s2.read(&mut buf) {
                    if n == 0 || c2.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    back.fetch_add(n, Ordering::SeqCst);
                }
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
            let lines = lines2.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                let mut pending = Vec::new();
                'conn: while let Ok(n) = client.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    // Request lines are whole lines of the client's stream (bodies are JSON, never such a line).
                    // They are recorded before the bytes go on, so no answer can reach the daemon before its
                    // request is counted.
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(i) = pending.windows(2).position(|w| w == b"\r\n") {
                        let mut line = String::from_utf8_lossy(&pending[..i]).to_string();
                        pending.drain(..i + 2);
                        let request_line = line.ends_with(" HTTP/1.1")
                            && ["GET ", "POST ", "PUT ", "DELETE ", "HEAD "]
                                .iter()
                                .any(|m| line.starts_with(m));
                        if request_line {
                            lines.lock().unwrap().push(line.clone());
                        }
                        if strip {
                            if request_line && strip_filter {
                                line = without_filter_path(&line);
                            } else if strip_gzip
                                && line.to_ascii_lowercase().starts_with("accept-encoding:")
                            {
                                continue;
                            }
                            line.push_str("\r\n");
                            if server.write_all(line.as_bytes()).is_err() {
                                break 'conn;
                            }
                        }
                    }
                    if !strip && server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = server.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    Recorder {
        port,
        lines,
        bytes_back,
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_of_poll_doc_counts_and_reconcile_sends_its_filter_path() {
    let sim = logs_already_followed("8.15.0").await;
    // A follower without shard tasks makes the poll read `_recovery` too (it could be copying).
    let (status, body) =
        sim.cluster("follower")
            .request("POST", "/logs-copy/_ccr/pause_follow", None);
    assert_eq!(status, 200, "{body}");
    let (l, f) = (port_of(&sim.url("leader")), port_of(&sim.url("follower")));
    let (rl, rf) = (recorder(l), recorder(f));
    // An auto-follow pattern makes the poll read both clusters' data streams and the leader's shard stats too.
    let pattern = "[[auto_follow]]\ncluster = \"follower\"\nname = \"metrics\"\nremote = \"leader\"\nleader_index_patterns = [\"metrics-*\"]\n";
    let toml = daemon_config(&sim, pattern)
        .replace(&sim.url("leader"), &format!("http://127.0.0.1:{}", rl.port))
        .replace(
            &sim.url("follower"),
            &format!("http://127.0.0.1:{}", rf.port),
        );
    let d = one_shot(&toml);
    d.poll_once().await;
    let after_poll = rf.lines.lock().unwrap().len() + rl.lines.lock().unwrap().len();
    d.doc_counts_once().await;
    let after_counts = rf.lines.lock().unwrap().len() + rl.lines.lock().unwrap().len();
    // A fixed number of requests per cluster: for the poll of the follower cluster four reads (`_recovery`
    // for the paused follower), its `_data_stream` and the first poll's `GET /` (the version gate of data
    // streams); of the leader its shard stats, the first poll's retention-lease periods, its `_data_stream` and
    // `GET /`; for doc_counts one `_cat/indices` per cluster (the polls around it are its stats brackets).
    assert_eq!(
        after_poll,
        10,
        "{:?} {:?}",
        rf.lines.lock().unwrap(),
        rl.lines.lock().unwrap()
    );
    assert_eq!(after_counts - after_poll, 2);
    let r = d.report();
    let fo = r.clusters.iter().find(|c| c.name == "follower").unwrap();
    assert!(fo.up, "{:?}", fo.errors);

    // Reconcile (as the CLI runs it), following `logs` as configured.
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{toml}\n[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"logs\"\nfollower_index = \"logs-copy\"\n"
    );
    let config = write_config(dir.path(), &text);
    let out = run_cli_with_config(&["reconcile", "--once", "--dry-run"], &config).await;
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let after_reconcile = rf.lines.lock().unwrap().len() + rl.lines.lock().unwrap().len();
    assert!(after_reconcile > after_counts, "reconcile read nothing");

    let mut all: Vec<String> = rf.lines.lock().unwrap().clone();
    all.extend(rl.lines.lock().unwrap().iter().cloned());
    assert!(all.len() >= 7);
    assert!(all.iter().any(|l| l.contains(" /_recovery?")), "{all:?}");
    for line in &all {
        let target = line.split_whitespace().nth(1).unwrap();
        if target.starts_with("/_cat/indices") {
            // `h` is the field selection of the cat APIs.
            assert!(target.contains("h=index,status,docs.count"), "{line}");
            continue;
        }
        let fp = target
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("filter_path="));
        assert!(fp.is_some_and(|v| !v.is_empty()), "no filter_path: {line}");
    }
    assert!(rf.bytes_back.load(Ordering::SeqCst) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_body_that_inflates_past_the_cap_is_refused() {
    // 8 MiB of spaces compress to a few KiB; the 1 MiB cap applies to what they inflate to.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..128 {
        gz.write_all(&[b' '; 64 << 10]).unwrap();
    }
    let bomb = Arc::new(gz.finish().unwrap());
    assert!(bomb.len() < 64 << 10);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let accept_encoding = Arc::new(Mutex::new(Vec::new()));
    let seen = accept_encoding.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let (bomb, seen) = (bomb.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req).to_lowercase();
                seen.lock()
                    .unwrap()
                    .push(text.contains("accept-encoding: gzip"));
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    bomb.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&bomb);
            });
        }
    });
    let toml = format!(
        "[clusters.follower]\nurl = \"http://127.0.0.1:{port}\"\ntimeout = \"5s\"\nmax_response_size = \"1mb\"\n\
         [clusters.leader]\nurl = \"http://127.0.0.1:{}\"\n\
         [[remotes]]\ncluster = \"follower\"\nalias = \"leader\"\nleader = \"leader\"\n",
        closed_port()
    );
    let d = one_shot(&toml);
    d.poll_once().await;
    let r = d.report();
    let c = r.clusters.iter().find(|c| c.name == "follower").unwrap();
    let err = &c.errors["ccr_stats"];
    assert!(err.contains("larger than 1048576 bytes"), "{err}");
    let text = d.metrics().render().unwrap();
    assert!(
        text.contains(r#"ccr_sentinel_request_errors_total{cluster="follower",endpoint="ccr_stats",reason="response_too_large"} 1"#),
        "{text}"
    );
    let seen = accept_encoding.lock().unwrap();
    assert!(!seen.is_empty() && seen.iter().all(|g| *g), "{seen:?}");
}

/// A deterministic-clock pair following `n` leader indices of `shards` shards each, caught up, the clock then
/// left still (so two reads see the same state).
async fn still_pair(n: usize, shards: u32) -> Sim {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"))
        .deterministic_clock()
        .start()
        .await
        .unwrap();
    connect(&sim, "follower", "leader", "leader");
    for i in 0..n {
        let index = format!("logs-{i}");
        if shards == 1 {
            create_leader_index(&sim, &index, 3);
        } else {
            let (status, body) = sim.cluster("leader").request(
                "PUT",
                &format!("/{index}"),
                Some(serde_json::json!({"settings": {"index.number_of_shards": shards}})),
            );
            assert_eq!(status, 200, "{body}");
            sim.cluster("leader").index_docs(&index, 3).unwrap();
        }
        sim.cluster("follower")
            .follow(&format!("{index}-copy"), "leader", &index)
            .unwrap();
    }
    let f = sim.cluster("follower");
    let mut ticks = 0;
    while (0..n).any(|i| f.doc_count(&format!("logs-{i}-copy")) != Some(3)) {
        sim.advance(Duration::from_millis(100)).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        ticks += 1;
        assert!(ticks < 2000, "followers never caught up");
    }
    sim
}

/// The report's followers and remotes without the times of the reads.
fn comparable(r: &ccr_sentinel::evaluate::report::Report) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                // Times, and what is counted from the time of the read (wall clock).
                m.retain(|k, _| {
                    !matches!(
                        k.as_str(),
                        "at" | "last_attempt"
                            | "last_success"
                            | "rpo_seconds"
                            | "retention_lease_margin_seconds"
                    )
                });
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::json!({
        "followers": r.followers,
        "remotes": r.remotes,
        "auto_follow": r.auto_follow,
        "clusters": r.clusters,
    });
    strip(&mut v);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_the_same_from_a_server_that_ignores_filter_path_and_gzip() {
    let sim = still_pair(3, 2).await;
    let (l, f) = (port_of(&sim.url("leader")), port_of(&sim.url("follower")));
    let (sl, sf) = (proxy(l, true, true), proxy(f, true, true));
    let (rl, rf) = (recorder(l), recorder(f));
    let config = daemon_config(&sim, "");
    let via = |l: u16, f: u16| {
        config
            .replace(&sim.url("leader"), &format!("http://127.0.0.1:{l}"))
            .replace(&sim.url("follower"), &format!("http://127.0.0.1:{f}"))
    };
    let (direct, stripped) = (via(rl.port, rf.port), via(sl.port, sf.port));
    let mut reports = Vec::new();
    for toml in [&direct, &stripped] {
        let d = one_shot(toml);
        d.poll_once().await;
        d.doc_counts_once().await;
        // The poll after the counts compares them.
        d.poll_once().await;
        reports.push(comparable(&d.report()));
    }
    let followers = reports[0]["followers"].as_array().unwrap();
    assert_eq!(followers.len(), 3, "{}", reports[0]);
    assert!(
        followers.iter().all(|f| f["state"] == "healthy"),
        "{}",
        reports[0]["followers"]
    );
    assert_eq!(reports[0], reports[1]);
    // The daemon asked both for filtered, compressed answers; the stripped side got whole, uncompressed ones.
    assert!(sf
        .lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("filter_path=")));
    let (filtered, whole) = (
        rf.bytes_back.load(Ordering::SeqCst),
        sf.bytes_back.load(Ordering::SeqCst),
    );
    assert!(filtered > 0 && whole > filtered, "{filtered} vs {whole}");
}

/// Bytes sent back for one poll + doc_counts cycle of 500 followers x 5 shards: whole answers, filtered, filtered
/// and gzipped. A measurement, not a check: `cargo test --test it wire::bytes -- --ignored
/// --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bytes_per_cycle_500_followers() {
    let sim = still_pair(500, 5).await;
    let f = port_of(&sim.url("follower"));
    let l = port_of(&sim.url("leader"));
    for (what, strip_filter, strip_gzip) in [
        ("plain", true, true),
        ("filter_path", false, true),
        ("filter_path + gzip", false, false),
    ] {
        let (pl, pf) = (
            proxy(l, strip_filter, strip_gzip),
            proxy(f, strip_filter, strip_gzip),
        );
        let toml = daemon_config(&sim, "")
            .replace(&sim.url("leader"), &format!("http://127.0.0.1:{}", pl.port))
            .replace(
                &sim.url("follower"),
                &format!("http://127.0.0.1:{}", pf.port),
            );
        let d = one_shot(&toml);
        d.poll_once().await;
        let poll = pf.bytes_back.load(Ordering::SeqCst);
        d.doc_counts_once().await;
        let all = pf.bytes_back.load(Ordering::SeqCst) + pl.bytes_back.load(Ordering::SeqCst);
        println!(
            "{what}: poll {poll} bytes, poll + doc_counts {all} bytes, {} requests",
            pf.lines.lock().unwrap().len() + pl.lines.lock().unwrap().len()
        );
    }
}

/// The oldest CCR retention-lease timestamp of `logs` on the simulated leader, from its own shard stats.
fn leader_lease_ms(sim: &Sim) -> i64 {
    let (status, stats) = sim
        .cluster("leader")
        .request("GET", "/logs/_stats?level=shards", None);
    assert_eq!(status, 200, "{stats}");
    let leases = stats["indices"]["logs"]["shards"]["0"][0]["retention_leases"]["leases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    leases
        .iter()
        .filter(|l| l["source"] == "ccr")
        .filter_map(|l| l["timestamp"].as_i64())
        .min()
        .unwrap_or_else(|| panic!("no CCR lease in {stats}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaders_retention_leases_are_read_on_their_cadence_and_the_margin_is_as_of_that_read()
{
    use crate::common::{must, SimTime};
    let sim = crate::common::policy::connected_pair(true).await;
    let t = SimTime::new(&sim);
    let leader = sim.cluster("leader");
    let one_shard = serde_json::json!({"settings": {"index.number_of_shards": 1}});
    must(
        leader.request("PUT", "/logs", Some(one_shard)),
        "leader index",
    );
    let follow = serde_json::json!({"remote_cluster": "leader", "leader_index": "logs"});
    must(
        sim.cluster("follower").request(
            "PUT",
            "/logs-copy/_ccr/follow?wait_for_active_shards=0",
            Some(follow),
        ),
        "follow",
    );
    t.advance(&sim, Duration::from_secs(2));
    let rl = recorder(port_of(&sim.url("leader")));
    let toml = daemon_config(
        &sim,
        "[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"logs\"\nfollower_index = \"logs-copy\"\n",
    )
    .replace(&sim.url("leader"), &format!("http://127.0.0.1:{}", rl.port));
    let d = one_shot(&toml).with_clock(t.clock());
    // Whether each shard-stats read so far asked for the leases.
    let lease_reads = || -> Vec<bool> {
        rl.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("/_stats/docs?"))
            .map(|l| l.contains("retention_leases"))
            .collect()
    };
    let margin = |d: &ccr_sentinel::daemon::Daemon| {
        d.report()
            .follower("follower", "logs-copy")
            .and_then(|f| f.time.clone())
            .and_then(|t| t.retention_lease_margin_seconds)
            .expect("a lease margin")
    };
    let twelve_hours_ms = 12 * 3_600_000;
    // As of a lease read, the margin is the leader's own: its lease's timestamp plus the default period.
    let truth = |sim: &Sim| {
        (leader_lease_ms(sim) + twelve_hours_ms - sim.epoch_millis() as i64) as f64 / 1000.0
    };

    // Polls every 10 s: the leases with the first, then once a minute; one shard-stats read each.
    d.poll_once().await;
    assert_eq!(margin(&d), truth(&sim));
    for _ in 0..13 {
        t.advance(&sim, Duration::from_secs(10));
        d.poll_once().await;
        let (m, exact) = (margin(&d), truth(&sim));
        if *lease_reads().last().unwrap() {
            assert_eq!(m, exact, "after a lease read");
        } else {
            // Older by less than a minute: smaller than the leader's by at most that and one 30 s renewal.
            assert!(m <= exact && exact - m <= 90.0, "{m} {exact}");
        }
    }
    let mut expected = vec![false; 14];
    for i in [0, 6, 12] {
        expected[i] = true;
    }
    assert_eq!(lease_reads(), expected, "{:?}", rl.lines.lock().unwrap());

    // A paused follower renews nothing: from the first lease read after the pause its margin is exact at
    // every poll, read or not, counting down to the same `needs_refollow` as a read every poll would.
    must(
        sim.cluster("follower")
            .request("POST", "/logs-copy/_ccr/pause_follow", None),
        "pause",
    );
    for _ in 0..5 {
        t.advance(&sim, Duration::from_secs(10));
        d.poll_once().await;
    }
    assert!(*lease_reads().last().unwrap(), "a minute after the last");
    for _ in 0..11 {
        t.advance(&sim, Duration::from_secs(10));
        d.poll_once().await;
        assert_eq!(margin(&d), truth(&sim));
    }
    assert_eq!(lease_reads().iter().filter(|r| **r).count(), 5);
}
