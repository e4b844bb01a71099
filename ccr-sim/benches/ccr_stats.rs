//! How fast the simulator answers `GET /_ccr/stats` for 2,000 followers of 5 shards each
//! (10,000 shard follow tasks), over real HTTP, with the real-time ticker running.
//!
//! Run with `cargo bench -p ccr-sim --bench ccr_stats`. Plain `main` (no criterion): it prints
//! the setup time, then for a plain and a gzip (`Accept-Encoding: gzip`, ES's level 3) request
//! the bytes on the wire, the JSON size and the min/median/max time per request (the gzip time
//! includes the server's compression, not the client's decoding).

use std::io::Read;
use std::time::{Duration, Instant};

use ccr_sim::{ClusterConfig, Sim};

const FOLLOWERS: usize = 2_000;
const SHARDS: usize = 5;
const ROUNDS: usize = 20;

#[tokio::main]
async fn main() {
    let setup = Instant::now();
    let sim = followers(false, 20).await;
    println!(
        "setup: {FOLLOWERS} followers x {SHARDS} shards in {:?}",
        setup.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Bytes as sent: no transparent gzip decoding, whatever features the workspace enables.
    let client = reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .build()
        .expect("client");
    let url = format!("{}/_ccr/stats", sim.url("follower"));
    for gzip in [false, true] {
        let mut times = Vec::with_capacity(ROUNDS);
        let mut wire_size = 0;
        let mut json_size = 0;
        for _ in 0..ROUNDS {
            let mut rb = client.get(&url);
            if gzip {
                rb = rb.header("accept-encoding", "gzip");
            }
            let start = Instant::now();
            let resp = rb.send().await.expect("send");
            let encoding = resp
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap_or("").to_string());
            let body = resp.bytes().await.expect("body");
            times.push(start.elapsed());
            wire_size = body.len();
            let plain = if gzip {
                assert_eq!(encoding.as_deref(), Some("gzip"));
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&body[..])
                    .read_to_end(&mut out)
                    .expect("valid gzip");
                out
            } else {
                body.to_vec()
            };
            json_size = plain.len();
            let v: serde_json::Value = serde_json::from_slice(&plain).expect("valid JSON");
            let shards: usize = v["follow_stats"]["indices"]
                .as_array()
                .expect("indices")
                .iter()
                .map(|i| i["shards"].as_array().map_or(0, Vec::len))
                .sum();
            assert_eq!(shards, FOLLOWERS * SHARDS);
        }
        println!(
            "GET /_ccr/stats {} ({} shard tasks, {} bytes on the wire, {} bytes of JSON): {} over {ROUNDS} calls",
            if gzip { "Accept-Encoding: gzip" } else { "plain" },
            FOLLOWERS * SHARDS,
            wire_size,
            json_size,
            min_median_max(&mut times)
        );
    }
    sim.shutdown().await;
    tick_cost().await;
}

/// The same setup on a deterministic clock: how long one 50 ms simulation step (every shard
/// task, 50 indices under writes) holds the world lock.
async fn tick_cost() {
    let sim = followers(true, 0).await;
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        sim.advance(Duration::from_millis(50)).expect("advance");
        times.push(start.elapsed());
    }
    println!(
        "one 50 ms simulation step over {} shard tasks: {}",
        FOLLOWERS * SHARDS,
        min_median_max(&mut times)
    );
    sim.shutdown().await;
}

/// A leader/follower pair (on the deterministic clock when asked) with `FOLLOWERS` followers of
/// `SHARDS` shards each, `docs` documents in every leader index and steady writes on 50 of them.
async fn followers(deterministic: bool, docs: u64) -> Sim {
    let mut builder = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"));
    if deterministic {
        builder = builder.deterministic_clock();
    }
    let sim = builder.start().await.expect("start the simulator");
    let leader = sim.cluster("leader");
    let follower = sim.cluster("follower");
    let seeds = sim.transport_address("leader");
    let (st, body) = follower.request(
        "PUT",
        "/_cluster/settings",
        Some(serde_json::json!({"persistent": {"cluster.remote.leader.seeds": [seeds]}})),
    );
    assert_eq!(st, 200, "{body}");
    for i in 0..FOLLOWERS {
        let name = format!("logs-{i:04}");
        leader
            .create_index(&name, SHARDS)
            .expect("create leader index");
        if docs > 0 {
            leader.index_docs(&name, docs).expect("write leader docs");
        }
        follower
            .follow(&format!("{name}-copy"), "leader", &name)
            .expect("follow");
    }
    // Past the restore window (on the real clock the ticker gets there by itself).
    if deterministic {
        sim.advance(Duration::from_millis(200)).expect("advance");
    }
    // Keep some replication going while we measure.
    for i in 0..50 {
        leader
            .set_writes(&format!("logs-{i:04}"), 20.0)
            .expect("steady writes");
    }
    sim
}

/// `min …, median …, max …` of `times` (sorted in place).
fn min_median_max(times: &mut [Duration]) -> String {
    times.sort();
    format!(
        "min {:?}, median {:?}, max {:?}",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    )
}
