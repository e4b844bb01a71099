//! The restore window of put follow: the follower exists, is paused and red while its shards are
//! copied at `ccr.indices.recovery.max_bytes_per_sec`, then the resume starts its shard tasks
//! (TransportPutFollowAction, RestoreService, RecoveryState). Deterministic clock throughout.

use std::time::Duration;

use crate::common::*;
use ccr_sim::Sim;
use serde_json::{json, Value};

/// A pair on `version` whose follower copies at 1kb/s, with leader `logs` of `shards` shards
/// holding 1,000 documents (about 60 kB: a minute of restore).
async fn slow_pair(version: &str, shards: usize) -> (Sim, reqwest::Client, String, String) {
    let (sim, c, l, f) = pair_with_remote(Some(version), true).await;
    ok(
        &c,
        "PUT",
        &format!("{l}/logs"),
        Some(json!({"settings": {"index.soft_deletes.enabled": true, "index.number_of_shards": shards}})),
    )
    .await;
    sim.cluster("leader").index_docs("logs", 1000).unwrap();
    ok(
        &c,
        "PUT",
        &format!("{f}/_cluster/settings"),
        Some(json!({"persistent": {"ccr.indices.recovery.max_bytes_per_sec": "1kb"}})),
    )
    .await;
    (sim, c, l, f)
}

fn follow_body() -> Value {
    json!({"remote_cluster": "leader", "leader_index": "logs"})
}

