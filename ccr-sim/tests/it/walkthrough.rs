//! The CCR walkthrough from the Elasticsearch docs, over real HTTP, with every wrong-order step
//! answered by the contract's error.

use std::time::Duration;

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn ccr_walkthrough_over_http() {
    let sim = start_pair(None, false).await;
    let c = client();
    let l = sim.url("leader");
    let f = sim.url("follower");

    // Leader index with soft deletes.
    let (st, body) = call(
        &c,
        "PUT",
        &format!("{l}/myindex"),
        Some(json!({"settings": {"index": {"soft_deletes.enabled": true, "number_of_shards": 2}}})),
    )
    .await;
    assert_eq!(
        (st, body["acknowledged"].clone()),
        (200, json!(true)),
        "{body}"
    );

    // Following before the remote exists: unknown alias.
    expect_error(
        &c,
        "PUT",
        &format!("{f}/myindex_follow/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "myindex"})),
        (
            404,
            "no_such_remote_cluster_exception",
            "no such remote cluster: [leader]",
        ),
    )
    .await;

    // Register the remote; it shows connected.
    add_remote(&c, &f, "leader", &sim.transport_address("leader")).await;
    let info = ok(&c, "GET", &format!("{f}/_remote/info"), None).await;
    assert_eq!(info["leader"]["connected"], true, "{info}");
    assert_eq!(
        info["leader"]["seeds"],
        json!([sim.transport_address("leader")])
    );
    assert_eq!(info["leader"]["num_nodes_connected"], 1);

    // Body problems and a missing leader index.
    expect_error(
        &c,
        "PUT",
        &format!("{f}/myindex_follow/_ccr/follow"),
        Some(json!({})),
        (
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: remote_cluster is missing;2: leader_index is missing;",
        ),
    )
    .await;
    expect_error(
        &c,
        "PUT",
        &format!("{f}/x/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "nope"})),
        (404, "index_not_found_exception", "no such index [nope]"),
    )
    .await;

    // Follow.
    let body = ok(
        &c,
        "PUT",
        &format!("{f}/myindex_follow/_ccr/follow?wait_for_active_shards=1"),
        Some(json!({"remote_cluster": "leader", "leader_index": "myindex"})),
    )
    .await;
    assert_eq!(
        body,
        json!({"follow_index_created": true, "follow_index_shards_acked": true, "index_following_started": true})
    );
    let (st, body) = call(
        &c,
        "PUT",
        &format!("{f}/myindex_follow/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "myindex"})),
    )
    .await;
    assert_error_type((st, &body), 500, "snapshot_restore_exception");

    // A document on the leader reaches the follower.
    let (st, _) = call(
        &c,
        "POST",
        &format!("{l}/myindex/_doc"),
        Some(json!({"name": "Jack", "age": 40})),
    )
    .await;
    assert_eq!(st, 201);
    let hit = eventually(Duration::from_secs(5), "Jack on the follower", || {
        let c = c.clone();
        let f = f.clone();
        async move {
            let (_, r) = call(&c, "GET", &format!("{f}/myindex_follow/_search"), None).await;
            r["hits"]["hits"]
                .as_array()
                .and_then(|h| h.first().cloned())
        }
    })
    .await;
    assert_eq!(hit["_source"], json!({"name": "Jack", "age": 40}));
    assert_eq!(hit["_index"], "myindex_follow");

    let (st, _) = call(
        &c,
        "PUT",
        &format!("{l}/myindex/_doc/2"),
        Some(json!({"name": "Jill", "age": 38})),
    )
    .await;
    assert_eq!(st, 201);
    eventually(
        Duration::from_secs(5),
        "two documents on the follower",
        || {
            let c = c.clone();
            let f = f.clone();
            async move {
                let (_, r) = call(&c, "GET", &format!("{f}/myindex_follow/_count"), None).await;
                (r["count"] == 2).then_some(())
            }
        },
    )
    .await;

    // The follower refuses direct writes.
    expect_error(
        &c,
        "POST",
        &format!("{f}/myindex_follow/_doc"),
        Some(json!({"name": "intruder"})),
        (
            403,
            "status_exception",
            "a following engine does not accept operations without an assigned sequence number",
        ),
    )
    .await;

    // Stats and info while active.
    let stats = ok(&c, "GET", &format!("{f}/myindex_follow/_ccr/stats"), None).await;
    let shards = stats["indices"][0]["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 2);
    let written: u64 = shards
        .iter()
        .map(|s| s["operations_written"].as_u64().unwrap())
        .sum();
    assert_eq!(written, 2);
    let (_, info) = call(&c, "GET", &format!("{f}/myindex_follow/_ccr/info"), None).await;
    assert_eq!(info["follower_indices"][0]["status"], "active");

    // Wrong order: resume while active, unfollow while open, unfollow while active.
    let (st, body) = call(
        &c,
        "POST",
        &format!("{f}/myindex_follow/_ccr/resume_follow"),
        None,
    )
    .await;
    assert_error_type((st, &body), 400, "resource_already_exists_exception");
    assert!(
        body["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("task with id {"),
        "{body}"
    );
    // Unfollow is refused while open, and once closed, while still active.
    for (not_yet, then) in [("closed", Some("_close")), ("paused", None)] {
        let reason = format!(
            "cannot convert the follower index [myindex_follow] to a non-follower, because it has \
             not been {not_yet}"
        );
        expect_error(
            &c,
            "POST",
            &format!("{f}/myindex_follow/_ccr/unfollow"),
            None,
            (400, "illegal_argument_exception", &reason),
        )
        .await;
        if let Some(action) = then {
            ok(&c, "POST", &format!("{f}/myindex_follow/{action}"), None).await;
        }
    }

    // Pause (it is closed too now); pausing twice fails; stats no longer list it.
    acknowledged_once(
        &c,
        &format!("{f}/myindex_follow/_ccr/pause_follow"),
        "no shard follow tasks for [myindex_follow]",
    )
    .await;
    expect_error(
        &c,
        "GET",
        &format!("{f}/myindex_follow/_ccr/stats"),
        None,
        (
            404,
            "resource_not_found_exception",
            "No shard follow tasks for follower indices [myindex_follow]",
        ),
    )
    .await;
    let (_, all) = call(&c, "GET", &format!("{f}/_ccr/stats"), None).await;
    assert_eq!(all["follow_stats"]["indices"], json!([]));
    let (_, info) = call(&c, "GET", &format!("{f}/myindex_follow/_ccr/info"), None).await;
    assert_eq!(info["follower_indices"][0]["status"], "paused");
    assert!(info["follower_indices"][0].get("parameters").is_none());

    // Pause/resume on things that are not followers.
    for (url, expected) in [
        (
            format!("{l}/myindex/_ccr/pause_follow"),
            (
                400,
                "illegal_argument_exception",
                "index [myindex] is not a follower index",
            ),
        ),
        (
            format!("{f}/missing/_ccr/pause_follow"),
            (404, "index_not_found_exception", "no such index [missing]"),
        ),
        (
            format!("{l}/myindex/_ccr/resume_follow"),
            (
                400,
                "illegal_argument_exception",
                "follow index [myindex] does not have ccr metadata",
            ),
        ),
    ] {
        expect_error(&c, "POST", &url, None, expected).await;
    }

    // Unfollow, open: a normal writable index.
    acknowledged_once(
        &c,
        &format!("{f}/myindex_follow/_ccr/unfollow"),
        "index [myindex_follow] is not a follower index",
    )
    .await;
    let settings = ok(
        &c,
        "GET",
        &format!("{f}/myindex_follow/_settings?flat_settings=true"),
        None,
    )
    .await;
    assert!(
        settings["myindex_follow"]["settings"]
            .get("index.xpack.ccr.following_index")
            .is_none(),
        "{settings}"
    );
    ok(&c, "POST", &format!("{f}/myindex_follow/_open"), None).await;
    let (st, _) = call(
        &c,
        "POST",
        &format!("{f}/myindex_follow/_doc"),
        Some(json!({"name": "local"})),
    )
    .await;
    assert_eq!(st, 201);
    let (_, r) = call(&c, "GET", &format!("{f}/myindex_follow/_count"), None).await;
    assert_eq!(r["count"], 3);
    let (_, info) = call(&c, "GET", &format!("{f}/myindex_follow/_ccr/info"), None).await;
    assert_eq!(info, json!({"follower_indices": []}));

    // New leader documents no longer arrive.
    call(
        &c,
        "POST",
        &format!("{l}/myindex/_doc"),
        Some(json!({"name": "late"})),
    )
    .await;
    let (_, r) = call(&c, "GET", &format!("{f}/myindex_follow/_count"), None).await;
    assert_eq!(r["count"], 3);

    // The leader's retention lease went with the unfollow.
    let state = sim.cluster("leader").state();
    assert_eq!(
        state["indices"]["myindex"]["retention_leases"], 0,
        "{state}"
    );
    sim.shutdown().await;
}

/// `POST url` is acknowledged once, then refused (400 `illegal_argument_exception`, `reason`).
async fn acknowledged_once(c: &reqwest::Client, url: &str, reason: &str) {
    let (st, body) = call(c, "POST", url, None).await;
    assert_eq!((st, body), (200, json!({"acknowledged": true})));
    expect_error(
        c,
        "POST",
        url,
        None,
        (400, "illegal_argument_exception", reason),
    )
    .await;
}
