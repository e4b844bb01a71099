//! `status`: poll every cluster once and print every follower's state; exit 1 when something is not healthy.

use std::fmt::Write;
use std::process::ExitCode;

use super::table::columns;
use super::{block_on, init_logging, load, print_json, ConfigArg, OutputFormat, EXIT_PROBLEM};
use crate::daemon::Daemon;
use crate::evaluate::report::Report;

/// `ccr-sentinel status`.
pub(super) fn command(config: &ConfigArg, format: OutputFormat) -> ExitCode {
    let cfg = match load(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    init_logging(cfg.log.format, None, "error");
    block_on(async move {
        let daemon = match Daemon::new(cfg) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        };
        daemon.poll_once().await;
        daemon.doc_counts_once().await;
        // The counts are compared with the stats of a poll after them.
        daemon.poll_once().await;
        let report = daemon.report();
        match format {
            OutputFormat::Json => {
                if !print_json(&*report) {
                    return ExitCode::from(EXIT_PROBLEM);
                }
            }
            OutputFormat::Table => print!("{}", render_table(&report)),
        }
        if report.all_healthy() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_PROBLEM)
        }
    })
    .unwrap_or_else(|code| code)
}

/// The `status` table: clusters, remotes, then one line per follower with its reasons below.
pub fn render_table(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", r.summary());
    let mut rows = vec![vec![
        "CLUSTER".to_string(),
        "UP".into(),
        "STALE".into(),
        "LAST SUCCESS".into(),
    ]];
    for c in &r.clusters {
        rows.push(vec![
            c.name.clone(),
            yes_no(c.up),
            yes_no(c.stale),
            c.last_success
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "never".into()),
        ]);
    }
    out.push_str(&columns(&rows));
    for c in r.clusters.iter().filter(|c| c.insecure_skip_verify) {
        let _ = writeln!(out, "  ! {}", crate::config::insecure_tls_warning(&c.name));
    }
    for c in r.clusters.iter().filter(|c| !c.errors.is_empty()) {
        for e in c.errors.values() {
            let _ = writeln!(out, "  ! {e}");
        }
    }
    if !r.remotes.is_empty() {
        out.push('\n');
        let mut rows = vec![vec![
            "FOLLOWER CLUSTER".to_string(),
            "REMOTE".into(),
            "MODE".into(),
            "CONNECTED".into(),
            "NODES".into(),
        ]];
        for x in &r.remotes {
            rows.push(vec![
                x.follower_cluster.clone(),
                x.remote_cluster.clone(),
                x.mode.clone(),
                yes_no(x.connected),
                x.nodes_connected.to_string(),
            ]);
        }
        out.push_str(&columns(&rows));
    }
    out.push('\n');
    let mut rows = vec![vec![
        "FOLLOWER CLUSTER".to_string(),
        "FOLLOWER INDEX".into(),
        "REMOTE".into(),
        "LEADER INDEX".into(),
        "STATE".into(),
        "LAG".into(),
        "LAG TIME".into(),
        "LAST READ".into(),
        "LEADER DOCS".into(),
        "FOLLOWER DOCS".into(),
        "MANAGED".into(),
    ]];
    let dash = || "-".to_string();
    for f in &r.followers {
        let o = &f.observation;
        let sh = o.shards.as_ref();
        rows.push(vec![
            o.follower_cluster.clone(),
            o.follower_index.clone(),
            o.remote_cluster.clone(),
            o.leader_index.clone(),
            f.state.to_string(),
            sh.map(|s| s.global_checkpoint_lag.to_string())
                .unwrap_or_else(dash),
            // A lower bound (older than the kept history) is shown as such.
            f.time
                .as_ref()
                .map(|t| {
                    let bound = if t.lag_lower_bound { ">=" } else { "" };
                    format!("{bound}{:.1}s", t.lag_seconds)
                })
                .unwrap_or_else(dash),
            sh.and_then(|s| s.max_time_since_last_read_millis)
                .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                .unwrap_or_else(dash),
            o.docs
                .as_ref()
                .and_then(|d| d.leader_docs)
                .map(|n| n.to_string())
                .unwrap_or_else(dash),
            o.docs
                .as_ref()
                .and_then(|d| d.follower_docs)
                .map(|n| n.to_string())
                .unwrap_or_else(dash),
            yes_no(o.managed),
        ]);
    }
    out.push_str(&columns(&rows));
    render_data_streams(r, &mut out);
    render_dr(r, &mut out);
    for f in r.followers.iter().filter(|f| !f.reasons.is_empty()) {
        let _ = writeln!(
            out,
            "\n{}/{} ({}):",
            f.observation.follower_cluster, f.observation.follower_index, f.state
        );
        for reason in &f.reasons {
            let _ = writeln!(out, "  - {reason}");
        }
    }
    out
}

