//! The action commands: `pause`, `resume`, `unfollow`, `promote`. They talk to the clusters directly with the
//! configuration's clients, through the same [`Executor`] as the daemon (audited, dry run honoured), and share
//! the daemon's state directory so a running daemon knows about a pause made here and leaves a runbook in
//! progress alone.
//!
//! SIGTERM and SIGINT do not kill a command in the middle of a step: the request in flight is finished, and
//! the command stops at the next point where the index is open and usable (after `pause`, or before the
//! first step). Once the index is closed, the remaining steps (unfollow, open) are the way back to an open
//! index, so they are finished. The runbook record in `state_dir/runbooks/` then says where it stopped; a
//! second signal stops at once (as a crash would: re-running finishes it).
//!
//! Exit status: 0 done (or already so, or dry run), 1 the action failed, was refused or was interrupted, 2 bad
//! arguments or configuration (an index name Elasticsearch would refuse, a wildcard, `_all` or a list).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use clap::Args;

use super::{block_on, init_logging, load, ConfigArg, EXIT_CONFIG, EXIT_PROBLEM};
use crate::act::history::{History, PausedByUs, Rule};
use crate::act::runbook::{
    self, DataStreamOutcome, DsStep, DsStepReport, PromoteOptions, RunbookOutcome, RunbookStore,
    Step, StepReport,
};
use crate::act::{Action, ActionResult, AuditLog, Executor};
use crate::config::Config;

/// Arguments of `pause`, `resume` and `unfollow`.
#[derive(Debug, Clone, Args)]
pub struct FollowerArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The follower index.
    pub follower_index: String,
    /// The follower cluster (configuration name); needed when the index name is configured on several.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Show what would be sent, send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `promote`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
A follower index is promoted by pause, close, unfollow and open once it has caught up.

A replicated data stream (auto-followed backing indices) is detected by its name and promoted in the order \
Elasticsearch allows: unfollow every older backing index, POST /_data_stream/_promote/<name>, roll the stream \
over (a new regular write index), then unfollow the old write index. It is refused, with nothing changed, when \
the follower cluster has no matching index template with a data_stream section (a promoted stream could not \
roll over) or runs a version before 7.9.

Unless --force, promote first asks the running daemon whether every follower involved is healthy and no more \
than health.max_promote_lag behind in time, then checks it caught up (lag 0, equal document counts, a quiet \
leader) over [policy] promote_stable_polls looks.")]
pub struct PromoteArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The follower index or replicated data stream to promote (or `--all`).
    #[arg(
        required_unless_present = "all",
        conflicts_with = "all",
        value_name = "FOLLOWER_INDEX|DATA_STREAM"
    )]
    pub follower_index: Option<String>,
    /// Promote every configured follower (of `--cluster`, when given).
    #[arg(long)]
    pub all: bool,
    /// The follower cluster (configuration name).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Wait until caught up (up to `[policy] promote_timeout`) instead of refusing.
    #[arg(long)]
    pub wait: bool,
    /// Promote without the lag gate (health.max_promote_lag) and without checking that the followers caught up.
    #[arg(long)]
    pub force: bool,
    /// Show what would be sent, send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Which action command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Pause,
    Resume,
    Unfollow,
}

/// The follower cluster of `index`: `--cluster`, else the one cluster that configures it, else the only
/// follower cluster.
pub fn resolve_cluster(cfg: &Config, index: &str, cluster: Option<&str>) -> Result<String, String> {
    if let Some(c) = cluster {
        return if cfg.clusters.contains_key(c) {
            Ok(c.to_string())
        } else {
            Err(format!(
                "--cluster `{c}` is not a configured cluster (configured: {})",
                cfg.clusters.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        };
    }
    let configured: Vec<&str> = cfg
        .followers
        .iter()
        .filter(|f| f.follower_index == index)
        .map(|f| f.cluster.as_str())
        .collect();
    match configured.as_slice() {
        [one] => return Ok(one.to_string()),
        [] => {}
        many => {
            return Err(format!(
                "follower_index `{index}` is configured on several clusters ({}); choose one with --cluster",
                many.join(", ")
            ))
        }
    }
    match cfg.follower_clusters().as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!(
            "follower_index `{index}` is not in [[followers]] and several clusters could hold it; choose one with --cluster"
        )),
    }
}

