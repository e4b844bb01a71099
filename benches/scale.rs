//! The daemon at scale: N followers × 5 shards, poll and doc_counts every 5 s, measured from outside.
//!
//! Run with `cargo bench --bench scale` (N = 100, 500, 2,000; about 5 minutes on 2 cores), or name the sizes:
//! `cargo bench --bench scale -- 100 500 2000 10000`. Not a test and never run in CI.
//!
//! For each N it starts ccr-sim (a leader and a follower cluster, N leader indices of 5 shards, each followed) and
//! runs the release `ccr-sentinel run --config <generated toml>` as a process, twice:
//! - **es**: against ccr-sim itself, which honours `filter_path` and gzip as Elasticsearch does;
//! - **canned**: against an Elasticsearch double that serves pre-serialised bodies of the same followers (captured
//!   once from the simulator, unfiltered and uncompressed) and ignores `filter_path` and `Accept-Encoding`.
//!
//! Both sit behind a counting TCP proxy (bytes read by the daemon, headers included). Per cycle (one poll plus one
//! doc_counts run) it reports the daemon's CPU (utime + stime from `/proc/<pid>/stat` over several cycles, divided
//! by the cycles counted in `ccr_sentinel_poll_duration_seconds_count`), RSS steady (VmRSS at the end) and peak
//! (VmHWM), bytes and requests, and the `/metrics` size and median fetch time. The floor is a typed serde parse of
//! the unfiltered `GET /_ccr/stats` body, timed in the same run. The README's performance targets are printed as
//! ratios.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ccr_sim::{ClusterConfig, Sim};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SHARDS: usize = 5;
/// The cron period of poll and doc_counts.
const PERIOD: Duration = Duration::from_secs(5);
/// Cycles measured per run (after the warm-up cycles).
const CYCLES: u32 = 3;
const WARMUP_CYCLES: f64 = 2.0;
const SCRAPES: usize = 5;
const MIB: f64 = 1024.0 * 1024.0;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![100, 500, 2_000];
    }
    let started = Instant::now();
    let bin = env!("CARGO_BIN_EXE_ccr-sentinel");
    let clk_tck = clock_ticks();
    let mut rows = Vec::new();
    for &n in &sizes {
        let setup = Instant::now();
        let sim = followers(n).await;
        eprintln!(
            "N={n}: {n} followers x {SHARDS} shards ready in {:.1?}",
            setup.elapsed()
        );
        let floor = typed_parse_floor(&sim).await;
        eprintln!(
            "N={n}: typed parse of the {:.1} MB unfiltered _ccr/stats body: {:.2} ms",
            floor.body_bytes as f64 / 1e6,
            floor.ms
        );
        for mode in [Mode::Es, Mode::Canned] {
            let row = measure(bin, clk_tck, &sim, n, mode, floor).await;
            eprintln!("N={n} {}: {}", mode.name(), row.line());
            rows.push(row);
        }
        sim.shutdown().await;
    }
    print_report(&rows);
    println!("\nbench time: {:.0?}", started.elapsed());
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// ccr-sim: `filter_path` and gzip honoured.
    Es,
    /// Pre-serialised bodies; `filter_path` and gzip ignored.
    Canned,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Es => "es",
            Mode::Canned => "canned",
        }
    }
}

#[derive(Clone, Copy)]
struct Floor {
    body_bytes: usize,
    ms: f64,
}

struct Row {
    n: usize,
    mode: Mode,
    cycles: f64,
    cpu_ms: f64,
    rss_mib: f64,
    peak_mib: f64,
    bytes: f64,
    requests: f64,
    metrics_mb: f64,
    metrics_ms: f64,
    skipped: f64,
    floor: Floor,
    exporter: Option<Exporter>,
}

