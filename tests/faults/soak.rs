//! The soak run: simulated hours of polls, faults and policy actions on the simulator's deterministic clock,
//! the daemon's `poll` (with the policies) and `doc_counts` driven one simulated poll period per step. Memory
//! and open descriptors stay flat, no poll is missed, and what the daemon keeps per follower (the report,
//! `/metrics` series, the policy history) follows the followers that exist: a follower that disappears is
//! forgotten.
//!
//! `soak_bounded` (1 simulated hour) runs in CI; `soak_full_day` (24 simulated hours, a few minutes of wall
//! time in a release build) on demand: `cargo test --release --test faults -- --ignored soak`.

use std::time::{Duration, Instant};

use ccr_sentinel::daemon::schedule::{JobOutcome, RunResult};
use ccr_sentinel::daemon::Stages;
use ccr_sim::{ClusterConfig, HttpFaults, Sim};

use crate::common::{connect, create_leader_index, daemon_config};

/// One poll period of simulated time per step.
const PERIOD: Duration = Duration::from_secs(15);
const STEPS_PER_HOUR: usize = 240;
/// A new `roll-<n>-copy` every 20 simulated minutes; the one before the previous goes away then.
const ROLL_EVERY: usize = 80;
/// Followers configured for the whole run; `roll-<hour>-copy` ones come and go besides them.
const STATIC: usize = 8;

/// Open descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Resident memory of this process in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Follows `leader` (created with `docs` documents) as `follower` on the simulator.
fn follow(sim: &Sim, leader: &str, follower: &str, docs: u64) {
    create_leader_index(sim, leader, docs);
    sim.cluster("follower")
        .follow(follower, "leader", leader)
        .unwrap();
}

/// The follower indices `/metrics` has a state series for.
fn followers_in_metrics(body: &str) -> std::collections::BTreeSet<String> {
    body.lines()
        .filter(|l| l.starts_with("ccr_sentinel_follower_state{"))
        .filter_map(|l| {
            let rest = l.split("follower_index=\"").nth(1)?;
            Some(rest.split('"').next()?.to_string())
        })
        .collect()
}

