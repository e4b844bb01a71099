//! Policies and action commands against the simulator over real HTTP on loopback: the commands as processes,
//! the runbook interrupted after each step, the daemon's policies (fatal recovery, needs_refollow, windows),
//! and dry run sending no mutating request.

use std::ops::ControlFlow;
use std::path::Path;

use ccr_sentinel::act::history::Rule;
use ccr_sentinel::act::runbook::{self, RunbookStore, Step, StepReport};
use ccr_sentinel::act::Executor;
use ccr_sim::HttpFaults;
use serde_json::{json, Value};

use crate::common::policy::{
    assert_follower_status, assert_nothing_mutated, assert_regular_and_writable, audit,
    audit_config, cli, cli_exits, follower_state, follower_status, follower_toml, following,
    last_actions, pair_following, policy, policy_config, start_ready_with_policy,
    start_with_policy, stdout, text, wait_for, write_policy_config,
};
use crate::common::{must, reset, write_config, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollow_command_turns_a_follower_into_a_writable_index() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 20)]).await;
    let cfg = write_policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]);
    let out = cli_exits(&["unfollow", "logs-copy"], &cfg, 0).await;
    assert_lists_every_unfollow_step(&out);
    assert_regular_and_writable(&sim, "logs-copy", 20);
    // The audit file has one line per step, rule manual.
    let actions: Vec<String> = audit(dir.path())
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .inspect(|e| assert_eq!(e["rule"], "manual"))
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["pause_follow", "close_index", "unfollow", "open_index"]
    );
    // A second run has nothing to do and says so.
    let again = cli_exits(&["unfollow", "logs-copy"], &cfg, 0).await;
    assert!(stdout(&again).contains("nothing to do"), "{}", text(&again));
    sim.shutdown().await;
}

/// The output names each step of an unfollow runbook.
fn assert_lists_every_unfollow_step(out: &std::process::Output) {
    let stdout = stdout(out);
    for step in ["pause", "close", "unfollow", "open"] {
        assert!(stdout.contains(&format!("  {step} ")), "{}", text(out));
    }
}

