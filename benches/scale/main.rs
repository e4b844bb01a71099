//! The daemon at scale: N followers × 5 shards, poll, doc_counts and the heartbeat every 5 s, measured from
//! outside.
//!
//! Run with `cargo bench --bench scale` (N = 100, 500, 2,000), or name the sizes:
//! `cargo bench --bench scale -- 100 500 2000 10000`. `--no-exporter` leaves out Debian's exporter. Not a test
//! and never run in CI.
//!
//! For each N it starts ccr-sim (a leader and a follower cluster, N leader indices of 5 shards, each followed, and
//! the heartbeat index followed through the remote) and runs the release `ccr-sentinel run --config <generated
//! toml>` as a process, twice:
//! - **es**: against ccr-sim itself, which honours `filter_path` and gzip as Elasticsearch does;
//! - **canned**: against an Elasticsearch double ([`canned`]) that serves pre-serialised bodies of the same
//!   clusters, ignoring `filter_path` and `Accept-Encoding`, with the shard-level `_stats` in the full 8.x shape.
//!
//! Both sit behind a counting TCP proxy ([`proxy`]: bytes read by the daemon, headers included, and requests by
//! endpoint). Per cycle (one poll, one doc_counts and one heartbeat run) it reports the daemon's CPU (utime +
//! stime from `/proc/<pid>/stat` over the measured cycles, divided by the poll runs completed in them), RSS steady
//! (VmRSS at the end) and peak (VmHWM), bytes and requests, the `/metrics` size and median fetch time, and what
//! the daemon concluded (followers per state, request errors). The floor is a typed serde parse of the unfiltered
//! `GET /_ccr/stats` body, timed in the same run. Debian's `prometheus-elasticsearch-exporter --es.indices
//! --es.shards` is run against the canned follower cluster when installed. The issue's targets are printed as
//! ratios of figures measured in the same run.

mod canned;
mod proxy;
mod shapes;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ccr_sim::{ClusterConfig, Sim};
use serde::Deserialize;

use proxy::Counts;

const SHARDS: usize = 5;
/// The cron period of poll, doc_counts and the heartbeat.
const PERIOD: Duration = Duration::from_secs(5);
/// Cycles measured per run (after the warm-up cycles). CPU is counted in clock ticks (10 ms): six cycles of about
/// 150 ms are about 90 ticks, so one tick more or less moves the figure by about 1 %.
const CYCLES: u32 = 6;
/// Poll runs completed before measuring: the first fills the daemon's buffers and reads what is read once.
const WARMUP_CYCLES: f64 = 2.0;
const SCRAPES: usize = 3;
const EXPORTER_SCRAPES: u32 = 3;
const MIB: f64 = 1024.0 * 1024.0;
const HEARTBEAT_INDEX: &str = "ccr-sentinel-heartbeat";
const HEARTBEAT_FOLLOWER: &str = "ccr-sentinel-heartbeat-leader";
/// A request only the poll sends, once per run: it marks the runs started.
const POLL_MARKER: &str = "follower GET /_remote/info";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let with_exporter = !args.iter().any(|a| a == "--no-exporter");
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![100, 500, 2_000];
    }
    let started = Instant::now();
    let bin = env!("CARGO_BIN_EXE_ccr-sentinel");
    let clk_tck = clock_ticks();
    let mut rows = Vec::new();
    let mut walls = Vec::new();
    // The simulator runs on its own threads, as Elasticsearch is a process of its own: its ticker and
    // its large answers must not stall this runtime's proxies, canned double and scrapes.
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ccr-sim")
        .enable_all()
        .build()
        .expect("the simulator's runtime");
    for &n in &sizes {
        let wall = Instant::now();
        let sim = sim_rt
            .spawn(followers(n))
            .await
            .expect("set up the simulator");
        sim_latency(&sim, n).await;
        let floor = typed_parse_floor(&sim).await;
        eprintln!(
            "N={n}: typed parse of the {:.1} MB unfiltered _ccr/stats body: {:.2} ms CPU ({:.2} ms wall)",
            floor.body_bytes as f64 / 1e6,
            floor.ms,
            floor.wall_ms
        );
        for mode in [Mode::Es, Mode::Canned] {
            let row = measure(bin, clk_tck, &sim, n, mode, floor, with_exporter).await;
            eprintln!("N={n} {}: {}", mode.name(), row.line());
            rows.push(row);
        }
        sim.shutdown().await;
        walls.push((n, wall.elapsed()));
    }
    sim_rt.shutdown_background();
    print_report(&rows);
    println!();
    for (n, wall) in walls {
        println!("wall time at {n}: {:.0?}", wall);
    }
    println!("bench time: {:.0?}", started.elapsed());
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
    /// CPU time of one parse.
    ms: f64,
    /// Median wall time of one parse (longer than `ms` on a loaded machine).
    wall_ms: f64,
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
    /// Requests per cycle by `cluster METHOD /path`, in the measured window.
    by_endpoint: BTreeMap<String, f64>,
    /// Requests sent before the window and never in it: start-up and every-5-minute reads.
    outside_window: BTreeMap<String, u64>,
    metrics_mb: f64,
    metrics_ms: f64,
    skipped: f64,
    /// `/metrics` scrapes that failed (retried) during the run.
    failed_scrapes: u32,
    /// Mean wall time of a poll run since the start.
    poll_run_s: f64,
    warmup_s: f64,
    /// Followers per verdict (`ccr_sentinel_follower_state{state} == 1`).
    states: BTreeMap<String, usize>,
    request_errors: f64,
    floor: Floor,
    exporter: Option<Exporter>,
}

