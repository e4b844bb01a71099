//! Replication in time, over HTTP on the deterministic clock: the leader's shard stats
//! (`_stats?level=shards`: sequence numbers and retention leases), the follower's retention lease
//! renewed and expired, a throttled follower whose lag grows at a known rate, and a large leader
//! whose restore takes a known time.

use std::time::Duration;

use crate::common::*;
use ccr_sim::Sim;
use serde_json::{json, Value};

/// A deterministic pair on `version` with leader `logs` (`shards` primaries) followed as
/// `logs_copy`, past its restore.
async fn following(version: &str, shards: usize) -> (Sim, reqwest::Client, String, String) {
    let (sim, c, l, f) = pair_with_remote(Some(version), true).await;
    sim.cluster("leader").create_index("logs", shards).unwrap();
    ok(
        &c,
        "PUT",
        &format!("{f}/logs_copy/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "logs"})),
    )
    .await;
    sim.advance(Duration::from_millis(100)).unwrap();
    (sim, c, l, f)
}

fn advance(sim: &Sim, ms: u64) {
    sim.advance(Duration::from_millis(ms)).unwrap();
}

/// The leader's `_stats?level=shards` entry of shard `s` of `logs` (its only copy).
async fn leader_shard(c: &reqwest::Client, l: &str, s: usize) -> Value {
    let st = ok(c, "GET", &format!("{l}/logs/_stats?level=shards"), None).await;
    let copies = st["indices"]["logs"]["shards"][s.to_string()]
        .as_array()
        .unwrap_or_else(|| panic!("no shard {s}: {st}"))
        .clone();
    assert_eq!(copies.len(), 1, "one copy per shard on one node: {st}");
    copies[0].clone()
}

/// The follower's (`source: ccr`) leases of a shard stats entry.
fn ccr_leases(shard: &Value) -> Vec<Value> {
    shard["retention_leases"]["leases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["source"] == "ccr")
        .cloned()
        .collect()
}

async fn uuid(c: &reqwest::Client, url: &str, index: &str) -> String {
    ok(
        c,
        "GET",
        &format!("{url}/{index}/_settings?flat_settings=true"),
        None,
    )
    .await[index]["settings"]["index.uuid"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn follow_shard(c: &reqwest::Client, f: &str) -> Value {
    ok(c, "GET", &format!("{f}/logs_copy/_ccr/stats"), None).await["indices"][0]["shards"][0]
        .clone()
}

#[tokio::test]
async fn shard_level_stats_show_sequence_numbers_and_the_followers_lease() {
    let (sim, c, l, f) = following("8.15.0", 2).await;
    sim.cluster("leader").index_docs("logs", 20).unwrap();
    advance(&sim, 500);
    let node = ok(&c, "GET", &format!("{l}/_nodes"), None).await["nodes"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let truth = sim.cluster("leader").state()["indices"]["logs"]["global_checkpoints"].clone();
    let lease_id = format!(
        "follower/logs_copy/{}-following-leader/logs/{}",
        uuid(&c, &f, "logs_copy").await,
        uuid(&c, &l, "logs").await
    );
    let mut docs = 0;
    for s in 0..2 {
        let sh = leader_shard(&c, &l, s).await;
        assert_eq!(
            sh["routing"],
            json!({"state": "STARTED", "primary": true, "node": node, "relocating_node": null})
        );
        let max = truth[s].as_i64().unwrap();
        assert_eq!(
            sh["seq_no"],
            json!({"max_seq_no": max, "local_checkpoint": max, "global_checkpoint": max}),
            "{sh}"
        );
        docs += sh["docs"]["count"].as_u64().unwrap();
        assert_eq!(sh["commit"]["user_data"]["max_seq_no"], max.to_string());
        assert_eq!(sh["retention_leases"]["primary_term"], 1);
        // The peer-recovery lease of the shard copy comes first (7.4+), then the follower's.
        let leases = sh["retention_leases"]["leases"].as_array().unwrap();
        assert_eq!(leases[0]["id"], format!("peer_recovery/{node}"), "{sh}");
        assert_eq!(leases[0]["source"], "peer recovery");
        let ccr = ccr_leases(&sh);
        assert_eq!(ccr.len(), 1, "{sh}");
        assert_eq!(ccr[0]["id"], lease_id);
        // Not renewed yet: the restore's lease keeps everything.
        assert_eq!(ccr[0]["retaining_seq_no"], -1, "{sh}");
        assert!(sh["shard_path"]["data_path"].is_string());
    }
    assert_eq!(docs, 20);

    // The first renewal of the shard tasks, a renew interval (30s) after they started:
    // the follower's global checkpoint + 1, stamped with the time.
    let before = ccr_leases(&leader_shard(&c, &l, 0).await)[0]["timestamp"]
        .as_u64()
        .unwrap();
    let version_before = leader_shard(&c, &l, 0).await["retention_leases"]["version"]
        .as_u64()
        .unwrap();
    advance(&sim, 30_000);
    for s in 0..2 {
        let sh = leader_shard(&c, &l, s).await;
        let ccr = ccr_leases(&sh);
        assert_eq!(
            ccr[0]["retaining_seq_no"],
            truth[s].as_i64().unwrap() + 1,
            "{sh}"
        );
        let ts = ccr[0]["timestamp"].as_u64().unwrap();
        assert!(ts > before && ts - before <= 30_500, "{before} -> {ts}");
    }
    assert!(
        leader_shard(&c, &l, 0).await["retention_leases"]["version"]
            .as_u64()
            .unwrap()
            > version_before
    );

    // Levels: indices (the default) has no shards, cluster only `_all`, others are refused.
    let st = ok(&c, "GET", &format!("{l}/_stats"), None).await;
    assert!(st["indices"]["logs"]["shards"].is_null(), "{st}");
    assert_eq!(st["indices"]["logs"]["primaries"]["docs"]["count"], 20);
    let st = ok(&c, "GET", &format!("{l}/_stats?level=cluster"), None).await;
    assert!(st.get("indices").is_none(), "{st}");
    assert_eq!(st["_all"]["primaries"]["docs"]["count"], 20);
    expect_error(
        &c,
        "GET",
        &format!("{l}/_stats?level=node"),
        None,
        (
            400,
            "illegal_argument_exception",
            "level parameter must be one of [cluster] or [indices] or [shards] but was [node]",
        ),
    )
    .await;

    // What a lag reader asks for, for every index at once: nothing else comes back.
    let st = ok(
        &c,
        "GET",
        &format!(
            "{l}/_stats?level=shards&filter_path=indices.*.shards.*.seq_no,indices.*.shards.*.retention_leases"
        ),
        None,
    )
    .await;
    let shard0 = &st["indices"]["logs"]["shards"]["0"][0];
    let mut keys: Vec<&String> = shard0.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["retention_leases", "seq_no"], "{st}");
    assert_eq!(st.as_object().unwrap().len(), 1, "{st}");
    // The follower's shards have their own stats; it holds no lease on itself.
    let fs = ok(&c, "GET", &format!("{f}/_stats?level=shards"), None).await;
    let copy = &fs["indices"]["logs_copy"]["shards"]["0"][0];
    assert_eq!(copy["seq_no"]["global_checkpoint"], truth[0], "{fs}");
    assert!(ccr_leases(copy).is_empty(), "{copy}");
    sim.shutdown().await;
}

#[tokio::test]
async fn before_7_4_no_peer_recovery_lease_and_the_old_missing_operations_text() {
    let (sim, c, l, f) = following("7.3.2", 1).await;
    let sh = leader_shard(&c, &l, 0).await;
    let leases = sh["retention_leases"]["leases"].as_array().unwrap();
    assert_eq!(leases.len(), 1, "{sh}");
    assert_eq!(leases[0]["source"], "ccr");
    ok(
        &c,
        "POST",
        &format!("{f}/logs_copy/_ccr/pause_follow"),
        None,
    )
    .await;
    sim.cluster("leader").index_docs("logs", 2).unwrap();
    advance(&sim, 13 * 3_600_000);
    ok(
        &c,
        "POST",
        &format!("{f}/logs_copy/_ccr/resume_follow"),
        None,
    )
    .await;
    advance(&sim, 200);
    let s = follow_shard(&c, &f).await;
    assert_eq!(
        s["fatal_exception"]["reason"],
        "Operations are no longer available for replicating. Maybe increase the retention setting [index.soft_deletes.retention.operations]?",
        "{s}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_paused_follower_loses_its_lease_after_the_period_and_cannot_catch_up() {
    let (sim, c, l, f) = following("8.15.0", 1).await;
    let leader = sim.cluster("leader");
    leader.index_docs("logs", 10).unwrap();
    advance(&sim, 31_000);
    let lease = ccr_leases(&leader_shard(&c, &l, 0).await)[0].clone();
    assert_eq!(lease["retaining_seq_no"], 10, "{lease}");
    ok(
        &c,
        "POST",
        &format!("{f}/logs_copy/_ccr/pause_follow"),
        None,
    )
    .await;
    leader.index_docs("logs", 5).unwrap();
    // Paused: nobody renews it, but it holds for the 12h period.
    advance(&sim, 11 * 3_600_000);
    let held = ccr_leases(&leader_shard(&c, &l, 0).await);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["timestamp"], lease["timestamp"], "not renewed");
    // Its age on the simulator's clock, as `/_sim/state` and `Sim::epoch_millis` tell it.
    let now = leader.state()["clock"]["epoch_millis"].as_u64().unwrap();
    assert_eq!(now, sim.epoch_millis());
    let age = now - lease["timestamp"].as_u64().unwrap();
    assert!(
        (11 * 3_600_000..=11 * 3_600_000 + 2_000).contains(&age),
        "{age}"
    );
    assert_eq!(leader.state()["indices"]["logs"]["retention_leases"], 1);
    advance(&sim, 3_600_000);
    assert!(ccr_leases(&leader_shard(&c, &l, 0).await).is_empty());
    assert_eq!(leader.state()["indices"]["logs"]["retention_leases"], 0);
    // The resume is accepted; the shard task's first read finds the operations gone.
    ok(
        &c,
        "POST",
        &format!("{f}/logs_copy/_ccr/resume_follow"),
        None,
    )
    .await;
    advance(&sim, 200);
    let s = follow_shard(&c, &f).await;
    assert_eq!(
        s["fatal_exception"]["type"], "resource_not_found_exception",
        "{s}"
    );
    assert!(s["fatal_exception"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("Operations are no longer available for replicating"));
    let reason = s["fatal_exception"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("Existing retention leases [[RetentionLease{id='peer_recovery/")
            && reason.ends_with(
                "maybe increase the retention lease period setting [index.soft_deletes.retention_lease.period]?"
            ),
        "{reason}"
    );
    assert_eq!(
        s["fatal_exception"]["requested_operations_missing"],
        json!(["10", "14"]),
        "{s}"
    );
    // The failed read is listed too, once.
    assert_eq!(s["read_exceptions"][0]["from_seq_no"], 10, "{s}");
    assert_eq!(s["failed_read_requests"], 1, "{s}");
    assert_eq!(s["follower_global_checkpoint"], 9);
    // A task stopped by a fatal error renews nothing: the lease stays gone.
    advance(&sim, 60_000);
    assert!(ccr_leases(&leader_shard(&c, &l, 0).await).is_empty());
    assert_eq!(
        follow_shard(&c, &f).await["fatal_exception"]["type"],
        "resource_not_found_exception"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_disconnected_follower_is_not_renewed_and_the_period_is_the_leaders_dynamic_setting() {
    let (sim, c, l, f) = following("8.15.0", 1).await;
    ok(
        &c,
        "PUT",
        &format!("{l}/logs/_settings"),
        Some(json!({"index.soft_deletes.retention_lease.period": "1h"})),
    )
    .await;
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    sim.cluster("leader").index_docs("logs", 3).unwrap();
    advance(&sim, 59 * 60_000);
    assert_eq!(ccr_leases(&leader_shard(&c, &l, 0).await).len(), 1);
    advance(&sim, 2 * 60_000);
    assert!(ccr_leases(&leader_shard(&c, &l, 0).await).is_empty());
    sim.cluster("follower").connect_remote("leader").unwrap();
    advance(&sim, 1_000);
    let s = follow_shard(&c, &f).await;
    assert_eq!(
        s["fatal_exception"]["type"], "resource_not_found_exception",
        "{s}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_caught_up_follower_resumes_after_its_lease_expired() {
    let (sim, c, l, f) = following("8.15.0", 1).await;
    sim.cluster("leader").index_docs("logs", 4).unwrap();
    advance(&sim, 1_000);
    ok(
        &c,
        "POST",
        &format!("{f}/logs_copy/_ccr/pause_follow"),
        None,
    )
    .await;
    // A 13h jump is a few thousand steps, not one per tick.
    advance(&sim, 13 * 3_600_000);
    assert!(ccr_leases(&leader_shard(&c, &l, 0).await).is_empty());
    // Nothing was written meanwhile: nothing it needs is gone.
    ok(
        &c,
        "POST",
        &format!("{f}/logs_copy/_ccr/resume_follow"),
        None,
    )
    .await;
    sim.cluster("leader").index_docs("logs", 2).unwrap();
    advance(&sim, 31_000);
    let s = follow_shard(&c, &f).await;
    assert!(s.get("fatal_exception").is_none(), "{s}");
    assert_eq!(s["follower_global_checkpoint"], 5);
    let lease = ccr_leases(&leader_shard(&c, &l, 0).await);
    assert_eq!(lease.len(), 1, "added again by the renewal");
    assert_eq!(lease[0]["retaining_seq_no"], 6);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_throttled_follower_falls_behind_at_a_known_rate_then_catches_up() {
    let (sim, c, _l, f) = following("8.15.0", 1).await;
    // Bad bodies and targets first.
    for (body, status) in [
        (json!({"ops_per_second": -1}), 400),
        (json!({"ops_per_second": "fast"}), 400),
        (json!({}), 400),
    ] {
        let (st, b) = call(
            &c,
            "POST",
            &format!("{f}/_sim/follower/logs_copy/throttle"),
            Some(body),
        )
        .await;
        assert_eq!(st, status, "{b}");
        assert!(b["error"].is_string(), "{b}");
    }
    let (st, b) = call(
        &c,
        "POST",
        &format!("{}/_sim/follower/logs/throttle", sim.url("leader")),
        Some(json!({"ops_per_second": 5})),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    assert!(b["error"]
        .as_str()
        .unwrap()
        .contains("not a follower index"));
    let (st, _) = call(
        &c,
        "POST",
        &format!("{f}/_sim/follower/nope/throttle"),
        Some(json!({"ops_per_second": 5})),
    )
    .await;
    assert_eq!(st, 404);

    // The leader writes 100 docs/s; the follower's task reads at most 40 ops/s.
    ok(
        &c,
        "POST",
        &format!("{f}/_sim/follower/logs_copy/throttle"),
        Some(json!({"ops_per_second": 40})),
    )
    .await;
    assert_eq!(
        sim.cluster("follower").state()["faults"]["throttle"],
        json!({"logs_copy": 40.0})
    );
    sim.cluster("leader").set_writes("logs", 100.0).unwrap();
    let mut last_read = 0;
    for t in 1..=10u64 {
        advance(&sim, 1_000);
        let s = follow_shard(&c, &f).await;
        let leader_gcp = s["leader_global_checkpoint"].as_i64().unwrap();
        let follower_gcp = s["follower_global_checkpoint"].as_i64().unwrap();
        // The leader is at 100 ops a second, the follower at 40: it falls 60 behind a second.
        assert!((leader_gcp + 1 - 100 * t as i64).abs() <= 5, "{t}: {s}");
        assert!((follower_gcp + 1 - 40 * t as i64).abs() <= 5, "{t}: {s}");
        assert_eq!(s["leader_max_seq_no"], s["leader_global_checkpoint"]);
        assert_eq!(s["operations_read"], follower_gcp + 1, "{s}");
        assert_eq!(s["operations_written"], follower_gcp + 1, "{s}");
        // It keeps reading: every round trip brings a few operations.
        assert!(
            s["time_since_last_read_millis"].as_i64().unwrap() <= 100,
            "{s}"
        );
        let reads = s["successful_read_requests"].as_u64().unwrap();
        assert!(reads > last_read, "{s}");
        last_read = reads;
    }
    // Lag in seconds: the follower's checkpoint is where the leader was at 40% of the time.
    let s = follow_shard(&c, &f).await;
    let reached_at = (s["follower_global_checkpoint"].as_f64().unwrap() + 1.0) / 100.0;
    assert!(
        (10.0 - reached_at - 6.0).abs() < 0.1,
        "lag {}s",
        10.0 - reached_at
    );
    // Unthrottled, it catches up within a second.
    sim.cluster("follower")
        .throttle_follower("logs_copy", 0.0)
        .unwrap();
    sim.cluster("leader").set_writes("logs", 0.0).unwrap();
    advance(&sim, 1_000);
    let s = follow_shard(&c, &f).await;
    assert_eq!(
        s["follower_global_checkpoint"], s["leader_global_checkpoint"],
        "{s}"
    );
    assert_eq!(
        sim.cluster("follower").state()["faults"]["throttle"],
        json!({})
    );
    sim.shutdown().await;
}

/// 2 GiB in 1 Mi documents of 2 KiB: 51.2 s at the default 40mb/s.
const BIG_DOCS: u64 = 1 << 20;
const BIG_DOC_BYTES: u64 = 2048;

#[tokio::test]
async fn a_two_gigabyte_leader_restores_at_the_recovery_rate() {
    let (sim, c, l, f) = pair_with_remote(Some("8.15.0"), true).await;
    sim.cluster("leader").create_index("big", 1).unwrap();
    let (st, b) = call(
        &c,
        "POST",
        &format!("{l}/_sim/docs/big"),
        Some(json!({"count": BIG_DOCS, "bytes_per_doc": BIG_DOC_BYTES})),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    for bad in [
        json!({"count": 1, "bytes_per_doc": 0}),
        json!({"count": 1, "bytes_per_doc": 1u64 << 30}),
        json!({"count": 2_000_000_000u64, "bytes_per_doc": 10}),
        // More than 1 PiB in one index.
        json!({"count": 1_000_000_000u64, "bytes_per_doc": 16u64 << 20}),
    ] {
        let (st, b) = call(&c, "POST", &format!("{l}/_sim/docs/big"), Some(bad)).await;
        assert_eq!(st, 400, "{b}");
    }
    let count = ok(&c, "GET", &format!("{l}/big/_count"), None).await;
    assert_eq!(count["count"], BIG_DOCS);
    let st = ok(&c, "GET", &format!("{l}/big/_stats/store"), None).await;
    let total = BIG_DOCS * BIG_DOC_BYTES + 225;
    assert_eq!(
        st["indices"]["big"]["primaries"]["store"]["size_in_bytes"],
        total
    );

    ok(
        &c,
        "PUT",
        &format!("{f}/big_copy/_ccr/follow?wait_for_active_shards=0"),
        Some(json!({"remote_cluster": "leader", "leader_index": "big"})),
    )
    .await;
    advance(&sim, 25_600);
    let r = ok(&c, "GET", &format!("{f}/big_copy/_recovery"), None).await;
    let sh = &r["big_copy"]["shards"][0];
    assert_eq!(sh["type"], "SNAPSHOT");
    assert_eq!(sh["stage"], "INDEX");
    assert_eq!(sh["source"]["repository"], "_ccr_leader");
    assert_eq!(sh["source"]["index"], "big");
    assert_eq!(sh["index"]["size"]["total_in_bytes"], total);
    let recovered = sh["index"]["size"]["recovered_in_bytes"].as_u64().unwrap();
    // Half the time, half the bytes (to a step of the simulation).
    assert!(
        recovered.abs_diff(total / 2) <= 2 * (40 << 20) / 20,
        "{recovered} of {total}"
    );
    let files = sh["index"]["files"]["total"].as_u64().unwrap();
    assert_eq!(files, 4 + total / (1 << 20));
    let files_done = sh["index"]["files"]["recovered"].as_u64().unwrap();
    assert!(files_done > 0 && files_done < files, "{sh}");
    assert!(sh["index"]["size"]["percent"]
        .as_str()
        .unwrap()
        .starts_with("50."));
    // While copying: listed by active_only, the shard INITIALIZING without engine stats.
    let active = ok(&c, "GET", &format!("{f}/_recovery?active_only=true"), None).await;
    assert!(active["big_copy"].is_object(), "{active}");
    let fs = ok(
        &c,
        "GET",
        &format!("{f}/big_copy/_stats?level=shards"),
        None,
    )
    .await;
    let copy = &fs["indices"]["big_copy"]["shards"]["0"][0];
    assert_eq!(copy["routing"]["state"], "INITIALIZING", "{copy}");
    assert!(copy.get("seq_no").is_none() && copy.get("retention_leases").is_none());
    // The leader holds the restore's lease, renewed meanwhile, keeping everything.
    let lst = ok(&c, "GET", &format!("{l}/big/_stats?level=shards"), None).await;
    let ccr = ccr_leases(&lst["indices"]["big"]["shards"]["0"][0]);
    assert_eq!(ccr[0]["retaining_seq_no"], -1, "{lst}");

    advance(&sim, 25_000);
    let r = ok(&c, "GET", &format!("{f}/big_copy/_recovery"), None).await;
    assert_eq!(
        r["big_copy"]["shards"][0]["stage"], "INDEX",
        "not done at 50.6s"
    );
    advance(&sim, 1_000);
    let r = ok(&c, "GET", &format!("{f}/big_copy/_recovery"), None).await;
    let sh = &r["big_copy"]["shards"][0];
    assert_eq!(sh["stage"], "DONE", "{sh}");
    assert_eq!(sh["index"]["size"]["percent"], "100.0%");
    assert_eq!(sh["index"]["files"]["recovered"], files);
    let active = ok(&c, "GET", &format!("{f}/_recovery?active_only=true"), None).await;
    assert_eq!(active, json!({}));
    let info = ok(&c, "GET", &format!("{f}/big_copy/_ccr/info"), None).await;
    assert_eq!(info["follower_indices"][0]["status"], "active", "{info}");
    let count = ok(&c, "GET", &format!("{f}/big_copy/_count"), None).await;
    assert_eq!(count["count"], BIG_DOCS);
    sim.shutdown().await;
}