/// An executor and the runbook store of `cfg`, as the commands have them.
fn executor_and_store(cfg: &ccr_sentinel::config::Config) -> (Executor, RunbookStore) {
    (
        Executor::new(ccr_sentinel::es::Clients::from_config(cfg).unwrap()),
        RunbookStore::new(cfg.policy.state_dir.as_deref()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollow_interrupted_after_each_step_finishes_on_the_next_run() {
    let (sim, dir) = pair_following(&[]).await;
    let steps = [Step::Pause, Step::Close, Step::Unfollow];
    let mut toml = audit_config(&sim, dir.path(), &policy(dir.path(), ""));
    for i in 0..steps.len() * 2 {
        toml += &follower_toml(&format!("l{i}"), &format!("f{i}"), "");
    }
    let cfg_path = write_config(dir.path(), &toml);
    let cfg = ccr_sentinel::config::load(&cfg_path).unwrap();
    let (exec, store) = executor_and_store(&cfg);
    for (n, stop_after) in steps.iter().enumerate() {
        // Two ways to be interrupted: the process dies right after the step (the hook stops the runbook, like a
        // kill), or the next request fails (every request answered 503).
        for (variant, fail_next) in [(0, false), (1, true)] {
            let i = n * 2 + variant;
            let (leader, follower) = (format!("l{i}"), format!("f{i}"));
            following(&sim, &leader, &follower, 10 + i as u64).await;
            let sim_ref = &sim;
            let mut hook = |s: &StepReport| {
                if s.step != *stop_after {
                    return ControlFlow::Continue(());
                }
                if fail_next {
                    for c in ["follower", "leader"] {
                        sim_ref
                            .cluster(c)
                            .set_http_faults(HttpFaults {
                                error_rate: 1.0,
                                ..Default::default()
                            })
                            .unwrap();
                    }
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            let ctx = runbook::Ctx {
                exec: &exec,
                cfg: &cfg,
                store: &store,
            };
            let out =
                runbook::unfollow(ctx, "follower", &follower, Rule::Manual, "test", &mut hook)
                    .await
                    .unwrap();
            assert!(!out.finished, "{out:?}");
            assert_eq!(
                out.steps.iter().filter(|s| s.result == "success").count(),
                n + 1,
                "{out:?}"
            );
            for c in ["follower", "leader"] {
                sim.cluster(c).clear_faults().unwrap();
            }
            assert!(
                store
                    .in_progress()
                    .contains(&ccr_sentinel::config::ClusterKey::new(
                        "follower", &follower
                    )),
                "the record of the interrupted runbook stays"
            );
            // The interrupted state is real: after close (or unfollow) the index is left closed. (With the
            // failure variant the next request was applied by the cluster but its answer lost, so the state is
            // one step further; the next run must cope with that too.)
            if !fail_next {
                let closed = sim.cluster("follower").state()["indices"][&follower]["status"]
                    == json!("close");
                assert_eq!(closed, *stop_after != Step::Pause, "after {stop_after:?}");
            }

            let again = cli(&["unfollow", &follower], &cfg_path).await;
            assert_eq!(
                again.status.code(),
                Some(0),
                "after {stop_after:?}: {}",
                text(&again)
            );
            let stdout = stdout(&again);
            // Steps already done are not repeated.
            for done in &steps[..=n] {
                assert!(
                    !stdout.contains(&format!("  {} ", done.as_str())),
                    "{done:?} repeated after {stop_after:?}: {}",
                    text(&again)
                );
            }
            if !fail_next {
                assert!(stdout.contains("  open "), "{}", text(&again));
            }
            assert_regular_and_writable(&sim, &follower, 10 + i as u64);
            assert!(!store
                .in_progress()
                .contains(&ccr_sentinel::config::ClusterKey::new(
                    "follower", &follower
                )));
        }
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollow_whose_lease_removal_fails_finishes_and_cleans_up_on_the_leader() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 5)]).await;
    let cfg = write_policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]);
    // The follower cluster loses its connection to the leader: unfollow cannot remove the leases itself.
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    sim.cluster("leader").reset_requests();
    let out = cli_exits(&["unfollow", "logs-copy"], &cfg, 0).await;
    let stdout = stdout(&out);
    assert!(
        stdout.contains("retention leases on the leader could not be removed"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("forget_follower"), "{}", text(&out));
    assert_regular_and_writable(&sim, "logs-copy", 5);
    let leader_requests = sim.cluster("leader").requests();
    assert_eq!(
        leader_requests
            .by_endpoint
            .get("POST /{index}/_ccr/forget_follower")
            .copied(),
        Some(1),
        "{leader_requests:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_cuts_over_a_caught_up_follower_and_refuses_a_lagging_one() {
    let (sim, dir) = pair_following(&[("done", "done-copy", 30), ("busy", "busy-copy", 30)]).await;
    let cfg = write_policy_config(
        &sim,
        dir.path(),
        "",
        &[("done", "done-copy", ""), ("busy", "busy-copy", "")],
    );
    // Writes keep flowing into `busy`: its follower cannot be shown caught up.
    sim.cluster("leader").set_writes("busy", 200.0).unwrap();
    let refused = cli_exits(&["promote", "busy-copy"], &cfg, 1).await;
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("not caught up"), "{}", text(&refused));
    assert_follower_status(&sim, "busy-copy", Some("active"));

    cli_exits(&["promote", "done-copy"], &cfg, 0).await;
    assert_regular_and_writable(&sim, "done-copy", 30);

    // --force cuts over regardless.
    cli_exits(&["promote", "busy-copy", "--force"], &cfg, 0).await;
    assert_eq!(follower_status(&sim, "busy-copy"), None);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_commands_and_exit_statuses() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 5)]).await;
    must(
        sim.cluster("follower").request("PUT", "/plain", None),
        "plain index",
    );
    let cfg = write_policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]);
    cli_exits(&["pause", "logs-copy"], &cfg, 0).await;
    assert_follower_status(&sim, "logs-copy", Some("paused"));
    // The pause is remembered as intended, for a running daemon.
    let h = ccr_sentinel::act::history::History::load(dir.path()).unwrap();
    assert_eq!(
        h.follower("follower", "logs-copy")
            .unwrap()
            .paused_by_us
            .as_ref()
            .unwrap()
            .rule,
        Rule::Manual
    );
    let again = cli_exits(&["pause", "logs-copy"], &cfg, 0).await;
    assert!(stdout(&again).contains("already"), "{}", text(&again));
    cli_exits(&["resume", "logs-copy"], &cfg, 0).await;
    assert_follower_status(&sim, "logs-copy", Some("active"));

    let bad = cli_exits(&["pause", "plain", "--cluster", "follower"], &cfg, 1).await;
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not a follower"),
        "{}",
        text(&bad)
    );
    cli_exits(&["pause", "logs-copy", "--cluster", "nope"], &cfg, 2).await;
    cli_exits(&["promote"], &cfg, 2).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_no_mutating_request() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 5)]).await;
    let cfg = write_policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]);
    reset(&sim);
    for cmd in [
        vec!["pause", "logs-copy", "--dry-run"],
        vec!["resume", "logs-copy", "--dry-run"],
        vec!["unfollow", "logs-copy", "--dry-run"],
        vec!["promote", "logs-copy", "--dry-run", "--force"],
    ] {
        let out = cli(&cmd, &cfg).await;
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", text(&out));
        assert!(stdout(&out).contains("dry run"), "{}", text(&out));
    }
    let out = cli(&["unfollow", "logs-copy", "--dry-run"], &cfg).await;
    assert_lists_every_unfollow_step(&out);
    assert_nothing_mutated(&sim);
    assert_follower_status(&sim, "logs-copy", Some("active"));
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// The daemon's policies
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_recovers_a_fatal_exception_and_replication_resumes() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 10)]).await;
    let d = start_ready_with_policy(&sim, dir.path(), "", &[("logs", "logs-copy", "")]).await;
    sim.cluster("follower").fail_shard("logs-copy", 0).unwrap();
    sim.cluster("follower").fail_shard("logs-copy", 1).unwrap();
    sim.cluster("leader").index_docs("logs", 15).unwrap();
    // Without the pause + resume the stopped shard tasks never replicate the new documents.
    wait_for("the follower replicates again", || {
        sim.cluster("follower").doc_count("logs-copy") == Some(25)
    })
    .await;
    let s = d
        .wait_status(20, "the recovery is in /status", |s| {
            last_actions(s, "logs-copy").contains(&"pause_resume recover_fatal success".to_string())
        })
        .await;
    assert_eq!(
        follower_status(&sim, "logs-copy").as_deref(),
        Some("active"),
        "{s:#}"
    );
    let (_, metrics) = d.get("/metrics").await;
    for a in ["pause_follow", "resume_follow"] {
        let series = format!(
            "ccr_sentinel_actions_total{{action=\"{a}\",result=\"success\",rule=\"recover_fatal\"}} 1"
        );
        assert!(metrics.contains(&series), "{series} missing:\n{metrics}");
    }
    let audit = audit(dir.path());
    assert!(audit.contains("\"rule\":\"recover_fatal\""), "{audit}");
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_lease_loss_is_needs_refollow_and_never_resumed_in_a_loop() {
    let (sim, dir) = pair_following(&[("gone", "gone-copy", 10)]).await;
    let d = start_ready_with_policy(&sim, dir.path(), "", &[("gone", "gone-copy", "")]).await;
    // The follower falls behind (paused), the leader drops the history it would need, replication restarts.
    let f = sim.cluster("follower");
    must(
        f.request("POST", "/gone-copy/_ccr/pause_follow", None),
        "pause",
    );
    sim.cluster("leader").index_docs("gone", 5).unwrap();
    sim.cluster("leader").lose_retention_leases("gone").unwrap();
    must(
        f.request("POST", "/gone-copy/_ccr/resume_follow", None),
        "resume",
    );
    let s = d
        .wait_status(20, "needs_refollow", |s| {
            follower_state(s, "gone-copy") == "needs_refollow"
        })
        .await;
    sim.cluster("follower").reset_requests();
    // Several more polls and policy evaluations.
    let s = d.wait_more_polls(20, "three more polls", &s, 3).await;
    assert_eq!(follower_state(&s, "gone-copy"), "needs_refollow", "{s:#}");
    assert!(last_actions(&s, "gone-copy").is_empty(), "{s:#}");
    let r = sim.cluster("follower").requests();
    assert_eq!(
        r.mutating, 0,
        "the daemon acted on a needs_refollow follower: {r:?}"
    );
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_pauses_then_resumes() {
    let (sim, dir) =
        pair_following(&[("logs", "logs-copy", 10), ("other", "other-copy", 10)]).await;
    must(
        sim.cluster("follower").request(
            "PUT",
            "/_ccr/auto_follow/metrics",
            Some(json!({"remote_cluster": "leader", "leader_index_patterns": ["metrics-*"]})),
        ),
        "auto-follow pattern",
    );
    let pattern_active = || {
        must(
            sim.cluster("follower")
                .request("GET", "/_ccr/auto_follow/metrics", None),
            "get pattern",
        )["patterns"][0]["pattern"]["active"]
            == json!(true)
    };
    // A two-second window every four seconds, for logs-* and the `metrics` pattern only.
    let d = Running::start(
        &(audit_config(
            &sim,
            dir.path(),
            &policy(
                dir.path(),
                "[[policy.windows]]\nname = \"blink\"\nstart = \"*/4 * * * * *\"\nduration = \"2s\"\nfollowers = [\"logs-*\"]\nauto_follow = [\"metrics\"]",
            ),
        ) + &follower_toml("logs", "logs-copy", "")
            + &follower_toml("other", "other-copy", "")
            + "[[auto_follow]]\ncluster = \"follower\"\nname = \"metrics\"\nremote = \"leader\"\nleader_index_patterns = [\"metrics-*\"]\n"),
    )
    .await;
    d.wait_status(20, "paused by the window", |s| {
        last_actions(s, "logs-copy").contains(&"pause window success".to_string())
    })
    .await;
    wait_for("the pattern paused by the window", || !pattern_active()).await;
    wait_for("the pattern resumed after the window", pattern_active).await;
    let s = d
        .wait_last_action(
            20,
            "resumed after the window",
            "logs-copy",
            "resume window success",
        )
        .await;
    assert!(
        last_actions(&s, "other-copy").is_empty(),
        "not selected: {s:#}"
    );
    let audit = audit(dir.path());
    assert!(audit.contains("maintenance window `blink`"), "{audit}");
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_promotes_a_caught_up_follower_marked_promote() {
    let (sim, dir) = pair_following(&[("old", "old-copy", 12), ("keep", "keep-copy", 12)]).await;
    let d = start_with_policy(
        &sim,
        dir.path(),
        "",
        &[
            ("old", "old-copy", "promote = true"),
            ("keep", "keep-copy", ""),
        ],
    )
    .await;
    let s = d
        .wait_last_action(30, "promoted", "old-copy", "unfollow promote success")
        .await;
    assert_regular_and_writable(&sim, "old-copy", 12);
    assert_eq!(
        follower_status(&sim, "keep-copy").as_deref(),
        Some("active"),
        "{s:#}"
    );
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_in_dry_run_plans_but_sends_no_mutating_request() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 10)]).await;
    let d = start_ready_with_policy(
        &sim,
        dir.path(),
        "dry_run = true",
        &[("logs", "logs-copy", "promote = true")],
    )
    .await;
    sim.cluster("follower").fail_shard("logs-copy", 0).unwrap();
    reset(&sim);
    let s = d
        .wait_status(20, "the recovery planned in dry run", |s| {
            last_actions(s, "logs-copy").contains(&"pause_resume recover_fatal dry_run".to_string())
        })
        .await;
    assert_eq!(s["policy"]["dry_run"], true);
    assert_nothing_mutated(&sim);
    assert_eq!(follower_state(&s, "logs-copy"), "failed");
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_daemon_finishes_an_interrupted_promote() {
    let (sim, dir) = pair_following(&[("old", "old-copy", 8)]).await;
    let toml = policy_config(
        &sim,
        dir.path(),
        "",
        &[("old", "old-copy", "promote = true")],
    );
    // A daemon's promote stopped right after closing the follower (the process died there).
    let cfg = ccr_sentinel::config::from_toml_str(&toml).unwrap();
    let (exec, store) = executor_and_store(&cfg);
    let ctx = runbook::Ctx {
        exec: &exec,
        cfg: &cfg,
        store: &store,
    };
    let mut hook = |s: &StepReport| {
        if s.step == Step::Close {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let out = runbook::unfollow(
        ctx,
        "follower",
        "old-copy",
        Rule::Promote,
        "test",
        &mut hook,
    )
    .await
    .unwrap();
    assert!(!out.finished);
    assert_eq!(
        sim.cluster("follower").state()["indices"]["old-copy"]["status"],
        "close"
    );
    // The next daemon rolls it forward.
    let d = Running::start(&toml).await;
    let s = d
        .wait_last_action(20, "finished", "old-copy", "unfollow promote success")
        .await;
    assert_regular_and_writable(&sim, "old-copy", 8);
    assert_eq!(s["policy"]["runbooks_in_progress"], json!([]), "{s:#}");
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_recovering_the_same_follower_do_not_fight() {
    let (sim, dir_a) = pair_following(&[("logs", "logs-copy", 10)]).await;
    let dir_b = tempfile::tempdir().unwrap();
    let start = |dir: &Path| policy_config(&sim, dir, "", &[("logs", "logs-copy", "")]);
    let a = Running::start(&start(dir_a.path())).await;
    let b = Running::start(&start(dir_b.path())).await;
    a.wait_status(20, "a ready", |s| s["ready"] == true).await;
    b.wait_status(20, "b ready", |s| s["ready"] == true).await;
    sim.cluster("follower").fail_shard("logs-copy", 0).unwrap();
    sim.cluster("leader").index_docs("logs", 10).unwrap();
    wait_for("the follower replicates again", || {
        sim.cluster("follower").doc_count("logs-copy") == Some(20)
    })
    .await;
    // A few more polls of both: the follower stays active and neither daemon saw a failed action.
    let sa = a
        .wait_more_polls(20, "more polls", &a.status().await, 2)
        .await;
    let sb = b.status().await;
    assert_follower_status(&sim, "logs-copy", Some("active"));
    for (name, s) in [("a", &sa), ("b", &sb)] {
        assert!(
            !last_actions(s, "logs-copy")
                .iter()
                .any(|x| x.ends_with("failure")),
            "daemon {name}: {s:#}"
        );
    }
    let acted = |s: &Value| !last_actions(s, "logs-copy").is_empty();
    assert!(acted(&sa) || acted(&sb), "nobody recovered it");
    a.stop().await;
    b.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_outage_pauses_followers_and_recovery_resumes_them() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 10)]).await;
    let d = start_ready_with_policy(&sim, dir.path(), "pause_on_remote_outage = true\nremote_outage_after = \"2s\"\nremote_recovered_after = \"2s\"", &[("logs", "logs-copy", "")]).await;
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    d.wait_last_action(
        20,
        "paused during the outage",
        "logs-copy",
        "pause pause_on_remote_outage success",
    )
    .await;
    assert_follower_status(&sim, "logs-copy", Some("paused"));
    sim.cluster("follower").connect_remote("leader").unwrap();
    sim.cluster("leader").index_docs("logs", 5).unwrap();
    d.wait_last_action(
        20,
        "resumed after recovery",
        "logs-copy",
        "resume pause_on_remote_outage success",
    )
    .await;
    wait_for("replication resumes", || {
        sim.cluster("follower").doc_count("logs-copy") == Some(15)
    })
    .await;
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_all_finishes_what_is_left_and_skips_what_is_done() {
    let (sim, dir) = pair_following(&[("a", "a-copy", 3), ("b", "b-copy", 4)]).await;
    let cfg = write_policy_config(
        &sim,
        dir.path(),
        "",
        &[("a", "a-copy", ""), ("b", "b-copy", "")],
    );
    cli_exits(&["promote", "a-copy"], &cfg, 0).await;
    let all = cli_exits(&["promote", "--all"], &cfg, 0).await;
    assert!(
        stdout(&all).contains("nothing to do: `a-copy`"),
        "{}",
        text(&all)
    );
    assert_regular_and_writable(&sim, "a-copy", 3);
    assert_regular_and_writable(&sim, "b-copy", 4);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_deleted_alerts_by_default_and_unfollows_when_configured() {
    let (sim, dir) = pair_following(&[("temp", "temp-copy", 6), ("keep", "keep-copy", 6)]).await;
    let alert_only =
        start_ready_with_policy(&sim, dir.path(), "", &[("temp", "temp-copy", "")]).await;
    sim.cluster("leader").delete_index("temp").unwrap();
    let s = alert_only
        .wait_status(20, "leader_missing", |s| {
            follower_state(s, "temp-copy") == "leader_missing"
        })
        .await;
    let s = alert_only.wait_more_polls(20, "more polls", &s, 2).await;
    assert!(
        last_actions(&s, "temp-copy").is_empty(),
        "alert only: {s:#}"
    );
    assert_follower_status(&sim, "temp-copy", Some("active"));
    alert_only.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let d = start_with_policy(
        &sim,
        dir.path(),
        "on_leader_deleted = \"unfollow\"",
        &[("temp", "temp-copy", ""), ("keep", "keep-copy", "")],
    )
    .await;
    d.wait_last_action(
        20,
        "unfollowed",
        "temp-copy",
        "unfollow on_leader_deleted success",
    )
    .await;
    assert_regular_and_writable(&sim, "temp-copy", 6);
    assert_follower_status(&sim, "keep-copy", Some("active"));
    d.stop().await;
    sim.shutdown().await;
}
