//! Unreachable remotes as Elasticsearch reports them: refused connections fail at once with
//! `connect_exception`, black holes hang for `transport.connect_timeout` (30 s of simulated time)
//! before `connect_timeout[30s]`; plus the follower-stats and resume details that depend on
//! several shards or reads.

use std::time::Duration;

use crate::common::*;
use ccr_sim::{DisconnectMode, Sim};
use serde_json::{json, Value};

/// A deterministic pair with leader `logs` (`shards` shards) followed as `logs_copy`, past its
/// restore.
async fn following(
    version: &str,
    shards: usize,
    params: Value,
) -> (Sim, reqwest::Client, String, String) {
    let (sim, c, l, f) = pair_with_remote(Some(version), true).await;
    ok(
        &c,
        "PUT",
        &format!("{l}/logs"),
        Some(json!({"settings": {"index.soft_deletes.enabled": true, "index.number_of_shards": shards}})),
    )
    .await;
    let mut body = params;
    body["remote_cluster"] = json!("leader");
    body["leader_index"] = json!("logs");
    ok(&c, "PUT", &format!("{f}/logs_copy/_ccr/follow"), Some(body)).await;
    sim.advance(Duration::from_millis(50)).unwrap();
    (sim, c, l, f)
}

fn innermost(e: &Value) -> &Value {
    let mut cur = e;
    while cur.get("caused_by").is_some() {
        cur = &cur["caused_by"];
    }
    cur
}

