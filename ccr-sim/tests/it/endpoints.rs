//! The remaining endpoints: index lists and wildcards, stats variants, cat APIs, health, nodes,
//! `human`, `filter_path`, HEAD, and unfollow with an unreachable leader.

use std::time::Duration;

use crate::common::*;
use ccr_sim::Sim;
use serde_json::{json, Value};

async fn setup() -> (Sim, reqwest::Client, String, String) {
    let (sim, c, l, f) = pair_with_remote(None, true).await;
    for (name, shards) in [("a", 1), ("b", 2), ("c", 1)] {
        sim.cluster("leader").create_index(name, shards).unwrap();
        sim.cluster("leader").index_docs(name, 3).unwrap();
        sim.cluster("follower")
            .follow(&format!("{name}-copy"), "leader", name)
            .unwrap();
    }
    sim.advance(Duration::from_millis(200)).unwrap();
    (sim, c, l, f)
}

fn index_names(stats: &Value) -> Vec<String> {
    stats["indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn follower_stats_index_expressions() {
    let (sim, c, _l, f) = setup().await;
    let (_, s) = call(&c, "GET", &format!("{f}/c-copy,a-copy/_ccr/stats"), None).await;
    assert_eq!(index_names(&s), vec!["a-copy", "c-copy"], "sorted by name");
    let (_, s) = call(&c, "GET", &format!("{f}/*/_ccr/stats"), None).await;
    assert_eq!(index_names(&s), vec!["a-copy", "b-copy", "c-copy"]);
    assert_eq!(s["indices"][1]["shards"].as_array().unwrap().len(), 2);
    // Exact names only (TransportFollowStatsAction): a pattern is a name no task has.
    expect_error(
        &c,
        "GET",
        &format!("{f}/b*/_ccr/stats"),
        None,
        (
            404,
            "resource_not_found_exception",
            "No shard follow tasks for follower indices [b*]",
        ),
    )
    .await;
    let (st, _) = call(&c, "GET", &format!("{f}/a-copy,*/_ccr/stats"), None).await;
    assert_eq!(st, 200, "a name and `*`: only the name counts");
    let (_, s) = call(&c, "GET", &format!("{f}/_all/_ccr/stats"), None).await;
    assert_eq!(index_names(&s).len(), 3);
    // Named indices without tasks are skipped while another one matches.
    let (st, s) = call(&c, "GET", &format!("{f}/a-copy,nope/_ccr/stats"), None).await;
    assert_eq!((st, index_names(&s)), (200, vec!["a-copy".to_string()]));
    expect_error(
        &c,
        "GET",
        &format!("{f}/x,y/_ccr/stats"),
        None,
        (
            404,
            "resource_not_found_exception",
            "No shard follow tasks for follower indices [x,y]",
        ),
    )
    .await;
    let (_, info) = call(&c, "GET", &format!("{f}/_all/_ccr/info"), None).await;
    assert_eq!(info["follower_indices"].as_array().unwrap().len(), 3);
    let (st, b) = call(&c, "GET", &format!("{f}/missing/_ccr/info"), None).await;
    assert_eq!(
        (st, b["error"]["resource.type"].as_str()),
        (404, Some("index_or_alias"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn human_and_filter_path() {
    let (sim, c, _l, f) = setup().await;
    let (_, s) = call(
        &c,
        "GET",
        &format!("{f}/a-copy/_ccr/stats?human=true"),
        None,
    )
    .await;
    let shard = &s["indices"][0]["shards"][0];
    for (raw, human) in [
        ("write_buffer_size_in_bytes", "write_buffer_size"),
        ("total_read_time_millis", "total_read_time"),
        (
            "total_read_remote_exec_time_millis",
            "total_read_remote_exec_time",
        ),
        ("bytes_read", "total_read"),
        ("total_write_time_millis", "total_write_time"),
        ("time_since_last_read_millis", "time_since_last_read"),
    ] {
        assert!(shard[raw].is_number(), "{raw}");
        assert!(shard[human].is_string(), "{human}: {shard}");
    }
    let (_, s) = call(
        &c,
        "GET",
        &format!(
            "{f}/_ccr/stats?filter_path=follow_stats.indices.shards.follower_global_checkpoint"
        ),
        None,
    )
    .await;
    assert_eq!(
        s,
        json!({"follow_stats": {"indices": [
            {"shards": [{"follower_global_checkpoint": 2}]},
            {"shards": [{"follower_global_checkpoint": s["follow_stats"]["indices"][1]["shards"][0]["follower_global_checkpoint"]}, {"follower_global_checkpoint": s["follow_stats"]["indices"][1]["shards"][1]["follower_global_checkpoint"]}]},
            {"shards": [{"follower_global_checkpoint": 2}]}
        ]}})
    );
    let text = get_text(&c, &format!("{f}/a-copy/_ccr/info?pretty")).await;
    assert!(text.contains("\n  \"follower_indices\""), "{text}");
    sim.shutdown().await;
}

#[tokio::test]
async fn stats_cat_health_nodes_head() {
    let (sim, c, l, f) = setup().await;
    let (_, s) = call(&c, "GET", &format!("{l}/_stats/docs"), None).await;
    assert_eq!(s["_all"]["primaries"]["docs"]["count"], 9);
    assert_eq!(s["indices"]["b"]["primaries"]["docs"]["count"], 3);
    let (_, s) = call(&c, "GET", &format!("{f}/a-copy,b-copy/_stats"), None).await;
    assert_eq!(s["_all"]["total"]["docs"]["count"], 6);
    let (_, n) = call(&c, "GET", &format!("{f}/*-copy/_count"), None).await;
    assert_eq!(n["count"], 9);
    assert_eq!(n["_shards"]["total"], 4);
    let (_, n) = call(&c, "GET", &format!("{f}/a-copy,b-copy,-b*/_count"), None).await;
    assert_eq!(n["count"], 3);
    let (st, n) = call(
        &c,
        "GET",
        &format!("{f}/a-copy,nope/_count?ignore_unavailable=true"),
        None,
    )
    .await;
    assert_eq!((st, n["count"].clone()), (200, json!(3)));
    let (st, _) = call(&c, "GET", &format!("{f}/a-copy,nope/_count"), None).await;
    assert_eq!(st, 404);

    let text = get_text(&c, &format!("{l}/_cat/indices?v&h=index,docs.count")).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        vec!["index", "docs.count"]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        vec!["b", "3"]
    );
    let (st, b) = call(
        &c,
        "GET",
        &format!("{l}/_cat/indices?format=json&h=nope"),
        None,
    )
    .await;
    assert_error_type((st, &b), 400, "illegal_argument_exception");
    let (_, nodes) = call(
        &c,
        "GET",
        &format!("{l}/_cat/nodes?format=json&h=ip,port,name"),
        None,
    )
    .await;
    let port = sim
        .transport_address("leader")
        .rsplit_once(':')
        .unwrap()
        .1
        .to_string();
    assert_eq!(nodes[0]["port"], port);
    let (_, h) = call(&c, "GET", &format!("{l}/_cluster/health"), None).await;
    assert_eq!(h["status"], "yellow");
    assert_eq!(h["active_primary_shards"], 4);
    assert_eq!(h["number_of_nodes"], 1);
    let (_, h) = call(&c, "GET", &format!("{l}/_cluster/health/a"), None).await;
    assert_eq!(h["active_primary_shards"], 1);

    let head = c.head(format!("{l}/a")).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    let head = c.head(format!("{l}/zzz")).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 404);
    let idx = ok(&c, "GET", &format!("{f}/a-copy"), None).await;
    assert_eq!(
        idx["a-copy"]["settings"]["index"]["xpack"]["ccr"]["following_index"],
        "true"
    );
    let (_, s) = call(
        &c,
        "GET",
        &format!("{l}/a/_settings?include_defaults=true&flat_settings=true"),
        None,
    )
    .await;
    assert_eq!(s["a"]["defaults"]["index.soft_deletes.enabled"], "true");
    let (st, r) = call(&c, "POST", &format!("{l}/a/_refresh"), None).await;
    assert_eq!((st, r["_shards"]["successful"].clone()), (200, json!(1)));
    sim.shutdown().await;
}

#[tokio::test]
async fn unfollow_with_unreachable_leader_applies_and_reports_the_lease() {
    let (sim, c, _l, f) = setup().await;
    call(&c, "POST", &format!("{f}/a-copy/_ccr/pause_follow"), None).await;
    call(&c, "POST", &format!("{f}/a-copy/_close"), None).await;
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    let (st, b) = call(&c, "POST", &format!("{f}/a-copy/_ccr/unfollow"), None).await;
    assert_error_type((st, &b), 500, "exception");
    assert!(
        b["error"]["failed_to_remove_retention_leases"]
            .as_str()
            .unwrap()
            .starts_with("follower/a-copy/"),
        "{b}"
    );
    // The unfollow itself was applied.
    let (_, info) = call(&c, "GET", &format!("{f}/a-copy/_ccr/info"), None).await;
    assert_eq!(info, json!({"follower_indices": []}));
    assert_eq!(
        sim.cluster("leader").state()["indices"]["a"]["retention_leases"],
        1
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn closed_follower_retries_and_closed_leader_blocks() {
    let (sim, c, l, f) = setup().await;
    call(&c, "POST", &format!("{l}/a/_close"), None).await;
    sim.advance(Duration::from_millis(200)).unwrap();
    let (_, s) = call(&c, "GET", &format!("{f}/a-copy/_ccr/stats"), None).await;
    assert_eq!(
        s["indices"][0]["shards"][0]["read_exceptions"][0]["exception"]["type"],
        "cluster_block_exception"
    );
    ok(&c, "POST", &format!("{f}/a-copy/_ccr/pause_follow"), None).await;
    expect_error(
        &c,
        "POST",
        &format!("{f}/a-copy/_ccr/resume_follow"),
        None,
        (
            400,
            "illegal_argument_exception",
            "leader and follow index must be open",
        ),
    )
    .await;
    call(&c, "POST", &format!("{f}/c-copy/_close"), None).await;
    sim.advance(Duration::from_millis(200)).unwrap();
    let (_, s) = call(&c, "GET", &format!("{f}/c-copy/_ccr/stats"), None).await;
    assert_eq!(
        s["indices"][0]["shards"][0]["read_exceptions"][0]["exception"]["type"],
        "index_closed_exception"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn auto_follow_put_checks_the_remote() {
    let (sim, c, _l, f) = setup().await;
    let put = format!("{f}/_ccr/auto_follow/p");
    let body = json!({"remote_cluster": "leader", "leader_index_patterns": ["x*"]});
    expect_error(
        &c,
        "PUT",
        &put,
        Some(json!({"remote_cluster": "nope", "leader_index_patterns": ["x*"]})),
        (
            404,
            "no_such_remote_cluster_exception",
            "no such remote cluster: [nope]",
        ),
    )
    .await;
    expect_error(
        &c,
        "PUT",
        &put,
        Some(json!({"leader_index_patterns": []})),
        (
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: [remote_cluster] is missing;2: [leader_index_patterns] is missing;",
        ),
    )
    .await;
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    expect_error(
        &c,
        "PUT",
        &put,
        Some(body.clone()),
        (
            400,
            "status_exception",
            "can not fetch remote cluster state as the license state of the remote cluster [leader] could not be determined",
        ),
    )
    .await;
    sim.cluster("follower").connect_remote("leader").unwrap();
    sim.cluster("leader")
        .set_license(ccr_sim::License::basic())
        .unwrap();
    expect_error(
        &c,
        "PUT",
        &put,
        Some(body.clone()),
        (
            400,
            "status_exception",
            "can not fetch remote cluster state as the remote cluster [leader] is not licensed for [ccr]; the license mode [BASIC] on cluster [leader] does not enable [ccr]",
        ),
    )
    .await;
    sim.cluster("leader")
        .set_license(ccr_sim::License::trial())
        .unwrap();
    let mut with_settings = body.clone();
    with_settings["settings"] = json!({"index.number_of_shards": 2});
    expect_error(
        &c,
        "PUT",
        &put,
        Some(with_settings),
        (
            400,
            "illegal_argument_exception",
            "can not put auto-follow pattern that could override leader settings {\"index.number_of_shards\":\"2\"}",
        ),
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_requests() {
    let (sim, c, l, f) = setup().await;
    sim.cluster("leader").set_writes("a", 200.0).unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let c = c.clone();
        let url = match i % 4 {
            0 => format!("{f}/_ccr/stats"),
            1 => format!("{l}/a/_count"),
            2 => format!("{f}/_sim/state"),
            _ => format!("{f}/_remote/info"),
        };
        tasks.push(tokio::spawn(
            async move { call(&c, "GET", &url, None).await.0 },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    sim.advance(Duration::from_millis(500)).unwrap();
    sim.shutdown().await;
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Sim>();
    check::<ccr_sim::ClusterHandle>();
    check::<ccr_sim::SimError>();
}

#[tokio::test]
async fn remotes_in_another_sim_replicate() {
    let one = start_one("leader", None).await;
    let two = start_one("follower", None).await;
    let c = client();
    let f = two.url("follower");
    add_remote(&c, &f, "leader", &one.transport_address("leader")).await;
    let (_, info) = call(&c, "GET", &format!("{f}/_remote/info"), None).await;
    assert_eq!(info["leader"]["connected"], true, "{info}");
    one.cluster("leader").create_index("logs", 2).unwrap();
    one.cluster("leader").index_docs("logs", 12).unwrap();
    ok(
        &c,
        "PUT",
        &format!("{f}/logs-copy/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "logs"})),
    )
    .await;
    one.cluster("leader").index_docs("logs", 8).unwrap();
    eventually(Duration::from_secs(5), "20 docs in the other Sim", || {
        let n = two.cluster("follower").doc_count("logs-copy");
        async move { (n == Some(20)).then_some(()) }
    })
    .await;
    // The leader in the other Sim holds the follower's lease.
    assert_eq!(
        one.cluster("leader").state()["indices"]["logs"]["retention_leases"],
        1
    );
    assert_eq!(
        two.cluster("follower").state()["followers"]["logs-copy"]["leader_docs"],
        20
    );
    // Followers in both directions at once do not deadlock.
    add_remote(
        &c,
        &one.url("leader"),
        "back",
        &two.transport_address("follower"),
    )
    .await;
    two.cluster("follower").create_index("local", 1).unwrap();
    two.cluster("follower").index_docs("local", 5).unwrap();
    one.cluster("leader")
        .follow("local-copy", "back", "local")
        .unwrap();
    eventually(
        Duration::from_secs(5),
        "5 docs back in the first Sim",
        || {
            let n = one.cluster("leader").doc_count("local-copy");
            async move { (n == Some(5)).then_some(()) }
        },
    )
    .await;
    // When the leader's Sim goes away, the remote is unreachable.
    one.shutdown().await;
    let (_, info) = call(&c, "GET", &format!("{f}/_remote/info"), None).await;
    assert_eq!(info["leader"]["connected"], false);
    two.shutdown().await;
}