async fn soak(hours: usize) {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"))
        .deterministic_clock()
        .start()
        .await
        .unwrap();
    connect(&sim, "follower", "leader", "leader");
    let mut followers = String::new();
    for i in 0..STATIC {
        follow(&sim, &format!("s{i}"), &format!("s{i}-copy"), 5);
        followers += &format!(
            "\n[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"s{i}\"\nfollower_index = \"s{i}-copy\"\n"
        );
    }
    sim.advance(PERIOD).unwrap();
    let cfg = daemon_config(
        &sim,
        &format!("[policy]\nrecover_fatal = true\nmax_actions_per_minute = 100\n{followers}"),
    );
    let cfg = ccr_sentinel::config::from_toml_str(&cfg).unwrap();
    let d = ccr_sentinel::daemon::build_with(
        cfg,
        Stages {
            policy: true,
            reconcile: false,
        },
    )
    .unwrap();

    let steps = hours * STEPS_PER_HOUR;
    let warmup = 40;
    let (mut start_rss, mut start_fds) = (0, 0);
    let mut failed_polls = 0;
    let wall = Instant::now();
    for step in 0..steps {
        let (hour, at) = (step / STEPS_PER_HOUR, step % STEPS_PER_HOUR);
        let s = format!("s{}-copy", hour % STATIC);
        if step % ROLL_EVERY == 0 {
            // Rolled-over indices: a new follower, and the one before the previous goes away.
            let n = step / ROLL_EVERY;
            follow(&sim, &format!("roll-{n}"), &format!("roll-{n}-copy"), 3);
            if n >= 2 {
                let old = n - 2;
                sim.cluster("follower")
                    .delete_index(&format!("roll-{old}-copy"))
                    .unwrap();
                sim.cluster("leader")
                    .delete_index(&format!("roll-{old}"))
                    .unwrap();
            }
        }
        match at {
            60 => {
                let leader = format!("s{}", hour % STATIC);
                sim.cluster("leader").index_docs(&leader, 20).unwrap();
            }
            // A fatal exception for recover_fatal to pause and resume.
            120 => sim.cluster("follower").fail_shard(&s, 0).unwrap(),
            // The remote goes away for two minutes.
            150 => sim.cluster("follower").disconnect_remote("leader").unwrap(),
            158 => sim.cluster("follower").connect_remote("leader").unwrap(),
            // Half the requests to the follower cluster fail for a minute.
            200 => sim
                .cluster("follower")
                .set_http_faults(HttpFaults {
                    error_rate: 0.5,
                    ..Default::default()
                })
                .unwrap(),
            204 => sim.cluster("follower").clear_faults().unwrap(),
            _ => {}
        }
        sim.advance(PERIOD).unwrap();
        let [poll, doc_counts] = d.run_cycle().await;
        assert!(
            matches!(poll, RunResult::Ran(_)) && matches!(doc_counts, RunResult::Ran(_)),
            "step {step}: a run was skipped ({poll:?}, {doc_counts:?})"
        );
        if poll == RunResult::Ran(JobOutcome::Partial) {
            failed_polls += 1;
        }
        if step == warmup {
            (start_rss, start_fds) = (rss_kib(), open_fds());
        }
    }
    let (end_rss, end_fds) = (rss_kib(), open_fds());
    println!(
        "soak {hours} simulated hours ({steps} polls) in {:.1}s: RSS {} KiB -> {} KiB, fds {start_fds} -> {end_fds}, \
         {failed_polls} polls with failed requests (injected)",
        wall.elapsed().as_secs_f64(),
        start_rss,
        end_rss
    );

    // No missed poll: one run per step, every one of them finished.
    let jobs = d.job_statuses();
    assert_eq!(jobs["poll"].runs, steps as u64, "{:?}", jobs["poll"]);
    assert_eq!(jobs["doc_counts"].runs, steps as u64);
    assert!(failed_polls > 0, "the injected HTTP faults were not seen");
    // Flat descriptors and memory (generous bounds: allocator noise, not growth per poll).
    assert!(
        end_fds <= start_fds + 16,
        "descriptors grew from {start_fds} to {end_fds}"
    );
    assert!(
        end_rss <= start_rss + 48 * 1024,
        "RSS grew from {start_rss} KiB to {end_rss} KiB"
    );
    // What is kept per follower follows the followers that exist.
    let metrics = d.metrics().render().unwrap();
    let present = followers_in_metrics(&metrics);
    let last = (steps - 1) / ROLL_EVERY;
    assert!(
        last >= 2,
        "the run is too short to delete a rolled follower"
    );
    for n in 0..last - 1 {
        assert!(
            !present.contains(&format!("roll-{n}-copy")),
            "roll-{n}-copy was deleted but is still in /metrics: {present:?}"
        );
    }
    assert!(
        present.contains(&format!("roll-{last}-copy")),
        "{present:?}"
    );
    assert!(present.len() <= STATIC + 2, "{present:?}");
    let report = d.report();
    assert!(
        report.followers.len() <= STATIC + 2,
        "{} followers in the report",
        report.followers.len()
    );
    // recover_fatal acted, and its history holds at most the followers it acted on.
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ccr_sentinel_actions_total{")
                && l.contains("rule=\"recover_fatal\"")
                && l.contains("result=\"success\"")),
        "recover_fatal never acted"
    );
    let history = d.policy_runner().unwrap().history_handle().snapshot();
    assert!(
        history.followers.len() <= STATIC + 2,
        "{} followers in the policy history: {:?}",
        history.followers.len(),
        history.followers.keys().collect::<Vec<_>>()
    );
    assert!(
        history.sent.len() <= 100,
        "{} sent times kept",
        history.sent.len()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_bounded() {
    soak(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "24 simulated hours: run with --release -- --ignored soak"]
async fn soak_full_day() {
    soak(24).await;
}