/// The first SIGTERM or SIGINT received while a command runs.
#[derive(Clone, Default)]
struct Interrupt {
    token: tokio_util::sync::CancellationToken,
    signal: Arc<Mutex<Option<&'static str>>>,
}

impl Interrupt {
    /// Listens for SIGTERM and SIGINT (inside the runtime): the first one is noted and announced, a second one
    /// exits at once.
    fn listen() -> Self {
        let i = Self::default();
        let me = i.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                let name = next_signal().await;
                if first {
                    first = false;
                    *crate::sync::lock(&me.signal) = Some(name);
                    me.token.cancel();
                    eprintln!(
                        "{name} received: finishing the request in flight, then stopping where the index is \
                         left open (send it again to stop at once)"
                    );
                } else {
                    eprintln!(
                        "{name} received again: stopping now; run the same command again to finish \
                         (every step is safe to repeat)"
                    );
                    std::process::exit(i32::from(EXIT_PROBLEM));
                }
            }
        });
        i
    }

    fn received(&self) -> Option<&'static str> {
        *crate::sync::lock(&self.signal)
    }
}

/// The name of the next SIGTERM or SIGINT.
async fn next_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// The steps after which an interrupted runbook stops: the index is open there (paused). After `close` and
/// `unfollow` it is closed, so the runbook goes on to `open`.
fn stops_after(step: Step) -> bool {
    matches!(step, Step::Pause)
}

