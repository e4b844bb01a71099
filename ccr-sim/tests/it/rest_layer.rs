//! Elasticsearch's REST layer (contract §24): consumed query parameters, bodies on body-less
//! handlers, HEAD/405/OPTIONS, `filter_path`, compression, media types, strict booleans and
//! `X-Opaque-Id`, over real HTTP on the versions each applies to.

use std::io::{Read, Write};
use std::time::Duration;

use crate::common::*;
use ccr_sim::Sim;
use serde_json::{json, Value};

const VERSIONS: [&str; 5] = ["6.8.23", "7.10.2", "7.17.0", "8.15.0", "9.1.0"];

/// Sends `method url` with `headers` and `body`; returns status, headers and raw bytes.
async fn raw(
    c: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = c.request(m, url);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    if let Some(b) = body {
        rb = rb.body(b);
    }
    let resp = rb
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let h = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body").to_vec();
    (status, h, bytes)
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().expect("ASCII header"))
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// A leader/follower pair on `version` with follower `dst` of leader index `src`.
async fn followed(version: &str) -> (Sim, reqwest::Client, String) {
    let (sim, c, l, f) = pair_with_remote(Some(version), true).await;
    ok(
        &c,
        "PUT",
        &format!("{l}/src"),
        Some(
            json!({"settings": {"index.soft_deletes.enabled": true, "index.number_of_shards": 1}}),
        ),
    )
    .await;
    ok(
        &c,
        "PUT",
        &format!("{f}/dst/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "src"})),
    )
    .await;
    // Past the remote recovery of the (empty) leader, so the shard tasks run.
    sim.advance(Duration::from_millis(50)).unwrap();
    (sim, c, f)
}

#[tokio::test]
async fn unknown_parameters_are_refused_on_every_version() {
    for v in VERSIONS {
        let (sim, c, u) = one_with_client(v).await;
        expect_error(
            &c,
            "GET",
            &format!("{u}/_ccr/stats?foo=bar"),
            None,
            (
                400,
                "illegal_argument_exception",
                "request [/_ccr/stats] contains unrecognized parameter: [foo]",
            ),
        )
        .await;
        // Plural, sorted, with Lucene-Levenshtein suggestions.
        expect_error(
            &c,
            "GET",
            &format!("{u}/_remote/info?prety&foo=1"),
            None,
            (
                400,
                "illegal_argument_exception",
                "request [/_remote/info] contains unrecognized parameters: [foo], [prety] -> did you mean [pretty]?",
            ),
        )
        .await;
        expect_error(
            &c,
            "GET",
            &format!("{u}/_cluster/health?wait_for_statuses=green"),
            None,
            (
                400,
                "illegal_argument_exception",
                "request [/_cluster/health] contains unrecognized parameter: [wait_for_statuses] -> did you mean any of [wait_for_status, wait_for_nodes, wait_for_events, wait_for_active_shards]?",
            ),
        )
        .await;
        // The channel's parameters are accepted everywhere.
        let (st, b) = call(
            &c,
            "GET",
            &format!("{u}/_ccr/stats?human&error_trace=false&filter_path=auto_follow_stats"),
            None,
        )
        .await;
        assert_eq!(st, 200, "{v}: {b}");
        // Handler parameters are accepted.
        let (st, b) = call(
            &c,
            "GET",
            &format!("{u}/_cluster/health?wait_for_status=yellow&timeout=1s&level=indices"),
            None,
        )
        .await;
        assert_eq!(st, 200, "{v}: {b}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn master_timeout_on_ccr_apis_only_from_8_13() {
    for (v, accepted) in [
        ("6.8.23", false),
        ("7.17.0", false),
        ("8.12.0", false),
        ("8.13.0", true),
        ("9.1.0", true),
    ] {
        let (sim, c, f) = followed(v).await;
        let url = format!("{f}/dst/_ccr/pause_follow?master_timeout=30s");
        let (st, b) = call(&c, "POST", &url, None).await;
        if accepted {
            assert_eq!(st, 200, "{v}: {b}");
        } else {
            assert_error(
                (st, &b),
                400,
                "illegal_argument_exception",
                "request [/dst/_ccr/pause_follow] contains unrecognized parameter: [master_timeout]",
            );
        }
        // `timeout` is not a pause-follow parameter on any version.
        let (st, b) = call(
            &c,
            "POST",
            &format!("{f}/dst/_ccr/pause_follow?timeout=1s"),
            None,
        )
        .await;
        assert_error_type((st, &b), 400, "illegal_argument_exception");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn bodies_on_bodyless_handlers_are_refused() {
    for v in ["6.8.23", "8.15.0", "9.1.0"] {
        let (sim, c, f) = followed(v).await;
        let (st, b) = call(
            &c,
            "POST",
            &format!("{f}/dst/_ccr/pause_follow"),
            Some(json!({})),
        )
        .await;
        assert_error(
            (st, &b),
            400,
            "illegal_argument_exception",
            "request [POST /dst/_ccr/pause_follow] does not support having a body",
        );
        let (st, b) = call(
            &c,
            "GET",
            &format!("{f}/_cluster/health"),
            Some(json!({"a": 1})),
        )
        .await;
        assert_error(
            (st, &b),
            400,
            "illegal_argument_exception",
            "request [GET /_cluster/health] does not support having a body",
        );
        // Resume reads its (optional) body; pause without one still works.
        ok(&c, "POST", &format!("{f}/dst/_ccr/pause_follow"), None).await;
        ok(
            &c,
            "POST",
            &format!("{f}/dst/_ccr/resume_follow"),
            Some(json!({})),
        )
        .await;
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn head_405_options_and_no_handler() {
    let (sim, c, u) = one_with_client("8.15.0").await;
    ok(&c, "PUT", &format!("{u}/logs"), None).await;
    // HEAD only where ES registers it.
    let (st, h, body) = raw(&c, "HEAD", &format!("{u}/_ccr/stats"), &[], None).await;
    assert_eq!((st, header(&h, "allow")), (405, Some("GET")));
    assert!(body.is_empty());
    for (path, status) in [("/", 200), ("/logs", 200), ("/nosuch", 404)] {
        let (st, _, _) = raw(&c, "HEAD", &format!("{u}{path}"), &[], None).await;
        assert_eq!(st, status, "HEAD {path}");
    }
    // 405 lists registered methods only, with the query string, and an Allow header.
    let (st, h, body) = raw(&c, "DELETE", &format!("{u}/_ccr/stats?x=1"), &[], None).await;
    assert_eq!((st, header(&h, "allow")), (405, Some("GET")));
    assert_eq!(
        json_of(&body),
        json!({"error": "Incorrect HTTP method for uri [/_ccr/stats?x=1] and method [DELETE], allowed: [GET]", "status": 405})
    );
    let (st, h, _) = raw(&c, "POST", &format!("{u}/"), &[], None).await;
    assert_eq!((st, header(&h, "allow")), (405, Some("GET,HEAD")));
    // OPTIONS: 200, empty text/plain, Allow.
    let (st, h, body) = raw(&c, "OPTIONS", &format!("{u}/_ccr/auto_follow/p"), &[], None).await;
    assert_eq!(st, 200);
    assert!(body.is_empty());
    assert_eq!(header(&h, "allow"), Some("GET,PUT,DELETE"));
    assert_eq!(
        header(&h, "content-type"),
        Some("text/plain; charset=UTF-8")
    );
    // No handler: 400 with the query string and no `status`.
    let (st, _, body) = raw(&c, "GET", &format!("{u}/_foo/bar?x=1"), &[], None).await;
    assert_eq!(st, 400);
    assert_eq!(
        json_of(&body),
        json!({"error": "no handler found for uri [/_foo/bar?x=1] and method [GET]"})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn filter_path_spares_errors_and_supports_exclusions() {
    let (sim, c, f) = followed("8.15.0").await;
    let (st, b) = call(
        &c,
        "GET",
        &format!("{f}/nosuch/_ccr/stats?filter_path=indices.index"),
        None,
    )
    .await;
    assert_eq!(st, 404);
    assert!(b["error"]["root_cause"].is_array(), "{b}");
    assert!(b["error"]["reason"].is_string(), "{b}");
    let full = ok(&c, "GET", &format!("{f}/_ccr/stats"), None).await;
    assert!(full["follow_stats"]["indices"][0]["shards"][0]["read_exceptions"].is_array());
    let trimmed = ok(
        &c,
        "GET",
        &format!("{f}/_ccr/stats?filter_path=-follow_stats.indices.shards.read_exceptions,-auto_follow_stats"),
        None,
    )
    .await;
    assert!(trimmed.get("auto_follow_stats").is_none(), "{trimmed}");
    let shard = &trimmed["follow_stats"]["indices"][0]["shards"][0];
    assert!(shard.get("read_exceptions").is_none(), "{shard}");
    assert_eq!(shard["follower_index"], "dst");
    // Includes and excludes together: the included part minus the excluded subtrees.
    let mixed = ok(
        &c,
        "GET",
        &format!("{f}/_ccr/stats?filter_path=follow_stats.indices,-follow_stats.indices.shards"),
        None,
    )
    .await;
    assert_eq!(
        mixed,
        json!({"follow_stats": {"indices": [{"index": "dst", "total_global_checkpoint_lag": 0}]}})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn gzip_both_ways_and_the_compression_switch() {
    let (sim, c, f) = followed("8.15.0").await;
    let url = format!("{f}/_ccr/stats");
    let (_, _, plain) = raw(&c, "GET", &url, &[], None).await;
    let (st, h, zipped) = raw(&c, "GET", &url, &[("accept-encoding", "gzip")], None).await;
    assert_eq!((st, header(&h, "content-encoding")), (200, Some("gzip")));
    assert_eq!(json_of(&gunzip(&zipped)), json_of(&plain));
    let (_, h, deflated) = raw(&c, "GET", &url, &[("accept-encoding", "deflate")], None).await;
    assert_eq!(header(&h, "content-encoding"), Some("deflate"));
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&deflated[..])
        .read_to_end(&mut out)
        .expect("zlib");
    assert_eq!(json_of(&out), json_of(&plain));
    // Errors are compressed too; identity when not asked.
    let (_, h, body) = raw(
        &c,
        "GET",
        &format!("{f}/nosuch"),
        &[("accept-encoding", "gzip")],
        None,
    )
    .await;
    assert_eq!(header(&h, "content-encoding"), Some("gzip"));
    assert_eq!(json_of(&gunzip(&body))["status"], 404);
    let (_, h, _) = raw(&c, "GET", &url, &[("accept-encoding", "identity")], None).await;
    assert_eq!(header(&h, "content-encoding"), None);
    // A gzip request body is inflated before parsing.
    let doc = gzip(br#"{"n": 1}"#);
    let (st, _, body) = raw(
        &c,
        "POST",
        &format!("{f}/plain/_doc"),
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        Some(doc),
    )
    .await;
    assert_eq!(st, 201, "{}", String::from_utf8_lossy(&body));
    let (st, _, body) = raw(
        &c,
        "POST",
        &format!("{f}/plain/_doc"),
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        Some(b"not gzip".to_vec()),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(json_of(&body)["error"]["type"], "decompression_exception");
    sim.shutdown().await;

    let sim = start([cluster("a", None).http_compression(false)]).await;
    let (st, h, _) = raw(
        &c,
        "GET",
        &format!("{}/", sim.url("a")),
        &[("accept-encoding", "gzip")],
        None,
    )
    .await;
    assert_eq!((st, header(&h, "content-encoding")), (200, None));
    sim.shutdown().await;
}

#[tokio::test]
async fn yaml_and_cbor_bodies_and_response_formats() {
    let (sim, c, u) = one_with_client("8.15.0").await;
    let (st, _, body) = raw(
        &c,
        "PUT",
        &format!("{u}/logs"),
        &[("content-type", "application/yaml")],
        Some(b"settings:\n  index.number_of_shards: 2\n".to_vec()),
    )
    .await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    // Without ?format or Accept, ES answers in the request's own type.
    assert!(String::from_utf8_lossy(&body).starts_with("---\n"));
    let s = ok(
        &c,
        "GET",
        &format!("{u}/logs/_settings?flat_settings"),
        None,
    )
    .await;
    assert_eq!(s["logs"]["settings"]["index.number_of_shards"], "2");
    let mut cbor = Vec::new();
    ciborium::ser::into_writer(&json!({"n": 7}), &mut cbor).expect("cbor");
    let (st, h, body) = raw(
        &c,
        "PUT",
        &format!("{u}/logs/_doc/1"),
        &[("content-type", "application/cbor")],
        Some(cbor),
    )
    .await;
    assert_eq!(
        (st, header(&h, "content-type")),
        (201, Some("application/cbor"))
    );
    let v: Value = ciborium::de::from_reader(&body[..]).expect("CBOR reply");
    assert_eq!(v["result"], "created");
    // ?format wins over Accept.
    let (_, h, body) = raw(
        &c,
        "GET",
        &format!("{u}/?format=yaml"),
        &[("accept", "application/json")],
        None,
    )
    .await;
    assert_eq!(header(&h, "content-type"), Some("application/yaml"));
    assert!(String::from_utf8_lossy(&body).contains("tagline:"));
    let (_, h, _) = raw(
        &c,
        "GET",
        &format!("{u}/"),
        &[("accept", "application/yaml")],
        None,
    )
    .await;
    assert_eq!(header(&h, "content-type"), Some("application/yaml"));
    // Bulk streams only JSON (and SMILE). The error comes in the request's type unless the
    // client asks otherwise.
    let (st, _, body) = raw(
        &c,
        "POST",
        &format!("{u}/_bulk"),
        &[
            ("content-type", "application/yaml"),
            ("accept", "application/json"),
        ],
        Some(b"a: 1\n".to_vec()),
    )
    .await;
    assert_eq!(st, 406);
    assert_eq!(
        json_of(&body),
        json!({"error": "Content-Type [yaml] does not support stream parsing. Use JSON or SMILE instead", "status": 406})
    );
    let (st, _, body) = raw(&c, "PUT", &format!("{u}/other"), &[], Some(b"{}".to_vec())).await;
    assert_eq!(
        (st, json_of(&body)),
        (
            406,
            json!({"error": "Content-Type header is missing", "status": 406})
        )
    );
    sim.shutdown().await;
}

const VND: &str = "application/vnd.elasticsearch+json";

#[tokio::test]
async fn compatible_with_matrix() {
    for (v, accepted, refused) in [
        ("7.17.0", vec![7u32], vec![6u32, 8]),
        ("8.15.0", vec![7, 8], vec![6, 9]),
        ("9.1.0", vec![8, 9], vec![7, 10]),
    ] {
        let (sim, c, u) = one_with_client(v).await;
        let major: u32 = v.split('.').next().unwrap().parse().unwrap();
        let minimum = if major >= 8 { major - 1 } else { major };
        for n in accepted {
            let mt = format!("{VND};compatible-with={n}");
            let (st, h, _) = raw(&c, "GET", &format!("{u}/"), &[("accept", &mt)], None).await;
            assert_eq!(st, 200, "{v} accepts {n}");
            let answered = if major >= 8 {
                mt.clone()
            } else {
                "application/json; charset=UTF-8".to_string()
            };
            assert_eq!(header(&h, "content-type"), Some(answered.as_str()), "{v}");
            let (st, _, body) = raw(
                &c,
                "PUT",
                &format!("{u}/i{n}"),
                &[("accept", &mt), ("content-type", &mt)],
                Some(b"{}".to_vec()),
            )
            .await;
            assert_eq!(st, 200, "{v}: {}", String::from_utf8_lossy(&body));
        }
        for n in refused {
            let mt = format!("{VND};compatible-with={n}");
            let (st, _, body) = raw(&c, "GET", &format!("{u}/"), &[("accept", &mt)], None).await;
            let b = json_of(&body);
            assert_error(
                (st, &b),
                400,
                "media_type_header_exception",
                "Invalid media-type value on headers [Accept, Content-Type]",
            );
            assert_eq!(b["error"]["caused_by"]["type"], "status_exception");
            assert_eq!(
                b["error"]["caused_by"]["reason"],
                format!("Accept version must be either version {major} or {minimum}, but found {n}. Accept={mt}")
            );
        }
        sim.shutdown().await;
    }
    // Mismatched versions, and a versioned body with an unversioned Accept.
    let (sim, c, u) = one_with_client("8.15.0").await;
    let (a7, c8) = (
        format!("{VND};compatible-with=7"),
        format!("{VND};compatible-with=8"),
    );
    let (st, _, body) = raw(
        &c,
        "PUT",
        &format!("{u}/x"),
        &[("accept", &a7), ("content-type", &c8)],
        Some(b"{}".to_vec()),
    )
    .await;
    let b = json_of(&body);
    assert_eq!(st, 400);
    assert_eq!(
        b["error"]["caused_by"]["reason"],
        format!("A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Accept={a7}, Content-Type={c8}")
    );
    let (st, _, body) = raw(
        &c,
        "PUT",
        &format!("{u}/x"),
        &[("accept", "application/json"), ("content-type", &c8)],
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        json_of(&body)["error"]["caused_by"]["reason"],
        format!("A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version. Accept=application/json, Content-Type={c8}")
    );
    let (st, _, body) = raw(&c, "GET", &format!("{u}/"), &[("accept", "nonsense")], None).await;
    let b = json_of(&body);
    assert_error(
        (st, &b),
        400,
        "media_type_header_exception",
        "Invalid media-type value on headers [Accept]",
    );
    assert_eq!(
        b["error"]["caused_by"]["reason"],
        "invalid media-type [nonsense]"
    );
    sim.shutdown().await;
    // Before REST API compatibility (7.13) the vendor type is unknown: a 406 for a body.
    let (sim, c, u) = one_with_client("7.12.1").await;
    let (st, _, body) = raw(
        &c,
        "PUT",
        &format!("{u}/x"),
        &[("content-type", &c8)],
        Some(b"{}".to_vec()),
    )
    .await;
    assert_eq!(
        (st, json_of(&body)),
        (
            406,
            json!({"error": format!("Content-Type header [{c8}] is not supported"), "status": 406})
        )
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn strict_booleans_pretty_and_opaque_id() {
    for v in ["6.8.23", "8.15.0"] {
        let (sim, c, u) = one_with_client(v).await;
        expect_error(
            &c,
            "GET",
            &format!("{u}/?pretty=1"),
            None,
            (
                400,
                "illegal_argument_exception",
                "Failed to parse value [1] as only [true] or [false] are allowed.",
            ),
        )
        .await;
        expect_error(
            &c,
            "GET",
            &format!("{u}/_cluster/settings?flat_settings=yes"),
            None,
            (
                400,
                "illegal_argument_exception",
                "Failed to parse value [yes] as only [true] or [false] are allowed.",
            ),
        )
        .await;
        let text = get_text(&c, &format!("{u}/?pretty")).await;
        assert!(text.ends_with("}\n"), "{text:?}");
        for (path, status) in [("/", 200), ("/nosuch", 404), ("/_foo/bar", 400)] {
            let (st, h, _) = raw(
                &c,
                "GET",
                &format!("{u}{path}"),
                &[("x-opaque-id", "req-42")],
                None,
            )
            .await;
            assert_eq!(st, status, "{path}");
            assert_eq!(header(&h, "x-opaque-id"), Some("req-42"), "{v} {path}");
        }
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn parameters_are_checked_before_authorization() {
    use ccr_sim::{base64_encode, Role, Security};
    let sim =
        start(
            [cluster("es", Some("8.15.0")).security(Security::new().user(
                "nobody",
                "pw",
                Role::None,
            ))],
        )
        .await;
    let c = client();
    let auth = format!("Basic {}", base64_encode(b"nobody:pw"));
    let url = format!("{}/_ccr/stats", sim.url("es"));
    let (st, _, body) = raw(
        &c,
        "GET",
        &format!("{url}?foo=1"),
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(st, 400, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        json_of(&body)["error"]["reason"],
        "request [/_ccr/stats] contains unrecognized parameter: [foo]"
    );
    let (st, _, body) = raw(&c, "GET", &url, &[("authorization", &auth)], None).await;
    assert_eq!(st, 403, "{}", String::from_utf8_lossy(&body));
    sim.shutdown().await;
}
