//! Promotion of a replicated data stream against the simulator on its deterministic clock: a stream auto-followed
//! across two rollovers, writes stopped, `promote` run as a process (dry run first): afterwards the stream on the
//! follower cluster takes writes and rolls over, no backing index is a follower and every backing index kept its
//! documents. Without a matching data-stream template on the follower cluster it is refused with no mutating
//! request sent, as when a backing index is beyond `health.max_promote_lag` or the cluster is older than 7.9.
//! Interrupted after every step, or with the first steps done by hand, a re-run converges; a lost answer to
//! promote or rollover is re-read, never re-sent.

use std::ops::ControlFlow;
use std::time::Duration;

use ccr_sentinel::act::runbook::Step;
use ccr_sentinel::act::runbook::{self, DsStep, DsStepReport, PromoteOptions, RunbookStore};
use ccr_sentinel::act::Executor;
use ccr_sentinel::config::ClusterKey;
use ccr_sim::Sim;
use serde_json::json;

use crate::common::policy::{cli, connected_pair, policy, stdout, text};
use crate::common::{daemon_config, write_config};

const STREAM: &str = "logs-app";

fn settle(sim: &Sim) {
    for _ in 0..4 {
        sim.advance(Duration::from_secs(2)).unwrap();
    }
}

/// A connected pair (deterministic clock) whose follower auto-follows `logs-*` from the leader; the leader's
/// stream `logs-app` was created after the pattern and rolled over twice, each generation written to and
/// followed, then writes stopped. With `template`, the follower cluster has a data-stream template for
/// `logs-*`. Returns the leader's backing indices, oldest first.
async fn followed_stream(template: bool) -> (Sim, Vec<String>) {
    let sim = connected_pair(true).await;
    let (leader, follower) = (sim.cluster("leader"), sim.cluster("follower"));
    leader
        .put_data_stream_template("logs", &["logs-*"], 100)
        .unwrap();
    if template {
        follower
            .put_data_stream_template("logs", &["logs-*"], 100)
            .unwrap();
    }
    let (status, body) = follower.request(
        "PUT",
        "/_ccr/auto_follow/logs",
        Some(json!({"remote_cluster": "leader", "leader_index_patterns": ["logs-*"]})),
    );
    assert_eq!(status, 200, "{body}");
    leader.create_data_stream(STREAM).unwrap();
    leader.index_docs(STREAM, 3).unwrap();
    settle(&sim);
    for round in 0..2u64 {
        leader.rollover(STREAM).unwrap();
        leader.index_docs(STREAM, 4 + round).unwrap();
        settle(&sim);
    }
    let backing = leader.backing_indices(STREAM).unwrap();
    assert_eq!(backing.len(), 3);
    assert_eq!(follower.backing_indices(STREAM).unwrap(), backing);
    for b in &backing {
        assert_eq!(follower.doc_count(b), leader.doc_count(b), "{b}");
    }
    assert_eq!(follower.data_stream_replicated(STREAM), Some(true));
    (sim, backing)
}