#[tokio::test]
async fn refused_connections_fail_at_once() {
    for v in ["6.8.23", "7.17.0", "8.15.0", "9.1.0"] {
        let (sim, c, _l, f) = following(v, 1, json!({})).await;
        let addr = sim.transport_address("leader");
        ok(
            &c,
            "POST",
            &format!("{f}/_sim/remote/leader/disconnect"),
            None,
        )
        .await;
        let info = ok(&c, "GET", &format!("{f}/_remote/info"), None).await;
        assert_eq!(info["leader"]["connected"], false, "{v}");
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{f}/other/_ccr/follow"),
            Some(json!({"remote_cluster": "leader", "leader_index": "logs"})),
        )
        .await;
        assert_eq!(st, 400, "{v}: {b}");
        let transport = &b["error"]["caused_by"]["caused_by"];
        assert_eq!(transport["type"], "connect_transport_exception");
        assert_eq!(transport["reason"], format!("[][{addr}] connect_exception"));
        assert_eq!(innermost(transport)["reason"], "Connection refused");
        assert_eq!(
            b["error"]["root_cause"][0]["type"],
            "connect_transport_exception"
        );
        assert_same_shape(
            &b,
            &fixture("error_remote_unreachable_refused.reconstructed.json"),
            v,
        );
        // The shard task's reads fail the same way.
        sim.advance(Duration::from_millis(200)).unwrap();
        let s = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/stats"), None).await;
        let shard = &s["indices"][0]["shards"][0];
        assert!(shard["failed_read_requests"].as_u64().unwrap() >= 1, "{v}");
        assert_eq!(
            shard["read_exceptions"][0]["exception"]["reason"],
            format!("[][{addr}] connect_exception")
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn black_holes_wait_for_the_connect_timeout() {
    for v in ["7.10.2", "8.15.0"] {
        let (sim, c, _l, f) = following(v, 1, json!({})).await;
        let addr = sim.transport_address("leader");
        ok(
            &c,
            "POST",
            &format!("{f}/_sim/remote/leader/disconnect"),
            Some(json!({"mode": "black_hole"})),
        )
        .await;
        let url = format!("{f}/other/_ccr/follow");
        let pending = tokio::spawn({
            let c = c.clone();
            async move {
                call(
                    &c,
                    "PUT",
                    &url,
                    Some(json!({"remote_cluster": "leader", "leader_index": "logs"})),
                )
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !pending.is_finished(),
            "{v}: answered before the connect timeout"
        );
        // `_remote/info` does not dial: it answers at once.
        let info = ok(&c, "GET", &format!("{f}/_remote/info"), None).await;
        assert_eq!(info["leader"]["connected"], false);
        // Reads hang too: no failure is counted before the timeout.
        sim.advance(Duration::from_secs(20)).unwrap();
        let s = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/stats"), None).await;
        assert_eq!(
            s["indices"][0]["shards"][0]["failed_read_requests"], 0,
            "{v}"
        );
        sim.advance(Duration::from_secs(15)).unwrap();
        let (st, b) = pending.await.unwrap();
        assert_eq!(st, 400, "{v}: {b}");
        assert_eq!(
            b["error"]["caused_by"]["caused_by"]["reason"],
            format!("[][{addr}] connect_timeout[30s]")
        );
        assert_same_shape(
            &b,
            &fixture("error_remote_unreachable_license_unknown.reconstructed.json"),
            v,
        );
        let s = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/stats"), None).await;
        let shard = &s["indices"][0]["shards"][0];
        assert_eq!(shard["failed_read_requests"], 1, "{v}");
        assert_eq!(
            shard["read_exceptions"][0]["exception"]["reason"],
            format!("[][{addr}] connect_timeout[30s]")
        );
        // The Rust API sets the same fault; connecting again clears it.
        let fc = sim.cluster("follower");
        fc.connect_remote("leader").unwrap();
        fc.disconnect_remote_with("leader", DisconnectMode::Refused)
            .unwrap();
        assert_eq!(fc.state()["faults"]["black_holed_remotes"], json!([]));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn read_exceptions_are_keyed_by_from_seq_no() {
    let (sim, c, _l, f) = following(
        "8.15.0",
        1,
        json!({"max_read_request_operation_count": 10, "max_outstanding_read_requests": 3}),
    )
    .await;
    sim.cluster("leader").index_docs("logs", 200).unwrap();
    // One round trip: the task is behind, with three reads of ten operations in flight.
    sim.advance(Duration::from_millis(50)).unwrap();
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    sim.advance(Duration::from_millis(50)).unwrap();
    let s = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/stats"), None).await;
    let shard = &s["indices"][0]["shards"][0];
    let next = shard["follower_global_checkpoint"].as_i64().unwrap() + 1;
    let ex = shard["read_exceptions"].as_array().unwrap().clone();
    let froms: Vec<i64> = ex
        .iter()
        .map(|e| e["from_seq_no"].as_i64().unwrap())
        .collect();
    assert_eq!(
        froms,
        [next, next + 10, next + 20],
        "one entry per outstanding read: {s}"
    );
    assert!(ex.iter().all(|e| e["retries"] == 1));
    sim.advance(Duration::from_secs(2)).unwrap();
    let s = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/stats"), None).await;
    let ex = s["indices"][0]["shards"][0]["read_exceptions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ex.len(), 3);
    assert!(
        ex.iter().all(|e| e["retries"].as_u64().unwrap() > 1),
        "each retried: {s}"
    );
    sim.cluster("follower").connect_remote("leader").unwrap();
    sim.advance(Duration::from_secs(2)).unwrap();
    let s = ok(&c, "GET", &format!("{f}/logs_copy/_ccr/stats"), None).await;
    assert_eq!(s["indices"][0]["shards"][0]["read_exceptions"], json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn resuming_an_active_multi_shard_follower_lists_the_other_shards_as_suppressed() {
    let (sim, c, _l, f) = following("8.15.0", 3, json!({})).await;
    let uuid = sim.cluster("follower").state()["indices"]["logs_copy"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, b) = call(
        &c,
        "POST",
        &format!("{f}/logs_copy/_ccr/resume_follow"),
        Some(json!({})),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        b["error"]["reason"],
        format!("task with id {{{uuid}-0}} already exist")
    );
    let expected = json!([
        {"type": "resource_already_exists_exception", "reason": format!("task with id {{{uuid}-1}} already exist")},
        {"type": "resource_already_exists_exception", "reason": format!("task with id {{{uuid}-2}} already exist")},
    ]);
    assert_eq!(b["error"]["suppressed"], expected);
    assert_eq!(b["error"]["root_cause"][0]["suppressed"], expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn unfollow_lease_failure_reason_is_the_cause_text() {
    let (sim, c, _l, f) = following("8.15.0", 1, json!({})).await;
    let addr = sim.transport_address("leader");
    ok(
        &c,
        "POST",
        &format!("{f}/logs_copy/_ccr/pause_follow"),
        None,
    )
    .await;
    ok(&c, "POST", &format!("{f}/logs_copy/_close"), None).await;
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    let (st, b) = call(&c, "POST", &format!("{f}/logs_copy/_ccr/unfollow"), None).await;
    assert_eq!((st, b["error"]["type"].as_str()), (500, Some("exception")));
    assert_eq!(
        b["error"]["reason"],
        format!("ConnectTransportException[[][{addr}] connect_exception]; nested: AnnotatedConnectException[Connection refused: /{addr}]; nested: ConnectException[Connection refused];")
    );
    assert!(b["error"]["failed_to_remove_retention_leases"].is_string());
    sim.shutdown().await;
}

#[tokio::test]
async fn root_info_constants() {
    for (v, wire, lucene) in [
        ("9.0.1", "8.18.0", "10.1.0"),
        ("9.1.0", "8.19.0", "10.2.2"),
        ("8.15.0", "7.17.0", "9.11.1"),
        ("7.10.2", "6.8.0", "8.7.0"),
    ] {
        let (sim, c, u) = one_with_client(v).await;
        let root = ok(&c, "GET", &format!("{u}/"), None).await;
        assert_eq!(
            root["version"]["minimum_wire_compatibility_version"], wire,
            "{v}"
        );
        assert_eq!(root["version"]["lucene_version"], lucene, "{v}");
        sim.shutdown().await;
    }
}
