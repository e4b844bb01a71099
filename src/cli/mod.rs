//! The command line, and the only code that prints a command's result or picks the exit status.
//!
//! Commands:
//!
//! - `run`: the daemon (poll on schedule, reconcile, policy, `/metrics`, `/health`, `/ready`, `/status`).
//! - `status`: poll every cluster once and print every follower's state ([`status`]).
//! - `config check`: validate the configuration without contacting any cluster.
//! - `check`: the preflight checks of the CCR prerequisites, read-only ([`check`]).
//! - `reconcile --once`: bring remotes, followers and auto-follow patterns to the configured state once
//!   ([`reconcile`]).
//! - `pause`, `resume`, `unfollow`, `promote`: act on one follower (or all, for `promote --all`) ([`actions`]).
//! - `switchover`, `failover`: move the write role between two clusters and set up the reverse direction
//!   ([`switchover`]).
//! - `rotate-key`: replace an API-key remote's cross-cluster API key without disconnecting it ([`rotate_key`]).
//! - `healthcheck`: `GET /health` of a running daemon (for Docker `HEALTHCHECK`).
//! - `demo`: the daemon against an embedded simulated leader and follower (cargo feature `demo`, on by default).
//!
//! Exit status: 0 success; 1 the command ran and found a problem (not healthy, blocked, refused) or failed;
//! 2 bad configuration or arguments.

pub mod actions;
pub mod check;
#[cfg(feature = "demo")]
pub mod demo;
pub mod reconcile;
pub mod rotate_key;
pub mod status;
pub mod switchover;
pub mod table;

use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, LogFormat};
use crate::daemon::shutdown_signal;

/// Exit status for "the command ran and found a problem".
pub const EXIT_PROBLEM: u8 = 1;
/// Exit status for bad configuration or arguments.
pub const EXIT_CONFIG: u8 = 2;

/// Keeps Elasticsearch cross-cluster replication healthy.
#[derive(Debug, Parser)]
#[command(name = "ccr-sentinel", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by the commands that read the configuration.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Configuration file (TOML); `CCR_SENTINEL_*` environment variables override its keys.
    #[arg(long, short = 'c', env = "CCR_SENTINEL_CONFIG", default_value = config::DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
}

/// Output format of `status`, `check` and `reconcile --once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll on schedule, serve /metrics, /health, /ready and /status.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// Log format (default: `[log] format` from the configuration, else text).
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Poll every cluster once and print every follower's state. Exits 1 when something is not healthy.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// Output: a table for people, JSON (the /status shape) for scripts.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// GET /health of a running daemon; exits 0 when it answers 200 (for Docker HEALTHCHECK).
    Healthcheck {
        #[command(flatten)]
        config: ConfigArg,
        /// The daemon's base URL (default: from `[http] listen` of the configuration).
        #[arg(long)]
        url: Option<String>,
    },
    /// Start an embedded simulated leader and follower: the daemon sets up replication (reconcile) and watches it, with scripted faults.
    #[cfg(feature = "demo")]
    Demo(crate::demo::DemoArgs),
    /// Bring remotes, followers and auto-follow patterns to the configured state once. Exits 1 when an item
    /// stays blocked (its reason is printed).
    Reconcile {
        #[command(flatten)]
        config: ConfigArg,
        /// Run once and exit (the daemon runs reconcile on `schedule.reconcile`).
        #[arg(long)]
        once: bool,
        /// Compute and print the plan; send nothing (also `[reconcile] dry_run = true`).
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        /// Create the cross-cluster API keys of `security = "api_key"` remotes and write each one's secret to a
        /// new file DIR/<cluster>.<alias>.credentials (mode 0600).
        #[arg(long, value_name = "DIR", conflicts_with = "show_credentials")]
        credentials_dir: Option<std::path::PathBuf>,
        /// Create the cross-cluster API keys of `security = "api_key"` remotes and print each one's secret once
        /// on standard output (table format only).
        #[arg(long)]
        show_credentials: bool,
    },
    /// Preflight: check the CCR prerequisites (reachability, versions, licenses, leader indices, remotes,
    /// follower names, privileges) without changing anything. Exits 1 when something blocks.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Pause a follower (POST /{index}/_ccr/pause_follow).
    Pause(actions::FollowerArgs),
    /// Resume a follower with the configured follow parameters.
    Resume(actions::FollowerArgs),
    /// Turn a follower into a regular writable index: pause (if active), close, unfollow, open. Safe to re-run
    /// after an interruption at any step.
    Unfollow(actions::FollowerArgs),
    /// Replace the cross-cluster API key of an API-key remote: mint the new key (same access), show the operator
    /// step, then (with --installed) reload the follower's secure settings, wait for the remote to reconnect and
    /// invalidate the old key. Safe to re-run after an interruption at any step.
    RotateKey(rotate_key::RotateKeyArgs),
    /// Migration cut-over: wait until the follower has caught up (lag 0, equal document counts, stable over
    /// several looks, within health.max_promote_lag), then unfollow it; a replicated data stream is promoted
    /// (backing indices unfollowed, _promote, rollover). Refuses otherwise unless --force.
    Promote(actions::PromoteArgs),
    /// Disaster recovery, planned: move the write role of --to's followers and auto-follow patterns of --from to
    /// --to (pause the patterns, wait until writes stopped and every follower caught up, promote followers and
    /// data streams), then set up the reverse direction. Never deletes an index; safe to re-run after an
    /// interruption at any step. Refused within `[dr] anti_flap_period` of the pair's last switchover.
    Switchover(switchover::SwitchoverArgs),
    /// Disaster recovery, emergency: the switchover to --to; with --force without the caught-up gate (the old
    /// write cluster is down), after stating what may be lost.
    Failover(switchover::FailoverArgs),
}