/// Names of the follower cluster's indices that are followers.
fn followers(sim: &Sim) -> Vec<String> {
    let (status, body) = sim
        .cluster("follower")
        .request("GET", "/_all/_ccr/info", None);
    assert_eq!(status, 200, "{body}");
    body["follower_indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["follower_index"].as_str().unwrap().to_string())
        .collect()
}

/// The unfollow runbook's steps on an active follower, as data-stream steps.
fn unfollow_steps(index: &str) -> Vec<DsStep> {
    [Step::Pause, Step::Close, Step::Unfollow, Step::Open]
        .into_iter()
        .map(|step| DsStep::Index {
            index: index.to_string(),
            step,
        })
        .collect()
}

fn config(sim: &Sim, dir: &std::path::Path) -> String {
    daemon_config(sim, &policy(dir, ""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_of_an_auto_followed_stream_as_a_process() {
    let (sim, backing) = followed_stream(true).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(&sim, dir.path()));
    let follower = sim.cluster("follower");

    // Dry run: every step printed in ES's order, nothing sent.
    follower.reset_requests();
    let dry = cli(&["promote", STREAM, "--dry-run"], &path).await;
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert_eq!(follower.requests().mutating, 0, "{:?}", follower.requests());
    let out = stdout(&dry);
    assert!(
        out.contains(&format!("data stream `{STREAM}`")),
        "{}",
        text(&dry)
    );
    let at = |needle: &str| {
        out.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` missing:\n{out}"))
    };
    let (first, promote, rollover, last) = (
        at(&format!("unfollow {}", backing[0])),
        at("promote "),
        at("rollover "),
        at(&format!("unfollow {}", backing[2])),
    );
    assert!(
        first < promote && promote < rollover && rollover < last,
        "{out}"
    );
    assert_eq!(followers(&sim).len(), 3);

    let run = cli(&["promote", STREAM], &path).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        stdout(&run).contains("is a regular stream"),
        "{}",
        text(&run)
    );
    assert!(followers(&sim).is_empty(), "{:?}", followers(&sim));
    assert_eq!(follower.data_stream_replicated(STREAM), Some(false));
    // The leader's generations kept their documents; the new write index is the follower's own.
    let leader = sim.cluster("leader");
    let now = follower.backing_indices(STREAM).unwrap();
    assert_eq!(now.len(), 4, "{now:?}");
    assert_eq!(&now[..3], &backing[..]);
    for b in &backing {
        assert_eq!(follower.doc_count(b), leader.doc_count(b), "{b}");
    }
    // Writes to the stream are accepted and land in the new write index; the stream rolls over.
    let (status, body) = follower.request(
        "POST",
        &format!("/{STREAM}/_doc"),
        Some(json!({"@timestamp": 1})),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["_index"], now[3]);
    let next = follower.rollover(STREAM).unwrap();
    assert!(!now.contains(&next), "{next}");
    // A second run finds nothing to do.
    let again = cli(&["promote", STREAM], &path).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(stdout(&again).contains("nothing to do"), "{}", text(&again));
    assert!(
        RunbookStore::new(Some(dir.path())).in_progress().is_empty(),
        "no record left behind"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_local_data_stream_template_promote_is_refused_and_changes_nothing() {
    let (sim, _) = followed_stream(false).await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(&sim, dir.path()));
    let (leader, follower) = (sim.cluster("leader"), sim.cluster("follower"));
    leader.reset_requests();
    follower.reset_requests();
    let out = cli(&["promote", STREAM, "--force"], &path).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no index template on the follower cluster matches data stream `logs-app`"),
        "{}",
        text(&out)
    );
    assert!(err.contains("nothing was changed"), "{}", text(&out));
    assert_eq!(follower.requests().mutating, 0, "{:?}", follower.requests());
    assert_eq!(leader.requests().mutating, 0, "{:?}", leader.requests());
    assert!(follower.requests().total > 0, "it looked");
    assert_eq!(followers(&sim).len(), 3);
    assert_eq!(follower.data_stream_replicated(STREAM), Some(true));
    sim.shutdown().await;
}

fn options() -> PromoteOptions {
    PromoteOptions {
        wait: false,
        force: false,
        interval: Duration::from_millis(50),
        stable_polls: 1,
        timeout: Duration::from_secs(5),
        stop: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_after_every_step_a_re_run_converges() {
    let (sim, backing) = followed_stream(true).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ccr_sentinel::config::from_toml_str(&config(&sim, dir.path())).unwrap();
    let exec = Executor::new(ccr_sentinel::es::Clients::from_config(&cfg).unwrap());
    let store = RunbookStore::new(cfg.policy.state_dir.as_deref());
    let ctx = runbook::Ctx {
        exec: &exec,
        cfg: &cfg,
        store: &store,
    };
    // Each run stops after its first step, as a crash right after it would.
    let mut done: Vec<DsStep> = Vec::new();
    for run in 0..30 {
        let mut hook = |_: &DsStepReport| ControlFlow::Break(());
        let out = runbook::promote_data_stream(ctx, "follower", STREAM, &options(), &mut hook)
            .await
            .unwrap();
        assert!(!out.refused, "run {run}: {out:?}");
        if out.finished {
            break;
        }
        assert_eq!(out.steps.len(), 1, "run {run}: {out:?}");
        assert_ne!(out.steps[0].result, "failed", "run {run}: {out:?}");
        done.push(out.steps[0].step.clone());
        // Meanwhile a running daemon leaves every backing index alone.
        let busy = store.in_progress();
        for b in &backing {
            assert!(
                busy.contains(&ClusterKey::new("follower", b.as_str())),
                "run {run}: {b} not in {busy:?}"
            );
        }
    }
    let want: Vec<DsStep> = [
        unfollow_steps(&backing[0]),
        unfollow_steps(&backing[1]),
        vec![DsStep::Promote, DsStep::Rollover],
        unfollow_steps(&backing[2]),
    ]
    .concat();
    assert_eq!(done, want, "every step once, in order");
    assert!(followers(&sim).is_empty());
    assert_eq!(
        sim.cluster("follower").data_stream_replicated(STREAM),
        Some(false)
    );
    assert!(store.in_progress().is_empty(), "{:?}", store.in_progress());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_done_by_hand_are_not_repeated() {
    let (sim, backing) = followed_stream(true).await;
    let follower = sim.cluster("follower");
    // An operator unfollowed the oldest backing index and promoted the stream by hand.
    for (m, p) in [
        ("POST", format!("/{}/_ccr/pause_follow", backing[0])),
        ("POST", format!("/{}/_close", backing[0])),
        ("POST", format!("/{}/_ccr/unfollow", backing[0])),
        ("POST", format!("/{}/_open", backing[0])),
        ("POST", format!("/_data_stream/_promote/{STREAM}")),
    ] {
        let (status, body) = follower.request(m, &p, None);
        assert_eq!(status, 200, "{p}: {body}");
    }
    // Until the rollover, writes reach the write index, still a follower, which refuses them.
    let (status, body) = follower.request(
        "POST",
        &format!("/{STREAM}/_doc"),
        Some(json!({"@timestamp": 1})),
    );
    assert_eq!(status, 403, "{body}");
    let dir = tempfile::tempdir().unwrap();
    let cfg = ccr_sentinel::config::from_toml_str(&config(&sim, dir.path())).unwrap();
    let exec = Executor::new(ccr_sentinel::es::Clients::from_config(&cfg).unwrap());
    let store = RunbookStore::new(cfg.policy.state_dir.as_deref());
    let ctx = runbook::Ctx {
        exec: &exec,
        cfg: &cfg,
        store: &store,
    };
    let mut hook = |_: &DsStepReport| ControlFlow::Continue(());
    let out = runbook::promote_data_stream(ctx, "follower", STREAM, &options(), &mut hook)
        .await
        .unwrap();
    assert!(out.finished, "{out:?}");
    let steps: Vec<DsStep> = out.steps.iter().map(|s| s.step.clone()).collect();
    let want: Vec<DsStep> = [
        unfollow_steps(&backing[1]),
        vec![DsStep::Rollover],
        unfollow_steps(&backing[2]),
    ]
    .concat();
    assert_eq!(steps, want);
    assert!(followers(&sim).is_empty());
    sim.shutdown().await;
}

/// A scripted cluster: every request is answered from `answers` by `METHOD /path` (404 otherwise).
async fn scripted(answers: Vec<(String, u16, serde_json::Value)>) -> String {
    use axum::http::{Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    let answers = std::sync::Arc::new(answers);
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri| {
        let answers = answers.clone();
        async move {
            let key = format!("{method} {}", uri.path());
            match answers.iter().find(|(k, _, _)| *k == key) {
                Some((_, status, body)) => (
                    StatusCode::from_u16(*status).unwrap(),
                    [("content-type", "application/json")],
                    body.to_string(),
                )
                    .into_response(),
                None => (StatusCode::NOT_FOUND, "{}").into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn executor_for(url: &str) -> Executor {
    let cfg = ccr_sentinel::config::from_toml_str(&format!(
        "[clusters.follower]\nurl = \"{url}\"\ntimeout = \"2s\"\n"
    ))
    .unwrap();
    Executor::new(ccr_sentinel::es::Clients::from_config(&cfg).unwrap())
}

/// A promote or rollover whose answer was lost (a 503) is re-read, never re-sent: done when the stream is no
/// longer replicated, or when its write index is no longer a follower; failed otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_to_promote_or_rollover_is_re_read() {
    use ccr_sentinel::act::{Action, ActionResult};
    let unavailable =
        json!({"error": {"type": "unavailable_shards_exception", "reason": "lost"}, "status": 503});
    let stream = |replicated: bool| {
        json!({"data_streams": [{"name": "logs", "replicated": replicated,
            "indices": [{"index_name": ".ds-logs-000001"}, {"index_name": ".ds-logs-000002"}]}]})
    };
    let follower_of_write = json!({"follower_indices": [{"follower_index": ".ds-logs-000002",
        "remote_cluster": "leader", "leader_index": ".ds-logs-000002", "status": "active"}]});
    let none = json!({"follower_indices": []});
    let promote = Action::PromoteDataStream {
        cluster: "follower".into(),
        data_stream: "logs".into(),
    };
    let rollover = Action::RolloverDataStream {
        cluster: "follower".into(),
        data_stream: "logs".into(),
    };
    type Case = (
        &'static str,
        Action,
        Vec<(&'static str, u16, serde_json::Value)>,
        ActionResult,
    );
    let cases: Vec<Case> = vec![
        (
            "promote applied",
            promote.clone(),
            vec![
                ("POST /_data_stream/_promote/logs", 503, unavailable.clone()),
                ("GET /_data_stream/logs", 200, stream(false)),
            ],
            ActionResult::AlreadyDone,
        ),
        (
            "promote not applied",
            promote,
            vec![
                ("POST /_data_stream/_promote/logs", 503, unavailable.clone()),
                ("GET /_data_stream/logs", 200, stream(true)),
            ],
            ActionResult::Failed,
        ),
        (
            "rollover applied: the write index is a regular one",
            rollover.clone(),
            vec![
                ("POST /logs/_rollover", 503, unavailable.clone()),
                ("GET /_data_stream/logs", 200, stream(false)),
                ("GET /.ds-logs-000002/_ccr/info", 200, none.clone()),
            ],
            ActionResult::AlreadyDone,
        ),
        (
            "rollover not applied: the write index still follows",
            rollover.clone(),
            vec![
                ("POST /logs/_rollover", 503, unavailable.clone()),
                ("GET /_data_stream/logs", 200, stream(false)),
                (
                    "GET /.ds-logs-000002/_ccr/info",
                    200,
                    follower_of_write.clone(),
                ),
            ],
            ActionResult::Failed,
        ),
        (
            "rollover refused: never called done",
            rollover,
            vec![(
                "POST /logs/_rollover",
                400,
                json!({"error": {"type": "illegal_argument_exception",
                    "reason": "data stream [logs] cannot be rolled over, because it is a replicated data stream"},
                    "status": 400}),
            )],
            ActionResult::Failed,
        ),
    ];
    for (name, action, answers, want) in cases {
        let answers = answers
            .into_iter()
            .map(|(k, status, body)| (k.to_string(), status, body))
            .collect();
        let exec = executor_for(&scripted(answers).await);
        let ev = exec.execute(&action, "manual", "test").await;
        assert_eq!(ev.result, want, "{name}: {ev:?}");
    }
}

/// The lag gate asks the running daemon about every backing index that is a follower: one too far behind in time
/// refuses the promotion before any change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backing_index_beyond_max_promote_lag_refuses_the_promotion() {
    let (sim, backing) = followed_stream(true).await;
    let daemon = scripted(vec![(
        format!("GET /followers/follower/{}", backing[1]),
        503,
        json!({"status": "unavailable", "reasons": ["lag 300s is above 120s"]}),
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let toml = config(&sim, dir.path()).replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"{}\"", daemon.trim_start_matches("http://")),
        1,
    );
    let path = write_config(dir.path(), &toml);
    let follower = sim.cluster("follower");
    follower.reset_requests();
    let out = cli(&["promote", STREAM], &path).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("backing index `{}`", backing[1])),
        "{}",
        text(&out)
    );
    assert!(err.contains("lag 300s is above 120s"), "{}", text(&out));
    assert!(err.contains("health.max_promote_lag"), "{}", text(&out));
    assert_eq!(follower.requests().mutating, 0, "{:?}", follower.requests());
    assert_eq!(followers(&sim).len(), 3);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_older_than_7_9_is_refused_without_a_data_stream_request() {
    let sim = Sim::builder()
        .cluster(ccr_sim::ClusterConfig::new("leader").version("7.8.1"))
        .cluster(ccr_sim::ClusterConfig::new("follower").version("7.8.1"))
        .deterministic_clock()
        .start()
        .await
        .unwrap();
    crate::common::connect(&sim, "follower", "leader", "leader");
    let dir = tempfile::tempdir().unwrap();
    let cfg = ccr_sentinel::config::from_toml_str(&config(&sim, dir.path())).unwrap();
    let exec = Executor::new(ccr_sentinel::es::Clients::from_config(&cfg).unwrap());
    let store = RunbookStore::new(cfg.policy.state_dir.as_deref());
    let ctx = runbook::Ctx {
        exec: &exec,
        cfg: &cfg,
        store: &store,
    };
    let follower = sim.cluster("follower");
    follower.reset_requests();
    let mut hook = |_: &DsStepReport| ControlFlow::Continue(());
    let out = runbook::promote_data_stream(ctx, "follower", STREAM, &options(), &mut hook)
        .await
        .unwrap();
    assert!(out.refused && !out.finished, "{out:?}");
    let e = out.error.unwrap_or_default();
    assert!(e.contains("7.9 or later") && e.contains("7.8"), "{e}");
    let seen = follower.requests();
    assert_eq!(seen.mutating, 0, "{seen:?}");
    assert!(
        seen.by_endpoint.keys().all(|k| !k.contains("_data_stream")),
        "{seen:?}"
    );
    sim.shutdown().await;
}