/// The data streams table (followers grouped by stream), then the backing indices auto-follow missed.
fn render_data_streams(r: &Report, out: &mut String) {
    if !r.data_streams.is_empty() {
        out.push('\n');
        let mut rows = vec![vec![
            "FOLLOWER CLUSTER".to_string(),
            "DATA STREAM".into(),
            "BACKING".into(),
            "FOLLOWERS".into(),
            "WORST".into(),
            "WORST INDEX".into(),
            "MAX LAG TIME".into(),
            "DOCS DIFF".into(),
            "UNFOLLOWED".into(),
        ]];
        let dash = || "-".to_string();
        for d in &r.data_streams {
            rows.push(vec![
                d.follower_cluster.clone(),
                d.data_stream.clone(),
                d.backing_indices.len().to_string(),
                d.followers.values().sum::<usize>().to_string(),
                d.worst_state.map(|s| s.to_string()).unwrap_or_else(dash),
                d.worst_follower_index.clone().unwrap_or_else(dash),
                d.max_lag_seconds
                    .map(|s| format!("{s:.1}s"))
                    .unwrap_or_else(dash),
                d.docs_difference
                    .map(|n| n.to_string())
                    .unwrap_or_else(dash),
                d.unfollowed_matches.to_string(),
            ]);
        }
        out.push_str(&columns(&rows));
    }
    for m in &r.unfollowed_matches {
        let _ = writeln!(
            out,
            "  ! unfollowed_match: {}:{} (data stream {}) matches auto-follow pattern {}/{} but {} has no follower {}",
            m.remote_cluster,
            m.leader_index,
            m.leader_data_stream,
            m.follower_cluster,
            m.pattern,
            m.follower_cluster,
            m.follower_index
        );
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// One line per DR pair: who writes, who replicates it, the last switchover and the anti-flap deadline; then
/// the topology's problems.
fn render_dr(r: &Report, out: &mut String) {
    let dr = &r.dr;
    if dr.pairs.is_empty() && dr.problems.is_empty() {
        return;
    }
    out.push('\n');
    for p in &dr.pairs {
        let _ = write!(
            out,
            "dr {}: {} writes, {} follows it ({} follower{})",
            p.pair,
            p.active,
            p.passive,
            p.replicating_followers,
            if p.replicating_followers == 1 {
                ""
            } else {
                "s"
            }
        );
        if let Some(m) = &p.last {
            match m.finished_at {
                Some(at) => {
                    let _ = write!(
                        out,
                        "; last {} {} -> {} at {}",
                        m.kind.as_str(),
                        m.from,
                        m.to,
                        at.format("%Y-%m-%d %H:%M:%S")
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        "; {} {} -> {} started {} and NOT FINISHED (re-run it)",
                        m.kind.as_str(),
                        m.from,
                        m.to,
                        m.started_at.format("%Y-%m-%d %H:%M:%S")
                    );
                }
            }
        }
        if let (true, Some(until)) = (p.anti_flap_active, p.anti_flap_until) {
            let _ = write!(
                out,
                "; no switchover before {}",
                until.format("%Y-%m-%d %H:%M:%S")
            );
        }
        out.push('\n');
        if let Some(m) = &p.last {
            for step in &m.operator_steps {
                let _ = writeln!(out, "  ! operator step: {step}");
            }
        }
    }
    for problem in &dr.problems {
        let _ = writeln!(out, "  ! topology: {problem}");
    }
}
