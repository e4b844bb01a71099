//! `demo`: prints where to look, then a timestamped line per scripted step, until Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;

use super::{block_on, init_logging, outcome};
use crate::config::LogFormat;
use crate::demo::{Banner, DemoArgs, Narration};

/// `ccr-sentinel demo`.
pub(super) fn command(args: DemoArgs) -> ExitCode {
    // State changes (and the way back to healthy) are the point of the demo.
    init_logging(LogFormat::Text, None, "warn,ccr_sentinel::daemon=info");
    outcome(block_on(crate::demo::run(args, Arc::new(narrate))))
}

fn narrate(n: Narration<'_>) {
    match n {
        Narration::Ready(b) => print_banner(b),
        Narration::Step(what) => println!("[{}] {what}", chrono::Utc::now().format("%H:%M:%S")),
        Narration::EventsStopped(e) => eprintln!("scripted events stopped: {e:#}"),
    }
}

fn print_banner(b: &Banner) {
    let Banner {
        base,
        leader_url,
        follower_url,
        ..
    } = b;
    println!("ccr-sentinel demo");
    println!("  metrics:            {base}/metrics");
    println!("  status:             {base}/status");
    println!("  health / ready:     {base}/health  {base}/ready");
    println!("  leader (simulated):   {leader_url}   control: {leader_url}/_sim/state");
    println!("  follower (simulated): {follower_url}   control: {follower_url}/_sim/state");
    println!("  audit trail:        {}", b.audit.display());
    println!(
        "  leader indices: orders, clicks (20 docs/s each), archive (20000 docs, copied at 64kb/s); the follower cluster starts empty"
    );
    println!(
        "  reconcile (at start-up) creates: remote `leader`, followers orders-copy, clicks-copy, archive-copy \
         (bootstrapping first), auto-follow pattern `logs` (then logs-demo appears on the leader and is followed as logs-demo-copy)"
    );
    println!("  watch: ccr_sentinel_reconcile_actions_total, ccr_sentinel_follower_state, ccr_sentinel_actions_total,");
    println!("         /status (sections reconcile, policy), the audit trail");
    if b.no_events {
        println!("  scripted events: off");
    } else {
        println!(
            "  scripted events every {}s: remote outage, fatal error, burst of writes",
            b.event_interval
        );
    }
    println!("Ctrl-C to stop.");
}
