//! `switchover --from A --to B` and `failover --to B`: move the write role of B's followers and auto-follow
//! patterns of A to B, then set up the reverse direction ([`crate::act::runbook::switchover`]).
//!
//! Exit status: 0 done (or dry run), 1 refused, blocked (an operator step, a cluster that did not answer,
//! followers not caught up), failed or interrupted (re-running resumes), 2 bad arguments or configuration
//! (unknown cluster, `--from` = `--to`, nothing declared between the two, no `[policy] state_dir`).
//!
//! `CCR_TEST_SWITCHOVER_STOP_AFTER_STEP=N` (test-only, not for operators) stops after N steps as a crash would, so
//! the tests can check that a re-run converges from every point. It is outside the `CCR_SENTINEL_` prefix, which
//! the configuration reads as key overrides.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::actions::{executor, lag_gate};
use super::{
    block_on, init_logging, load_declared, print_json, ConfigArg, OutputFormat, EXIT_CONFIG,
    EXIT_PROBLEM,
};
use crate::act::runbook::switchover::{
    failover_from, switchover, LagGate, LossProbe, ReconcileOnce, ReconcileRun, ReconciledItem,
    SwitchStepReport, SwitchoverOptions, SwitchoverReport, SwitchoverResult,
};
use crate::act::runbook::{Ctx, RunbookStore};
use crate::act::ActionResult;
use crate::config::{Config, SwitchoverKind};
use crate::reconcile::{ItemState, Reconciler};

/// The test-only step limit.
const STOP_AFTER_STEP_ENV: &str = "CCR_TEST_SWITCHOVER_STOP_AFTER_STEP";

/// Arguments of `switchover`.
#[derive(Debug, Clone, Args)]
pub struct SwitchoverArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The cluster that takes the writes now (configuration name).
    #[arg(long)]
    pub from: String,
    /// The cluster that takes them after (configuration name): its followers of --from are promoted.
    #[arg(long)]
    pub to: String,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Only this follower (follower_index on --to); repeatable. With --follower or --pattern, only the named
    /// ones move.
    #[arg(long = "follower", value_name = "IDX")]
    pub followers: Vec<String>,
    /// Only this auto-follow pattern (on --to) and the data streams it follows; repeatable.
    #[arg(long = "pattern", value_name = "NAME")]
    pub patterns: Vec<String>,
}

/// Arguments of `failover`.
#[derive(Debug, Clone, Args)]
pub struct FailoverArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The cluster that takes the writes after (configuration name).
    #[arg(long)]
    pub to: String,
    /// The cluster that took them (default: the one cluster --to follows).
    #[arg(long)]
    pub from: Option<String>,
    /// Promote without waiting for the followers to catch up (the old write cluster is down): states first
    /// what may be lost. Also overrides the anti-flap rule.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of both commands.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Print the plan; send nothing, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until writes stopped and the followers caught up (up to --timeout) instead of stopping.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30m")]
    pub timeout: Duration,
    /// Switch even though the pair switched less than `[dr] anti_flap_period` ago.
    #[arg(long)]
    pub ignore_anti_flap: bool,
    /// Output: a table for people, JSON for scripts.
    #[arg(long, visible_alias = "format", value_enum, default_value = "table")]
    pub output: OutputFormat,
}

/// The declared configuration (the runner applies the topology file itself, step by step), logging warnings
/// only.
fn load_quiet(arg: &ConfigArg) -> Result<Config, ExitCode> {
    let cfg = load_declared(arg)?;
    init_logging(cfg.log.format, None, "warn");
    Ok(cfg)
}

/// `switchover`.
pub fn switchover_command(a: SwitchoverArgs) -> ExitCode {
    let cfg = match load_quiet(&a.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let o = options(
        &cfg,
        a.from,
        a.to,
        SwitchoverKind::Switchover,
        false,
        &a.common,
        a.followers,
        a.patterns,
    );
    run(cfg, o, &a.common)
}

/// `failover`.
pub fn failover_command(a: FailoverArgs) -> ExitCode {
    let cfg = match load_quiet(&a.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let from = match a.from {
        Some(f) => f,
        None => match failover_from(&cfg, &a.to) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(if e.is_usage() {
                    EXIT_CONFIG
                } else {
                    EXIT_PROBLEM
                });
            }
        },
    };
    let kind = if a.force {
        SwitchoverKind::Failover
    } else {
        SwitchoverKind::Switchover
    };
    let o = options(&cfg, from, a.to, kind, a.force, &a.common, vec![], vec![]);
    run(cfg, o, &a.common)
}

#[allow(clippy::too_many_arguments)]
fn options(
    cfg: &Config,
    from: String,
    to: String,
    kind: SwitchoverKind,
    force: bool,
    c: &CommonArgs,
    followers: Vec<String>,
    patterns: Vec<String>,
) -> SwitchoverOptions {
    let daemon = super::local_daemon_url(cfg);
    let max_lag = cfg.health.max_promote_lag;
    let gate_base = daemon.clone();
    let lag: LagGate = Arc::new(move |cluster, index| {
        let base = gate_base.clone();
        Box::pin(async move { lag_gate(&base, &cluster, &index, max_lag).await.map(|_| ()) })
    });
    let probe: LossProbe = Arc::new(move |cluster, index| {
        let base = daemon.clone();
        Box::pin(async move { daemon_follower(&base, &cluster, &index).await })
    });
    SwitchoverOptions {
        from,
        to,
        kind,
        force,
        ignore_anti_flap: c.ignore_anti_flap,
        wait: c.wait,
        timeout: c.timeout,
        followers,
        patterns,
        stop: None,
        stop_after_steps: std::env::var(STOP_AFTER_STEP_ENV)
            .ok()
            .and_then(|v| v.parse().ok()),
        lag_gate: Some(lag),
        loss_probe: Some(probe),
        // Set in `run`, where the executor is.
        reconcile: Arc::new(|_| Box::pin(async { ReconcileRun::default() })),
    }
}