/// `config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration without contacting any cluster; lists every problem.
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_CONFIG } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Run { config, log_format } => run(&config, log_format),
        Command::Status { config, format } => status::command(&config, format),
        Command::Config {
            command: ConfigCommand::Check { config },
        } => config_check(&config),
        Command::Healthcheck { config, url } => healthcheck(&config, url),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::command(args),
        Command::Reconcile {
            config,
            once,
            dry_run,
            format,
            credentials_dir,
            show_credentials,
        } => reconcile::command(
            &config,
            once,
            dry_run,
            format,
            reconcile::SecretsArg {
                dir: credentials_dir,
                show: show_credentials,
            },
        ),
        Command::Check { config, format } => check::command(&config, format),
        Command::Pause(a) => actions::follower_command(actions::Which::Pause, a),
        Command::Resume(a) => actions::follower_command(actions::Which::Resume, a),
        Command::Unfollow(a) => actions::follower_command(actions::Which::Unfollow, a),
        Command::Promote(a) => actions::promote_command(a),
        Command::RotateKey(a) => rotate_key::command(a),
        Command::Switchover(a) => switchover::switchover_command(a),
        Command::Failover(a) => switchover::failover_command(a),
    }
}

/// `ccr-sentinel run`.
fn run(config: &ConfigArg, log_format: Option<LogFormat>) -> ExitCode {
    // The daemon applies the DR topology itself, and again whenever the file changes.
    let cfg = match load_declared(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    init_logging(
        log_format.unwrap_or(cfg.log.format),
        cfg.log.level.as_deref(),
        "info",
    );
    let path = config.config.clone();
    outcome(block_on(async move {
        let daemon = crate::daemon::build(cfg)?;
        daemon.set_config_file(&path);
        let listener = daemon.bind().await?;
        let reload =
            crate::daemon::reload::Reload::on_sighup(path).context("cannot listen for SIGHUP")?;
        daemon
            .run_with_reload(listener, shutdown_signal(), Some(reload))
            .await
    }))
}

/// `ccr-sentinel config check`.
fn config_check(config: &ConfigArg) -> ExitCode {
    match load(config) {
        Ok(cfg) => {
            println!(
                "configuration {} is valid: {} cluster(s), {} remote(s), {} follower(s), {} auto-follow pattern(s)",
                config.config.display(),
                cfg.clusters.len(),
                cfg.remotes.len(),
                cfg.followers.len(),
                cfg.auto_follow.len()
            );
            for w in cfg.warnings() {
                println!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// A URL as it may be printed: any userinfo (`user:password@`) is replaced by `***`. Works on text that is not
/// a valid URL too, so nothing typed after `--url` can leak.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_string(),
    }
}

/// `ccr-sentinel healthcheck`: `--url`, else the configured listen address (a wildcard one on loopback).
/// The base URL of the daemon that `cfg` configures on this host (`[http] listen`, an unspecified address as
/// localhost).
pub(crate) fn local_daemon_url(cfg: &crate::config::Config) -> String {
    let mut addr = cfg.http.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{addr}")
}

fn healthcheck(config: &ConfigArg, url: Option<String>) -> ExitCode {
    let base = match url {
        Some(u) => u,
        None => match load_declared(config) {
            Ok(cfg) => local_daemon_url(&cfg),
            Err(code) => return code,
        },
    };
    let url = format!("{}/health", base.trim_end_matches('/'));
    block_on(async {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        };
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => {
                println!("healthy ({})", r.status());
                ExitCode::SUCCESS
            }
            Ok(mut r) => {
                let status = r.status();
                // The start of the body is enough to say why; whatever answers is not trusted to be small.
                let mut body = crate::es::BoundedBody::new(4096);
                while let Ok(Some(chunk)) = r.chunk().await {
                    if !body.push(&chunk) {
                        break;
                    }
                }
                let body = String::from_utf8_lossy(&body.into_inner()).into_owned();
                eprintln!("unhealthy: {} answered {status}: {body}", redact_url(&url));
                ExitCode::from(EXIT_PROBLEM)
            }
            Err(e) => {
                eprintln!(
                    "unhealthy: cannot reach {}: {}",
                    redact_url(&url),
                    e.without_url()
                );
                ExitCode::from(EXIT_PROBLEM)
            }
        }
    })
    .unwrap_or_else(|code| code)
}

/// Runs `f` to completion on a fresh runtime, the one way every command starts one. Abandoned blocking tasks
/// are not waited for, so a command ends within a second of its result. `Err` is the exit status when the
/// runtime cannot start (the reason is printed).
pub(crate) fn block_on<T>(f: impl Future<Output = T>) -> Result<T, ExitCode> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("error: cannot start the runtime: {e}");
        ExitCode::from(EXIT_PROBLEM)
    })?;
    let out = rt.block_on(f);
    rt.shutdown_timeout(Duration::from_millis(500));
    Ok(out)
}

