//! Bad input gets the error Elasticsearch would give, never a panic.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn malformed_and_missing_bodies() {
    let (sim, c, u) = one_with_client("8.15.0").await;
    let follow = format!("{u}/x/_ccr/follow");
    let (st, b) = call_json(&c, "PUT", &follow, "{\"remote_cluster\": ").await;
    assert_error_type((st, &b), 400, "x_content_parse_exception");
    assert!(
        b["error"]["reason"].as_str().unwrap().starts_with("[1:"),
        "{b}"
    );
    let (st, b) = call_json(&c, "PUT", &follow, "").await;
    assert_error((st, &b), 400, "parse_exception", "request body is required");
    let (st, b) = call_json(&c, "PUT", &follow, "[1,2]").await;
    assert_error_type((st, &b), 400, "x_content_parse_exception");
    expect_error(
        &c,
        "PUT",
        &follow,
        Some(json!({"remote_cluster": "r", "leader_index": "l", "colour": "blue"})),
        (
            400,
            "x_content_parse_exception",
            "[1:2] [put_follow_request] unknown field [colour]",
        ),
    )
    .await;
    let (st, b) = call(
        &c,
        "PUT",
        &follow,
        Some(json!({"remote_cluster": 7, "leader_index": "l"})),
    )
    .await;
    assert_error_type((st, &b), 400, "x_content_parse_exception");
    expect_error(
        &c,
        "PUT",
        &follow,
        Some(json!({"max_read_request_operation_count": 0, "max_retry_delay": "10m"})),
        (
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: max_read_request_operation_count must be larger than 0;\
             2: [max_retry_delay] must be less than [5m] but was [10m];\
             3: remote_cluster is missing;4: leader_index is missing;",
        ),
    )
    .await;
    let (st, b) = call(
        &c,
        "PUT",
        &follow,
        Some(json!({"remote_cluster": "r", "leader_index": "l", "max_read_request_size": "lots"})),
    )
    .await;
    assert_error_type((st, &b), 400, "x_content_parse_exception");
    assert_eq!(b["error"]["caused_by"]["type"], "parse_exception");
    let (st, b) = call_json(&c, "POST", &format!("{u}/docs/_doc"), "{not json").await;
    assert_error_type((st, &b), 400, "document_parsing_exception");
    let (st, b) = call_json(
        &c,
        "PUT",
        &format!("{u}/_cluster/settings"),
        "{\"persistent\":",
    )
    .await;
    assert_eq!(st, 400, "{b}");
    let (st, b) = call(
        &c,
        "PUT",
        &format!("{u}/x/_ccr/follow?wait_for_active_shards=lots"),
        Some(json!({"remote_cluster": "r", "leader_index": "l"})),
    )
    .await;
    assert_error_type((st, &b), 400, "illegal_argument_exception");
    sim.shutdown().await;
    let (sim, c, u) = one_with_client("7.17.0").await;
    let (st, b) = call_json(&c, "POST", &format!("{u}/docs/_doc"), "{not json").await;
    assert_error_type((st, &b), 400, "mapper_parsing_exception");
    sim.shutdown().await;
}

