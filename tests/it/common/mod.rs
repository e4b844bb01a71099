//! Helpers shared by the integration tests: simulator set-up, config files, the CLI as a process, the daemon on
//! loopback, HTTP and `/metrics` scraping, waiting for a condition, the simulator's time as the daemon's clock
//! ([`SimTime`]) and the daemon's log lines ([`LogCapture`]); [`policy`] holds the builders of the policy and
//! action tests.
//!
//! Each test module uses only part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod policy;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccr_sim::{ClusterConfig, Sim};
use serde_json::{json, Value};

/// A loopback port nobody listens on: bound then released, so a daemon can take it, or a connection to it fails.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The body of a simulator answer that must be 200.
pub fn must(r: (u16, Value), what: &str) -> Value {
    assert_eq!(r.0, 200, "{what}: {}", r.1);
    r.1
}

/// A `leader` and a `follower` cluster at the given versions (real clock), not connected.
pub async fn two_clusters(leader_version: &str, follower_version: &str) -> Sim {
    Sim::builder()
        .cluster(ClusterConfig::new("leader").version(leader_version))
        .cluster(ClusterConfig::new("follower").version(follower_version))
        .start()
        .await
        .unwrap()
}

/// Creates `index` on the `leader` cluster with soft deletes (needed on 6.x) and one shard, holding `docs`
/// documents.
pub fn create_leader_index(sim: &Sim, index: &str, docs: u64) {
    must(
        sim.cluster("leader").request(
            "PUT",
            &format!("/{index}"),
            Some(json!({"settings": {"index.soft_deletes.enabled": true, "index.number_of_shards": 1}})),
        ),
        "create leader index",
    );
    if docs > 0 {
        sim.cluster("leader").index_docs(index, docs).unwrap();
    }
}

/// A `leader` and a `follower` cluster at `version`, the leader holding `logs` with `docs` documents.
pub async fn two_clusters_with_logs(version: &str, docs: u64) -> Sim {
    let sim = two_clusters(version, version).await;
    create_leader_index(&sim, "logs", docs);
    sim
}

/// A `leader` and a `follower` cluster at `version` where someone else already connected the remote `leader` and
/// follows `logs` (3 documents) as `logs-copy`.
pub async fn logs_already_followed(version: &str) -> Sim {
    let sim = two_clusters_with_logs(version, 3).await;
    connect(&sim, "follower", "leader", "leader");
    sim.cluster("follower")
        .follow("logs-copy", "leader", "logs")
        .unwrap();
    // Put follow answers when the remote recovery starts; the shard tasks come after it.
    let f = sim.cluster("follower");
    wait_until("logs-copy following", Duration::from_secs(10), || {
        f.state()["followers"]["logs-copy"]["status"] == "active"
    })
    .await;
    sim
}

/// The `[clusters.leader]` and `[clusters.follower]` sections at these URLs, each with the request `timeout`.
pub fn pair_clusters(leader_url: &str, follower_url: &str, timeout: &str) -> String {
    format!(
        r#"[clusters.leader]
url = "{leader_url}"
timeout = "{timeout}"
[clusters.follower]
url = "{follower_url}"
timeout = "{timeout}"
"#
    )
}

/// The `[[remotes]]` entry of the follower's remote `leader` (leader cluster `leader`), seeded with `seeds`.
pub fn leader_remote(seeds: &str) -> String {
    format!(
        r#"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
seeds = ["{seeds}"]
"#
    )
}

/// Connects `alias` on cluster `on` to the transport address of cluster `to`.
pub fn connect(sim: &Sim, on: &str, alias: &str, to: &str) {
    must(
        sim.cluster(on).request(
            "PUT",
            "/_cluster/settings",
            Some(json!({"persistent": {format!("cluster.remote.{alias}.seeds"): [sim.transport_address(to)]}})),
        ),
        "remote settings",
    );
}

/// Forgets the requests the `leader` and `follower` clusters have counted so far.
pub fn reset(sim: &Sim) {
    sim.cluster("leader").reset_requests();
    sim.cluster("follower").reset_requests();
}

/// A daemon config for the simulator's `leader` and `follower` clusters, polled every second, with the remote
/// `leader` on the follower; `extra` is appended (more sections, followers).
pub fn daemon_config(sim: &Sim, extra: &str) -> String {
    format!(
        r#"
[http]
listen = "127.0.0.1:0"
[schedule]
poll = "* * * * * *"
doc_counts = "* * * * * *"
{clusters}{remote}{extra}
"#,
        clusters = pair_clusters(&sim.url("leader"), &sim.url("follower"), "2s"),
        remote = leader_remote(&sim.transport_address("leader")),
    )
}

/// Writes `text` as `ccr-sentinel.toml` in `dir`.
pub fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("ccr-sentinel.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The CLI binary, with the test's own environment kept out of it (overrides, log filter, credentials).
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ccr-sentinel"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CCR_SENTINEL_") || k == "CREDENTIALS_DIRECTORY" || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

/// The CLI binary with `args` then `--config <config>`, ready for more settings (environment, directory).
pub fn bin_with_config(args: &[&str], config: &Path) -> Command {
    let mut c = bin();
    c.args(args).arg("--config").arg(config);
    c
}

/// Runs `ccr-sentinel <args> --config <config>` to completion.
pub fn run_with_config(args: &[&str], config: &Path) -> Output {
    bin_with_config(args, config).output().unwrap()
}

/// The process succeeded; the failure shows its standard error.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends `SIG<signal>` (`TERM`, `INT`) to `child`; `kill` must succeed.
pub fn send_signal(child: &Child, signal: &str) {
    let kill = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(kill.success());
}