/// The exit status of a command that ends with a result: 0, or 1 with the error chain printed.
fn outcome(result: Result<anyhow::Result<()>, ExitCode>) -> ExitCode {
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_PROBLEM)
        }
        Err(code) => code,
    }
}

/// Loads the configuration with the DR topology of `[policy] state_dir/topology.json` applied (what the daemon
/// runs on), printing every problem and mapping failure to exit status 2. A topology file that cannot be read
/// is a warning on stderr; the declared configuration is used (and `reconcile` refuses to run on it).
pub(crate) fn load(arg: &ConfigArg) -> Result<Config, ExitCode> {
    let cfg = load_declared(arg)?.with_topology_file();
    for p in &cfg.topology_problems {
        eprintln!("warning: DR topology: {p}");
    }
    Ok(cfg)
}

/// Loads the configuration as declared (without the DR topology), printing every problem and mapping failure
/// to exit status 2.
pub(crate) fn load_declared(arg: &ConfigArg) -> Result<Config, ExitCode> {
    config::load(&arg.config).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Prints `value` as pretty JSON on stdout; false (with the error on stderr) when it cannot be rendered.
pub(crate) fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> bool {
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            println!("{s}");
            true
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

/// Logs go to stderr: `RUST_LOG` wins, then the configured level, then `default`.
pub fn init_logging(format: LogFormat, level: Option<&str>, default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::builder().parse(level.unwrap_or(default)))
        .unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn printed_urls_lose_their_userinfo() {
        for (i, o) in [
            (
                "http://user:pw@host:9725/health",
                "http://***@host:9725/health",
            ),
            ("http://user@host/health", "http://***@host/health"),
            ("http://a:b@c@host/x@y", "http://***@host/x@y"),
            (
                "http://host:9725/health?x=a@b",
                "http://host:9725/health?x=a@b",
            ),
            ("not a url:pw@x", "not a url:pw@x"),
            ("https://u:p%40ss@[::1]:1", "https://***@[::1]:1"),
        ] {
            assert_eq!(redact_url(i), o, "{i}");
        }
    }
}
