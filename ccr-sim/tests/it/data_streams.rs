//! Composable index templates, data streams, rollover, promotion and the replication of data
//! streams by auto-follow and put follow, over HTTP on the deterministic clock.

use std::time::Duration;

use crate::common::*;
use ccr_sim::Sim;
use serde_json::{json, Value};

async fn template(c: &reqwest::Client, url: &str, name: &str, patterns: &[&str], priority: i64) {
    ok(
        c,
        "PUT",
        &format!("{url}/_index_template/{name}"),
        Some(
            json!({"index_patterns": patterns, "priority": priority, "data_stream": {},
                    "template": {"settings": {"index.number_of_replicas": 0}}}),
        ),
    )
    .await;
}

async fn write(c: &reqwest::Client, url: &str, stream: &str, n: usize) {
    for i in 0..n {
        let (status, body) = call(
            c,
            "POST",
            &format!("{url}/{stream}/_doc"),
            Some(json!({"@timestamp": 1_700_000_000_000u64 + i as u64, "message": "m"})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
}

async fn stream(c: &reqwest::Client, url: &str, name: &str) -> Value {
    let body = ok(c, "GET", &format!("{url}/_data_stream/{name}"), None).await;
    body["data_streams"][0].clone()
}

fn index_names(ds: &Value) -> Vec<String> {
    ds["indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn index_templates_validate_like_es() {
    let (_sim, c, url) = one_with_client("8.15.0").await;
    template(&c, &url, "logs", &["logs-*"], 100).await;
    let got = ok(&c, "GET", &format!("{url}/_index_template/logs"), None).await;
    let t = &got["index_templates"][0];
    assert_eq!(t["name"], "logs");
    assert_eq!(t["index_template"]["index_patterns"], json!(["logs-*"]));
    assert_eq!(t["index_template"]["priority"], 100);
    assert_eq!(
        t["index_template"]["data_stream"],
        json!({"hidden": false, "allow_custom_routing": false})
    );
    expect_error(
        &c,
        "PUT",
        &format!("{url}/_index_template/other"),
        Some(json!({"index_patterns": ["logs-app-*"], "priority": 100})),
        (400, "illegal_argument_exception", "index template [other] has index patterns [logs-app-*] matching patterns from existing templates [logs] with patterns (logs => [logs-*]) that have the same priority [100], multiple index templates may not match during index creation, please use a different priority"),
    )
    .await;
    // Another priority is fine.
    ok(
        &c,
        "PUT",
        &format!("{url}/_index_template/other"),
        Some(json!({"index_patterns": ["logs-app-*"], "priority": 200})),
    )
    .await;
    expect_error(
        &c,
        "PUT",
        &format!("{url}/_index_template/bad"),
        Some(json!({"priority": 1})),
        (
            400,
            "illegal_argument_exception",
            "Required [index_patterns]",
        ),
    )
    .await;
    expect_error(
        &c,
        "GET",
        &format!("{url}/_index_template/nope"),
        None,
        (
            404,
            "resource_not_found_exception",
            "index template matching [nope] not found",
        ),
    )
    .await;
    // A template in use by a stream cannot be deleted.
    ok(&c, "PUT", &format!("{url}/_data_stream/logs-x"), None).await;
    let (status, body) = call(&c, "DELETE", &format!("{url}/_index_template/logs"), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("in use by a data streams [logs-x]"));
    // Before 7.8 there is no such endpoint.
    let (_old, c2, url2) = one_with_client("7.7.1").await;
    let (status, _) = call(&c2, "GET", &format!("{url2}/_index_template"), None).await;
    assert_ne!(status, 200);
}

#[tokio::test]
async fn data_streams_create_write_rollover_and_delete() {
    let (sim, c, url) = one_with_client("8.15.0").await;
    expect_error(
        &c,
        "PUT",
        &format!("{url}/_data_stream/logs-app"),
        None,
        (
            400,
            "illegal_argument_exception",
            "no matching index template found for data stream [logs-app]",
        ),
    )
    .await;
    ok(
        &c,
        "PUT",
        &format!("{url}/_index_template/plain"),
        Some(json!({"index_patterns": ["plain-*"]})),
    )
    .await;
    expect_error(
        &c,
        "PUT",
        &format!("{url}/_data_stream/plain-x"),
        None,
        (
            400,
            "illegal_argument_exception",
            "matching index template [plain] for data stream [plain-x] has no data stream template",
        ),
    )
    .await;
    template(&c, &url, "logs", &["logs-*"], 100).await;
    // The first write creates the stream.
    write(&c, &url, "logs-app", 3).await;
    let ds = stream(&c, &url, "logs-app").await;
    assert_eq!(ds["generation"], 1);
    assert_eq!(ds["template"], "logs");
    assert_eq!(ds["timestamp_field"], json!({"name": "@timestamp"}));
    assert_eq!(ds["replicated"], false);
    assert_eq!(ds["hidden"], false);
    assert_eq!(ds["status"], "GREEN");
    let first = index_names(&ds)[0].clone();
    assert!(
        first.starts_with(".ds-logs-app-") && first.ends_with("-000001"),
        "{first}"
    );
    assert_eq!(first.len(), ".ds-logs-app-2026.01.01-000001".len());
    assert!(ds["indices"][0]["index_uuid"].as_str().unwrap().len() > 10);
    expect_error(
        &c,
        "PUT",
        &format!("{url}/_data_stream/logs-app"),
        None,
        (
            400,
            "resource_already_exists_exception",
            "data_stream [logs-app] already exists",
        ),
    )
    .await;
    // Only op_type=create reaches a data stream.
    for (method, path) in [
        ("PUT", "logs-app/_doc/1"),
        ("POST", "logs-app/_doc?op_type=index"),
        ("DELETE", "logs-app/_doc/1"),
    ] {
        expect_error(
            &c,
            method,
            &format!("{url}/{path}"),
            (method != "DELETE").then(|| json!({"@timestamp": 1})),
            (
                400,
                "illegal_argument_exception",
                "only write ops with an op_type of create are allowed in data streams",
            ),
        )
        .await;
    }
    let (status, created) = call(
        &c,
        "PUT",
        &format!("{url}/logs-app/_doc/1?op_type=create"),
        Some(json!({"@timestamp": 5})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["_index"], first.as_str());
    let (status, body) = call(
        &c,
        "POST",
        &format!("{url}/logs-app/_doc"),
        Some(json!({"message": "no time"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("data stream timestamp field [@timestamp] is missing"));
    // `_bulk`: `create` lands in the write index, `index` is refused per item.
    let ndjson = "{\"create\":{\"_index\":\"logs-app\"}}\n{\"@timestamp\":7}\n{\"index\":{\"_index\":\"logs-app\"}}\n{\"@timestamp\":8}\n";
    let (status, bulk) = call_raw(
        &c,
        "POST",
        &format!("{url}/_bulk"),
        ndjson,
        "application/x-ndjson",
    )
    .await;
    assert_eq!(status, 200, "{bulk}");
    assert_eq!(bulk["errors"], true);
    assert_eq!(bulk["items"][0]["create"]["_index"], first.as_str());
    assert_eq!(bulk["items"][0]["create"]["status"], 201);
    assert_eq!(bulk["items"][1]["index"]["status"], 400);
    assert_eq!(
        bulk["items"][1]["index"]["error"]["reason"],
        "only write ops with an op_type of create are allowed in data streams"
    );
    // Rollover: the next generation is the write index.
    let r = ok(&c, "POST", &format!("{url}/logs-app/_rollover"), None).await;
    assert_eq!(r["old_index"], first.as_str());
    assert_eq!(r["rolled_over"], true);
    let second = r["new_index"].as_str().unwrap().to_string();
    assert!(second.ends_with("-000002"), "{second}");
    sim.cluster("a").index_docs("logs-app", 5).unwrap();
    assert_eq!(sim.cluster("a").doc_count(&second), Some(5));
    assert_eq!(sim.cluster("a").doc_count(&first), Some(5));
    let count = ok(&c, "GET", &format!("{url}/logs-app/_count"), None).await;
    assert_eq!(count["count"], 10);
    // Conditions not met: no rollover.
    let r = ok(
        &c,
        "POST",
        &format!("{url}/logs-app/_rollover"),
        Some(json!({"conditions": {"max_docs": 100}})),
    )
    .await;
    assert_eq!(r["rolled_over"], false);
    assert_eq!(r["conditions"]["[max_docs: 100]"], false);
    expect_error(
        &c,
        "POST",
        &format!("{url}/nothing/_rollover"),
        None,
        (
            400,
            "illegal_argument_exception",
            "rollover target [nothing] does not exist",
        ),
    )
    .await;
    // Stats.
    let s = ok(
        &c,
        "GET",
        &format!("{url}/_data_stream/logs-app/_stats"),
        None,
    )
    .await;
    assert_eq!(s["data_stream_count"], 1);
    assert_eq!(s["backing_indices"], 2);
    assert!(s["total_store_size_bytes"].as_u64().unwrap() > 0);
    assert_eq!(s["data_streams"][0]["data_stream"], "logs-app");
    assert!(s["data_streams"][0]["maximum_timestamp"].as_i64().unwrap() >= 1_700_000_000_002);
    // Backing indices are hidden indices: a wildcard reaches them through their (visible)
    // stream's name, or with `expand_wildcards` including hidden; a hidden stream's only then.
    ok(
        &c,
        "PUT",
        &format!("{url}/_index_template/hid"),
        Some(json!({"index_patterns": ["hid-*"], "priority": 7, "data_stream": {"hidden": true}})),
    )
    .await;
    write(&c, &url, "hid-x", 1).await;
    let hid = sim.cluster("a").backing_indices("hid-x").unwrap()[0].clone();
    let cat = get_text(&c, &format!("{url}/_cat/indices?h=index")).await;
    assert!(cat.contains(&first) && cat.contains(&second), "{cat}");
    assert!(!cat.contains(&hid), "{cat}");
    let cat = get_text(
        &c,
        &format!("{url}/_cat/indices?h=index&expand_wildcards=all"),
    )
    .await;
    assert!(cat.contains(&hid), "{cat}");
    let cat = get_text(&c, &format!("{url}/_cat/indices/logs-app?h=index")).await;
    assert_eq!(cat.lines().count(), 2, "{cat}");
    let stats = ok(&c, "GET", &format!("{url}/_stats"), None).await;
    assert!(stats["indices"].get(&first).is_some());
    assert!(stats["indices"].get(&hid).is_none());
    let stats = ok(
        &c,
        "GET",
        &format!("{url}/_stats?expand_wildcards=all"),
        None,
    )
    .await;
    assert!(stats["indices"].get(&hid).is_some());
    let all = ok(&c, "GET", &format!("{url}/_data_stream"), None).await;
    assert_eq!(all["data_streams"].as_array().unwrap().len(), 1, "{all}");
    let all = ok(
        &c,
        "GET",
        &format!("{url}/_data_stream?expand_wildcards=all"),
        None,
    )
    .await;
    assert_eq!(all["data_streams"].as_array().unwrap().len(), 2, "{all}");
    assert_eq!(stream(&c, &url, "hid-x").await["hidden"], true);
    // The write index cannot be deleted; an older one can.
    expect_error(
        &c,
        "DELETE",
        &format!("{url}/{second}"),
        None,
        (400, "illegal_argument_exception", &format!("index [{second}] is the write index for data stream [logs-app] and cannot be deleted")),
    )
    .await;
    ok(&c, "DELETE", &format!("{url}/{first}"), None).await;
    assert_eq!(
        index_names(&stream(&c, &url, "logs-app").await),
        vec![second.clone()]
    );
    // Deleting streams: wildcards need action.destructive_requires_name=false on 8.x.
    expect_error(
        &c,
        "DELETE",
        &format!("{url}/_data_stream/logs-*"),
        None,
        (
            400,
            "illegal_argument_exception",
            "Wildcard expressions or all indices are not allowed",
        ),
    )
    .await;
    expect_error(
        &c,
        "GET",
        &format!("{url}/_data_stream/nope"),
        None,
        (404, "index_not_found_exception", "no such index [nope]"),
    )
    .await;
    // A plain index cannot take a name a data-stream template matches; other templates give
    // their settings to the indices they match.
    expect_error(
        &c,
        "PUT",
        &format!("{url}/logs-plain"),
        None,
        (400, "illegal_argument_exception", "cannot create index with name [logs-plain], because it matches with template [logs] that creates data streams only, use create data stream api instead"),
    )
    .await;
    ok(
        &c,
        "PUT",
        &format!("{url}/_index_template/plain3"),
        Some(json!({"index_patterns": ["three-*"], "template": {"settings": {"index.number_of_shards": 3}}})),
    )
    .await;
    ok(&c, "PUT", &format!("{url}/three-a"), None).await;
    let st = ok(&c, "GET", &format!("{url}/three-a/_settings"), None).await;
    assert_eq!(
        st["three-a"]["settings"]["index"]["number_of_shards"], "3",
        "{st}"
    );
    ok(&c, "DELETE", &format!("{url}/_data_stream/logs-app"), None).await;
    assert_eq!(sim.cluster("a").doc_count(&second), None);
    let all = ok(
        &c,
        "GET",
        &format!("{url}/_data_stream?expand_wildcards=all"),
        None,
    )
    .await;
    assert_eq!(index_names(&all["data_streams"][0]), vec![hid.clone()]);
    // The control API's delete of a stream's last backing index takes the stream with it.
    sim.cluster("a").delete_index(&hid).unwrap();
    assert_eq!(sim.cluster("a").backing_indices("hid-x"), None);
}

/// A leader with a data-stream template and a follower with the `leader` remote, deterministic.
async fn ds_pair(version: &str) -> (Sim, reqwest::Client, String, String) {
    let (sim, c, l, f) = pair_with_remote(Some(version), true).await;
    template(&c, &l, "logs", &["logs-*"], 100).await;
    (sim, c, l, f)
}

async fn settle(sim: &Sim) {
    for _ in 0..4 {
        sim.advance(Duration::from_secs(2)).unwrap();
    }
}

#[tokio::test]
async fn auto_follow_of_a_data_stream_across_three_rollovers() {
    let (sim, c, l, f) = ds_pair("8.15.0").await;
    // A generation that exists before the pattern is not followed.
    write(&c, &l, "logs-app", 2).await;
    let gen1 = sim.cluster("leader").backing_indices("logs-app").unwrap()[0].clone();
    ok(
        &c,
        "PUT",
        &format!("{f}/_ccr/auto_follow/logs"),
        Some(
            json!({"remote_cluster": "leader", "leader_index_patterns": ["logs-*"],
                    "leader_index_exclusion_patterns": ["logs-skip*"]}),
        ),
    )
    .await;
    let mut followed = Vec::new();
    for round in 0..3 {
        let new_index = sim.cluster("leader").rollover("logs-app").unwrap();
        write(&c, &l, "logs-app", 3 + round).await;
        followed.push(new_index);
        settle(&sim).await;
    }
    // An excluded stream is never followed.
    write(&c, &l, "logs-skip", 1).await;
    settle(&sim).await;
    write(&c, &l, "logs-app", 2).await;
    settle(&sim).await;
    let fds = stream(&c, &f, "logs-app").await;
    assert_eq!(fds["replicated"], true, "{fds}");
    assert_eq!(
        index_names(&fds),
        followed,
        "only generations after the pattern"
    );
    assert_eq!(fds["generation"], 4);
    assert!(!index_names(&fds).contains(&gen1));
    let (status, _) = call(&c, "GET", &format!("{f}/_data_stream/logs-skip"), None).await;
    assert_eq!(status, 404);
    let leader = sim.cluster("leader");
    let follower = sim.cluster("follower");
    for idx in &followed {
        assert_eq!(follower.doc_count(idx), leader.doc_count(idx), "{idx}");
    }
    assert_eq!(follower.doc_count(&followed[2]), Some(7));
    let info = ok(&c, "GET", &format!("{f}/{}/_ccr/info", followed[0]), None).await;
    assert_eq!(info["follower_indices"][0]["status"], "active", "{info}");
    assert_eq!(
        info["follower_indices"][0]["leader_index"],
        followed[0].as_str()
    );
    // No template on the follower: GET names none and rollover looks it up first.
    assert!(fds.get("template").is_none(), "{fds}");
    expect_error(
        &c,
        "POST",
        &format!("{f}/logs-app/_rollover"),
        None,
        (
            400,
            "illegal_argument_exception",
            "no matching index template found for data stream [logs-app]",
        ),
    )
    .await;
    template(&c, &f, "logs", &["logs-*"], 100).await;
    assert_eq!(stream(&c, &f, "logs-app").await["template"], "logs");
    // The replicated stream takes no rollover and no writes.
    expect_error(
        &c,
        "POST",
        &format!("{f}/logs-app/_rollover"),
        None,
        (
            400,
            "illegal_argument_exception",
            "data stream [logs-app] cannot be rolled over, because it is a replicated data stream",
        ),
    )
    .await;
    let (status, body) = call(
        &c,
        "POST",
        &format!("{f}/logs-app/_doc"),
        Some(json!({"@timestamp": 1})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // The write index cannot be closed, so it cannot be unfollowed before a local rollover.
    ok(
        &c,
        "POST",
        &format!("{f}/{}/_ccr/pause_follow", followed[2]),
        None,
    )
    .await;
    expect_error(
        &c,
        "POST",
        &format!("{f}/{}/_close", followed[2]),
        None,
        (
            400,
            "illegal_argument_exception",
            &format!(
                "cannot close the following data stream write indices [{}]",
                followed[2]
            ),
        ),
    )
    .await;
    // An older backing index can be unfollowed; the stream stays replicated.
    ok(
        &c,
        "POST",
        &format!("{f}/{}/_ccr/pause_follow", followed[0]),
        None,
    )
    .await;
    ok(&c, "POST", &format!("{f}/{}/_close", followed[0]), None).await;
    ok(
        &c,
        "POST",
        &format!("{f}/{}/_ccr/unfollow", followed[0]),
        None,
    )
    .await;
    ok(&c, "POST", &format!("{f}/{}/_open", followed[0]), None).await;
    assert_eq!(stream(&c, &f, "logs-app").await["replicated"], true);
    // Promote, then rollover works; the old write index can then be unfollowed and written
    // to directly.
    ok(
        &c,
        "POST",
        &format!("{f}/_data_stream/_promote/logs-app"),
        None,
    )
    .await;
    assert_eq!(stream(&c, &f, "logs-app").await["replicated"], false);
    // Promotion unfollows nothing: until a rollover, writes reach the write index, still a follower, and
    // its FollowingEngine refuses them (ES `FollowingEngine#preFlight`).
    let (status, body) = call(
        &c,
        "POST",
        &format!("{f}/logs-app/_doc"),
        Some(json!({"@timestamp": 1})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"]["reason"],
        "a following engine does not accept operations without an assigned sequence number"
    );
    let r = ok(&c, "POST", &format!("{f}/logs-app/_rollover"), None).await;
    let local_gen = r["new_index"].as_str().unwrap().to_string();
    assert!(local_gen.ends_with("-000005"), "{local_gen}");
    write(&c, &f, "logs-app", 2).await;
    assert_eq!(follower.doc_count(&local_gen), Some(2));
    let old_write = followed[2].clone();
    ok(&c, "POST", &format!("{f}/{old_write}/_close"), None).await;
    ok(&c, "POST", &format!("{f}/{old_write}/_ccr/unfollow"), None).await;
    ok(&c, "POST", &format!("{f}/{old_write}/_open"), None).await;
    let (status, body) = call(
        &c,
        "PUT",
        &format!("{f}/{old_write}/_doc/x?op_type=create"),
        Some(json!({"@timestamp": 2})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // A promoted stream takes no more followers.
    let (status, body) = call(
        &c,
        "PUT",
        &format!("{f}/{gen1}/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": gen1})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"]["reason"],
        format!("cannot follow backing index [{gen1}], because local data stream [logs-app] is no longer marked as replicated")
    );
    expect_error(
        &c,
        "POST",
        &format!("{f}/_data_stream/_promote/nope"),
        None,
        (
            404,
            "resource_not_found_exception",
            "data stream [nope] does not exist",
        ),
    )
    .await;
}

#[tokio::test]
async fn put_follow_of_a_backing_index_with_and_without_data_stream_name() {
    let (sim, c, l, f) = ds_pair("8.15.0").await;
    write(&c, &l, "logs-app", 4).await;
    let gen1 = sim.cluster("leader").backing_indices("logs-app").unwrap()[0].clone();
    // Without data_stream_name the leader's stream name is used.
    ok(
        &c,
        "PUT",
        &format!("{f}/{gen1}/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": gen1})),
    )
    .await;
    settle(&sim).await;
    let fds = stream(&c, &f, "logs-app").await;
    assert_eq!(index_names(&fds), vec![gen1.clone()]);
    assert_eq!(fds["replicated"], true);
    assert_eq!(sim.cluster("follower").doc_count(&gen1), Some(4));
    // With data_stream_name (8.4+) the follower joins a stream of that name.
    let renamed = gen1.replace("logs-app", "logs-app-replicated");
    ok(
        &c,
        "PUT",
        &format!("{f}/{renamed}/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": gen1,
                    "data_stream_name": "logs-app-replicated"})),
    )
    .await;
    let fds = stream(&c, &f, "logs-app-replicated").await;
    assert_eq!(index_names(&fds), vec![renamed]);
    // Before 8.4 a backing index keeps its name, and data_stream_name is unknown.
    let (old, c2, l2, f2) = ds_pair("8.3.3").await;
    write(&c2, &l2, "logs-app", 1).await;
    let gen1 = old.cluster("leader").backing_indices("logs-app").unwrap()[0].clone();
    expect_error(
        &c2,
        "PUT",
        &format!("{f2}/copy/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": gen1})),
        (
            400,
            "illegal_argument_exception",
            "a backing index name in the local and remote cluster must remain the same",
        ),
    )
    .await;
    let (status, body) = call(
        &c2,
        "PUT",
        &format!("{f2}/{gen1}/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": gen1, "data_stream_name": "x"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "x_content_parse_exception");
}

#[tokio::test]
async fn auto_follow_pattern_renames_the_stream_from_8_4() {
    let (sim, c, l, f) = ds_pair("8.15.0").await;
    ok(
        &c,
        "PUT",
        &format!("{f}/_ccr/auto_follow/dr"),
        Some(
            json!({"remote_cluster": "leader", "leader_index_patterns": ["logs-*"],
                    "follow_index_pattern": "{{leader_index}}-replicated_from_leader"}),
        ),
    )
    .await;
    write(&c, &l, "logs-app", 2).await;
    settle(&sim).await;
    let gen1 = sim.cluster("leader").backing_indices("logs-app").unwrap()[0].clone();
    let expected = gen1.replace("logs-app", "logs-app-replicated_from_leader");
    let fds = stream(&c, &f, "logs-app-replicated_from_leader").await;
    assert_eq!(index_names(&fds), vec![expected.clone()]);
    assert_eq!(sim.cluster("follower").doc_count(&expected), Some(2));
    // The control API writes through the stream's name too.
    sim.cluster("leader").index_docs("logs-app", 3).unwrap();
    settle(&sim).await;
    assert_eq!(sim.cluster("follower").doc_count(&expected), Some(5));
    // Steady writes to the stream's name follow the write index across a rollover.
    let leader = sim.cluster("leader");
    leader.set_writes("logs-app", 10.0).unwrap();
    settle(&sim).await;
    let gen2 = leader.rollover("logs-app").unwrap();
    settle(&sim).await;
    leader.set_writes("logs-app", 0.0).unwrap();
    let before = leader.doc_count(&gen1).unwrap();
    assert!(before > 5, "{before}");
    assert!(leader.doc_count(&gen2).unwrap() > 0);
    settle(&sim).await;
    let gen2_copy = gen2.replace("logs-app", "logs-app-replicated_from_leader");
    assert_eq!(
        sim.cluster("follower").doc_count(&gen2_copy),
        leader.doc_count(&gen2)
    );
    assert_eq!(sim.cluster("follower").doc_count(&expected), Some(before));
    let state = sim.cluster("follower").state();
    assert_eq!(
        state["data_streams"]["logs-app-replicated_from_leader"]["replicated"],
        true
    );
}

#[tokio::test]
async fn monitoring_user_reads_streams_but_cannot_change_them() {
    use ccr_sim::{base64_encode, ClusterConfig, Role, Security};
    let sim = start([ClusterConfig::new("a").security(
        Security::new()
            .user("admin", "pw", Role::Superuser)
            .user("viewer", "pw", Role::Monitor),
    )])
    .await;
    let a = sim.cluster("a");
    a.put_data_stream_template("logs", &["logs-*"], 100)
        .unwrap();
    a.index_docs("logs-app", 3).unwrap();
    let url = sim.url("a");
    let viewer = format!("Basic {}", base64_encode(b"viewer:pw"));
    for path in [
        "_data_stream",
        "_data_stream/logs-app",
        "_data_stream/logs-app/_stats",
        "_index_template/logs",
    ] {
        let (status, body, _) =
            send_auth("GET", &format!("{url}/{path}"), Some(&viewer), None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, body, _) = send_auth(
        "GET",
        &format!("{url}/_data_stream/logs-app"),
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data_streams"][0]["indices"].as_array().unwrap().len(),
        1
    );
    for (method, path) in [
        ("PUT", "_index_template/other"),
        ("POST", "logs-app/_rollover"),
        ("POST", "_data_stream/_promote/logs-app"),
        ("DELETE", "_data_stream/logs-app"),
    ] {
        let body = (method == "PUT").then(|| json!({"index_patterns": ["o-*"]}));
        let (status, reply, _) =
            send_auth(method, &format!("{url}/{path}"), Some(&viewer), body).await;
        assert_eq!(status, 403, "{method} {path}: {reply}");
        assert_eq!(reply["error"]["type"], "security_exception");
    }
    assert_eq!(a.backing_indices("logs-app").unwrap().len(), 1);
}

#[tokio::test]
async fn data_streams_by_version() {
    // 7.8 has composable templates but no data streams: `GET /_data_stream` is
    // `GET /{index}` there, `PUT /_data_stream/x` has no handler.
    let (_s, c, url) = one_with_client("7.8.1").await;
    ok(
        &c,
        "PUT",
        &format!("{url}/_index_template/logs"),
        Some(json!({"index_patterns": ["logs-*"]})),
    )
    .await;
    let (status, body) = call(
        &c,
        "PUT",
        &format!("{url}/_index_template/ds"),
        Some(json!({"index_patterns": ["ds-*"], "data_stream": {}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = call(&c, "GET", &format!("{url}/_data_stream"), None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["type"], "index_not_found_exception");
    let (status, body) = call(&c, "PUT", &format!("{url}/_data_stream/logs-x"), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("no handler found"));
    // 7.9 names backing indices without the date and shows no `replicated`.
    let (sim, c, url) = one_with_client("7.9.3").await;
    template(&c, &url, "logs", &["logs-*"], 1).await;
    write(&c, &url, "logs-app", 1).await;
    let ds = stream(&c, &url, "logs-app").await;
    assert_eq!(index_names(&ds), vec![".ds-logs-app-000001".to_string()]);
    assert!(ds.get("replicated").is_none(), "{ds}");
    let r = sim.cluster("a").rollover("logs-app").unwrap();
    assert_eq!(r, ".ds-logs-app-000002");
    // 7.13 has no exclusion patterns on auto-follow.
    let (_p, c, _l, f) = pair_with_remote(Some("7.13.4"), true).await;
    let (status, body) = call(
        &c,
        "PUT",
        &format!("{f}/_ccr/auto_follow/p"),
        Some(
            json!({"remote_cluster": "leader", "leader_index_patterns": ["logs-*"],
                    "leader_index_exclusion_patterns": ["logs-x*"]}),
        ),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["type"], "x_content_parse_exception");
}