impl Row {
    fn line(&self) -> String {
        format!(
            "| {} | {} | {:.1} | {:.0} / {:.0} | {:.2} MB | {:.1} | {:.2} MB, {:.1} ms | {:.1} | {:.1} | {} |",
            self.n,
            self.mode.name(),
            self.cpu_ms,
            self.rss_mib,
            self.peak_mib,
            self.bytes / 1e6,
            self.requests,
            self.metrics_mb,
            self.metrics_ms,
            self.floor.ms,
            self.cycles,
            self.skipped
        )
    }
}

/// A leader/follower pair with `n` followers of `SHARDS` shards each (a few documents per leader index), all
/// restored and replicating, steady writes on up to 50 leaders.
async fn followers(n: usize) -> Sim {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"))
        .start()
        .await
        .expect("start the simulator");
    let leader = sim.cluster("leader");
    let follower = sim.cluster("follower");
    let seeds = sim.transport_address("leader");
    let (st, body) = follower.request(
        "PUT",
        "/_cluster/settings",
        Some(serde_json::json!({"persistent": {"cluster.remote.leader.seeds": [seeds]}})),
    );
    assert_eq!(st, 200, "{body}");
    for i in 0..n {
        let name = format!("logs-{i:05}");
        leader
            .create_index(&name, SHARDS)
            .expect("create leader index");
        leader.index_docs(&name, 20).expect("write leader docs");
        follower
            .follow(&format!("{name}-copy"), "leader", &name)
            .expect("follow");
    }
    // On the real clock the ticker restores small leaders within a tick; wait until every shard task runs.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (st, stats) = follower.request("GET", "/_ccr/stats", None);
        let tasks: usize = stats["follow_stats"]["indices"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| i["shards"].as_array().map_or(0, Vec::len))
                    .sum()
            })
            .unwrap_or(0);
        if st == 200 && tasks == n * SHARDS {
            break;
        }
        assert!(Instant::now() < deadline, "followers never became active");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in 0..n.min(50) {
        leader
            .set_writes(&format!("logs-{i:05}"), 20.0)
            .expect("steady writes");
    }
    sim
}

/// The shard follow stats as the daemon reads them (`src/es/ccr.rs`), mirrored here so the floor does not
/// depend on the daemon's internals.
#[derive(Deserialize)]
#[allow(dead_code)]
struct CcrStats {
    auto_follow_stats: serde::de::IgnoredAny,
    follow_stats: FollowStats,
}

