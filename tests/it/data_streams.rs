//! Data streams against the simulator on its deterministic clock: auto-follow of a stream across three rollovers
//! grouped by stream in the report, `/metrics` and the `status` table, doc parity per backing index, and a
//! backing index that lost its follower found as `unfollowed_match` and, by reconcile (dry run first), followed
//! again; a 7.8 cluster is skipped without an error.

use std::time::Duration;

use ccr_sentinel::act::ActionResult;
use ccr_sentinel::evaluate::health::FollowerState;
use ccr_sim::{ClusterConfig, Sim};
use serde_json::Value;

use crate::common::policy::connected_pair;
use crate::common::{connect, daemon_config, one_shot, Running};

const PATTERN: &str = r#"
[[auto_follow]]
cluster = "follower"
name = "logs"
remote = "leader"
leader_index_patterns = ["logs-*"]
leader_index_exclusion_patterns = ["logs-skip*"]
active = true
"#;

fn settle(sim: &Sim) {
    for _ in 0..4 {
        sim.advance(Duration::from_secs(2)).unwrap();
    }
}

/// A connected pair (deterministic clock) whose leader has a data stream `logs-app` with one generation, the
/// pattern created by reconcile after it, then three rollovers, each followed. Returns the daemon config and
/// the leader's backing indices, oldest first.
async fn three_rollovers() -> (Sim, String, Vec<String>) {
    let sim = connected_pair(true).await;
    let leader = sim.cluster("leader");
    leader
        .put_data_stream_template("logs", &["logs-*"], 100)
        .unwrap();
    leader.create_data_stream("logs-app").unwrap();
    leader.index_docs("logs-app", 2).unwrap();
    // An excluded stream, never followed and never reported.
    leader.create_data_stream("logs-skip").unwrap();
    leader.index_docs("logs-skip", 1).unwrap();
    let toml = daemon_config(&sim, PATTERN);
    let cfg = ccr_sentinel::config::from_toml_str(&toml).unwrap();
    let first = ccr_sentinel::reconcile::one_shot(cfg, false)
        .unwrap()
        .run_once()
        .await;
    assert!(first.ok(), "{first:#?}");
    assert!(first.events.iter().any(|e| e.action == "put_auto_follow"));
    for round in 0..3u64 {
        leader.rollover("logs-app").unwrap();
        leader.index_docs("logs-app", 3 + round).unwrap();
        settle(&sim);
    }
    let backing = leader.backing_indices("logs-app").unwrap();
    assert_eq!(backing.len(), 4);
    (sim, toml, backing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_followed_stream_across_three_rollovers_is_grouped_with_doc_parity_per_backing_index()
{
    let (sim, toml, backing) = three_rollovers().await;
    let d = one_shot(&toml);
    d.poll_once().await;
    d.doc_counts_once().await;
    // The counts are compared with the stats of the poll after them.
    d.poll_once().await;
    let r = d.report();
    assert!(
        r.unfollowed_matches.is_empty(),
        "{:#?}",
        r.unfollowed_matches
    );
    assert_eq!(r.data_streams.len(), 1, "{:#?}", r.data_streams);
    let ds = &r.data_streams[0];
    assert_eq!(
        (ds.follower_cluster.as_str(), ds.data_stream.as_str()),
        ("follower", "logs-app")
    );
    // The generation that existed before the pattern is not followed (as ES), the three rollovers are.
    assert_eq!(ds.backing_indices, backing[1..].to_vec());
    assert_eq!(
        ds.followers.get(&FollowerState::Healthy),
        Some(&3),
        "{ds:#?}"
    );
    assert_eq!(ds.worst_state, Some(FollowerState::Healthy));
    assert_eq!(ds.docs_difference, Some(0));
    assert_eq!(ds.unfollowed_matches, 0);
    // Doc parity per backing index, compared (caught up) and equal to the simulator's truth.
    for (i, idx) in backing[1..].iter().enumerate() {
        let f = r.follower("follower", idx).expect("backing index follower");
        let p = f.observation.docs.as_ref().expect("doc parity");
        assert!(p.comparable, "{idx}: {p:?}");
        let want = 3 + i as i64;
        assert_eq!(
            (p.leader_docs, p.follower_docs),
            (Some(want), Some(want)),
            "{idx}"
        );
        assert_eq!(
            sim.cluster("follower").doc_count(idx),
            Some(want as u64),
            "{idx}"
        );
    }
    // The per-stream series and the status table.
    let text = d.metrics().render().unwrap();
    let l = "follower_cluster=\"follower\",data_stream=\"logs-app\"";
    for line in [
        format!("ccr_sentinel_data_stream_followers{{{l},state=\"healthy\"}} 3"),
        format!("ccr_sentinel_data_stream_followers{{{l},state=\"failed\"}} 0"),
        format!("ccr_sentinel_data_stream_backing_indices{{{l}}} 3"),
        format!("ccr_sentinel_data_stream_docs_difference{{{l}}} 0"),
        format!("ccr_sentinel_data_stream_unfollowed_matches{{{l}}} 0"),
    ] {
        assert!(text.contains(&line), "{line} not in\n{text}");
    }
    assert!(!text.contains("logs-skip"), "{text}");
    let table = ccr_sentinel::cli::status::render_table(&r);
    assert!(table.contains("DATA STREAM"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("logs-app") && l.contains("healthy")),
        "{table}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backing_index_without_follower_is_unfollowed_match_and_reconcile_follows_it() {
    let (sim, toml, backing) = three_rollovers().await;
    // The second rollover's follower is gone: the pattern counts its leader as followed and never follows
    // it again (as the auto-follower that misses an index, elastic/elasticsearch#86654).
    let missed = backing[2].clone();
    sim.cluster("follower").delete_index(&missed).unwrap();
    settle(&sim);
    let d = one_shot(&toml);
    d.poll_once().await;
    let r = d.report();
    assert_eq!(r.unfollowed_matches.len(), 1, "{:#?}", r.unfollowed_matches);
    let m = &r.unfollowed_matches[0];
    assert_eq!(
        (
            m.pattern.as_str(),
            m.leader_index.as_str(),
            m.follower_index.as_str(),
            m.data_stream.as_str()
        ),
        ("logs", missed.as_str(), missed.as_str(), "logs-app")
    );
    assert_eq!(r.data_streams[0].unfollowed_matches, 1);
    let text = d.metrics().render().unwrap();
    assert!(
        text.contains(
            "ccr_sentinel_data_stream_unfollowed_matches{follower_cluster=\"follower\",data_stream=\"logs-app\"} 1"
        ),
        "{text}"
    );
    let table = ccr_sentinel::cli::status::render_table(&r);
    assert!(
        table.contains(&format!("unfollowed_match: leader:{missed}")),
        "{table}"
    );
    let running = Running::serve(d.clone()).await;
    let (code, body) = running.get("/status").await;
    assert_eq!(code, 200);
    let status: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status["unfollowed_matches"][0]["leader_index"],
        missed.as_str(),
        "{status}"
    );
    assert_eq!(status["unfollowed_matches"][0]["pattern"], "logs");
    let ds = &status["data_streams"][0];
    assert_eq!(ds["data_stream"], "logs-app", "{status}");
    assert_eq!(ds["followers"]["healthy"], 2, "{status}");
    assert_eq!(ds["unfollowed_matches"], 1);
    running.stop().await;

    // A dry run plans the follow, audits it and sends nothing.
    let cfg = || ccr_sentinel::config::from_toml_str(&toml).unwrap();
    sim.cluster("follower").reset_requests();
    let dry = ccr_sentinel::reconcile::one_shot(cfg(), true)
        .unwrap()
        .run_once()
        .await;
    let follow: Vec<_> = dry.events.iter().filter(|e| e.action == "follow").collect();
    assert_eq!(follow.len(), 1, "{dry:#?}");
    assert_eq!(follow[0].result, ActionResult::DryRun);
    assert!(
        follow[0].why.contains("unfollowed_match"),
        "{}",
        follow[0].why
    );
    assert_eq!(sim.cluster("follower").requests().mutating, 0);
    assert_eq!(sim.cluster("follower").doc_count(&missed), None);

    // For real: followed into the local stream, and the next run has nothing to do.
    let run = ccr_sentinel::reconcile::one_shot(cfg(), false)
        .unwrap()
        .run_once()
        .await;
    assert!(run.ok(), "{run:#?}");
    assert!(
        run.events
            .iter()
            .any(|e| e.action == "follow" && e.result == ActionResult::Success),
        "{run:#?}"
    );
    settle(&sim);
    assert_eq!(
        sim.cluster("follower").doc_count(&missed),
        sim.cluster("leader").doc_count(&missed)
    );
    assert!(sim
        .cluster("follower")
        .backing_indices("logs-app")
        .unwrap()
        .contains(&missed));
    // A daemon that has run and stopped publishes no report any more: a new one looks.
    let d = one_shot(&toml);
    d.poll_once().await;
    d.doc_counts_once().await;
    d.poll_once().await;
    let r = d.report();
    assert!(
        r.unfollowed_matches.is_empty(),
        "{:#?}",
        r.unfollowed_matches
    );
    let ds = &r.data_streams[0];
    assert_eq!(
        ds.followers.get(&FollowerState::Healthy),
        Some(&3),
        "{ds:#?}"
    );
    assert_eq!(ds.docs_difference, Some(0));
    let again = ccr_sentinel::reconcile::one_shot(cfg(), false)
        .unwrap()
        .run_once()
        .await;
    assert!(again.events.is_empty(), "{again:#?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_before_data_streams_are_skipped_without_an_error() {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader").version("7.8.1"))
        .cluster(ClusterConfig::new("follower").version("7.8.1"))
        .start()
        .await
        .unwrap();
    connect(&sim, "follower", "leader", "leader");
    let d = one_shot(&daemon_config(&sim, ""));
    d.poll_once().await;
    d.poll_once().await;
    let r = d.report();
    assert!(r.data_streams.is_empty());
    for c in &r.clusters {
        assert!(c.errors.is_empty(), "{}: {:?}", c.name, c.errors);
    }
    // One `GET /` per cluster, then no data stream read at all.
    let text = d.metrics().render().unwrap();
    assert!(!text.contains("endpoint=\"data_streams\""), "{text}");
    sim.shutdown().await;
}
