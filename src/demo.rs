//! `ccr-sentinel demo`: the daemon against an embedded simulated leader and follower (ccr-sim).
//!
//! The demo only plays the leader side: it creates the leader indices and keeps writes flowing (through the
//! simulator's control API, [`ccr_sim::ClusterHandle`]). Everything on the follower cluster (the remote
//! connection, the followers, the auto-follow pattern) is created by the daemon's own reconcile at start-up,
//! exactly as with `ccr-sentinel run` against real clusters; the scripted events then show the daemon reacting
//! (the `recover_fatal` and `pause_on_remote_outage` policies, the lag verdict). A large leader index shows a new
//! follower's initial copy (`bootstrapping`, with progress) before it follows. A data stream on the leader,
//! rolled over at every round of events, shows an auto-follow pattern following its backing indices.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::daemon::shutdown_signal;

/// Options of `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the daemon serves /metrics, /status, /health.
    #[arg(long, default_value = "127.0.0.1:9725")]
    pub listen: SocketAddr,
    /// Leader HTTP port; the follower gets PORT+1. 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    pub sim_port: u16,
    /// Do not run the scripted events (outage, fatal error, write burst).
    #[arg(long)]
    pub no_events: bool,
    /// Seconds between scripted events.
    #[arg(long, default_value_t = 60, hide = true)]
    pub event_interval: u64,
}

/// Leader indices the demo creates, each with a configured follower `<index>-copy`.
const LEADER_INDICES: [&str; 2] = ["orders", "clicks"];
/// A large leader index, written once, whose follower `archive-copy` shows the initial copy.
const ARCHIVE: &str = "archive";
/// Its documents, their size in bytes, and the copy rate of the follower cluster
/// (`ccr.indices.recovery.max_bytes_per_sec`): 2.5 MiB at 64 KiB/s, a copy of about 40 s, several polls.
const ARCHIVE_DOCS: u64 = 20_000;
const ARCHIVE_DOC_BYTES: u64 = 128;
const COPY_RATE: &str = "64kb";
/// A leader index matching the auto-follow pattern `logs`; created once the pattern exists, since an
/// auto-follow pattern only follows leader indices created after it.
const AUTO_FOLLOWED: &str = "logs-demo";
/// A leader data stream matching the auto-follow pattern `metrics` (by its stream name, as Elasticsearch
/// matches data streams), created once the pattern exists; its backing indices are followed under their own
/// names, so the follower cluster holds a replicated data stream of the same name.
const DATA_STREAM: &str = "metrics-app-demo";
/// The index template that makes `metrics-app-*` data streams, on both clusters as an operator would keep them
/// (a promoted data stream needs its template locally to roll over).
const DATA_STREAM_TEMPLATE: &str = "metrics-app";
/// How long the demo waits for reconcile to create the auto-follow patterns before giving up on `logs-demo`.
const PATTERN_WAIT: Duration = Duration::from_secs(120);

/// The daemon's configuration: what an operator would write for these two clusters.
fn config_toml(
    listen: SocketAddr,
    leader: &str,
    follower: &str,
    seeds: &str,
    audit: &str,
) -> String {
    let followers: Vec<String> = ["orders", "clicks", ARCHIVE]
        .iter()
        .map(|index| {
            format!(
                r#"[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "{index}"
follower_index = "{index}-copy"
parameters = {{ max_read_request_operation_count = 100, max_outstanding_read_requests = 1 }}"#
            )
        })
        .collect();
    let followers = followers.join("\n");
    format!(
        r#"
[http]
listen = "{listen}"
[schedule]
poll = "*/5 * * * * *"
doc_counts = "*/10 * * * * *"
[clusters.leader]
url = "{leader}"
timeout = "3s"
[clusters.follower]
url = "{follower}"
timeout = "3s"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
seeds = ["{seeds}"]
# Small read batches (at most ~2000 operations/s in the simulator) so a burst of writes shows as lag.
{followers}
[[auto_follow]]
cluster = "follower"
name = "logs"
remote = "leader"
leader_index_patterns = ["logs-*"]
follow_index_pattern = "{{{{leader_index}}}}-copy"
[[auto_follow]]
cluster = "follower"
name = "metrics"
remote = "leader"
leader_index_patterns = ["metrics-app-*"]
follow_index_pattern = "{{{{leader_index}}}}"
[reconcile]
connect_timeout = "5s"
[audit]
file = "{audit}"
[policy]
recover_fatal = true
backoff_initial = "5s"
pause_on_remote_outage = true
remote_outage_after = "20s"
remote_recovered_after = "10s"
[health]
max_lag_operations = 200
max_time_since_last_read = "30s"
"#
    )
}