#[tokio::test]
async fn index_names_and_existing_indices() {
    let (sim, c, u) = one_with_client("8.15.0").await;
    for (name, why) in [
        ("Upper", "must be lowercase"),
        ("_under", "must not start with '_', '-', or '+'"),
        (
            "a%2Cb",
            "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]",
        ),
        ("a%23b", "must not contain '#'"),
    ] {
        let (st, b) = call(&c, "PUT", &format!("{u}/{name}"), None).await;
        assert_eq!(
            (st, b["error"]["type"].as_str()),
            (400, Some("invalid_index_name_exception")),
            "{name}: {b}"
        );
        assert!(
            b["error"]["reason"].as_str().unwrap().ends_with(why),
            "{name}: {b}"
        );
    }
    call(&c, "PUT", &format!("{u}/dup"), None).await;
    let (st, b) = call(&c, "PUT", &format!("{u}/dup"), None).await;
    assert_error_type((st, &b), 400, "resource_already_exists_exception");
    let (st, b) = call(
        &c,
        "PUT",
        &format!("{u}/other"),
        Some(json!({"settings": {"index.colour": "blue"}})),
    )
    .await;
    assert_error_type((st, &b), 400, "illegal_argument_exception");
    assert!(b["error"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("unknown setting [index.colour]"));
    expect_error(
        &c,
        "DELETE",
        &format!("{u}/d*"),
        None,
        (
            400,
            "illegal_argument_exception",
            "Wildcard expressions or all indices are not allowed",
        ),
    )
    .await;
    let (st, b) = call(&c, "DELETE", &format!("{u}/_ccr/stats"), None).await;
    assert_eq!(
        (st, b),
        (
            405,
            json!({"error": "Incorrect HTTP method for uri [/_ccr/stats] and method [DELETE], allowed: [GET]", "status": 405})
        )
    );
    let (st, b) = call(&c, "GET", &format!("{u}/_nonsense/_things"), None).await;
    assert_eq!(
        (st, b),
        (
            400,
            json!({"error": "no handler found for uri [/_nonsense/_things] and method [GET]"})
        )
    );
    expect_error(
        &c,
        "GET",
        &format!("{u}/_nonsense"),
        None,
        (
            404,
            "index_not_found_exception",
            "no such index [_nonsense]",
        ),
    )
    .await;
    let (st, b) = call(
        &c,
        "PUT",
        &format!("{u}/dup/_settings"),
        Some(json!({"index": {"number_of_shards": 3}})),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    assert!(b["error"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("Can't update non dynamic settings [[index.number_of_shards]]"));
    ok(
        &c,
        "PUT",
        &format!("{u}/dup/_settings"),
        Some(json!({"index": {"number_of_replicas": 0}})),
    )
    .await;
    let (_, h) = call(&c, "GET", &format!("{u}/_cluster/health"), None).await;
    assert_eq!(h["status"], "green");
    sim.shutdown().await;
}

#[tokio::test]
async fn cluster_settings_validation() {
    let (sim, c, u) = one_with_client("8.15.0").await;
    let put = |body: serde_json::Value| {
        let c = c.clone();
        let u = u.clone();
        async move { call(&c, "PUT", &format!("{u}/_cluster/settings"), Some(body)).await }
    };
    let (st, b) = put(json!({"persistent": {"cluster.remote.a.seeds": ["127.0.0.1:9300"], "cluster.remote.a.mode": "proxy"}})).await;
    assert_error(
        (st, &b),
        400,
        "illegal_argument_exception",
        "Setting \"cluster.remote.a.seeds\" cannot be used with the configured \"cluster.remote.a.mode\" [required=SNIFF, configured=PROXY]",
    );
    let (st, b) = put(json!({"persistent": {"cluster.remote.a.colour": "blue"}})).await;
    assert_error(
        (st, &b),
        400,
        "illegal_argument_exception",
        "persistent setting [cluster.remote.a.colour], not recognized",
    );
    let (st, b) = put(json!({"persistent": {"cluster.remote.a.skip_unavailable": "maybe"}})).await;
    assert_eq!(st, 400, "{b}");
    let (st, b) = put(json!({"persistent": {"cluster.remote.a.seeds": ["no-port"]}})).await;
    assert_eq!(st, 400, "{b}");
    let (st, b) = put(json!({"everything": {}})).await;
    assert_error_type((st, &b), 400, "x_content_parse_exception");
    // Nothing of the failed requests was applied.
    let (_, s) = call(&c, "GET", &format!("{u}/_cluster/settings"), None).await;
    assert_eq!(s, json!({"persistent": {}, "transient": {}}));

    // Transient overrides persistent; null removes; a string seed stays a string.
    let (st, b) = put(json!({"persistent": {"cluster.remote.a.seeds": "127.0.0.1:9300"}, "transient": {"cluster.remote.a.skip_unavailable": true}})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        b["persistent"]["cluster"]["remote"]["a"]["seeds"],
        "127.0.0.1:9300"
    );
    assert_eq!(
        b["transient"]["cluster"]["remote"]["a"]["skip_unavailable"],
        "true"
    );
    let (_, info) = call(&c, "GET", &format!("{u}/_remote/info"), None).await;
    assert_eq!(info["a"]["connected"], false);
    assert_eq!(info["a"]["skip_unavailable"], true);
    let (_, s) = call(
        &c,
        "GET",
        &format!("{u}/_cluster/settings?flat_settings=true"),
        None,
    )
    .await;
    assert_eq!(s["persistent"]["cluster.remote.a.seeds"], "127.0.0.1:9300");
    let (st, _) = put(json!({"persistent": {"cluster.remote.a.seeds": null}})).await;
    assert_eq!(st, 200);
    let (_, info) = call(&c, "GET", &format!("{u}/_remote/info"), None).await;
    assert_eq!(info, json!({}));
    sim.shutdown().await;
}

#[tokio::test]
async fn bulk_and_documents() {
    let (sim, c, u) = one_with_client("8.15.0").await;
    let body = "{\"index\":{\"_index\":\"b\",\"_id\":\"1\"}}\n{\"x\":1}\n{\"create\":{\"_index\":\"b\",\"_id\":\"1\"}}\n{\"x\":2}\n{\"delete\":{\"_index\":\"b\",\"_id\":\"1\"}}\n{\"index\":{\"_index\":\"b\"}}\n{\"x\":3}\n";
    let (st, r) = call_raw(
        &c,
        "POST",
        &format!("{u}/_bulk"),
        body,
        "application/x-ndjson",
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["errors"], true);
    let items = r["items"].as_array().unwrap();
    assert_eq!(items[0]["index"]["status"], 201);
    assert_eq!(items[1]["create"]["status"], 409);
    assert_eq!(
        items[1]["create"]["error"]["type"],
        "version_conflict_engine_exception"
    );
    assert_eq!(items[2]["delete"]["result"], "deleted");
    assert_eq!(items[3]["index"]["result"], "created");
    let (_, n) = call(&c, "GET", &format!("{u}/b/_count"), None).await;
    assert_eq!(n["count"], 1);
    let (st, b) = call_raw(
        &c,
        "POST",
        &format!("{u}/_bulk"),
        "{\"index\":{\"_index\":\"b\"}}\n{\"x\":1}",
        "application/x-ndjson",
    )
    .await;
    assert_error(
        (st, &b),
        400,
        "illegal_argument_exception",
        "The bulk request must be terminated by a newline [\\n]",
    );
    let (st, b) = call_raw(
        &c,
        "POST",
        &format!("{u}/_bulk"),
        "{\"index\":{}}\n{\"x\":1}\n",
        "application/x-ndjson",
    )
    .await;
    assert_error(
        (st, &b),
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: index is missing;",
    );
    let (st, b) = call_raw(
        &c,
        "POST",
        &format!("{u}/_bulk"),
        "garbage\n",
        "application/x-ndjson",
    )
    .await;
    assert_error_type((st, &b), 400, "illegal_argument_exception");
    // GET and DELETE by id.
    call(&c, "PUT", &format!("{u}/b/_doc/k"), Some(json!({"v": 1}))).await;
    let (st, d) = call(&c, "PUT", &format!("{u}/b/_doc/k"), Some(json!({"v": 2}))).await;
    assert_eq!(
        (st, d["result"].as_str(), d["_version"].as_u64()),
        (200, Some("updated"), Some(2))
    );
    let (st, d) = call(&c, "GET", &format!("{u}/b/_doc/k"), None).await;
    assert_eq!((st, d["_source"].clone()), (200, json!({"v": 2})));
    ok(&c, "DELETE", &format!("{u}/b/_doc/k"), None).await;
    let (st, d) = call(&c, "GET", &format!("{u}/b/_doc/k"), None).await;
    assert_eq!((st, d["found"].clone()), (404, json!(false)));
    // Closed indices refuse counts.
    call(&c, "POST", &format!("{u}/b/_close"), None).await;
    let (st, b) = call(&c, "GET", &format!("{u}/b/_count"), None).await;
    assert_error_type((st, &b), 400, "index_closed_exception");
    // filter_path and pretty.
    let (_, r) = call(&c, "GET", &format!("{u}/?filter_path=version.number"), None).await;
    assert_eq!(r, json!({"version": {"number": "8.15.0"}}));
    sim.shutdown().await;
}

#[tokio::test]
async fn bodies_need_a_known_content_type() {
    let (sim, c, u) = one_with_client("8.15.0").await;
    let (st, b) = call_raw(
        &c,
        "PUT",
        &format!("{u}/x"),
        "{}",
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(
        (st, b),
        (
            406,
            json!({"error": "Content-Type header [application/x-www-form-urlencoded] is not supported", "status": 406})
        )
    );
    // A versioned body needs a versioned Accept (RestCompatibleVersionHelper).
    let vnd = "application/vnd.elasticsearch+json; compatible-with=8";
    let resp = c
        .put(format!("{u}/x"))
        .header("content-type", vnd)
        .header("accept", vnd)
        .body("{}")
        .send()
        .await
        .expect("PUT /x");
    assert_eq!(resp.status().as_u16(), 200);
    let (st, _) = call_raw(
        &c,
        "POST",
        &format!("{u}/x/_doc"),
        "{\"a\":1}",
        "application/json; charset=UTF-8",
    )
    .await;
    assert_eq!(st, 201);
    sim.shutdown().await;
}

#[tokio::test]
async fn odd_requests_never_break_the_server() {
    let (sim, c, u) = one_with_client("8.15.0").await;
    let paths = [
        "/",
        "/%",
        "/%zz",
        "/a/b/c/d/e/f",
        "/_ccr",
        "/_ccr/auto_follow/a/b/c",
        "/x/_ccr/follow",
        "/x/_ccr/stats",
        "/,/_ccr/stats",
        "/*/_count",
        "/_all/_settings",
        "/x/_doc/",
        "/x/_doc/%00",
        "/_cat/indices/*",
        "/_cluster/health/nope",
        "/_sim",
        "/_sim/remote//connect",
        "/x/_search?size=-1",
        "/x/_search?size=99999999999999999999",
        "/x/_search?from=18446744073709551615&size=1",
        "/_cluster/settings?flat_settings",
        "/%E2%98%83",
        "/x/_ccr/forget_follower",
    ];
    let bodies = [
        "",
        "{}",
        "[]",
        "null",
        "{\"a\":",
        "\u{2603}",
        "{\"settings\":{\"index\":{\"number_of_shards\":\"many\"}}}",
        "{\"remote_cluster\":[],\"leader_index\":{}}",
    ];
    for m in ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"] {
        for p in paths {
            for b in bodies {
                let resp = c
                    .request(
                        reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                        format!("{u}{p}"),
                    )
                    .header("content-type", "application/json")
                    .body(b.to_string())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{m} {p} {b}: {e}"));
                let st = resp.status().as_u16();
                // 500 is only the (documented) snapshot_restore_exception of put follow.
                assert!(st < 500, "{m} {p} {b} -> {st}");
            }
        }
    }
    let (st, _) = call(&c, "GET", &format!("{u}/"), None).await;
    assert_eq!(st, 200, "still answering");
    sim.shutdown().await;
}
