//! `ccr-sentinel demo`: the daemon against an embedded simulated leader and follower (ccr-sim).
//!
//! The simulator is set up through its Elasticsearch REST API, exactly as an operator would set up real
//! clusters (remote connection, leader indices, followers, an auto-follow pattern); data flows through the
//! simulator's write generator. Scripted events use the simulator's control API (`/_sim/...`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::daemon::{shutdown_signal, Daemon};

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

/// A tiny REST helper for the setup; errors name the request.
struct Rest {
    http: reqwest::Client,
}

impl Rest {
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method.clone(), url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{method} {url}: HTTP {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    async fn put(&self, url: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::PUT, url, Some(body)).await
    }
    async fn post(&self, url: &str, body: Option<Value>) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, url, body).await
    }
}

const LEADER_INDICES: [&str; 2] = ["orders", "clicks"];

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
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
    let leader = sim.url("leader");
    let follower = sim.url("follower");
    let rest = Rest {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
    };

    // The remote connection, leader indices with data flowing, followers, and an auto-follow pattern.
    rest.put(
        &format!("{follower}/_cluster/settings"),
        json!({"persistent": {"cluster.remote.leader.seeds": [sim.transport_address("leader")]}}),
    )
    .await?;
    for index in LEADER_INDICES {
        rest.put(&format!("{leader}/{index}"), json!({})).await?;
        rest.post(
            &format!("{leader}/_sim/writes/{index}"),
            Some(json!({"docs_per_second": 20})),
        )
        .await?;
    }
    for index in LEADER_INDICES {
        // Small read batches (at most ~2000 operations/s in the simulator) so a burst of writes shows as lag.
        rest.put(
            &format!("{follower}/{index}-copy/_ccr/follow?wait_for_active_shards=1"),
            json!({"remote_cluster": "leader", "leader_index": index,
                   "max_read_request_operation_count": 100, "max_outstanding_read_requests": 1}),
        )
        .await?;
    }
    rest.put(
        &format!("{follower}/_ccr/auto_follow/logs"),
        json!({"remote_cluster": "leader", "leader_index_patterns": ["logs-*"],
               "follow_index_pattern": "{{leader_index}}-copy"}),
    )
    .await?;
    rest.put(&format!("{leader}/logs-demo"), json!({})).await?;
    rest.post(
        &format!("{leader}/_sim/writes/logs-demo"),
        Some(json!({"docs_per_second": 5})),
    )
    .await?;

    let cfg = crate::config::from_toml_str(&format!(
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
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "orders"
follower_index = "orders-copy"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "clicks"
follower_index = "clicks-copy"
[[auto_follow]]
cluster = "follower"
name = "logs"
remote = "leader"
leader_index_patterns = ["logs-*"]
follow_index_pattern = "{{{{leader_index}}}}-copy"
[health]
max_lag_operations = 200
max_time_since_last_read = "30s"
"#,
        listen = args.listen,
        seeds = sim.transport_address("leader"),
    ))
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let daemon = Daemon::new(cfg)?;
    let listener = daemon.bind().await?;
    let base = format!("http://{}", listener.local_addr()?);

    println!("ccr-sentinel demo");
    println!("  metrics:            {base}/metrics");
    println!("  status:             {base}/status");
    println!("  health / ready:     {base}/health  {base}/ready");
    println!("  leader (simulated):   {leader}   control: {leader}/_sim/state");
    println!("  follower (simulated): {follower}   control: {follower}/_sim/state");
    println!("  followers: orders-copy, clicks-copy (configured), logs-demo-copy (auto-follow)");
    if args.no_events {
        println!("  scripted events: off");
    } else {
        println!(
            "  scripted events every {}s: remote outage, fatal error, burst of writes",
            args.event_interval
        );
    }
    println!("Ctrl-C to stop.");

    let events = {
        let (leader, follower) = (leader.clone(), follower.clone());
        let interval = Duration::from_secs(args.event_interval.max(10));
        let cancel = daemon.cancel.clone();
        let no_events = args.no_events;
        tokio::spawn(async move {
            if no_events {
                return;
            }
            tokio::select! {
                _ = cancel.cancelled() => {}
                r = scripted_events(&rest, &leader, &follower, interval) => {
                    if let Err(e) = r {
                        eprintln!("scripted events stopped: {e:#}");
                    }
                }
            }
        })
    };
    let result = daemon.run(listener, shutdown_signal()).await;
    events.abort();
    sim.shutdown().await;
    result
}

fn say(what: &str) {
    println!("[{}] {what}", chrono::Utc::now().format("%H:%M:%S"));
}

/// Every `interval`: a remote outage, a fatal shard error, a burst of writes; each undone halfway.
async fn scripted_events(
    rest: &Rest,
    leader: &str,
    follower: &str,
    interval: Duration,
) -> anyhow::Result<()> {
    let half = interval / 2;
    loop {
        tokio::time::sleep(interval).await;
        say("event: the follower loses its connection to the leader (watch remote_disconnected)");
        rest.post(&format!("{follower}/_sim/remote/leader/disconnect"), None)
            .await?;
        tokio::time::sleep(half).await;
        rest.post(&format!("{follower}/_sim/remote/leader/connect"), None)
            .await?;
        say("event: connection restored");

        tokio::time::sleep(interval - half).await;
        say("event: a fatal exception on clicks-copy shard 0 (watch failed)");
        rest.post(
            &format!("{follower}/_sim/follower/clicks-copy/fatal"),
            Some(json!({"shard": 0})),
        )
        .await?;
        tokio::time::sleep(half).await;
        rest.post(&format!("{follower}/clicks-copy/_ccr/pause_follow"), None)
            .await?;
        rest.post(
            &format!("{follower}/clicks-copy/_ccr/resume_follow"),
            Some(json!({})),
        )
        .await?;
        say("event: clicks-copy paused and resumed by hand; it catches up");

        tokio::time::sleep(interval - half).await;
        say("event: a burst of writes into orders (watch the lag)");
        rest.post(
            &format!("{leader}/_sim/writes/orders"),
            Some(json!({"docs_per_second": 3000})),
        )
        .await?;
        tokio::time::sleep(half).await;
        rest.post(
            &format!("{leader}/_sim/writes/orders"),
            Some(json!({"docs_per_second": 20})),
        )
        .await?;
        say("event: write rate back to normal");
        tokio::time::sleep(interval - half).await;
    }
}