fn recovery_shards(r: &Value) -> Vec<Value> {
    r["logs_copy"]["shards"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn recovered(r: &Value) -> u64 {
    recovery_shards(r)
        .iter()
        .map(|s| s["index"]["size"]["recovered_in_bytes"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn restore_window_states_then_following() {
    for v in ["6.8.23", "7.10.2", "7.17.0", "8.15.0", "9.1.0"] {
        let (sim, c, _l, f) = slow_pair(v, 1).await;
        let body = ok(
            &c,
            "PUT",
            &format!("{f}/logs_copy/_ccr/follow?wait_for_active_shards=0"),
            Some(follow_body()),
        )
        .await;
        assert_eq!(
            body,
            json!({"follow_index_created": true, "follow_index_shards_acked": false, "index_following_started": false}),
            "{v}"
        );
        // The index exists but is not following yet.
        let info = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/info"), None).await;
        assert_eq!(info["follower_indices"][0]["status"], "paused", "{v}");
        assert!(
            info["follower_indices"][0].get("parameters").is_none(),
            "{v}"
        );
        expect_error(
            &c,
            "GET",
            &format!("{f}/logs_copy/_ccr/stats"),
            None,
            (
                404,
                "resource_not_found_exception",
                "No shard follow tasks for follower indices [logs_copy]",
            ),
        )
        .await;
        let all = ok(&c, "GET", &format!("{f}/_ccr/stats"), None).await;
        assert_eq!(all["follow_stats"]["indices"], json!([]), "{v}");
        let health = ok(&c, "GET", &format!("{f}/_cluster/health/logs_copy"), None).await;
        assert_eq!(health["status"], "red", "{v}");
        let fc = sim.cluster("follower");
        assert_eq!(
            fc.doc_count("logs_copy"),
            Some(0),
            "{v}: a red primary counts nothing"
        );
        assert_eq!(health["initializing_shards"], 1, "{v}");
        let cat = ok(
            &c,
            "GET",
            &format!("{f}/_cat/indices/logs_copy?format=json"),
            None,
        )
        .await;
        assert_eq!(cat[0]["health"], "red", "{v}");
        // Writes are refused as for any follower; pause has no tasks to stop.
        let (st, _) = call(
            &c,
            "POST",
            &format!("{f}/logs_copy/_doc"),
            Some(json!({"a": 1})),
        )
        .await;
        assert_eq!(st, 403, "{v}");
        let (st, b) = call(
            &c,
            "POST",
            &format!("{f}/logs_copy/_ccr/pause_follow"),
            None,
        )
        .await;
        assert_eq!(
            (st, b["error"]["reason"].as_str()),
            (400, Some("no shard follow tasks for [logs_copy]")),
            "{v}"
        );
        // A retried put follow hits the restore's name check (6.x: its one-restore-at-a-time check).
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{f}/logs_copy/_ccr/follow"),
            Some(follow_body()),
        )
        .await;
        let expected = if v.starts_with('6') {
            (
                503,
                "concurrent_snapshot_execution_exception",
                "[_ccr_leader:_latest_/_latest_] Restore process is already running",
            )
        } else {
            (500, "snapshot_restore_exception", "[_ccr_leader:_latest_/_latest_] cannot restore index [logs_copy] because an open index with same name already exists")
        };
        assert_eq!(
            (st, b["error"]["type"].as_str()),
            (expected.0, Some(expected.1)),
            "{v}"
        );
        assert!(
            b["error"]["reason"]
                .as_str()
                .unwrap()
                .starts_with(expected.2),
            "{v}: {b}"
        );

        // The recovery, as `_recovery` shows it, moves on with the clock.
        sim.advance(Duration::from_secs(10)).unwrap();
        let r1 = ok(&c, "GET", &format!("{f}/logs_copy/_recovery?human"), None).await;
        let s = &recovery_shards(&r1)[0];
        assert_eq!(s["type"], "SNAPSHOT", "{v}");
        assert_eq!(s["stage"], "INDEX", "{v}");
        assert_eq!(s["primary"], true);
        assert_eq!(s["source"]["repository"], "_ccr_leader");
        assert_eq!(s["source"]["snapshot"], "_latest_");
        assert_eq!(s["source"]["index"], "logs");
        assert!(s["source"]["restoreUUID"].is_string());
        assert!(s["target"]["transport_address"].is_string());
        assert!(s.get("stop_time_in_millis").is_none());
        assert!(s["total_time"].is_string(), "?human adds readable fields");
        let size = &s["index"]["size"];
        let total = size["total_in_bytes"].as_u64().unwrap();
        let done = size["recovered_in_bytes"].as_u64().unwrap();
        assert!(done > 0 && done < total, "{v}: {done} of {total}");
        assert!(size["percent"].as_str().unwrap().ends_with('%'));
        sim.advance(Duration::from_secs(10)).unwrap();
        let r2 = ok(&c, "GET", &format!("{f}/_recovery?active_only=true"), None).await;
        assert!(recovered(&r2) > done, "{v}: percent rises");
        assert_eq!(
            r2.as_object().unwrap().len(),
            1,
            "only the restoring index is active"
        );

        // Done: the resume created the shard tasks.
        sim.advance(Duration::from_secs(120)).unwrap();
        let info = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/info"), None).await;
        assert_eq!(info["follower_indices"][0]["status"], "active", "{v}");
        assert_eq!(fc.doc_count("logs_copy"), Some(1000), "{v}");
        assert!(info["follower_indices"][0]["parameters"].is_object());
        let stats = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/stats"), None).await;
        assert_eq!(stats["indices"][0]["shards"].as_array().unwrap().len(), 1);
        let health = ok(&c, "GET", &format!("{f}/_cluster/health/logs_copy"), None).await;
        assert_eq!(
            health["status"], "yellow",
            "{v}: primaries active, replicas unassigned"
        );
        let r = ok(&c, "GET", &format!("{f}/logs_copy/_recovery"), None).await;
        let s = &recovery_shards(&r)[0];
        assert_eq!(s["stage"], "DONE");
        assert_eq!(s["index"]["size"]["percent"], "100.0%");
        assert!(s["stop_time_in_millis"].is_u64());
        let active = ok(&c, "GET", &format!("{f}/_recovery?active_only=true"), None).await;
        assert_eq!(active, json!({}), "{v}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn shards_wait_for_a_recovery_slot_and_health_turns_yellow() {
    let (sim, c, _l, f) = slow_pair("8.15.0", 3).await;
    ok(
        &c,
        "PUT",
        &format!("{f}/logs_copy/_ccr/follow"),
        Some(follow_body()),
    )
    .await;
    sim.advance(Duration::from_secs(1)).unwrap();
    let r = ok(&c, "GET", &format!("{f}/logs_copy/_recovery"), None).await;
    let stages: Vec<String> = recovery_shards(&r)
        .iter()
        .map(|s| s["stage"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        stages,
        ["INDEX", "INDEX", "INIT"],
        "two recoveries at a time"
    );
    // At 1kb/s the whole restore takes about a minute; half-way the third shard waits or copies.
    sim.advance(Duration::from_secs(300)).unwrap();
    let health = ok(&c, "GET", &format!("{f}/_cluster/health/logs_copy"), None).await;
    assert_eq!(health["status"], "yellow");
    assert_eq!(health["active_primary_shards"], 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_rate_setting_sets_the_duration() {
    let (sim, c, _l, f) = slow_pair("8.15.0", 1).await;
    // 40mb, the default: the 60 kB restore is over within one step.
    ok(
        &c,
        "PUT",
        &format!("{f}/_cluster/settings"),
        Some(json!({"persistent": {"ccr.indices.recovery.max_bytes_per_sec": null}})),
    )
    .await;
    ok(
        &c,
        "PUT",
        &format!("{f}/logs_copy/_ccr/follow"),
        Some(follow_body()),
    )
    .await;
    sim.advance(Duration::from_millis(50)).unwrap();
    let info = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/info"), None).await;
    assert_eq!(info["follower_indices"][0]["status"], "active");
    sim.shutdown().await;
}

#[tokio::test]
async fn wait_for_active_shards_holds_the_answer_until_the_restore_ends() {
    for v in ["7.17.0", "8.15.0"] {
        let (sim, c, _l, f) = slow_pair(v, 1).await;
        let url = format!("{f}/logs_copy/_ccr/follow?wait_for_active_shards=1");
        let pending = tokio::spawn({
            let c = c.clone();
            async move { call(&c, "PUT", &url, Some(follow_body())).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !pending.is_finished(),
            "{v}: answered before the clock moved"
        );
        // Other requests are served meanwhile.
        let info = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/info"), None).await;
        assert_eq!(info["follower_indices"][0]["status"], "paused");
        sim.advance(Duration::from_secs(200)).unwrap();
        let (st, b) = pending.await.unwrap();
        assert_eq!(
            (st, b),
            (
                200,
                json!({"follow_index_created": true, "follow_index_shards_acked": true, "index_following_started": true})
            ),
            "{v}"
        );
        // `all` with a replica that one node never assigns: ActiveShardsObserver gives up after 30s.
        ok(
            &c,
            "PUT",
            &format!("{f}/_cluster/settings"),
            Some(json!({"persistent": {"ccr.indices.recovery.max_bytes_per_sec": "0"}})),
        )
        .await;
        let url = format!("{f}/second/_ccr/follow?wait_for_active_shards=all");
        let pending = tokio::spawn({
            let c = c.clone();
            async move { call(&c, "PUT", &url, Some(follow_body())).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        sim.advance(Duration::from_secs(10)).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!pending.is_finished(), "{v}: still waiting for the replica");
        sim.advance(Duration::from_secs(25)).unwrap();
        let (st, b) = pending.await.unwrap();
        assert_eq!(
            (st, b),
            (
                200,
                json!({"follow_index_created": true, "follow_index_shards_acked": false, "index_following_started": true})
            ),
            "{v}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_failed_final_resume_leaves_a_follower_that_never_starts() {
    let (sim, c, _l, f) = slow_pair("8.15.0", 1).await;
    // wfas=1: the waiting put follow reports the failure.
    ok(
        &c,
        "POST",
        &format!("{f}/_sim/follower/logs_copy/fail_start"),
        None,
    )
    .await;
    let url = format!("{f}/logs_copy/_ccr/follow?wait_for_active_shards=1");
    let pending = tokio::spawn({
        let c = c.clone();
        async move { call(&c, "PUT", &url, Some(follow_body())).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.advance(Duration::from_secs(200)).unwrap();
    let (st, b) = pending.await.unwrap();
    assert_eq!(
        (st, b["error"]["type"].as_str()),
        (503, Some("process_cluster_event_timeout_exception")),
        "{b}"
    );
    // wfas=0: 200 at once, and the follower silently stays paused.
    sim.cluster("follower").fail_start("quiet_copy").unwrap();
    let b = ok(
        &c,
        "PUT",
        &format!("{f}/quiet_copy/_ccr/follow"),
        Some(follow_body()),
    )
    .await;
    assert_eq!(b["follow_index_created"], true);
    sim.advance(Duration::from_secs(200)).unwrap();
    for name in ["logs_copy", "quiet_copy"] {
        let info = ok(&c, "GET", &format!("{f}/{name}/_ccr/info"), None).await;
        assert_eq!(info["follower_indices"][0]["status"], "paused", "{name}");
        let (st, _) = call(&c, "GET", &format!("{f}/{name}/_ccr/stats"), None).await;
        assert_eq!(st, 404, "{name}");
        let state = sim.cluster("follower").state();
        assert_eq!(state["followers"][name]["shards"], json!([]), "{name}");
        assert_eq!(state["followers"][name]["restoring"], false, "{name}");
        let health = ok(&c, "GET", &format!("{f}/_cluster/health/{name}"), None).await;
        assert_eq!(health["status"], "yellow", "restored, only not following");
    }
    // A plain resume starts it, as on a real cluster.
    ok(
        &c,
        "POST",
        &format!("{f}/quiet_copy/_ccr/resume_follow"),
        Some(json!({})),
    )
    .await;
    let info = ok(&c, "GET", &format!("{f}/quiet_copy/_ccr/info"), None).await;
    assert_eq!(info["follower_indices"][0]["status"], "active");
    sim.shutdown().await;
}

#[tokio::test]
async fn close_and_unfollow_during_the_restore_are_refused() {
    let (sim, c, _l, f) = slow_pair("8.15.0", 1).await;
    ok(
        &c,
        "PUT",
        &format!("{f}/logs_copy/_ccr/follow"),
        Some(follow_body()),
    )
    .await;
    let (st, b) = call(&c, "POST", &format!("{f}/logs_copy/_close"), None).await;
    assert_eq!(st, 400, "{b}");
    assert!(b["error"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("Cannot close indices that are being restored: [[logs_copy/"));
    let (st, b) = call(&c, "POST", &format!("{f}/logs_copy/_ccr/unfollow"), None).await;
    assert_eq!(
        (st, b["error"]["reason"].as_str()),
        (400, Some("cannot convert the follower index [logs_copy] to a non-follower, because it has not been closed"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn auto_follow_followers_go_through_the_restore() {
    let (sim, c, _l, f) = slow_pair("8.15.0", 1).await;
    ok(
        &c,
        "PUT",
        &format!("{f}/_ccr/auto_follow/p"),
        Some(json!({"remote_cluster": "leader", "leader_index_patterns": ["new-*"], "follow_index_pattern": "{{leader_index}}-copy"})),
    )
    .await;
    sim.cluster("leader").index_docs("new-1", 500).unwrap();
    sim.advance(Duration::from_millis(100)).unwrap();
    let info = ok(&c, "GET", &format!("{f}/new-1-copy/_ccr/info"), None).await;
    assert_eq!(info["follower_indices"][0]["status"], "paused", "restoring");
    let r = ok(&c, "GET", &format!("{f}/new-1-copy/_recovery"), None).await;
    assert_eq!(r["new-1-copy"]["shards"][0]["type"], "SNAPSHOT");
    sim.advance(Duration::from_secs(200)).unwrap();
    let info = ok(&c, "GET", &format!("{f}/new-1-copy/_ccr/info"), None).await;
    assert_eq!(info["follower_indices"][0]["status"], "active");
    sim.shutdown().await;
}

#[tokio::test]
async fn recovery_matches_the_fixture_shape() {
    let (sim, c, _l, f) = slow_pair("8.15.0", 1).await;
    ok(
        &c,
        "PUT",
        &format!("{f}/logs_copy/_ccr/follow"),
        Some(follow_body()),
    )
    .await;
    sim.advance(Duration::from_secs(10)).unwrap();
    let r = ok(&c, "GET", &format!("{f}/logs_copy/_recovery"), None).await;
    assert_same_shape(
        &r,
        &fixture("recovery_response_ccr_restore.reconstructed.json"),
        "recovery",
    );
    let s = &recovery_shards(&r)[0];
    assert_eq!(
        s["translog"]["total"], -1,
        "unknown until the translog stage"
    );
    // A plain index shows its empty-store recovery, done.
    ok(&c, "PUT", &format!("{f}/plain"), None).await;
    let r = ok(&c, "GET", &format!("{f}/plain/_recovery"), None).await;
    let p = &r["plain"]["shards"][0];
    assert_eq!(
        (p["type"].as_str(), p["stage"].as_str()),
        (Some("EMPTY_STORE"), Some("DONE"))
    );
    assert_eq!(p["source"], json!({}));
    let (st, b) = call(&c, "GET", &format!("{f}/nope/_recovery"), None).await;
    assert_eq!(
        (st, b["error"]["type"].as_str()),
        (404, Some("index_not_found_exception"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn before_7_0_one_restore_at_a_time() {
    let (sim, c, l, f) = slow_pair("6.8.23", 1).await;
    ok(
        &c,
        "PUT",
        &format!("{l}/other"),
        Some(json!({"settings": {"index.soft_deletes.enabled": true}})),
    )
    .await;
    ok(
        &c,
        "PUT",
        &format!("{f}/logs_copy/_ccr/follow"),
        Some(follow_body()),
    )
    .await;
    for follower in ["logs_copy", "other_copy"] {
        let leader = if follower == "logs_copy" {
            "logs"
        } else {
            "other"
        };
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{f}/{follower}/_ccr/follow"),
            Some(json!({"remote_cluster": "leader", "leader_index": leader})),
        )
        .await;
        assert_eq!(
            (st, b["error"]["type"].as_str(), b["error"]["reason"].as_str()),
            (
                503,
                Some("concurrent_snapshot_execution_exception"),
                Some("[_ccr_leader:_latest_/_latest_] Restore process is already running in this cluster")
            ),
            "{follower}"
        );
    }
    sim.advance(Duration::from_secs(200)).unwrap();
    ok(
        &c,
        "PUT",
        &format!("{f}/other_copy/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "other"})),
    )
    .await;
    // 7.0+ restores side by side.
    let (sim7, c7, l7, f7) = slow_pair("7.17.0", 1).await;
    ok(&c7, "PUT", &format!("{l7}/other"), None).await;
    ok(
        &c7,
        "PUT",
        &format!("{f7}/logs_copy/_ccr/follow"),
        Some(follow_body()),
    )
    .await;
    ok(
        &c7,
        "PUT",
        &format!("{f7}/other_copy/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "other"})),
    )
    .await;
    sim.shutdown().await;
    sim7.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_remote_stalls_the_restore() {
    let (sim, c, _l, f) = slow_pair("8.15.0", 1).await;
    let url = format!("{f}/logs_copy/_ccr/follow?wait_for_active_shards=1");
    let pending = tokio::spawn({
        let c = c.clone();
        async move { call(&c, "PUT", &url, Some(follow_body())).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.advance(Duration::from_secs(10)).unwrap();
    let before = recovered(&ok(&c, "GET", &format!("{f}/logs_copy/_recovery"), None).await);
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    sim.advance(Duration::from_secs(120)).unwrap();
    let during = recovered(&ok(&c, "GET", &format!("{f}/logs_copy/_recovery"), None).await);
    assert_eq!(before, during, "no bytes through a broken link");
    assert!(!pending.is_finished());
    sim.cluster("follower").connect_remote("leader").unwrap();
    sim.advance(Duration::from_secs(120)).unwrap();
    let (st, b) = pending.await.unwrap();
    assert_eq!(
        (st, b["index_following_started"].as_bool()),
        (200, Some(true)),
        "{b}"
    );
    sim.shutdown().await;
}
