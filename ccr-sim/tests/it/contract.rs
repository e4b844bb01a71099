//! Contract tests: for each fixture the simulator covers, its answer to the same request has
//! the same keys and types; errors have the same status, type and reason.
//!
//! Names in requests are chosen to match the fixtures' example names (`follower_index`,
//! `leader_index`, `remote_cluster`, `bar`, ...), so error reasons compare verbatim.

use std::time::Duration;

use crate::common::*;
use ccr_sim::{ClusterConfig, License, Role, Security, Sim};
use serde_json::{json, Value};

/// A leader/follower pair with `leader_index` followed as `follower_index` through the alias
/// `remote_cluster`.
async fn pair(version: &str) -> (Sim, reqwest::Client, String, String) {
    let sim = start_pair(Some(version), false).await;
    let c = client();
    let (l, f) = (sim.url("leader"), sim.url("follower"));
    ok(
        &c,
        "PUT",
        &format!("{l}/leader_index"),
        Some(json!({"settings": {"index.soft_deletes.enabled": true}})),
    )
    .await;
    add_remote(&c, &f, "remote_cluster", &sim.transport_address("leader")).await;
    (sim, c, l, f)
}

async fn follow(c: &reqwest::Client, f: &str, follower: &str, leader: &str) {
    ok(
        c,
        "PUT",
        &format!("{f}/{follower}/_ccr/follow?wait_for_active_shards=1"),
        Some(json!({"remote_cluster": "remote_cluster", "leader_index": leader})),
    )
    .await;
}

fn fixture_error(name: &str) -> (u16, String, String) {
    let v = fixture(name);
    (
        v["status"].as_u64().unwrap() as u16,
        v["error"]["type"].as_str().unwrap().to_string(),
        v["error"]["reason"].as_str().unwrap().to_string(),
    )
}

/// Asserts our error equals the fixture's (status, type, reason) and has the same keys.
fn assert_fixture_error(actual: (u16, &Value), name: &str) {
    let (status, kind, reason) = fixture_error(name);
    assert_error(actual, status, &kind, &reason);
    assert_same_shape(actual.1, &fixture(name), name);
}

#[tokio::test]
async fn ccr_success_bodies_match_fixtures() {
    let (sim, c, l, f) = pair("8.15.0").await;
    // Put follow with the fixture's own request body.
    let mut req = fixture("ccr_follow_request_8x.json");
    req["remote_cluster"] = json!("remote_cluster");
    req["leader_index"] = json!("leader_index");
    let body = ok(
        &c,
        "PUT",
        &format!("{f}/follower_index/_ccr/follow?wait_for_active_shards=1"),
        Some(req),
    )
    .await;
    assert_eq!(body, fixture("ccr_follow_response_8x.json"));
    sim.cluster("leader").index_docs("leader_index", 5).unwrap();
    let body = ok(&c, "GET", &format!("{f}/follower_index/_ccr/info"), None).await;
    assert_same_shape(
        &body,
        &fixture("ccr_follow_info_response_active_8x.json"),
        "info",
    );
    assert_eq!(
        body["follower_indices"][0]["parameters"]["max_read_request_size"],
        "1024kb"
    );
    assert_eq!(
        body["follower_indices"][0]["parameters"]["max_retry_delay"],
        "10s"
    );
    let body = ok(&c, "GET", &format!("{f}/follower_index/_ccr/stats"), None).await;
    assert_same_shape(
        &body,
        &fixture("ccr_follow_stats_response_8x.json"),
        "follow stats",
    );
    let body = ok(&c, "GET", &format!("{f}/_ccr/stats"), None).await;
    assert_same_shape(&body, &fixture("ccr_stats_response_8x.json"), "ccr stats");
    let (st, body) = call(
        &c,
        "POST",
        &format!("{f}/follower_index/_ccr/pause_follow"),
        None,
    )
    .await;
    assert_eq!(
        (st, body),
        (200, fixture("ccr_pause_follow_response_8x.json"))
    );
    let (_, body) = call(&c, "GET", &format!("{f}/follower_index/_ccr/info"), None).await;
    assert_same_shape(
        &body,
        &fixture("ccr_follow_info_response_paused_8x.json"),
        "paused info",
    );
    let (st, body) = call(
        &c,
        "POST",
        &format!("{f}/follower_index/_ccr/resume_follow"),
        Some(fixture("ccr_resume_follow_request_8x.json")),
    )
    .await;
    assert_eq!(
        (st, body),
        (200, fixture("ccr_resume_follow_response_8x.json"))
    );
    call(
        &c,
        "POST",
        &format!("{f}/follower_index/_ccr/pause_follow"),
        None,
    )
    .await;
    let body = ok(&c, "POST", &format!("{f}/follower_index/_close"), None).await;
    let mut close = fixture("indices_close_response_7x_8x.json");
    close["indices"] = json!({"follower_index": {"closed": true}});
    assert_eq!(body, close);
    let (st, body) = call(
        &c,
        "POST",
        &format!("{f}/follower_index/_ccr/unfollow"),
        None,
    )
    .await;
    assert_eq!((st, body), (200, fixture("ccr_unfollow_response_8x.json")));
    let (st, body) = call(&c, "POST", &format!("{f}/follower_index/_open"), None).await;
    assert_eq!((st, body), (200, fixture("indices_open_response.json")));
    let body = ok(&c, "GET", &format!("{f}/follower_index/_count"), None).await;
    assert_same_shape(&body, &fixture("count_response.json"), "count");
    let _ = l;
    sim.shutdown().await;
}