/// Where to look once the demo is up.
#[derive(Debug, Clone)]
pub struct Banner {
    /// The daemon's base URL (`/metrics`, `/status`, `/health`, `/ready`).
    pub base: String,
    /// The simulated leader's URL.
    pub leader_url: String,
    /// The simulated follower's URL.
    pub follower_url: String,
    /// The audit trail file.
    pub audit: PathBuf,
    /// The scripted events are off.
    pub no_events: bool,
    /// Seconds between scripted events.
    pub event_interval: u64,
}

/// What the demo tells the person running it, as it happens.
#[derive(Debug)]
pub enum Narration<'a> {
    /// The daemon serves and the simulated clusters are up.
    Ready(&'a Banner),
    /// A scripted step happened.
    Step(&'a str),
    /// The scripted events stopped early.
    EventsStopped(&'a anyhow::Error),
}

/// Receives the narration; the command line prints it.
pub type Narrator = Arc<dyn Fn(Narration<'_>) + Send + Sync>;

/// Runs the demo until Ctrl-C, telling `narrate` what happens.
pub async fn run(args: DemoArgs, narrate: Narrator) -> anyhow::Result<()> {
    let addr = |port: u16| -> SocketAddr { SocketAddr::from(([127, 0, 0, 1], port)) };
    let (leader_addr, follower_addr) = if args.sim_port == 0 {
        (addr(0), addr(0))
    } else {
        let next = args
            .sim_port
            .checked_add(1)
            .context("--sim-port must leave room for the follower on PORT+1")?;
        (addr(args.sim_port), addr(next))
    };
    let sim = ccr_sim::Sim::builder()
        .cluster(ccr_sim::ClusterConfig::new("leader").addr(leader_addr))
        .cluster(ccr_sim::ClusterConfig::new("follower").addr(follower_addr))
        .start()
        .await
        .context("starting the simulated clusters")?;
    let (leader, follower) = (sim.cluster("leader"), sim.cluster("follower"));
    let (leader_url, follower_url) = (leader.url(), follower.url());

    // The leader side only: indices with data flowing. The follower cluster starts empty.
    for index in LEADER_INDICES {
        leader
            .create_index(index, 1)
            .with_context(|| format!("creating leader index {index}"))?;
        leader
            .set_writes(index, 20.0)
            .with_context(|| format!("starting writes into {index}"))?;
    }
    leader
        .create_index(ARCHIVE, 1)
        .and_then(|()| leader.index_sized_docs(ARCHIVE, ARCHIVE_DOCS, ARCHIVE_DOC_BYTES))
        .context("creating leader index archive")?;
    // An operator's setting of the follower cluster, not a follower: the copy rate of initial copies.
    let (code, body) = follower.request(
        "PUT",
        "/_cluster/settings",
        Some(serde_json::json!({"persistent": {"ccr.indices.recovery.max_bytes_per_sec": COPY_RATE}})),
    );
    anyhow::ensure!(
        code == 200,
        "setting the copy rate of the follower cluster: {body}"
    );
    for cluster in [&leader, &follower] {
        cluster
            .put_data_stream_template(DATA_STREAM_TEMPLATE, &["metrics-app-*"], 200)
            .with_context(|| format!("creating index template {DATA_STREAM_TEMPLATE}"))?;
    }

    let audit_dir = tempfile::Builder::new()
        .prefix("ccr-sentinel-demo-")
        .tempdir()
        .context("creating a temp dir for the audit file")?;
    let audit = audit_dir.path().join("audit.jsonl");
    let cfg = crate::config::from_toml_str(&config_toml(
        args.listen,
        &leader_url,
        &follower_url,
        &leader.transport_address(),
        &audit.display().to_string(),
    ))
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let daemon = crate::daemon::build(cfg)?;
    let listener = daemon.bind().await?;
    let base = format!("http://{}", listener.local_addr()?);

    narrate(Narration::Ready(&Banner {
        base,
        leader_url,
        follower_url,
        audit,
        no_events: args.no_events,
        event_interval: args.event_interval,
    }));

    let events = {
        let (leader, follower) = (leader.clone(), follower.clone());
        let interval = Duration::from_secs(args.event_interval.max(10));
        let cancel = daemon.cancellation();
        let no_events = args.no_events;
        let narrate = narrate.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                r = async {
                    auto_followed_index(&leader, &follower, &narrate).await?;
                    if no_events {
                        return Ok(());
                    }
                    scripted_events(&leader, &follower, interval, &narrate).await
                } => {
                    if let Err(e) = r {
                        narrate(Narration::EventsStopped(&e));
                    }
                }
            }
        })
    };
    let result = daemon.run(listener, shutdown_signal()).await;
    events.abort();
    sim.shutdown().await;
    drop(audit_dir);
    result
}