#[derive(Deserialize)]
struct FollowStats {
    indices: Vec<FollowerIndexStats>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct FollowerIndexStats {
    index: String,
    #[serde(default)]
    total_global_checkpoint_lag: Option<i64>,
    shards: Vec<ShardStats>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ShardStats {
    remote_cluster: String,
    leader_index: String,
    follower_index: String,
    shard_id: i64,
    leader_global_checkpoint: i64,
    leader_max_seq_no: i64,
    follower_global_checkpoint: i64,
    follower_max_seq_no: i64,
    last_requested_seq_no: i64,
    outstanding_read_requests: i64,
    outstanding_write_requests: i64,
    write_buffer_operation_count: i64,
    write_buffer_size_in_bytes: i64,
    follower_mapping_version: i64,
    follower_settings_version: i64,
    #[serde(default)]
    follower_aliases_version: Option<i64>,
    total_read_time_millis: i64,
    total_read_remote_exec_time_millis: i64,
    successful_read_requests: i64,
    failed_read_requests: i64,
    operations_read: i64,
    bytes_read: i64,
    total_write_time_millis: i64,
    successful_write_requests: i64,
    failed_write_requests: i64,
    operations_written: i64,
    read_exceptions: Vec<serde::de::IgnoredAny>,
    time_since_last_read_millis: i64,
    #[serde(default)]
    fatal_exception: Option<serde::de::IgnoredAny>,
}

/// Median time of a typed parse of the follower's unfiltered `GET /_ccr/stats` body, read over HTTP.
async fn typed_parse_floor(sim: &Sim) -> Floor {
    let body = client()
        .get(format!("{}/_ccr/stats", sim.url("follower")))
        .send()
        .await
        .expect("GET /_ccr/stats")
        .bytes()
        .await
        .expect("body");
    let mut times = Vec::new();
    for _ in 0..9 {
        let start = Instant::now();
        let stats: CcrStats = serde_json::from_slice(&body).expect("typed _ccr/stats");
        times.push(start.elapsed());
        assert!(
            stats
                .follow_stats
                .indices
                .iter()
                .all(|i| i.shards.len() == SHARDS),
            "every follower has {SHARDS} shard tasks"
        );
    }
    Floor {
        body_bytes: body.len(),
        ms: median_ms(&mut times),
    }
}

async fn measure(bin: &str, clk_tck: f64, sim: &Sim, n: usize, mode: Mode, floor: Floor) -> Row {
    let canned_requests = Arc::new(AtomicU64::new(0));
    let mut upstream = HashMap::new();
    for cluster in ["leader", "follower"] {
        let url = sim.url(cluster);
        let target = match mode {
            Mode::Es => url.trim_start_matches("http://").to_string(),
            Mode::Canned => canned_server(url, canned_requests.clone())
                .await
                .to_string(),
        };
        upstream.insert(cluster, target);
    }
    let read = Arc::new(AtomicU64::new(0));
    let leader = proxy(upstream["leader"].clone(), read.clone()).await;
    let follower = proxy(upstream["follower"].clone(), read.clone()).await;
    let listen = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("ccr-sentinel.toml");
    std::fs::write(&config, config_toml(n, listen, leader, follower)).expect("write config");
    let mut daemon = DaemonProcess(
        Command::new(bin)
            .args(["run", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ccr-sentinel"),
    );
    let pid = daemon.0.id();
    let base = format!("http://{listen}");
    let requests = || -> u64 {
        match mode {
            Mode::Es => {
                sim.cluster("leader").requests().total + sim.cluster("follower").requests().total
            }
            Mode::Canned => canned_requests.load(Ordering::Relaxed),
        }
    };

    // Warm-up: the first cycles fill the canned server's cache and the daemon's buffers.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(exit) = daemon.0.try_wait().expect("daemon status") {
            panic!("ccr-sentinel exited during warm-up: {exit}");
        }
        if let Ok(text) = scrape(&base).await {
            if job_runs(&text, "poll").unwrap_or(0.0) >= WARMUP_CYCLES {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the daemon never completed its warm-up cycles"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Start mid-period, so the window holds whole cycles.
    sleep_until_phase(PERIOD / 2).await;
    let runs0 = job_runs(&scrape(&base).await.expect("/metrics"), "poll");
    let (cpu0, bytes0, req0) = (cpu_ticks(pid), read.load(Ordering::Relaxed), requests());
    let t0 = Instant::now();
    tokio::time::sleep(PERIOD * CYCLES).await;
    let (cpu1, bytes1, req1) = (cpu_ticks(pid), read.load(Ordering::Relaxed), requests());
    let elapsed = t0.elapsed();
    let (rss, peak) = memory(pid);
    let text = scrape(&base).await.expect("/metrics");
    let cycles = match (runs0, job_runs(&text, "poll")) {
        (Some(a), Some(b)) if b > a => b - a,
        // The metric was renamed or nothing finished: count by the clock.
        _ => (elapsed.as_secs_f64() / PERIOD.as_secs_f64()).round(),
    };
    let skipped = job_skipped(&text);

    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..SCRAPES {
        let start = Instant::now();
        let text = scrape(&base).await.expect("/metrics");
        times.push(start.elapsed());
        size = text.len();
    }
    drop(daemon);
    let exporter = match mode {
        Mode::Canned => exporter(follower).await,
        Mode::Es => None,
    };
    Row {
        n,
        mode,
        cycles,
        cpu_ms: (cpu1 - cpu0) as f64 / clk_tck * 1000.0 / cycles,
        rss_mib: rss,
        peak_mib: peak,
        bytes: (bytes1 - bytes0) as f64 / cycles,
        requests: (req1 - req0) as f64 / cycles,
        metrics_mb: size as f64 / 1e6,
        metrics_ms: median_ms(&mut times),
        skipped,
        floor,
        exporter,
    }
}

/// What users run today: Debian's `prometheus-elasticsearch-exporter --es.indices --es.shards` against the
/// canned follower cluster (when installed): CPU per scrape, RSS and peak, and the index series it exported.
async fn exporter(es: SocketAddr) -> Option<Exporter> {
    let listen = free_port();
    let child = Command::new("prometheus-elasticsearch-exporter")
        .arg(format!("--es.uri=http://{es}"))
        .args(["--es.indices", "--es.shards", "--es.timeout=60s"])
        .arg(format!("--web.listen-address={listen}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let process = DaemonProcess(child);
    let pid = process.0.id();
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(30);
    // The first scrape fills the double's cache.
    while scrape(&base).await.is_err() {
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    const EXPORTER_SCRAPES: u32 = 3;
    let cpu0 = cpu_ticks(pid);
    let mut series = 0;
    for _ in 0..EXPORTER_SCRAPES {
        let text = scrape(&base).await.ok()?;
        series = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("index=\"logs-"))
            .count();
    }
    let cpu1 = cpu_ticks(pid);
    let (rss, peak) = memory(pid);
    Some(Exporter {
        cpu_ms: (cpu1 - cpu0) as f64 / clock_ticks() * 1000.0 / f64::from(EXPORTER_SCRAPES),
        rss_mib: rss,
        peak_mib: peak,
        series,
    })
}

#[derive(Clone, Copy)]
struct Exporter {
    cpu_ms: f64,
    rss_mib: f64,
    peak_mib: f64,
    series: usize,
}

/// Kills the daemon when dropped, also when the bench panics.
struct DaemonProcess(Child);

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config_toml(n: usize, listen: SocketAddr, leader: SocketAddr, follower: SocketAddr) -> String {
    let mut s = format!(
        r#"[http]
listen = "{listen}"

[log]
level = "warn"

[schedule]
poll = "*/5 * * * * *"
doc_counts = "*/5 * * * * *"

[clusters.leader]
url = "http://{leader}"
timeout = "30s"

[clusters.follower]
url = "http://{follower}"
timeout = "30s"

[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
manage = false

[reconcile]
enabled = false
"#
    );
    for i in 0..n {
        s.push_str(&format!(
            "\n[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"logs-{i:05}\"\nfollower_index = \"logs-{i:05}-copy\"\n"
        ));
    }
    s
}

/// A TCP proxy to `upstream`; bytes sent back to the client are added to `read`.
async fn proxy(upstream: String, read: Arc<AtomicU64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("proxy address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let read = read.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move { pipe(&mut cr, &mut sw, None).await });
                pipe(&mut sr, &mut cw, Some(&read)).await;
                up.abort();
            });
        }
    });
    addr
}

async fn pipe(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    count: Option<&AtomicU64>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                if let Some(c) = count {
                    c.fetch_add(k as u64, Ordering::Relaxed);
                }
                if to.write_all(&buf[..k]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

/// A captured answer: status, headers (minus framing and encoding) and the plain body.
type Canned = (StatusCode, Vec<(HeaderName, HeaderValue)>, Bytes);

/// The Elasticsearch double: the first request for a (method, path, query without `filter_path`, body) is
/// forwarded to `upstream` unfiltered and uncompressed; that answer is then served for every later one,
/// whatever its `filter_path` or `Accept-Encoding`.
async fn canned_server(upstream: String, requests: Arc<AtomicU64>) -> SocketAddr {
    let cache: Arc<Mutex<HashMap<String, Canned>>> = Arc::default();
    let http = client();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (cache, http, upstream, requests) = (
                cache.clone(),
                http.clone(),
                upstream.clone(),
                requests.clone(),
            );
            async move {
                requests.fetch_add(1, Ordering::Relaxed);
                let query: Vec<&str> = uri
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter(|p| !p.is_empty() && !p.starts_with("filter_path="))
                    .collect();
                let path_and_query = if query.is_empty() {
                    uri.path().to_string()
                } else {
                    format!("{}?{}", uri.path(), query.join("&"))
                };
                let key = format!(
                    "{method} {path_and_query} {}",
                    String::from_utf8_lossy(&body)
                );
                let hit = cache.lock().expect("cache").get(&key).cloned();
                let (status, headers_out, bytes) = match hit {
                    Some(c) => c,
                    None => {
                        let mut rb = http.request(method, format!("{upstream}{path_and_query}"));
                        if let Some(ct) = headers.get("content-type") {
                            rb = rb.header("content-type", ct);
                        }
                        let resp = match rb.body(body).send().await {
                            Ok(r) => r,
                            Err(e) => {
                                return (StatusCode::BAD_GATEWAY, e.to_string()).into_response()
                            }
                        };
                        let status = resp.status();
                        let hs: Vec<_> = resp
                            .headers()
                            .iter()
                            .filter(|(k, _)| {
                                !matches!(
                                    k.as_str(),
                                    "content-length"
                                        | "transfer-encoding"
                                        | "content-encoding"
                                        | "connection"
                                )
                            })
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        let bytes = resp.bytes().await.unwrap_or_default();
                        let c = (status, hs, bytes);
                        cache.lock().expect("cache").insert(key, c.clone());
                        c
                    }
                };
                let mut resp = Response::new(axum::body::Body::from(bytes));
                *resp.status_mut() = status;
                for (k, v) in headers_out {
                    resp.headers_mut().insert(k, v);
                }
                resp
            }
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind canned server");
    let addr = listener.local_addr().expect("canned address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

async fn scrape(base: &str) -> Result<String, reqwest::Error> {
    client()
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

/// Completed runs of a job: `ccr_sentinel_poll_duration_seconds_count{<label>="<job>"}`, whatever the label is
/// called.
fn job_runs(text: &str, job: &str) -> Option<f64> {
    let quoted = format!("\"{job}\"");
    text.lines()
        .filter(|l| {
            l.starts_with("ccr_sentinel_poll_duration_seconds_count{") && l.contains(&quoted)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(|a, b| a + b)
}

/// Skipped (overlapping) runs of poll and doc_counts.
fn job_skipped(text: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with("ccr_sentinel_job_skipped_total{")
                && (l.contains("\"poll\"") || l.contains("\"doc_counts\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

/// (VmRSS, VmHWM) of `pid` in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    let kib = |key: &str| -> f64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") * 1024.0 / MIB, kib("VmHWM:") * 1024.0 / MIB)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address")
}

/// Sleeps until the wall clock is `phase` past a multiple of `PERIOD` (the cron schedule's grid).
async fn sleep_until_phase(phase: Duration) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let period = PERIOD.as_millis() as u64;
    let target = (now / period) * period + phase.as_millis() as u64;
    let target = if target <= now {
        target + period
    } else {
        target
    };
    tokio::time::sleep(Duration::from_millis(target - now)).await;
}

fn median_ms(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn print_report(rows: &[Row]) {
    println!(
        "\nccr-sentinel at scale: followers x {SHARDS} shards, poll and doc_counts every 5 s, {CYCLES} cycles measured"
    );
    println!("server: es = ccr-sim (honours filter_path and gzip); canned = pre-serialised bodies (ignores both)\n");
    println!("| followers | server | CPU/cycle ms | RSS steady / peak MiB | read/cycle | requests/cycle | /metrics | typed-parse floor ms | cycles | skipped runs |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!("{}", r.line());
    }
    let find = |n: usize, mode: Mode| rows.iter().find(|r| r.n == n && r.mode == mode);
    println!("\nTargets (at 2,000 followers x 5 shards, default settings):");
    let mark = |ok: bool| if ok { "met" } else { "NOT met" };
    if let Some(r) = find(2_000, Mode::Canned) {
        let ratio = r.cpu_ms / r.floor.ms;
        println!(
            "- CPU per cycle / typed-parse floor (canned): {:.1} / {:.1} ms = {ratio:.1}x (target <= 4x): {}",
            r.cpu_ms,
            r.floor.ms,
            mark(ratio <= 4.0)
        );
    }
    if let Some(r) = find(2_000, Mode::Es) {
        let ratio = r.cpu_ms / r.floor.ms;
        println!(
            "- CPU per cycle / typed-parse floor (es): {:.1} / {:.1} ms = {ratio:.1}x (target <= 4x): {}",
            r.cpu_ms,
            r.floor.ms,
            mark(ratio <= 4.0)
        );
        println!(
            "- RSS steady {:.0} MiB (target <= 40), peak {:.0} MiB (target <= 60): {}",
            r.rss_mib,
            r.peak_mib,
            mark(r.rss_mib <= 40.0 && r.peak_mib <= 60.0)
        );
        println!(
            "- bytes read per cycle, filter_path and gzip honoured: {:.2} MB (target <= 1.5 MB): {}",
            r.bytes / 1e6,
            mark(r.bytes <= 1.5e6)
        );
        println!(
            "- requests per cycle: {:.1} (target <= 10): {}",
            r.requests,
            mark(r.requests <= 10.0)
        );
        println!(
            "- /metrics: {:.2} MB in {:.1} ms (target <= 4 MB and <= 40 ms): {}",
            r.metrics_mb,
            r.metrics_ms,
            mark(r.metrics_mb <= 4.0 && r.metrics_ms <= 40.0)
        );
    }
    if let Some(r) = find(2_000, Mode::Canned) {
        println!(
            "- bytes read per cycle, server ignoring filter_path and gzip: {:.2} MB (target: no more than before, 28.5 MB): {}",
            r.bytes / 1e6,
            mark(r.bytes <= 28.5e6)
        );
    }
    for mode in [Mode::Es, Mode::Canned] {
        if let (Some(a), Some(b)) = (find(100, mode), find(2_000, mode)) {
            let ratio = b.cpu_ms / a.cpu_ms;
            println!(
                "- CPU at 2,000 / CPU at 100 ({}): {:.1} / {:.1} ms = {ratio:.1}x (target <= 22x): {}",
                mode.name(),
                b.cpu_ms,
                a.cpu_ms,
                mark(ratio <= 22.0)
            );
        }
    }
    for mode in [Mode::Es, Mode::Canned] {
        if let Some(r) = find(10_000, mode) {
            println!(
                "- at 10,000 ({}): RSS steady {:.0} MiB, peak {:.0} MiB (target <= 150), {} skipped runs, /metrics in {:.0} ms: {}",
                mode.name(),
                r.rss_mib,
                r.peak_mib,
                r.skipped,
                r.metrics_ms,
                mark(r.peak_mib <= 150.0 && r.skipped == 0.0)
            );
        }
    }
    if find(10_000, Mode::Es).is_none() {
        println!("- at 10,000: not run (add `-- 10000`)");
    }
    println!("\nDebian prometheus-elasticsearch-exporter --es.indices --es.shards against the canned follower cluster:");
    let mut any = false;
    for r in rows.iter().filter(|r| r.mode == Mode::Canned) {
        if let Some(e) = r.exporter {
            any = true;
            println!(
                "- {} indices: {:.1} ms CPU per scrape, RSS {:.0} / peak {:.0} MiB, {} index series; ccr-sentinel's cycle = 1/{:.1} of it{}",
                r.n,
                e.cpu_ms,
                e.rss_mib,
                e.peak_mib,
                e.series,
                e.cpu_ms / r.cpu_ms,
                if e.series == 0 {
                    " (it exported no index series: the double's answers did not satisfy it, so the ratio is not valid)".to_string()
                } else if r.n == 2_000 {
                    format!(" (target: <= 1/30): {}", mark(e.cpu_ms / r.cpu_ms >= 30.0))
                } else {
                    String::new()
                }
            );
        }
    }
    if !any {
        println!("- not measured: `prometheus-elasticsearch-exporter` is not installed (apt-get install prometheus-elasticsearch-exporter)");
    }
}