/// Refuses an index argument Elasticsearch would refuse or read as several indices, before any request.
fn check_index_arg(index: &str) -> Result<(), ExitCode> {
    crate::config::index_name(index).map_err(|e| {
        eprintln!("error: follower_index argument: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// The executor of the configuration's clients and audit log, or the exit status once the reason is printed.
pub(super) fn executor(cfg: &Config, dry_run: bool) -> Result<Executor, ExitCode> {
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_PROBLEM)
    };
    let clients = crate::es::Clients::from_config(cfg).map_err(|e| fail(e.to_string()))?;
    let audit = AuditLog::from_config(cfg).map_err(|e| fail(e.to_string()))?;
    Ok(Executor::new(clients)
        .with_dry_run(dry_run || cfg.policy.dry_run)
        .with_audit(audit))
}

/// The configuration of an action command, logging warnings only.
pub(super) fn load_quiet(arg: &ConfigArg) -> Result<Config, ExitCode> {
    let cfg = load(arg)?;
    init_logging(cfg.log.format, None, "warn");
    Ok(cfg)
}

/// The follower cluster of `index` (see [`resolve_cluster`]), or the exit status once the reason is printed.
fn follower_cluster(cfg: &Config, index: &str, cluster: Option<&str>) -> Result<String, ExitCode> {
    resolve_cluster(cfg, index, cluster).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// The runbook context over `exec`, after the line that names the runbook and its target.
fn start_runbook<'a>(
    what: &str,
    cluster: &str,
    index: &str,
    exec: &'a Executor,
    cfg: &'a Config,
    store: &'a RunbookStore,
) -> runbook::Ctx<'a> {
    println!(
        "{what}: follower_index `{index}` on `{cluster}`{}",
        if exec.is_dry_run() { " (dry run)" } else { "" }
    );
    runbook::Ctx { exec, cfg, store }
}

/// Remembers in the state directory what a `pause`/`resume` command did, so a running daemon's
/// `resume_unexpected_pause` does not undo a pause made on purpose. Best effort: a warning when it cannot.
fn remember(state_dir: Option<&PathBuf>, cluster: &str, index: &str, paused: bool, why: &str) {
    let Some(dir) = state_dir else {
        return;
    };
    let result = History::load(dir).and_then(|mut h| {
        let f = h.follower_mut(cluster, index);
        f.paused_by_us = paused.then(|| PausedByUs {
            rule: Rule::Manual,
            at: Utc::now(),
            why: why.to_string(),
        });
        f.unexpected_pause_since = None;
        h.save(dir)
    });
    if let Err(e) = result {
        eprintln!("warning: {e}");
    }
}

/// `pause`, `resume` or `unfollow`.
pub fn follower_command(which: Which, a: FollowerArgs) -> ExitCode {
    run_follower_command(which, a).unwrap_or_else(|code| code)
}

fn run_follower_command(which: Which, a: FollowerArgs) -> Result<ExitCode, ExitCode> {
    check_index_arg(&a.follower_index)?;
    let cfg = load_quiet(&a.config)?;
    let cluster = follower_cluster(&cfg, &a.follower_index, a.cluster.as_deref())?;
    let exec = executor(&cfg, a.dry_run)?;
    let index = a.follower_index.clone();
    block_on(async move {
        let interrupt = Interrupt::listen();
        let code = match which {
            Which::Pause | Which::Resume => {
                let action = if which == Which::Pause {
                    Action::PauseFollow {
                        cluster: cluster.clone(),
                        follower_index: index.clone(),
                    }
                } else {
                    Action::ResumeFollow {
                        cluster: cluster.clone(),
                        follower_index: index.clone(),
                        parameters: cfg
                            .follower(&cluster, &index)
                            .map(|f| f.parameters.clone())
                            .unwrap_or_default(),
                    }
                };
                let why = format!(
                    "`ccr-sentinel {}` command",
                    action.name().trim_end_matches("_follow")
                );
                let ev = exec.execute(&action, Rule::Manual.as_str(), &why).await;
                let what = if which == Which::Pause {
                    "pause"
                } else {
                    "resume"
                };
                match ev.result {
                    ActionResult::Success | ActionResult::AlreadyDone => {
                        remember(
                            cfg.policy.state_dir.as_ref(),
                            &cluster,
                            &index,
                            which == Which::Pause,
                            &why,
                        );
                        let note = if ev.result == ActionResult::AlreadyDone {
                            " (it already was)"
                        } else {
                            ""
                        };
                        println!("{what}: follower_index `{index}` on `{cluster}`: done{note}");
                        ExitCode::SUCCESS
                    }
                    ActionResult::DryRun => {
                        println!("{what}: follower_index `{index}` on `{cluster}`: dry run, nothing sent");
                        ExitCode::SUCCESS
                    }
                    ActionResult::Failed => {
                        eprintln!(
                            "{what}: follower_index `{index}` on `{cluster}` failed: {}",
                            ev.error.unwrap_or_default()
                        );
                        ExitCode::from(EXIT_PROBLEM)
                    }
                }
            }
            // Interrupted before the first request: nothing to finish.
            Which::Unfollow if interrupt.received().is_some() => ExitCode::from(EXIT_PROBLEM),
            Which::Unfollow => {
                let store = RunbookStore::new(cfg.policy.state_dir.as_deref());
                let ctx = start_runbook("unfollow", &cluster, &index, &exec, &cfg, &store);
                let mut hook = stepper(&interrupt);
                let r = runbook::unfollow(
                    ctx,
                    &cluster,
                    &index,
                    Rule::Manual,
                    "`ccr-sentinel unfollow` command",
                    &mut hook,
                )
                .await;
                finish(r, exec.is_dry_run())
            }
        };
        interrupted(&interrupt, code)
    })
}

/// The exit status of a command that ran to `code` and may have been interrupted: interrupted is a failure,
/// said in words.
fn interrupted(interrupt: &Interrupt, code: ExitCode) -> ExitCode {
    match interrupt.received() {
        Some(sig) => {
            eprintln!("interrupted by {sig}: the request in flight was finished (see above for where it stopped)");
            ExitCode::from(EXIT_PROBLEM)
        }
        None => code,
    }
}

/// The step hook of a command: prints each step and stops at the next safe point once interrupted.
fn stepper(interrupt: &Interrupt) -> impl FnMut(&StepReport) -> ControlFlow<()> + Send + '_ {
    move |s: &StepReport| {
        println!("  {:<16} {:<13} {}", s.step.as_str(), s.result, s.detail);
        if interrupt.received().is_some() && stops_after(s.step) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn finish(r: Result<RunbookOutcome, runbook::RunbookError>, dry_run: bool) -> ExitCode {
    match r {
        Ok(o) if o.finished => {
            if o.steps.is_empty() {
                println!(
                    "  nothing to do: `{}` is already a regular open index",
                    o.follower_index
                );
            } else if dry_run {
                println!("  dry run: nothing was sent");
            } else {
                println!(
                    "  done: `{}` is a regular, writable index",
                    o.follower_index
                );
            }
            if let Some(c) = &o.lease_cleanup {
                println!("  leader-side clean-up: {c}");
            }
            ExitCode::SUCCESS
        }
        Ok(o) => {
            eprintln!(
                "error: `{}` on `{}`: {}",
                o.follower_index,
                o.cluster,
                o.error.as_deref().unwrap_or("not finished")
            );
            if !o.steps.is_empty() {
                eprintln!("  run the same command again to finish (every step is safe to repeat)");
            }
            ExitCode::from(EXIT_PROBLEM)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}

/// The lag-in-time gate of `promote`: asks the running daemon (`[http] listen`), which keeps the history the
/// lag in seconds is interpolated from, whether the follower is healthy and within `max_lag`. A 503 refuses with
/// its reasons. When no daemon answers, the gate cannot be checked and says so (`Ok(false)`); the caught-up
/// checks that follow (lag 0, a quiet leader, equal document counts) still hold promote back.
pub(super) async fn lag_gate(
    base: &str,
    cluster: &str,
    index: &str,
    max_lag: std::time::Duration,
) -> Result<bool, String> {
    let url = format!(
        "{}/followers/{cluster}/{index}?max_lag={}",
        base.trim_end_matches('/'),
        max_lag.as_secs_f64()
    );
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let answer = match client.get(&url).send().await {
        Ok(r) => r,
        Err(_) => {
            eprintln!(
                "note: no ccr-sentinel daemon answered at {base}: the lag in time (health.max_promote_lag) is not checked"
            );
            return Ok(false);
        }
    };
    let status = answer.status();
    if status.is_success() {
        return Ok(true);
    }
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
        let reasons: Vec<String> = body["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        return Err(if reasons.is_empty() {
            "the daemon says the follower is not ready".to_string()
        } else {
            reasons.join("; ")
        });
    }
    eprintln!(
        "note: the daemon at {base} answered {status} for {cluster}/{index}: the lag in time is not checked"
    );
    Ok(true)
}

/// `promote`.
pub fn promote_command(a: PromoteArgs) -> ExitCode {
    run_promote_command(a).unwrap_or_else(|code| code)
}

fn run_promote_command(a: PromoteArgs) -> Result<ExitCode, ExitCode> {
    if let Some(index) = &a.follower_index {
        check_index_arg(index)?;
    }
    let cfg = load_quiet(&a.config)?;
    let targets: Vec<(String, String)> = if a.all {
        let list: Vec<(String, String)> = cfg
            .followers
            .iter()
            .filter(|f| a.cluster.as_deref().map_or(true, |c| c == f.cluster))
            .map(|f| (f.cluster.clone(), f.follower_index.clone()))
            .collect();
        if list.is_empty() {
            eprintln!(
                "error: --all: no [[followers]] are configured{}",
                a.cluster
                    .as_deref()
                    .map(|c| format!(" on `{c}`"))
                    .unwrap_or_default()
            );
            return Err(ExitCode::from(EXIT_CONFIG));
        }
        list
    } else {
        let index = a.follower_index.clone().unwrap_or_default();
        vec![(follower_cluster(&cfg, &index, a.cluster.as_deref())?, index)]
    };
    let exec = executor(&cfg, a.dry_run)?;
    let store = RunbookStore::new(cfg.policy.state_dir.as_deref());
    block_on(async move {
        let interrupt = Interrupt::listen();
        let opts = PromoteOptions {
            wait: a.wait,
            force: a.force,
            interval: cfg.policy.promote_poll_interval,
            stable_polls: cfg.policy.promote_stable_polls,
            timeout: cfg.policy.promote_timeout,
            stop: Some(interrupt.token.clone()),
        };
        let mut failed = 0;
        let daemon = super::local_daemon_url(&cfg);
        for (cluster, index) in &targets {
            if interrupt.received().is_some() {
                // `--all`: the followers not started yet are left as they are.
                failed += 1;
                continue;
            }
            if !a.all {
                match promote_if_data_stream(
                    &exec, &cfg, &store, cluster, index, &opts, &a, &daemon, &interrupt,
                )
                .await
                {
                    Some(true) => continue,
                    Some(false) => {
                        failed += 1;
                        continue;
                    }
                    None => {}
                }
            }
            if !a.force {
                if let Err(why) =
                    lag_gate(&daemon, cluster, index, cfg.health.max_promote_lag).await
                {
                    eprintln!(
                        "{cluster}/{index}: promote refused: {why} (health.max_promote_lag {}; use --force to promote anyway)",
                        humantime::format_duration(cfg.health.max_promote_lag)
                    );
                    failed += 1;
                    continue;
                }
            }
            let ctx = start_runbook("promote", cluster, index, &exec, &cfg, &store);
            let mut hook = stepper(&interrupt);
            let r = runbook::promote(ctx, cluster, index, &opts, &mut hook).await;
            if finish(r, exec.is_dry_run()) != ExitCode::SUCCESS {
                failed += 1;
            }
        }
        if interrupt.received().is_some() {
            return interrupted(&interrupt, ExitCode::from(EXIT_PROBLEM));
        }
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            if targets.len() > 1 {
                eprintln!("{failed} of {} followers not promoted", targets.len());
            }
            ExitCode::from(EXIT_PROBLEM)
        }
    })
}

/// The steps after which an interrupted data-stream promotion stops: where every index is open and the stream
/// takes writes or is untouched (after a pause, after an index is open again, after the rollover).
fn ds_stops_after(step: &DsStep) -> bool {
    matches!(
        step,
        DsStep::Rollover
            | DsStep::Index {
                step: Step::Pause | Step::Open,
                ..
            }
    )
}

/// `promote <name>` of a data stream: `None` when `name` is no data stream on `cluster` (promoted as a follower
/// index then), else whether it succeeded (all printed).
#[allow(clippy::too_many_arguments)]
async fn promote_if_data_stream(
    exec: &Executor,
    cfg: &Config,
    store: &RunbookStore,
    cluster: &str,
    name: &str,
    opts: &PromoteOptions,
    a: &PromoteArgs,
    daemon: &str,
    interrupt: &Interrupt,
) -> Option<bool> {
    let client = exec.client(cluster)?;
    match runbook::is_data_stream(client, name).await {
        Ok(true) => {}
        Ok(false) => return None,
        // A data stream's name is no index, so the follower-index promotion of it changes nothing: it is the
        // safe way on when the cluster does not say (e.g. a user without the privilege to read data streams).
        Err(e) => {
            eprintln!(
                "note: cannot tell whether `{name}` is a data stream on `{cluster}` ({e}): promoting it as a follower index"
            );
            return None;
        }
    }
    let resuming = matches!(store.load_data_stream(cluster, name), Ok(Some(_)));
    if !a.force && !resuming {
        let view = match runbook::look(client, name, false).await {
            Ok(Some(v)) => v,
            Ok(None) => return None,
            Err(e) => {
                eprintln!("error: cannot look at data stream `{name}` on `{cluster}`: {e}");
                return Some(false);
            }
        };
        for (index, _) in view.backing.iter().filter(|(_, v)| v.follower.is_some()) {
            match lag_gate(daemon, cluster, index, cfg.health.max_promote_lag).await {
                Ok(true) => {}
                // No daemon to ask (said once): the caught-up checks still hold promote back.
                Ok(false) => break,
                Err(why) => {
                    eprintln!(
                        "{cluster}/{name}: promote refused: backing index `{index}`: {why} (health.max_promote_lag {}; use --force to promote anyway)",
                        humantime::format_duration(cfg.health.max_promote_lag)
                    );
                    return Some(false);
                }
            }
        }
    }
    println!(
        "promote: data stream `{name}` on `{cluster}`{}",
        if exec.is_dry_run() { " (dry run)" } else { "" }
    );
    let ctx = runbook::Ctx { exec, cfg, store };
    let mut hook = |s: &DsStepReport| {
        println!("  {:<56} {:<13} {}", s.step.describe(), s.result, s.detail);
        if interrupt.received().is_some() && ds_stops_after(&s.step) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let r = runbook::promote_data_stream(ctx, cluster, name, opts, &mut hook).await;
    Some(finish_data_stream(r, exec.is_dry_run()))
}

fn finish_data_stream(r: Result<DataStreamOutcome, runbook::RunbookError>, dry_run: bool) -> bool {
    match r {
        Ok(o) if o.finished => {
            if o.steps.is_empty() {
                println!(
                    "  nothing to do: data stream `{}` is a regular stream and no backing index is a follower",
                    o.data_stream
                );
            } else if dry_run {
                println!("  dry run: nothing was sent");
            } else {
                println!(
                    "  done: data stream `{}` is a regular stream: it takes writes and rolls over",
                    o.data_stream
                );
            }
            for c in &o.lease_cleanup {
                println!("  leader-side clean-up: {c}");
            }
            true
        }
        Ok(o) => {
            let what = if o.refused {
                "promote refused"
            } else {
                "error"
            };
            eprintln!(
                "{what}: data stream `{}` on `{}`: {}",
                o.data_stream,
                o.cluster,
                o.error.as_deref().unwrap_or("not finished")
            );
            if o.refused {
                eprintln!("  nothing was changed");
            } else if !o.steps.is_empty() {
                eprintln!("  run the same command again to finish (every step is safe to repeat)");
            }
            false
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_resolution() {
        let cfg = crate::config::from_toml_str(
            r#"
[clusters.a]
url = "http://127.0.0.1:1"
[clusters.b]
url = "http://127.0.0.1:2"
[clusters.l]
url = "http://127.0.0.1:3"
[[remotes]]
cluster = "a"
alias = "l"
leader = "l"
[[remotes]]
cluster = "b"
alias = "l"
leader = "l"
[[followers]]
cluster = "a"
remote = "l"
leader_index = "x"
follower_index = "x-copy"
[[followers]]
cluster = "b"
remote = "l"
leader_index = "x"
follower_index = "x-copy"
[[followers]]
cluster = "b"
remote = "l"
leader_index = "y"
follower_index = "y-copy"
"#,
        )
        .unwrap();
        assert_eq!(resolve_cluster(&cfg, "y-copy", None).unwrap(), "b");
        assert!(resolve_cluster(&cfg, "x-copy", None)
            .unwrap_err()
            .contains("--cluster"));
        assert_eq!(resolve_cluster(&cfg, "x-copy", Some("a")).unwrap(), "a");
        assert!(resolve_cluster(&cfg, "x-copy", Some("nope"))
            .unwrap_err()
            .contains("not a configured cluster"));
        assert!(resolve_cluster(&cfg, "other", None)
            .unwrap_err()
            .contains("--cluster"));
    }
}