/// Waits for reconcile to create the auto-follow patterns, then creates `logs-demo` and the data stream on the
/// leader.
async fn auto_followed_index(
    leader: &ccr_sim::ClusterHandle,
    follower: &ccr_sim::ClusterHandle,
    narrate: &Narrator,
) -> anyhow::Result<()> {
    let say = |what: &str| narrate(Narration::Step(what));
    let deadline = tokio::time::Instant::now() + PATTERN_WAIT;
    while follower.request("GET", "/_ccr/auto_follow/logs", None).0 != 200
        || follower.request("GET", "/_ccr/auto_follow/metrics", None).0 != 200
    {
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!(
                "reconcile did not create the auto-follow patterns `logs` and `metrics` within {}s (see /status, section reconcile)",
                PATTERN_WAIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    say("reconcile created remote `leader`, followers orders-copy, clicks-copy and archive-copy, auto-follow patterns `logs` and `metrics`");
    say(&format!(
        "archive-copy copies {ARCHIVE_DOCS} documents at {COPY_RATE}/s first (watch state bootstrapping with its \
         progress in /status, ccr_sentinel_follower_bootstrap_progress_ratio, then healthy)"
    ));
    // Midway between two polls (`*/5` seconds): a poll reads the leader's indices and the follower's followers
    // concurrently, and one that caught the new follower but not yet its leader index would report it
    // leader_missing until the next poll.
    let into_cycle = chrono::Utc::now().timestamp_millis().rem_euclid(5_000);
    let wait = (7_500 - into_cycle) % 5_000;
    tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(0))).await;
    leader.create_index(AUTO_FOLLOWED, 1)?;
    leader.set_writes(AUTO_FOLLOWED, 5.0)?;
    say("new leader index logs-demo (5 docs/s): the pattern follows it as logs-demo-copy");
    leader.create_data_stream(DATA_STREAM)?;
    leader.set_writes(DATA_STREAM, 5.0)?;
    say(&format!(
        "new leader data stream {DATA_STREAM} (5 docs/s): the pattern `metrics` follows its backing indices \
         (watch ccr_sentinel_data_stream_followers and the data streams of `status`)"
    ));
    Ok(())
}

/// Every `interval`: a remote outage, a fatal shard error, a burst of writes. The outage and the burst are
/// undone by the script; the fatal error is left to the daemon's `recover_fatal` policy.
async fn scripted_events(
    leader: &ccr_sim::ClusterHandle,
    follower: &ccr_sim::ClusterHandle,
    interval: Duration,
    narrate: &Narrator,
) -> anyhow::Result<()> {
    let say = |what: &str| narrate(Narration::Step(what));
    // Longer than `remote_outage_after` (20s) plus two polls (the outage is seen, and acted on, at a poll), so
    // the pause_on_remote_outage policy acts.
    let outage = (interval * 2 / 3).max(Duration::from_secs(40));
    let half = interval / 2;
    loop {
        tokio::time::sleep(interval).await;
        say(&format!(
            "event: the follower loses its connection to the leader for {}s (watch state remote_disconnected, \
             elasticsearch_ccr_remote_cluster_connected; after 20s pause_on_remote_outage pauses the followers)",
            outage.as_secs()
        ));
        follower.disconnect_remote("leader")?;
        tokio::time::sleep(outage).await;
        follower.connect_remote("leader")?;
        say("event: connection restored (after 10s connected, the policy resumes the followers it paused)");

        tokio::time::sleep(interval).await;
        say(
            "event: a fatal exception on clicks-copy shard 0 (watch state failed, then recover_fatal pausing and \
             resuming it: ccr_sentinel_actions_total{rule=\"recover_fatal\"}, the audit trail)",
        );
        follower.fail_shard("clicks-copy", 0)?;

        tokio::time::sleep(interval).await;
        say("event: a burst of 3000 docs/s into orders (watch state lagging, elasticsearch_ccr_follower_global_checkpoint_lag, and the lag in time: ccr_sentinel_follower_lag_seconds, the LAG TIME column of `status`)");
        leader.set_writes("orders", 3000.0)?;
        tokio::time::sleep(half).await;
        leader.set_writes("orders", 20.0)?;
        say("event: write rate back to normal; orders-copy catches up");

        let backing = leader.rollover(DATA_STREAM)?;
        say(&format!(
            "event: {DATA_STREAM} rolls over on the leader; the pattern `metrics` follows the new backing index {backing}"
        ));
    }
}