/// `/followers/<cluster>/<index>` of the running daemon (200 or 503 both carry the follower's figures).
async fn daemon_follower(base: &str, cluster: &str, index: &str) -> Option<serde_json::Value> {
    let url = format!("{}/followers/{cluster}/{index}", base.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let r = client.get(&url).send().await.ok()?;
    if !(r.status().is_success() || r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE) {
        return None;
    }
    r.json().await.ok()
}

/// The reconciler once, through `exec`, as the runner folds it in.
fn reconcile_once(exec: crate::act::Executor) -> ReconcileOnce {
    Arc::new(move |cfg: Config| {
        let exec = exec.clone();
        Box::pin(async move {
            let r = Reconciler::new(Arc::new(cfg), exec).run_once().await;
            ReconcileRun {
                summary: r.summary(),
                items: r
                    .items
                    .iter()
                    .map(|i| ReconciledItem {
                        cluster: i.cluster.clone(),
                        kind: i.kind.as_str(),
                        name: i.name.clone(),
                        blocked: (i.state == ItemState::Blocked)
                            .then(|| (i.reason, i.message.clone().unwrap_or_default())),
                        actions: i.actions.clone(),
                    })
                    .collect(),
                failed: r
                    .events
                    .iter()
                    .filter(|e| e.result == ActionResult::Failed)
                    .map(|e| {
                        format!(
                            "{} on `{}` failed: {}",
                            e.action,
                            e.cluster,
                            e.error.as_deref().unwrap_or("")
                        )
                    })
                    .collect(),
            }
        })
    })
}

fn run(cfg: Config, mut o: SwitchoverOptions, c: &CommonArgs) -> ExitCode {
    let exec = match executor(&cfg, c.dry_run) {
        Ok(e) => e,
        Err(code) => return code,
    };
    o.reconcile = reconcile_once(exec.clone());
    let store = RunbookStore::new(cfg.policy.state_dir.as_deref());
    let table = c.output == OutputFormat::Table;
    let result = block_on(async {
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            terminate_or_interrupt().await;
            eprintln!(
                "interrupted: stopping after the step in flight (re-run the same command to resume)"
            );
            token.cancel();
        });
        o.stop = Some(stop);
        if table {
            println!(
                "{} {} -> {}{}",
                o.kind.as_str(),
                o.from,
                o.to,
                if exec.is_dry_run() { " (dry run)" } else { "" }
            );
        }
        let ctx = Ctx {
            exec: &exec,
            cfg: &cfg,
            store: &store,
        };
        let mut hook = |s: &SwitchStepReport| {
            if table {
                println!("  {:<34} {:<9} {}", s.step, s.result, s.detail);
            }
        };
        switchover(ctx, &o, &mut hook).await
    });
    let report = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(if e.is_usage() {
                EXIT_CONFIG
            } else {
                EXIT_PROBLEM
            });
        }
        Err(code) => return code,
    };
    if table {
        print_table(&report);
    } else if !print_json(&report) {
        return ExitCode::from(EXIT_PROBLEM);
    }
    match report.result {
        SwitchoverResult::Done | SwitchoverResult::DryRun => ExitCode::SUCCESS,
        _ => ExitCode::from(EXIT_PROBLEM),
    }
}

/// The first SIGTERM or SIGINT.
async fn terminate_or_interrupt() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn print_table(r: &SwitchoverReport) {
    let s = &r.scope;
    let names = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    if !r.refusals.is_empty() {
        eprintln!("refused, nothing was changed:");
        for x in &r.refusals {
            eprintln!("  - {x}");
        }
        return;
    }
    println!(
        "  scope: followers {}; patterns {}; data streams {}; rollovers {}",
        names(&s.followers),
        names(&s.patterns),
        names(&s.data_streams),
        names(&s.rollovers)
    );
    if !r.possible_loss.is_empty() {
        println!("  what may be lost (promoted without the caught-up gate):");
        for l in &r.possible_loss {
            println!("    {}/{}: {}", l.cluster, l.follower_index, l.detail);
        }
    }
    for x in &r.operator_steps {
        println!("  operator step: {x}");
    }
    for x in &r.blocked {
        println!("  blocked: {x}");
    }
    if let Some(e) = &r.error {
        eprintln!("error: {e}");
    }
    if let Some(p) = &r.topology {
        println!(
            "  topology: `{}` takes the writes; {} reverse follower(s), {} reverse pattern(s)",
            p.active,
            p.followers.len(),
            p.auto_follow.len()
        );
        if !r.permanent_config.is_empty() {
            println!(
                "  to make it permanent, put into the configuration (then remove topology.json):"
            );
            for line in r.permanent_config.lines() {
                println!("    {line}");
            }
        }
    }
    let hint = match r.result {
        SwitchoverResult::Done => "done",
        SwitchoverResult::DryRun => "dry run: nothing was sent",
        SwitchoverResult::Blocked => {
            "blocked: do the steps above, then re-run the same command (it resumes)"
        }
        SwitchoverResult::Interrupted | SwitchoverResult::Failed => {
            "not finished: re-run the same command to resume (every step is safe to repeat)"
        }
        SwitchoverResult::Refused => "refused",
    };
    println!("  result: {} ({hint})", r.result.as_str());
}