impl Row {
    fn line(&self) -> String {
        format!(
            "| {} | {} | {:.1} | {:.0} / {:.0} | {:.2} MB | {:.1} | {:.2} MB, {:.1} ms | {:.2} | {:.0} | {:.0} | {:.1} s | {:.0} s | {} |",
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
            self.skipped,
            self.poll_run_s,
            self.warmup_s,
            states_text(&self.states),
        )
    }
}

fn states_text(states: &BTreeMap<String, usize>) -> String {
    states
        .iter()
        .map(|(s, k)| format!("{s} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A leader/follower pair with `n` followers of `SHARDS` shards each (a few documents per leader index), all
/// restored and replicating, steady writes on up to 50 leaders, and the heartbeat index followed as the daemon's
/// reconcile would follow it.
async fn followers(n: usize) -> Sim {
    let t = Instant::now();
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
    leader
        .create_index(HEARTBEAT_INDEX, 1)
        .expect("create the heartbeat index");
    follower
        .follow(HEARTBEAT_FOLLOWER, "leader", HEARTBEAT_INDEX)
        .expect("follow the heartbeat index");
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
    let created = t.elapsed();
    // On the real clock the ticker restores small leaders within a tick; wait until every shard task runs.
    let deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(30) * n as u32;
    let want = n * SHARDS + 1;
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
        if st == 200 && tasks == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "followers never became active: {tasks} of {want} shard tasks"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for i in 0..n.min(50) {
        leader
            .set_writes(&format!("logs-{i:05}"), 20.0)
            .expect("steady writes");
    }
    eprintln!(
        "N={n}: {n} followers x {SHARDS} shards created in {created:.1?}, all shard tasks running after {:.1?}",
        t.elapsed()
    );
    sim
}

/// How fast the simulator answers on its own, before any daemon runs: a small read and the two largest bodies
/// the daemon reads (median of 3 each, uncompressed, over HTTP). The simulator serves every request and its 50 ms
/// replication tick under one lock, in this process, so these bound how fast any cycle against it can be.
async fn sim_latency(sim: &Sim, n: usize) {
    let http = client();
    let mut said = Vec::new();
    for (cluster, path) in [
        ("follower", "/_remote/info"),
        ("follower", "/_ccr/stats"),
        ("leader", "/_all/_stats?level=shards"),
    ] {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let body = http
                .get(format!("{}{path}", sim.url(cluster)))
                .send()
                .await
                .expect("read the simulator")
                .bytes()
                .await
                .expect("a body");
            times.push(t.elapsed());
            size = body.len();
        }
        said.push(format!(
            "{cluster} GET {path} {:.0} ms ({:.1} MB)",
            median_ms(&mut times),
            size as f64 / 1e6
        ));
    }
    eprintln!("N={n}: ccr-sim alone answers {}", said.join(", "));
}

/// Stops the writes and waits until every follower has the leader's documents: the canned double is a snapshot,
/// and a snapshot of clusters in motion would pair leader and follower figures of different moments (the daemon
/// would then see `docs_mismatch` where Elasticsearch shows none).
async fn quiesce(sim: &Sim, n: usize) {
    let leader = sim.cluster("leader");
    let follower = sim.cluster("follower");
    let written: Vec<String> = (0..n.min(50)).map(|i| format!("logs-{i:05}")).collect();
    for name in &written {
        leader.set_writes(name, 0.0).expect("stop writes");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let behind = written
            .iter()
            .filter(|name| leader.doc_count(name) != follower.doc_count(&format!("{name}-copy")))
            .count();
        if behind == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{behind} followers never caught up with their quiet leaders"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // One more read round of the shard tasks, so their view of the leader's checkpoint is the final one too.
    tokio::time::sleep(Duration::from_secs(1)).await;
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

/// A typed parse of the follower's unfiltered `GET /_ccr/stats` body, read over HTTP: the CPU time of one parse
/// (the thread's utime + stime over repeated parses, at least 1 s of it, so the 10 ms clock tick does not matter
/// and other processes' load does not count), and the median wall time.
async fn typed_parse_floor(sim: &Sim) -> Floor {
    let body = client()
        .get(format!("{}/_ccr/stats", sim.url("follower")))
        .send()
        .await
        .expect("GET /_ccr/stats")
        .bytes()
        .await
        .expect("body");
    let clk_tck = clock_ticks();
    let mut times = Vec::new();
    let cpu0 = thread_cpu_ticks();
    let mut parses = 0u32;
    while parses < 5 || (thread_cpu_ticks() - cpu0) as f64 / clk_tck < 1.0 && parses < 5_000 {
        let start = Instant::now();
        let stats: CcrStats = serde_json::from_slice(&body).expect("typed _ccr/stats");
        times.push(start.elapsed());
        parses += 1;
        assert!(
            stats
                .follow_stats
                .indices
                .iter()
                .all(|i| i.shards.len() == SHARDS || i.index == HEARTBEAT_FOLLOWER),
            "every follower has {SHARDS} shard tasks"
        );
    }
    let cpu = (thread_cpu_ticks() - cpu0) as f64 / clk_tck * 1000.0;
    Floor {
        body_bytes: body.len(),
        ms: cpu / f64::from(parses),
        wall_ms: median_ms(&mut times),
    }
}

/// utime + stime of the calling thread, in clock ticks.
fn thread_cpu_ticks() -> u64 {
    ticks_of(&std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat"))
}

async fn measure(
    bin: &str,
    clk_tck: f64,
    sim: &Sim,
    n: usize,
    mode: Mode,
    floor: Floor,
    with_exporter: bool,
) -> Row {
    let mut upstream = BTreeMap::new();
    for cluster in ["leader", "follower"] {
        let url = sim.url(cluster);
        let target = match mode {
            Mode::Es => url.trim_start_matches("http://").to_string(),
            Mode::Canned => {
                if cluster == "leader" {
                    quiesce(sim, n).await;
                }
                let t = Instant::now();
                let built = canned::start(url).await;
                eprintln!(
                    "N={n} canned {cluster}: {} indices, {} shards, double ready in {:.1?}",
                    built.indices,
                    built.shards,
                    t.elapsed()
                );
                built.addr.to_string()
            }
        };
        upstream.insert(cluster, target);
    }
    let counts: BTreeMap<&str, Arc<Counts>> =
        [("leader", Arc::default()), ("follower", Arc::default())]
            .into_iter()
            .collect();
    let leader = proxy::start(upstream["leader"].clone(), counts["leader"].clone()).await;
    let follower = proxy::start(upstream["follower"].clone(), counts["follower"].clone()).await;
    let listen = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("ccr-sentinel.toml");
    std::fs::write(&config, config_toml(n, listen, leader, follower)).expect("write config");
    let daemon_started = Instant::now();
    let log = tempfile::NamedTempFile::new().expect("daemon log");
    // `CCR_SCALE_WRAPPER=heaptrack` runs the daemon under a profiler; the CPU and RSS shown are then the
    // wrapper's, not the daemon's.
    let wrapper = std::env::var_os("CCR_SCALE_WRAPPER");
    let mut command = match &wrapper {
        Some(w) => {
            let mut c = Command::new(w);
            c.arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let mut daemon = DaemonProcess(
        command
            .process_group(0)
            .args(["run", "--config"])
            .arg(&config)
            // The environment the shipped systemd unit and container image give the daemon.
            .env("MIMALLOC_PURGE_DELAY", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("daemon log"))
            .spawn()
            .expect("start ccr-sentinel"),
    );
    let pid = daemon.0.id();
    let base = format!("http://{listen}");
    let totals = |counts: &BTreeMap<&str, Arc<Counts>>| {
        let mut bytes = 0;
        let mut by = BTreeMap::new();
        for (cluster, c) in counts {
            let (b, r) = c.snapshot();
            bytes += b;
            for (k, v) in r {
                by.insert(format!("{cluster} {k}"), v);
            }
        }
        (bytes, by)
    };

    // Warm-up: the first cycles fill the daemon's buffers and read what is read once.
    let deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(40) * n as u32;
    let mut said = Instant::now();
    loop {
        if let Some(exit) = daemon.0.try_wait().expect("daemon status") {
            panic!("ccr-sentinel exited during warm-up: {exit}");
        }
        let text = scrape(&base).await.ok();
        let runs = text.as_deref().and_then(|t| job_runs(t, "poll"));
        if runs.unwrap_or(0.0) >= WARMUP_CYCLES {
            break;
        }
        if said.elapsed() > Duration::from_secs(30) {
            said = Instant::now();
            eprintln!(
                "N={n} {}: warming up for {:.0?}: {} poll runs done, {} skipped, /metrics {}, CPU {:.1} s",
                mode.name(),
                daemon_started.elapsed(),
                runs.unwrap_or(0.0),
                text.as_deref().map_or(0.0, job_skipped),
                if text.is_some() { "answers" } else { "does not answer" },
                cpu_ticks(pid) as f64 / clk_tck,
            );
        }
        assert!(
            Instant::now() < deadline,
            "the daemon never completed its warm-up cycles ({} poll runs in {:.0?})",
            runs.unwrap_or(0.0),
            daemon_started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let warmup = daemon_started.elapsed();
    // Start mid-period, so the window holds whole cycles.
    sleep_until_phase(PERIOD / 2).await;
    let mut failed_scrapes = 0;
    let runs0 = job_runs(
        &scrape_or_say(&base, &mut daemon, log.path(), &mut failed_scrapes).await,
        "poll",
    );
    let (cpu0, (bytes0, req0)) = (cpu_ticks(pid), totals(&counts));
    let t0 = Instant::now();
    tokio::time::sleep(PERIOD * CYCLES).await;
    // Runs that overrun the period: go on until CYCLES polls have started in the window (at most 3 minutes
    // more), and count a cycle per poll started. Watching the proxy, not /metrics, keeps the daemon's own
    // rendering out of the window.
    let polls = |by: &BTreeMap<String, u64>| by.get(POLL_MARKER).copied().unwrap_or(0);
    let polls0 = polls(&req0);
    let cap = Instant::now() + Duration::from_secs(180);
    while polls(&totals(&counts).1) - polls0 < u64::from(CYCLES) && Instant::now() < cap {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (cpu1, (bytes1, req1)) = (cpu_ticks(pid), totals(&counts));
    let elapsed = t0.elapsed();
    let (rss, peak) = memory(pid);
    let text = scrape_or_say(&base, &mut daemon, log.path(), &mut failed_scrapes).await;
    let started_polls = (polls(&req1) - polls0) as f64;
    // A cycle per poll started in the window: the run still going at its end is balanced by the one that was
    // going at its start, and the requests per cycle count the same thing.
    let cycles = match (runs0, job_runs(&text, "poll")) {
        _ if started_polls > 0.0 => started_polls,
        (Some(a), Some(b)) if b > a => b - a,
        // No poll seen: count by the clock.
        _ => (elapsed.as_secs_f64() / PERIOD.as_secs_f64()).round(),
    };
    let poll_run_s = match (job_seconds(&text, "poll"), job_runs(&text, "poll")) {
        (Some(sum), Some(count)) if count > 0.0 => sum / count,
        _ => 0.0,
    };
    let skipped = job_skipped(&text);
    if failed_scrapes > 0 {
        eprintln!(
            "N={n} {}: {failed_scrapes} failed /metrics scrapes",
            mode.name()
        );
    }
    let states = follower_states(&text);
    let request_errors = sum_of(&text, "ccr_sentinel_request_errors_total");
    let by_endpoint: BTreeMap<String, f64> = req1
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (v - req0.get(k).copied().unwrap_or(0)) as f64 / cycles,
            )
        })
        .filter(|(_, v)| *v > 0.0)
        .collect();
    let outside_window: BTreeMap<String, u64> = req0
        .iter()
        .filter(|(k, _)| !by_endpoint.contains_key(*k))
        .map(|(k, v)| (k.clone(), *v))
        .collect();

    // One scrape per period, after that period's poll: each renders a new report, as Prometheus's scrapes
    // (every 15 s or more) do; back-to-back scrapes of an unchanged report would measure a cache.
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..SCRAPES {
        sleep_until_phase(PERIOD / 2).await;
        let start = Instant::now();
        let text = scrape_or_say(&base, &mut daemon, log.path(), &mut failed_scrapes).await;
        times.push(start.elapsed());
        size = text.len();
    }
    drop(daemon);
    let exporter = match mode {
        Mode::Canned if with_exporter => exporter(&upstream["follower"], n).await,
        _ => None,
    };
    Row {
        n,
        mode,
        cycles,
        cpu_ms: (cpu1 - cpu0) as f64 / clk_tck * 1000.0 / cycles,
        rss_mib: rss,
        peak_mib: peak,
        bytes: (bytes1 - bytes0) as f64 / cycles,
        requests: by_endpoint.values().sum(),
        by_endpoint,
        outside_window,
        metrics_mb: size as f64 / 1e6,
        metrics_ms: median_ms(&mut times),
        skipped,
        failed_scrapes,
        poll_run_s,
        warmup_s: warmup.as_secs_f64(),
        states,
        request_errors,
        floor,
        exporter,
    }
}

/// What users run today: Debian's `prometheus-elasticsearch-exporter --es.indices --es.shards` against the
/// canned follower cluster at `es` (when installed): CPU per scrape, RSS and peak, bytes read and the series of
/// the followed indices it exported.
async fn exporter(es: &str, n: usize) -> Option<Exporter> {
    let counts = Arc::new(Counts::default());
    let es = proxy::start(es.to_string(), counts.clone()).await;
    let listen = free_port();
    let log = tempfile::NamedTempFile::new().expect("exporter log");
    let child = Command::new("prometheus-elasticsearch-exporter")
        .arg(format!("--es.uri=http://{es}"))
        .args(["--es.indices", "--es.shards", "--es.timeout=120s"])
        .args(["--log.level=warn", "--log.output=stderr"])
        .arg(format!("--web.listen-address={listen}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.reopen().expect("exporter log"))
        .spawn()
        .ok()?;
    let process = DaemonProcess(child);
    let pid = process.0.id();
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(60) + Duration::from_millis(20) * n as u32;
    // The first scrape has the double build and store its answers.
    while scrape(&base).await.is_err() {
        if Instant::now() > deadline {
            eprintln!("N={n}: the exporter never answered /metrics");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu0 = cpu_ticks(pid);
    let bytes0 = counts.snapshot().0;
    let mut text = String::new();
    for _ in 0..EXPORTER_SCRAPES {
        text = scrape(&base).await.ok()?;
    }
    let cpu1 = cpu_ticks(pid);
    let bytes1 = counts.snapshot().0;
    let (rss, peak) = memory(pid);
    let ours = |l: &&str| !l.starts_with('#') && l.contains("index=\"logs-");
    let index_series = text
        .lines()
        .filter(ours)
        .filter(|l| !l.contains("shard=\""))
        .count();
    let shard_series = text
        .lines()
        .filter(ours)
        .filter(|l| l.contains("shard=\""))
        .count();
    if index_series == 0 {
        let said = std::fs::read_to_string(log.path()).unwrap_or_default();
        eprintln!("N={n}: the exporter exported no index series; it logged:\n{said}");
    }
    let per_index = text
        .lines()
        .filter(ours)
        .filter(|l| !l.contains("shard=\""))
        .filter_map(|l| l.split('{').next())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let (_, requests) = counts.snapshot();
    Some(Exporter {
        requests: requests
            .into_iter()
            .map(|(k, v)| format!("{k} x{v}"))
            .collect::<Vec<_>>()
            .join(", "),
        cpu_ms: (cpu1 - cpu0) as f64 / clock_ticks() * 1000.0 / f64::from(EXPORTER_SCRAPES),
        rss_mib: rss,
        peak_mib: peak,
        bytes: (bytes1 - bytes0) as f64 / f64::from(EXPORTER_SCRAPES),
        index_series,
        index_metric_names: per_index,
        shard_series,
    })
}

#[derive(Clone)]
struct Exporter {
    /// Its requests by endpoint over the whole run.
    requests: String,
    cpu_ms: f64,
    rss_mib: f64,
    peak_mib: f64,
    bytes: f64,
    index_series: usize,
    index_metric_names: usize,
    shard_series: usize,
}

/// Kills the process when dropped, also when the bench panics.
struct DaemonProcess(Child);

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        // A wrapper's child is in the same process group: a SIGTERM to the group lets the daemon (and a
        // profiler) finish; the kill after it ends what did not.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        std::thread::sleep(Duration::from_millis(500));
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
heartbeat = "*/5 * * * * *"

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
heartbeat = true

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

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(180))
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

/// `/metrics`, tried up to 3 times; each failure is counted and said, with the daemon's exit status and the end of
/// its log when it has stopped.
async fn scrape_or_say(
    base: &str,
    daemon: &mut DaemonProcess,
    log: &std::path::Path,
    failed: &mut u32,
) -> String {
    for _ in 0..3 {
        match scrape(base).await {
            Ok(text) => return text,
            Err(e) => {
                *failed += 1;
                let exit = daemon.0.try_wait().ok().flatten();
                let said = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = said.lines().rev().take(5).collect();
                eprintln!(
                    "{base}/metrics failed: {e}; daemon {}; its log ends: {:?}",
                    exit.map_or("still running".to_string(), |s| format!("exited: {s}")),
                    tail
                );
                if exit.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    String::new()
}

/// The value of a sample line (`name{labels} value`).
fn value(line: &str) -> Option<f64> {
    line.rsplit(' ').next()?.parse().ok()
}

/// Completed runs of a job: `ccr_sentinel_poll_duration_seconds_count{<label>="<job>"}`, whatever the label is
/// called.
fn job_runs(text: &str, job: &str) -> Option<f64> {
    let quoted = format!("\"{job}\"");
    text.lines()
        .filter(|l| {
            l.starts_with("ccr_sentinel_poll_duration_seconds_count{") && l.contains(&quoted)
        })
        .filter_map(value)
        .reduce(|a, b| a + b)
}

/// Seconds spent in runs of a job: `ccr_sentinel_poll_duration_seconds_sum`.
fn job_seconds(text: &str, job: &str) -> Option<f64> {
    let quoted = format!("\"{job}\"");
    text.lines()
        .filter(|l| l.starts_with("ccr_sentinel_poll_duration_seconds_sum{") && l.contains(&quoted))
        .filter_map(value)
        .reduce(|a, b| a + b)
}

/// Skipped (overlapping) runs of poll, doc_counts and the heartbeat.
fn job_skipped(text: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with("ccr_sentinel_job_skipped_total{")
                && ["\"poll\"", "\"doc_counts\"", "\"heartbeat\""]
                    .iter()
                    .any(|j| l.contains(j))
        })
        .filter_map(value)
        .fold(0.0, |a, b| a + b)
}

/// The sum of every series of a counter or gauge.
fn sum_of(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(value)
        .fold(0.0, |a, b| a + b)
}

/// Followers per verdict: the `state` label of each `ccr_sentinel_follower_state` series at 1.
fn follower_states(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in text
        .lines()
        .filter(|l| l.starts_with("ccr_sentinel_follower_state{") && value(l) == Some(1.0))
    {
        if let Some(state) = l.split("state=\"").nth(1).and_then(|r| r.split('"').next()) {
            *out.entry(state.to_string()).or_insert(0) += 1;
        }
    }
    out
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    ticks_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat"))
}

/// utime + stime of a `/proc/.../stat` line, in clock ticks.
fn ticks_of(stat: &str) -> u64 {
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

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn print_report(rows: &[Row]) {
    println!(
        "\nccr-sentinel at scale: followers x {SHARDS} shards, poll, doc_counts and heartbeat every 5 s, {CYCLES} cycles measured"
    );
    println!("server: es = ccr-sim (honours filter_path and gzip); canned = pre-serialised 8.x bodies (ignores both)\n");
    println!("| followers | server | CPU/cycle ms | RSS steady / peak MiB | read/cycle | requests/cycle | /metrics | typed-parse floor ms CPU | cycles | skipped runs | poll run (wall) | warm-up | followers by state |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!("{}", r.line());
    }
    let find = |n: usize, mode: Mode| rows.iter().find(|r| r.n == n && r.mode == mode);
    let biggest = rows.iter().map(|r| r.n).max().unwrap_or(0);
    for mode in [Mode::Es, Mode::Canned] {
        if let Some(r) = find(biggest, mode) {
            println!(
                "\nRequests per cycle at {biggest} ({}), by cluster and endpoint:",
                mode.name()
            );
            for (k, v) in &r.by_endpoint {
                println!("- {k}: {v:.2}");
            }
            if !r.outside_window.is_empty() {
                println!("  sent before the window only (start-up, every 5 minutes):");
                for (k, v) in &r.outside_window {
                    println!("  - {k}: {v}");
                }
            }
        }
    }

    println!("\nTargets (at 2,000 followers x 5 shards, default settings), each a ratio of figures of this run:");
    let exporter_2000 = find(2_000, Mode::Canned).and_then(|r| r.exporter.clone());
    for mode in [Mode::Canned, Mode::Es] {
        if let Some(r) = find(2_000, mode) {
            let ratio = r.cpu_ms / r.floor.ms;
            println!(
                "- CPU per cycle / typed-parse floor ({}): {:.1} / {:.1} ms = {ratio:.1}x (target <= 4x): {}",
                mode.name(),
                r.cpu_ms,
                r.floor.ms,
                mark(ratio <= 4.0)
            );
            match &exporter_2000 {
                Some(e) if e.index_series > 0 => {
                    let ratio = e.cpu_ms / r.cpu_ms;
                    println!(
                        "- exporter CPU per scrape / CPU per cycle ({}): {:.0} / {:.1} ms = {ratio:.1}x (target >= 30x): {}",
                        mode.name(),
                        e.cpu_ms,
                        r.cpu_ms,
                        mark(ratio >= 30.0)
                    );
                }
                _ => println!(
                    "- exporter CPU per scrape / CPU per cycle ({}): not measured",
                    mode.name()
                ),
            }
        }
    }
    if let Some(r) = find(2_000, Mode::Es) {
        println!(
            "- RSS steady {:.0} MiB / 40 MiB = {:.2}, peak {:.0} MiB / 60 MiB = {:.2} (targets <= 1): {}",
            r.rss_mib,
            r.rss_mib / 40.0,
            r.peak_mib,
            r.peak_mib / 60.0,
            mark(r.rss_mib <= 40.0 && r.peak_mib <= 60.0)
        );
        println!(
            "- bytes read per cycle, filter_path and gzip honoured: {:.2} MB / 1.5 MB = {:.2} (target <= 1): {}",
            r.bytes / 1e6,
            r.bytes / 1.5e6,
            mark(r.bytes <= 1.5e6)
        );
        let reads: f64 = r
            .by_endpoint
            .iter()
            .filter(|(k, _)| k.split(' ').nth(1) == Some("GET"))
            .map(|(_, v)| v)
            .sum();
        println!(
            "- requests per cycle, one leader and one follower cluster: {:.1} ({reads:.1} reads) / 10 = {:.2} (target <= 1): {}",
            r.requests,
            r.requests / 10.0,
            mark(r.requests <= 10.0)
        );
        println!(
            "- /metrics: {:.2} MB / 4 MB = {:.2}, {:.1} ms / 40 ms = {:.2} (targets <= 1): {}",
            r.metrics_mb,
            r.metrics_mb / 4.0,
            r.metrics_ms,
            r.metrics_ms / 40.0,
            mark(r.metrics_mb <= 4.0 && r.metrics_ms <= 40.0)
        );
    }
    if let (Some(c), Some(e)) = (find(2_000, Mode::Canned), find(2_000, Mode::Es)) {
        println!(
            "- bytes read per cycle, server ignoring filter_path and gzip: {:.2} MB / 28.5 MB before = {:.2} (target <= 1): {}",
            c.bytes / 1e6,
            c.bytes / 28.5e6,
            mark(c.bytes <= 28.5e6)
        );
        let same = c.states == e.states && c.request_errors == 0.0 && e.request_errors == 0.0;
        println!(
            "- same results from both servers: es {{{}}}, canned {{{}}}, request errors {} / {}: {}",
            states_text(&e.states),
            states_text(&c.states),
            e.request_errors,
            c.request_errors,
            mark(same)
        );
        let es_reads: Vec<_> = e.by_endpoint.keys().collect();
        let canned_reads: Vec<_> = c.by_endpoint.keys().collect();
        println!(
            "- canned serves the reads es serves (same endpoints per cycle): {}",
            mark(es_reads == canned_reads)
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
                "- at 10,000 ({}): RSS steady {:.0} MiB, peak {:.0} MiB / 150 MiB = {:.2}, {} skipped runs, a poll run takes {:.1} s / 5 s period = {:.1}, /metrics answers in {:.0} ms, {} failed scrapes: {}",
                mode.name(),
                r.rss_mib,
                r.peak_mib,
                r.peak_mib / 150.0,
                r.skipped,
                r.poll_run_s,
                r.poll_run_s / PERIOD.as_secs_f64(),
                r.metrics_ms,
                r.failed_scrapes,
                mark(
                    r.peak_mib <= 150.0
                        && r.skipped == 0.0
                        && r.poll_run_s <= PERIOD.as_secs_f64()
                        && r.failed_scrapes == 0
                )
            );
        }
    }
    if find(10_000, Mode::Es).is_none() {
        println!("- at 10,000: not run (add `-- 10000`)");
    }
    println!("\nDebian prometheus-elasticsearch-exporter --es.indices --es.shards against the canned follower cluster:");
    let mut any = false;
    for r in rows.iter().filter(|r| r.mode == Mode::Canned) {
        if let Some(e) = &r.exporter {
            any = true;
            println!(
                "- {} indices: {:.0} ms CPU per scrape, RSS {:.0} / peak {:.0} MiB, {:.1} MB read per scrape, {} per-index series ({} metrics), {} per-shard series; ccr-sentinel's cycle (canned) = 1/{:.1} of it{}",
                r.n,
                e.cpu_ms,
                e.rss_mib,
                e.peak_mib,
                e.bytes / 1e6,
                e.index_series,
                e.index_metric_names,
                e.shard_series,
                e.cpu_ms / r.cpu_ms,
                if e.index_series == 0 {
                    " (no index series: the double's answers did not satisfy it, so the ratio is not valid)"
                } else {
                    ""
                }
            );
            println!("  its requests: {}", e.requests);
        }
    }
    if !any {
        println!("- not measured: `prometheus-elasticsearch-exporter` is not installed (apt-get install prometheus-elasticsearch-exporter) or `--no-exporter`");
    }
}
