//! Index and cluster settings as Elasticsearch validates them, per version: unknown keys,
//! values, static and final settings, private and internal ones, resets, defaults, node-only
//! cluster settings, `action.destructive_requires_name` and the transient-settings warning.

use serde_json::{json, Value};

use crate::common::*;

const VERSIONS: [&str; 5] = ["6.8.23", "7.10.2", "7.17.0", "8.15.0", "9.1.0"];

/// Sends a JSON request and returns the status, the `Warning` headers and the body.
async fn call_warned(
    c: &reqwest::Client,
    method: &str,
    url: &str,
    body: Value,
) -> (u16, Vec<String>, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let resp = c
        .request(m, url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let st = resp.status().as_u16();
    let warnings = resp
        .headers()
        .get_all("warning")
        .iter()
        .map(|h| h.to_str().unwrap_or_default().to_string())
        .collect();
    let text = resp.text().await.unwrap_or_default();
    (
        st,
        warnings,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn uuid_of(c: &reqwest::Client, u: &str, index: &str) -> String {
    let s = ok(
        c,
        "GET",
        &format!("{u}/{index}/_settings?flat_settings=true"),
        None,
    )
    .await;
    s[index]["settings"]["index.uuid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn index_settings_are_validated_as_es_does() {
    for v in VERSIONS {
        let (sim, c, u) = one_with_client(v).await;
        let reason = |b: &Value| {
            b["error"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };

        // The runbook's settings, nested or flat, are known.
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex"),
            Some(json!({"settings": {"index": {"soft_deletes": {"retention": {"operations": 1024}, "enabled": true}}}})),
        )
        .await;

        // Unknown keys: ES's text, with "did you mean" when a known key is close.
        expect_error(
            &c,
            "PUT",
            &format!("{u}/a"),
            Some(json!({"settings": {"no_idea_what_you_are_talking_about": 10}})),
            (400, "illegal_argument_exception", "unknown setting [index.no_idea_what_you_are_talking_about] please check that any required plugins are installed, or check the breaking changes documentation for removed settings"),
        )
        .await;
        expect_error(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index": {"refresh_intervl": "5s"}})),
            (
                400,
                "illegal_argument_exception",
                "unknown setting [index.refresh_intervl] did you mean [index.refresh_interval]?",
            ),
        )
        .await;

        // Values: strict booleans, integer bounds, enums, time values.
        expect_error(
            &c,
            "PUT",
            &format!("{u}/a"),
            Some(json!({"settings": {"index.blocks.write": "yes"}})),
            (
                400,
                "illegal_argument_exception",
                "Failed to parse value [yes] as only [true] or [false] are allowed.",
            ),
        )
        .await;
        expect_error(
            &c,
            "PUT",
            &format!("{u}/a"),
            Some(json!({"settings": {"number_of_shards": 0}})),
            (
                400,
                "illegal_argument_exception",
                "Failed to parse value [0] for setting [index.number_of_shards] must be >= 1",
            ),
        )
        .await;
        expect_error(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.number_of_replicas": -1})),
            (
                400,
                "illegal_argument_exception",
                "Failed to parse value [-1] for setting [index.number_of_replicas] must be >= 0",
            ),
        )
        .await;
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.refresh_interval": "soon"})),
        )
        .await;
        assert_eq!(st, 400, "{v}: {b}");
        assert_eq!(
            reason(&b),
            "failed to parse setting [index.refresh_interval] with value [soon] as a time value: unit is missing or unrecognized"
        );

        // Private settings: a validation error at creation, refused on update.
        expect_error(
            &c,
            "PUT",
            &format!("{u}/a"),
            Some(json!({"settings": {"index.uuid": "abc"}})),
            (
                400,
                "validation_exception",
                "Validation Failed: 1: private index setting [index.uuid] can not be set explicitly;",
            ),
        )
        .await;
        expect_error(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.creation_date": 1})),
            (
                400,
                "illegal_argument_exception",
                "can not update private setting [index.creation_date]; this setting is managed by Elasticsearch",
            ),
        )
        .await;

        // A dynamic setting changes on the open index; null resets it to its default.
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.soft_deletes.retention.operations": 2048})),
        )
        .await;
        let s = ok(
            &c,
            "GET",
            &format!("{u}/myindex/_settings?flat_settings=true"),
            None,
        )
        .await;
        assert_eq!(
            s["myindex"]["settings"]["index.soft_deletes.retention.operations"], "2048",
            "{v}: {s}"
        );
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.soft_deletes.retention.operations": null})),
        )
        .await;
        let s = ok(
            &c,
            "GET",
            &format!("{u}/myindex/_settings?flat_settings=true&include_defaults=true"),
            None,
        )
        .await;
        assert!(
            s["myindex"]["settings"]
                .get("index.soft_deletes.retention.operations")
                .is_none(),
            "{v}: {s}"
        );
        let d = &s["myindex"]["defaults"];
        assert_eq!(
            d["index.soft_deletes.retention.operations"], "0",
            "{v}: {s}"
        );
        assert_eq!(
            d["index.soft_deletes.retention_lease.period"], "12h",
            "{v}: {s}"
        );
        assert_eq!(d["index.refresh_interval"], "1s", "{v}: {s}");
        // A named setting filters the answer.
        let s = ok(
            &c,
            "GET",
            &format!("{u}/myindex/_settings/index.soft_deletes.*?flat_settings=true"),
            None,
        )
        .await;
        let keys: Vec<&String> = s["myindex"]["settings"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, vec!["index.soft_deletes.enabled"], "{v}: {s}");
        // One setting the index does not set: omitted without defaults, under `defaults` with them, and
        // under `settings` once set (TransportGetSettingsAction, GetSettingsResponse#toXContent).
        let lease = format!("{u}/myindex/_settings/index.soft_deletes.retention_lease.period");
        let s = ok(&c, "GET", &format!("{lease}?flat_settings=true"), None).await;
        assert_eq!(s, json!({}), "{v}: {s}");
        let with_defaults = format!("{lease}?flat_settings=true&include_defaults=true");
        let s = ok(&c, "GET", &with_defaults, None).await;
        assert_eq!(
            s,
            json!({"myindex": {"settings": {}, "defaults": {"index.soft_deletes.retention_lease.period": "12h"}}}),
            "{v}: {s}"
        );
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.soft_deletes.retention_lease.period": "1h"})),
        )
        .await;
        let s = ok(&c, "GET", &with_defaults, None).await;
        assert_eq!(
            s,
            json!({"myindex": {"settings": {"index.soft_deletes.retention_lease.period": "1h"}, "defaults": {}}}),
            "{v}: {s}"
        );
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.soft_deletes.retention_lease.period": null})),
        )
        .await;

        // preserve_existing only adds what the index does not set.
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings?preserve_existing=true"),
            Some(json!({"index.number_of_replicas": 0, "index.max_result_window": 500})),
        )
        .await;
        let s = ok(
            &c,
            "GET",
            &format!("{u}/myindex/_settings?flat_settings=true"),
            None,
        )
        .await;
        assert_eq!(
            s["myindex"]["settings"]["index.number_of_replicas"], "1",
            "{v}: {s}"
        );
        assert_eq!(
            s["myindex"]["settings"]["index.max_result_window"], "500",
            "{v}: {s}"
        );

        // Group settings, and a wildcard reset of them.
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.routing.allocation.include._name": "node-1", "index.routing.allocation.exclude._ip": "10.0.0.9"})),
        )
        .await;
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.routing.allocation.*": null})),
        )
        .await;
        let s = ok(
            &c,
            "GET",
            &format!("{u}/myindex/_settings/index.routing.*?flat_settings=true"),
            None,
        )
        .await;
        // Nothing left under the name: ES omits the index (GetSettingsResponse#toXContent).
        assert_eq!(s, json!({}), "{v}: {s}");

        // Static settings: refused on an open index, accepted while it is closed.
        let uuid = uuid_of(&c, &u, "myindex").await;
        expect_error(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index": {"codec": "best_compression"}})),
            (
                400,
                "illegal_argument_exception",
                &format!("Can't update non dynamic settings [[index.codec]] for open indices [[myindex/{uuid}]]"),
            ),
        )
        .await;
        ok(&c, "POST", &format!("{u}/myindex/_close"), None).await;
        expect_error(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.codec": "zstd_please"})),
            (
                400,
                "illegal_argument_exception",
                "unknown value for [index.codec] must be one of [default, best_compression] but was: zstd_please",
            ),
        )
        .await;
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.codec": "best_compression"})),
        )
        .await;
        // Final settings: never, even closed (6.x names the index in the message).
        let kind = if v.starts_with('6') {
            "myindex"
        } else {
            "index"
        };
        expect_error(
            &c,
            "PUT",
            &format!("{u}/myindex/_settings"),
            Some(json!({"index.number_of_shards": 2})),
            (
                400,
                "illegal_argument_exception",
                &format!("final {kind} setting [index.number_of_shards], not updateable"),
            ),
        )
        .await;
        ok(&c, "POST", &format!("{u}/myindex/_open"), None).await;
        let s = ok(
            &c,
            "GET",
            &format!("{u}/myindex/_settings?flat_settings=true"),
            None,
        )
        .await;
        assert_eq!(s["myindex"]["settings"]["index.codec"], "best_compression");

        // Settings that came with a version: index.hidden from 7.7.
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{u}/hidden"),
            Some(json!({"settings": {"index.hidden": true}})),
        )
        .await;
        if v.starts_with('6') {
            assert_eq!(st, 400, "{v}: {b}");
            assert!(
                reason(&b).starts_with("unknown setting [index.hidden]"),
                "{b}"
            );
        } else {
            assert_eq!(st, 200, "{v}: {b}");
        }
        // The missing index answers before the settings are looked at.
        expect_error(
            &c,
            "PUT",
            &format!("{u}/nope/_settings"),
            Some(json!({"index.nonsense": 1})),
            (404, "index_not_found_exception", "no such index [nope]"),
        )
        .await;
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn index_blocks_stop_writes_as_es_does() {
    for v in ["6.8.23", "7.17.0", "8.15.0"] {
        let (sim, c, u) = one_with_client(v).await;
        ok(&c, "PUT", &format!("{u}/logs"), None).await;
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{u}/logs/_doc/1"),
            Some(json!({"n": 1})),
        )
        .await;
        assert_eq!(st, 201, "{v}: {b}");
        let block = |key: &'static str, value: bool| {
            let (c, u) = (c.clone(), u.clone());
            async move {
                ok(
                    &c,
                    "PUT",
                    &format!("{u}/logs/_settings"),
                    Some(json!({ key: value })),
                )
                .await;
            }
        };
        block("index.blocks.write", true).await;
        expect_error(
            &c,
            "PUT",
            &format!("{u}/logs/_doc/2"),
            Some(json!({"n": 2})),
            (
                403,
                "cluster_block_exception",
                "index [logs] blocked by: [FORBIDDEN/8/index write (api)];",
            ),
        )
        .await;
        let s = ok(&c, "GET", &format!("{u}/_cluster/state/blocks"), None).await;
        assert_eq!(
            s["blocks"]["indices"]["logs"]["8"]["description"], "index write (api)",
            "{v}: {s}"
        );
        block("index.blocks.write", false).await;
        block("index.blocks.read_only_allow_delete", true).await;
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{u}/logs/_doc/3"),
            Some(json!({"n": 3})),
        )
        .await;
        let (status, level) = if v.starts_with('6') {
            (403, "FORBIDDEN")
        } else {
            (429, "TOO_MANY_REQUESTS")
        };
        assert_error(
            (st, &b),
            status,
            "cluster_block_exception",
            &format!("index [logs] blocked by: [{level}/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block];"),
        );
        // Settings updates meet the block too, except those that lift it.
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{u}/logs/_settings"),
            Some(json!({"index.number_of_replicas": 0})),
        )
        .await;
        assert_eq!(
            (st, b["error"]["type"].as_str()),
            (status, Some("cluster_block_exception")),
            "{v}: {b}"
        );
        // Deletes pass the read-only-allow-delete block.
        let (st, b) = call(&c, "DELETE", &format!("{u}/logs/_doc/1"), None).await;
        assert_eq!(st, 200, "{v}: {b}");
        // Resetting the block lets writes in again.
        ok(
            &c,
            "PUT",
            &format!("{u}/logs/_settings"),
            Some(json!({"index.blocks.read_only_allow_delete": null})),
        )
        .await;
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{u}/logs/_doc/4"),
            Some(json!({"n": 4})),
        )
        .await;
        assert_eq!(st, 201, "{v}: {b}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn disabling_soft_deletes_per_version() {
    for (v, expect) in [
        ("6.8.23", "allowed"),
        ("7.10.2", "deprecated"),
        ("7.17.0", "deprecated"),
        ("8.15.0", "refused"),
        ("9.1.0", "refused"),
    ] {
        let (sim, c, u) = one_with_client(v).await;
        let (st, warnings, b) = call_warned(
            &c,
            "PUT",
            &format!("{u}/nosoft"),
            json!({"settings": {"index.soft_deletes.enabled": false}}),
        )
        .await;
        match expect {
            "allowed" => {
                assert_eq!(st, 200, "{v}: {b}");
                assert!(warnings.is_empty(), "{v}: {warnings:?}");
            }
            "deprecated" => {
                assert_eq!(st, 200, "{v}: {b}");
                assert_eq!(warnings.len(), 1, "{v}: {warnings:?}");
                assert!(
                    warnings[0].starts_with(&format!("299 Elasticsearch-{v}-"))
                        && warnings[0].contains("Creating indices with soft-deletes disabled is deprecated")
                        && warnings[0].contains("of index [nosoft]"),
                    "{v}: {warnings:?}"
                );
            }
            _ => assert_error(
                (st, &b),
                400,
                "illegal_argument_exception",
                "Creating indices with soft-deletes disabled is no longer supported. Please do not specify a value for setting [index.soft_deletes.enabled].",
            ),
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_follower_keeps_its_following_flag_to_the_ccr_apis() {
    let (sim, c, l, f) = pair_with_remote(Some("7.17.0"), false).await;
    ok(
        &c,
        "PUT",
        &format!("{l}/logs"),
        Some(json!({"settings": {"index.soft_deletes.enabled": true}})),
    )
    .await;
    ok(
        &c,
        "PUT",
        &format!("{f}/logs-copy/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "logs"})),
    )
    .await;
    expect_error(
        &c,
        "PUT",
        &format!("{f}/logs-copy/_settings"),
        Some(json!({"index.xpack.ccr.following_index": false})),
        (
            400,
            "illegal_argument_exception",
            "can not update internal setting [index.xpack.ccr.following_index]; this setting is managed via a dedicated API",
        ),
    )
    .await;
    // A non-replicated dynamic setting may change on the follower.
    ok(
        &c,
        "PUT",
        &format!("{f}/logs-copy/_settings"),
        Some(json!({"index.number_of_replicas": 0})),
    )
    .await;
    // Follower overrides are checked against the same registry.
    expect_error(
        &c,
        "PUT",
        &format!("{f}/other/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "logs", "settings": {"index.number_of_replicas": "lots"}})),
        (
            400,
            "illegal_argument_exception",
            "Failed to parse value [lots] for setting [index.number_of_replicas]",
        ),
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn cluster_settings_are_validated_as_es_does() {
    for v in VERSIONS {
        let (sim, c, u) = one_with_client(v).await;
        let url = format!("{u}/_cluster/settings");
        for scope in ["persistent", "transient"] {
            expect_error(
                &c,
                "PUT",
                &url,
                Some(json!({scope: {"cluster.no_such_thing": 1}})),
                (
                    400,
                    "illegal_argument_exception",
                    &format!("{scope} setting [cluster.no_such_thing], not recognized"),
                ),
            )
            .await;
            // Node settings (elasticsearch.yml only) are not dynamic.
            expect_error(
                &c,
                "PUT",
                &url,
                Some(json!({scope: {"cluster.remote.initial_connect_timeout": "10s"}})),
                (
                    400,
                    "illegal_argument_exception",
                    &format!("{scope} setting [cluster.remote.initial_connect_timeout], not dynamically updateable"),
                ),
            )
            .await;
        }
        expect_error(
            &c,
            "PUT",
            &url,
            Some(json!({"persistent": {"xpack.monitoring.collection.enabled": "yes"}})),
            (
                400,
                "illegal_argument_exception",
                "Failed to parse value [yes] as only [true] or [false] are allowed.",
            ),
        )
        .await;
        // Nothing was applied by the refused requests; the remote still reports 30s.
        let s = ok(&c, "GET", &format!("{url}?flat_settings=true"), None).await;
        assert_eq!(s["persistent"], json!({}), "{v}: {s}");

        // The CCR recovery rate, allocation, monitoring and loggers are known.
        let body = ok(
            &c,
            "PUT",
            &url,
            Some(json!({"persistent": {
                "ccr.indices.recovery.max_bytes_per_sec": "20mb",
                "cluster.routing.allocation.enable": "primaries",
                "indices.recovery.max_bytes_per_sec": "100mb",
                "action.auto_create_index": "false",
                "cluster.max_shards_per_node": 2000,
                "xpack.monitoring.collection.enabled": true,
                "logger.org.elasticsearch.xpack.ccr": "DEBUG"
            }})),
        )
        .await;
        assert_eq!(body["acknowledged"], true, "{v}: {body}");
        let s = ok(&c, "GET", &format!("{url}?flat_settings=true"), None).await;
        assert_eq!(
            s["persistent"]["ccr.indices.recovery.max_bytes_per_sec"], "20mb",
            "{v}: {s}"
        );
        assert_eq!(s["persistent"]["cluster.max_shards_per_node"], "2000");
        // Defaults of what is not set.
        ok(
            &c,
            "PUT",
            &url,
            Some(json!({"persistent": {"ccr.indices.recovery.max_bytes_per_sec": null}})),
        )
        .await;
        let s = ok(
            &c,
            "GET",
            &format!("{url}?flat_settings=true&include_defaults=true"),
            None,
        )
        .await;
        assert_eq!(
            s["defaults"]["ccr.indices.recovery.max_bytes_per_sec"], "40mb",
            "{v}: {s}"
        );
        assert_eq!(
            s["defaults"]["cluster.remote.initial_connect_timeout"], "30s",
            "{v}: {s}"
        );
        let destructive = if v.starts_with('6') || v.starts_with('7') {
            "false"
        } else {
            "true"
        };
        assert_eq!(
            s["defaults"]["action.destructive_requires_name"], destructive,
            "{v}: {s}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn transient_settings_carry_the_deprecation_warning_from_7_16() {
    for (v, warned) in [
        ("7.10.2", false),
        ("7.17.0", true),
        ("8.15.0", true),
        ("9.1.0", true),
    ] {
        let (sim, c, u) = one_with_client(v).await;
        let url = format!("{u}/_cluster/settings");
        let (st, warnings, b) = call_warned(
            &c,
            "PUT",
            &url,
            json!({"transient": {"indices.recovery.max_bytes_per_sec": "50mb"}}),
        )
        .await;
        assert_eq!(st, 200, "{v}: {b}");
        if warned {
            assert_eq!(warnings.len(), 1, "{v}: {warnings:?}");
            assert!(
                warnings[0].starts_with(&format!("299 Elasticsearch-{v}-")),
                "{warnings:?}"
            );
            assert!(
                warnings[0].ends_with("\"[transient settings removal] Updating cluster settings through transient settings is deprecated. Some Elastic products may make use of transient settings and those should not be changed. Any custom use of transient settings should be replaced by persistent settings.\""),
                "{warnings:?}"
            );
        } else {
            assert!(warnings.is_empty(), "{v}: {warnings:?}");
        }
        // Persistent settings, and an empty transient object, carry none.
        let (_, warnings, _) = call_warned(
            &c,
            "PUT",
            &url,
            json!({"persistent": {"indices.recovery.max_bytes_per_sec": "50mb"}, "transient": {}}),
        )
        .await;
        assert!(warnings.is_empty(), "{v}: {warnings:?}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn destructive_requires_name_guards_wildcard_deletes() {
    for v in ["7.17.0", "8.15.0", "9.1.0"] {
        let (sim, c, u) = one_with_client(v).await;
        let refused_by_default = !v.starts_with('7');
        let create = |name: &'static str| {
            let (c, u) = (c.clone(), u.clone());
            async move {
                ok(&c, "PUT", &format!("{u}/{name}"), None).await;
            }
        };
        create("logs-1").await;
        create("logs-2").await;
        let refused = (
            400,
            "illegal_argument_exception",
            "Wildcard expressions or all indices are not allowed",
        );
        let set = |value: bool| {
            let (c, u) = (c.clone(), u.clone());
            async move {
                ok(
                    &c,
                    "PUT",
                    &format!("{u}/_cluster/settings"),
                    Some(json!({"persistent": {"action.destructive_requires_name": value}})),
                )
                .await;
            }
        };
        if refused_by_default {
            expect_error(&c, "DELETE", &format!("{u}/logs-*"), None, refused).await;
            expect_error(&c, "DELETE", &format!("{u}/_all"), None, refused).await;
            expect_error(&c, "POST", &format!("{u}/logs-*/_close"), None, refused).await;
            set(false).await;
        } else {
            set(true).await;
            expect_error(&c, "DELETE", &format!("{u}/logs-1,logs-*"), None, refused).await;
            set(false).await;
        }
        // Allowed now: the wildcard deletes both; a concrete name always works.
        ok(&c, "DELETE", &format!("{u}/logs-*"), None).await;
        let (st, _) = call(&c, "GET", &format!("{u}/logs-1"), None).await;
        assert_eq!(st, 404, "{v}");
        create("solo").await;
        set(true).await;
        ok(&c, "DELETE", &format!("{u}/solo"), None).await;
        sim.shutdown().await;
    }
}