#[tokio::test]
async fn forget_follower_matches_fixture() {
    let (sim, c, l, f) = pair("8.15.0").await;
    follow(&c, &f, "follower_index", "leader_index").await;
    let (_, settings) = call(
        &c,
        "GET",
        &format!("{f}/follower_index/_settings?flat_settings=true"),
        None,
    )
    .await;
    let uuid = settings["follower_index"]["settings"]["index.uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let req = fixture("ccr_forget_follower_request_8x.json");
    let mut body = req.clone();
    body["follower_cluster"] = json!("follower");
    body["follower_index"] = json!("follower_index");
    body["follower_index_uuid"] = json!(uuid);
    body["leader_remote_cluster"] = json!("remote_cluster");
    let (st, resp) = call(
        &c,
        "POST",
        &format!("{l}/leader_index/_ccr/forget_follower"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(
        (st, resp),
        (200, fixture("ccr_forget_follower_response_8x.json"))
    );
    // A second time the lease is gone: a per-shard failure, still 200.
    let resp = ok(
        &c,
        "POST",
        &format!("{l}/leader_index/_ccr/forget_follower"),
        Some(body),
    )
    .await;
    assert_eq!(resp["_shards"]["failed"], 1, "{resp}");
    sim.shutdown().await;
}

#[tokio::test]
async fn follow_stats_7x_shape() {
    let (sim, c, _l, f) = pair("7.17.0").await;
    follow(&c, &f, "follower_index", "leader_index").await;
    let (_, body) = call(&c, "GET", &format!("{f}/follower_index/_ccr/stats"), None).await;
    assert_same_shape(
        &body,
        &fixture("ccr_follow_stats_response_7x.json"),
        "7.x stats",
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn auto_follow_bodies_match_fixtures() {
    for (version, get_fixture) in [
        ("8.15.0", "ccr_auto_follow_get_response_8x.json"),
        ("6.8.0", "ccr_auto_follow_get_response_6x.json"),
    ] {
        let (sim, c, _l, f) = pair(version).await;
        let (st, body) = call(&c, "GET", &format!("{f}/_ccr/auto_follow"), None).await;
        assert_eq!((st, body), (200, json!({"patterns": []})));
        let mut put = json!({"remote_cluster": "remote_cluster", "leader_index_patterns": ["leader_index*"], "follow_index_pattern": "{{leader_index}}-follower"});
        if version.starts_with('8') {
            put["leader_index_exclusion_patterns"] = json!(["leader_index_001"]);
        }
        let (st, body) = call(
            &c,
            "PUT",
            &format!("{f}/_ccr/auto_follow/my_auto_follow_pattern"),
            Some(put),
        )
        .await;
        assert_eq!(
            (st, body),
            (200, fixture("ccr_auto_follow_put_response_8x.json")),
            "{version}"
        );
        let body = ok(
            &c,
            "GET",
            &format!("{f}/_ccr/auto_follow/my_auto_follow_pattern"),
            None,
        )
        .await;
        assert_eq!(body, fixture(get_fixture), "{version}");
        sim.shutdown().await;
    }
    let (sim, c, _l, f) = pair("8.15.0").await;
    let (st, body) = call(
        &c,
        "PUT",
        &format!("{f}/_ccr/auto_follow/p"),
        Some(fixture("ccr_auto_follow_put_request_8x.json")),
    )
    .await;
    assert_eq!(
        (st, body),
        (200, fixture("ccr_auto_follow_put_response_8x.json"))
    );
    let (st, body) = call(&c, "POST", &format!("{f}/_ccr/auto_follow/p/pause"), None).await;
    assert_eq!(
        (st, body),
        (200, fixture("ccr_auto_follow_pause_response_8x.json"))
    );
    let (st, body) = call(&c, "POST", &format!("{f}/_ccr/auto_follow/p/resume"), None).await;
    assert_eq!(
        (st, body),
        (200, fixture("ccr_auto_follow_resume_response_8x.json"))
    );
    let (st, body) = call(&c, "DELETE", &format!("{f}/_ccr/auto_follow/p"), None).await;
    assert_eq!(
        (st, body),
        (200, fixture("ccr_auto_follow_delete_response_8x.json"))
    );
    let (st, body) = call(&c, "GET", &format!("{f}/_ccr/auto_follow/my_pattern"), None).await;
    assert_fixture_error(
        (st, &body),
        "error_auto_follow_pattern_missing.reconstructed.json",
    );
    let (st, body) = call(
        &c,
        "DELETE",
        &format!("{f}/_ccr/auto_follow/my_pattern"),
        None,
    )
    .await;
    assert_fixture_error(
        (st, &body),
        "error_auto_follow_pattern_missing.reconstructed.json",
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn cluster_bodies_match_fixtures() {
    let sim = start([
        ClusterConfig::new("leader").version("9.1.0"),
        ClusterConfig::new("follower").remote_credentials_key(
            "my_remote_cluster",
            &ccr_sim::base64_encode(b"ccrkey:secret"),
        ),
        // The fulfilling cluster of the API-key remote (remote cluster server on HTTP + 243).
        ClusterConfig::new("fulfilling").security(Security::new().cross_cluster_key(
            "ccrkey",
            "secret",
            &["*"],
        )),
    ])
    .await;
    let c = client();
    let (l, f) = (sim.url("leader"), sim.url("follower"));
    let body = ok(&c, "GET", &format!("{l}/"), None).await;
    assert_same_shape(&body, &fixture("root_info_response_9x.json"), "root");
    assert_eq!(body["version"]["number"], "9.1.0");
    assert_eq!(body["cluster_name"], "leader");
    let body = ok(&c, "GET", &format!("{f}/_license"), None).await;
    assert_same_shape(
        &body,
        &fixture("license_get_response_trial.json"),
        "license",
    );
    assert_eq!(body["license"]["type"], "trial");

    let body = ok(
        &c,
        "PUT",
        &format!("{f}/_cluster/settings"),
        Some(fixture("cluster_put_settings_request_generic.json")),
    )
    .await;
    assert_eq!(
        body["persistent"]["indices"]["recovery"]["max_bytes_per_sec"],
        "50mb"
    );
    let body = ok(
        &c,
        "PUT",
        &format!("{f}/_cluster/settings"),
        Some(fixture("cluster_put_settings_remote_proxy_request_8x.json")),
    )
    .await;
    assert_eq!(body["acknowledged"], true);
    // Sniff remote, connected.
    add_remote(&c, &f, "test_cluster", &sim.transport_address("leader")).await;
    // An API-key proxy remote pointing at a remote cluster server port.
    let rcs = sim.cluster("fulfilling").remote_cluster_address();
    ok(&c, "PUT", &format!("{f}/_cluster/settings"), Some(json!({"persistent": {"cluster.remote.my_remote_cluster.mode": "proxy", "cluster.remote.my_remote_cluster.proxy_address": rcs}}))).await;
    let info = ok(&c, "GET", &format!("{f}/_remote/info"), None).await;
    assert_same_shape(
        &json!({"test_cluster": info["test_cluster"]}),
        &fixture("remote_info_response_sniff_8x.json"),
        "sniff",
    );
    assert_same_shape(
        &json!({"my_remote_cluster": info["my_remote_cluster"]}),
        &fixture("remote_info_response_proxy_apikey_observed_8x.json"),
        "proxy",
    );
    assert_same_shape(
        &json!({"test_cluster": info["my_remote_cluster"]}),
        &fixture("remote_info_response_proxy_apikey_8x.json"),
        "proxy",
    );
    assert_eq!(info["my_remote_cluster"]["connected"], true);
    assert_eq!(info["my_remote_cluster"]["num_proxy_sockets_connected"], 18);
    // clusterB's proxy address resolves to nothing here: configured but not connected.
    assert_eq!(info["clusterB"]["connected"], false);
    assert_eq!(info["clusterB"]["num_proxy_sockets_connected"], 0);
    assert_eq!(info["clusterB"]["skip_unavailable"], true);
    assert_eq!(
        info["clusterB"]["server_name"],
        "clusterb.es.region-b.gcp.elastic-cloud.com"
    );

    // cat indices and count.
    ok(&c, "PUT", &format!("{f}/my-index-000001"), None).await;
    let body = ok(&c, "GET", &format!("{f}/_cat/indices?format=json"), None).await;
    assert_same_shape(
        &body,
        &fixture("cat_indices_response_8x.json"),
        "cat indices",
    );
    let (st, body) = call(&c, "GET", &format!("{f}/classes/_count"), None).await;
    assert_fixture_error((st, &body), "error_index_not_found_resolver.json");
    sim.shutdown().await;
}

#[tokio::test]
async fn follower_settings_match_fixture() {
    let (sim, c, l, f) = pair("8.11.0").await;
    ok(
        &c,
        "PUT",
        &format!("{l}/foo"),
        Some(json!({"settings": {"index": {"soft_deletes": {"enabled": true}}}})),
    )
    .await;
    follow(&c, &f, "bar", "foo").await;
    let body = ok(&c, "GET", &format!("{f}/bar/_settings"), None).await;
    assert_same_shape(
        &body,
        &fixture("indices_get_settings_follower.reconstructed.json"),
        "settings",
    );
    assert_eq!(
        body["bar"]["settings"]["index"]["xpack"]["ccr"]["following_index"],
        "true"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn ccr_errors_match_fixtures() {
    let (sim, c, l, f) = pair("8.15.0").await;
    let put = |follower: &str, alias: &str, leader: &str| {
        let c = c.clone();
        let url = format!("{f}/{follower}/_ccr/follow");
        let body = json!({"remote_cluster": alias, "leader_index": leader});
        async move { call(&c, "PUT", &url, Some(body)).await }
    };
    let (st, b) = call(&c, "PUT", &format!("{f}/bar/_ccr/follow"), Some(json!({}))).await;
    assert_fixture_error(
        (st, &b),
        "error_validation_missing_fields.reconstructed.json",
    );
    let (st, b) = put("bar", "does_not_exist", "leader_index").await;
    assert_fixture_error((st, &b), "error_no_such_remote_cluster.reconstructed.json");
    let (st, b) = put("bar", "remote_cluster", "bar").await;
    assert_fixture_error(
        (st, &b),
        "error_index_not_found_ccr_action.reconstructed.json",
    );

    // An open index with the follower's name.
    call(&c, "PUT", &format!("{f}/bar"), None).await;
    let (st, b) = put("bar", "remote_cluster", "leader_index").await;
    assert_fixture_error((st, &b), "error_follower_index_exists.reconstructed.json");
    let (st, b) = call(&c, "POST", &format!("{f}/bar/_ccr/pause_follow"), None).await;
    assert_fixture_error(
        (st, &b),
        "error_pause_not_follower_7_6plus.reconstructed.json",
    );
    let (st, b) = call(&c, "POST", &format!("{f}/bar/_ccr/resume_follow"), None).await;
    assert_fixture_error((st, &b), "error_resume_not_follower.reconstructed.json");
    let (st, b) = call(&c, "POST", &format!("{f}/bar/_ccr/unfollow"), None).await;
    assert_fixture_error((st, &b), "error_unfollow_not_follower.reconstructed.json");
    call(&c, "DELETE", &format!("{f}/bar"), None).await;

    follow(&c, &f, "bar", "leader_index").await;
    let (st, b) = call(&c, "POST", &format!("{f}/bar/_ccr/resume_follow"), None).await;
    let (fs, fk, _) = fixture_error("error_resume_follow_already_active_6x7x.json");
    assert_eq!(
        (st, b["error"]["type"].as_str().unwrap()),
        (fs, fk.as_str())
    );
    assert_same_shape(
        &b,
        &fixture("error_resume_follow_already_active_6x7x.json"),
        "already active",
    );
    let (st, b) = call(&c, "POST", &format!("{f}/bar/_ccr/unfollow"), None).await;
    assert_fixture_error((st, &b), "error_unfollow_not_closed.reconstructed.json");
    call(&c, "POST", &format!("{f}/bar/_close"), None).await;
    let (st, b) = call(&c, "POST", &format!("{f}/bar/_ccr/unfollow"), None).await;
    assert_fixture_error((st, &b), "error_unfollow_not_paused.reconstructed.json");
    call(&c, "POST", &format!("{f}/bar/_ccr/pause_follow"), None).await;
    let (st, b) = call(&c, "POST", &format!("{f}/bar/_ccr/pause_follow"), None).await;
    assert_fixture_error((st, &b), "error_pause_already_paused.reconstructed.json");
    let (st, b) = call(&c, "GET", &format!("{f}/bar/_ccr/stats"), None).await;
    assert_fixture_error((st, &b), "error_follow_stats_no_tasks.reconstructed.json");
    let (st, b) = call(&c, "GET", &format!("{f}/_all/_ccr/stats"), None).await;
    assert_eq!((st, b), (200, json!({"indices": []})));

    // Unreachable remote (connections refused): license state unknown.
    ok(
        &c,
        "POST",
        &format!("{f}/_sim/remote/remote_cluster/disconnect"),
        None,
    )
    .await;
    let (st, b) = put("baz", "remote_cluster", "leader_index").await;
    let (fs, fk, _) = fixture_error("error_remote_unreachable_license_unknown.reconstructed.json");
    assert_eq!(
        (st, b["error"]["type"].as_str().unwrap()),
        (fs, fk.as_str())
    );
    assert_eq!(
        b["error"]["reason"],
        "can not fetch remote index [remote_cluster:leader_index] metadata as the license state of the remote cluster [remote_cluster] could not be determined"
    );
    assert_same_shape(
        &b,
        &fixture("error_remote_unreachable_refused.reconstructed.json"),
        "unreachable",
    );
    sim.cluster("follower")
        .connect_remote("remote_cluster")
        .unwrap();

    // Remote license basic.
    sim.cluster("leader").set_license(License::basic()).unwrap();
    let (st, b) = put("baz", "remote_cluster", "leader_index").await;
    assert_error(
        (st, &b),
        400,
        "status_exception",
        "can not fetch remote index [remote_cluster:leader_index] metadata as the remote cluster [remote_cluster] is not licensed for [ccr]; the license mode [BASIC] on cluster [remote_cluster] does not enable [ccr]",
    );
    assert_same_shape(
        &b,
        &fixture("error_remote_license_noncompliant.reconstructed.json"),
        "remote license",
    );
    sim.cluster("leader").set_license(License::trial()).unwrap();

    // Local license.
    sim.cluster("follower")
        .set_license(License::expired())
        .unwrap();
    for (m, p) in [
        ("PUT", "baz/_ccr/follow"),
        ("POST", "bar/_ccr/resume_follow"),
        ("GET", "bar/_ccr/stats"),
        ("GET", "_ccr/stats"),
        ("PUT", "_ccr/auto_follow/x"),
    ] {
        let body = match p {
            "baz/_ccr/follow" => {
                Some(json!({"remote_cluster": "remote_cluster", "leader_index": "leader_index"}))
            }
            "_ccr/auto_follow/x" => {
                Some(json!({"remote_cluster": "remote_cluster", "leader_index_patterns": ["a*"]}))
            }
            _ => None,
        };
        let (st, b) = call(&c, m, &format!("{f}/{p}"), body).await;
        assert_fixture_error(
            (st, &b),
            "error_license_noncompliant_ccr.reconstructed.json",
        );
    }
    // No license check on pause, info, auto-follow get.
    ok(&c, "GET", &format!("{f}/bar/_ccr/info"), None).await;
    ok(&c, "GET", &format!("{f}/_ccr/auto_follow"), None).await;
    let _ = l;
    sim.shutdown().await;
}

#[tokio::test]
async fn soft_deletes_error_on_7x_leader() {
    let (sim, c, l, f) = pair("7.17.0").await;
    ok(
        &c,
        "PUT",
        &format!("{l}/foo"),
        Some(json!({"settings": {"index.soft_deletes.enabled": false}})),
    )
    .await;
    let (st, b) = call(
        &c,
        "PUT",
        &format!("{f}/bar/_ccr/follow"),
        Some(json!({"remote_cluster": "remote_cluster", "leader_index": "foo"})),
    )
    .await;
    assert_fixture_error(
        (st, &b),
        "error_leader_soft_deletes_disabled.reconstructed.json",
    );
    // 8.x refuses to create such an index at all.
    let (sim8, c8, l8, _) = pair("8.15.0").await;
    let (st, b) = call(
        &c8,
        "PUT",
        &format!("{l8}/foo"),
        Some(json!({"settings": {"index.soft_deletes.enabled": false}})),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    assert!(b["error"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("Creating indices with soft-deletes disabled is no longer supported"));
    sim.shutdown().await;
    sim8.shutdown().await;
}

#[tokio::test]
async fn security_bodies_match_fixtures() {
    for (version, fx) in [
        ("8.15.0", "error_401_missing_credentials_8x.json"),
        ("7.17.0", "error_401_missing_credentials_6x7x.json"),
    ] {
        let sim = start([
            cluster("secure", Some(version)).security(Security::new().user(
                "test_ccr",
                "pw",
                Role::Monitor,
            )),
        ])
        .await;
        let c = client();
        let resp = c
            .get(format!("{}/", sim.url("secure")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let challenges: Vec<String> = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, fixture(fx), "{version}");
        let expected_header = &fixture(fx)["error"]["header"]["WWW-Authenticate"];
        let expected: Vec<String> = match expected_header {
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
            v => vec![v.as_str().unwrap().to_string()],
        };
        assert_eq!(challenges, expected);
        if version.starts_with('8') {
            let resp = c
                .put(format!("{}/bar/_ccr/follow", sim.url("secure")))
                .basic_auth("test_ccr", Some("pw"))
                .json(&json!({"remote_cluster": "a", "leader_index": "b"}))
                .send()
                .await
                .unwrap();
            let st = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            let (fs, fk, freason) =
                fixture_error("error_403_unauthorized_put_follow.reconstructed.json");
            assert_error(
                (st, &body),
                fs,
                &fk,
                // From 8.5 the roles are the effective ones (elastic/elasticsearch PR #89680).
                &freason
                    .replace("[ccruser]", "[monitor]")
                    .replace("with roles", "with effective roles"),
            );
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn replication_progress_is_visible_in_stats() {
    let (sim, c, _l, f) = pair("8.15.0").await;
    follow(&c, &f, "follower_index", "leader_index").await;
    sim.cluster("leader")
        .index_docs("leader_index", 25)
        .unwrap();
    let stats = eventually(Duration::from_secs(5), "25 operations written", || {
        let c = c.clone();
        let f = f.clone();
        async move {
            let (_, s) = call(&c, "GET", &format!("{f}/follower_index/_ccr/stats"), None).await;
            (s["indices"][0]["shards"][0]["operations_written"] == 25).then_some(s)
        }
    })
    .await;
    let shard = &stats["indices"][0]["shards"][0];
    assert_eq!(shard["leader_global_checkpoint"], 24);
    assert_eq!(shard["follower_global_checkpoint"], 24);
    assert_eq!(stats["indices"][0]["total_global_checkpoint_lag"], 0);
    assert!(shard["bytes_read"].as_u64().unwrap() > 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn leader_privileges_match_fixture() {
    let sim = start([
        ClusterConfig::new("leader").security(
            Security::new()
                .user("test_ccr", "pw", Role::Monitor)
                .user("other", "pw", Role::None),
        ),
        ClusterConfig::new("follower").security(
            Security::new()
                .user("test_ccr", "pw", Role::Superuser)
                .user("other", "pw", Role::Superuser),
        ),
    ])
    .await;
    let (leader, follower) = (sim.cluster("leader"), sim.cluster("follower"));
    leader.create_index("unallowed-index", 1).unwrap();
    let (st, _) = follower.request(
        "PUT",
        "/_cluster/settings",
        Some(json!({"persistent": {"cluster.remote.remote_cluster.seeds": [sim.transport_address("leader")]}})),
    );
    assert_eq!(st, 200);
    let c = client();
    let put = |user: &'static str, index: &'static str| {
        let c = c.clone();
        let url = format!("{}/{index}-copy/_ccr/follow", sim.url("follower"));
        async move {
            let resp = c
                .put(url)
                .basic_auth(user, Some("pw"))
                .json(&json!({"remote_cluster": "remote_cluster", "leader_index": index}))
                .send()
                .await
                .unwrap();
            let st = resp.status().as_u16();
            (st, resp.json::<Value>().await.unwrap())
        }
    };
    let (st, b) = put("other", "unallowed-index").await;
    assert_fixture_error(
        (st, &b),
        "error_insufficient_privileges_leader.reconstructed.json",
    );
    let (st, b) = put("test_ccr", "unallowed-index").await;
    assert_eq!(st, 200, "{b}");
    sim.shutdown().await;
}