/// Waits for `child` to exit, checking every 50 ms; fails with `what` once `within` has passed since `since`.
pub fn wait_exit(child: &mut Child, since: Instant, within: Duration, what: &str) -> ExitStatus {
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(since.elapsed() < within, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the CLI to completion off the runtime's worker threads (the daemon under test shares the runtime).
pub async fn run_cli(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || bin().args(&args).output().unwrap())
        .await
        .unwrap()
}

/// Runs `ccr-sentinel <args> --config <config>` to completion off the runtime's worker threads.
pub async fn run_cli_with_config(args: &'static [&'static str], config: &Path) -> Output {
    let config = config.to_path_buf();
    tokio::task::spawn_blocking(move || run_with_config(args, &config))
        .await
        .unwrap()
}

/// GET `url`: status and body; the request itself must succeed.
pub async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The value of the first `/metrics` sample whose line starts with `series` (name and labels).
pub fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
}

/// The `ccr_sentinel_follower_state` samples that are 1: what a failing verdict test needs to see first.
pub fn current_states(body: &str) -> Vec<&str> {
    body.lines()
        .filter(|l| l.starts_with("ccr_sentinel_follower_state") && l.ends_with(" 1"))
        .collect()
}

/// Waits until `cond` holds, checking every 50 ms, or fails naming `what` after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A daemon (from a TOML config) for `poll_once` / `doc_counts_once` calls, not serving.
pub fn one_shot(toml: &str) -> ccr_sentinel::daemon::Daemon {
    ccr_sentinel::daemon::Daemon::new(ccr_sentinel::config::from_toml_str(toml).unwrap()).unwrap()
}

/// The daemon (from a TOML config) serving on a loopback port of its own, stopped by [`Running::stop`].
pub struct Running {
    pub base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// The daemon as `ccr-sentinel run` wires it (reconcile included), serving on a loopback port of its own.
    pub async fn run(toml: &str) -> Self {
        let cfg = ccr_sentinel::config::from_toml_str(toml).unwrap();
        Running::serve(ccr_sentinel::daemon::build(cfg).unwrap()).await
    }

    pub async fn start(toml: &str) -> Self {
        let cfg = ccr_sentinel::config::from_toml_str(toml).unwrap();
        // Polling and the policies, as `run` has them; reconcile and preflight have tests of their own.
        let stages = ccr_sentinel::daemon::Stages {
            policy: true,
            reconcile: false,
        };
        Running::serve(ccr_sentinel::daemon::build_with(cfg, stages).unwrap()).await
    }

    /// Serves `daemon` (built by the test, with jobs of its own) on a loopback port of its own.
    pub async fn serve(daemon: ccr_sentinel::daemon::Daemon) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(daemon.run(listener, async move {
            let _ = rx.await;
        }));
        Running { base, stop, task }
    }

    /// GET `path` on the daemon: status and body; the request itself must succeed.
    pub async fn get(&self, path: &str) -> (u16, String) {
        get(&format!("{}{path}", self.base)).await
    }

    /// Polls `path` until `pred` holds on the body, or fails after `secs` showing the current follower states.
    pub async fn wait_for(&self, path: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (_, body) = self.get(path).await;
            if pred(&body) {
                return body;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{path}: condition not met within {secs}s; states:\n{}\nlast body:\n{body}",
                    current_states(&body).join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the daemon; it must shut down cleanly within 8 s.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(8), self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// The simulator's time (as its timestamps show it) as the daemon's clock: [`SimTime::advance`] moves both.
pub struct SimTime {
    epoch_ms: Arc<AtomicU64>,
}

impl SimTime {
    /// The time of `sim`, which has a deterministic clock.
    pub fn new(sim: &Sim) -> Self {
        SimTime {
            epoch_ms: Arc::new(AtomicU64::new(sim.epoch_millis())),
        }
    }

    /// The clock to give the daemon (`Daemon::with_clock`).
    pub fn clock(&self) -> ccr_sentinel::observe::Clock {
        let ms = self.epoch_ms.clone();
        Arc::new(move || {
            chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms.load(Ordering::SeqCst) as i64)
                .unwrap()
        })
    }

    /// Advances the simulator by `d`, then the daemon's clock to the simulator's time.
    pub fn advance(&self, sim: &Sim, d: Duration) {
        sim.advance(d).unwrap();
        self.epoch_ms.store(sim.epoch_millis(), Ordering::SeqCst);
    }
}

/// What the daemon logs in this test process (every test's lines: a secret is unique to its test), kept from
/// the first [`LogCapture::start`] on, at most [`LOG_CAPTURE_MAX`] bytes.
pub struct LogCapture {
    from: usize,
}

const LOG_CAPTURE_MAX: usize = 64 << 20;

static LOG_BUFFER: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut b = LOG_BUFFER.lock().unwrap();
        let room = LOG_CAPTURE_MAX.saturating_sub(b.len());
        b.extend_from_slice(&buf[..buf.len().min(room)]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Installs the process's log subscriber (once; the daemon's lines at `debug` and above) and marks where
    /// this test's capture starts.
    pub fn start() -> Self {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("ccr_sentinel=debug"))
                .with_ansi(false)
                .with_writer(|| LogSink)
                .try_init()
                .expect("no other log subscriber in the test process");
        });
        LogCapture {
            from: LOG_BUFFER.lock().unwrap().len(),
        }
    }

    /// The lines logged since [`LogCapture::start`].
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&LOG_BUFFER.lock().unwrap()[self.from..]).into_owned()
    }
}
