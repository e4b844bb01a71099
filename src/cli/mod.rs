//! The command line: `run`, `status`, `config check`, `healthcheck`, `demo`.
//!
//! Exit codes: 0 success, 1 the command ran and found a problem or failed, 2 bad configuration or arguments.

pub mod actions;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{self, Config, ConfigError, LogFormat};
use crate::daemon::{shutdown_signal, Daemon};
use crate::evaluate::report::Report;

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

/// Output format of `status`.
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
    Pause(crate::cli::actions::FollowerArgs),
    /// Resume a follower with the configured follow parameters.
    Resume(crate::cli::actions::FollowerArgs),
    /// Turn a follower into a regular writable index: pause (if active), close, unfollow, open. Safe to re-run
    /// after an interruption at any step.
    Unfollow(crate::cli::actions::FollowerArgs),
    /// Migration cut-over: wait until the follower has caught up (lag 0, equal document counts, stable over
    /// several looks), then unfollow it. Refuses otherwise unless --force.
    Promote(crate::cli::actions::PromoteArgs),
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
        Command::Config {
            command: ConfigCommand::Check { config },
        } => match load(&config) {
            Ok(cfg) => {
                println!(
                    "configuration {} is valid: {} cluster(s), {} remote(s), {} follower(s), {} auto-follow pattern(s)",
                    config.config.display(),
                    cfg.clusters.len(),
                    cfg.remotes.len(),
                    cfg.followers.len(),
                    cfg.auto_follow.len()
                );
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Run { config, log_format } => {
            let cfg = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(
                log_format.unwrap_or(cfg.log.format),
                cfg.log.level.as_deref(),
                "info",
            );
            runtime_then(|| async move {
                let daemon = crate::daemon::build(cfg)?;
                let listener = daemon.bind().await?;
                daemon.run(listener, shutdown_signal()).await
            })
        }
        Command::Status { config, format } => {
            let cfg = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(cfg.log.format, None, "error");
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::from(EXIT_PROBLEM);
                }
            };
            rt.block_on(async move {
                let daemon = match Daemon::new(cfg) {
                    Ok(d) => d,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(EXIT_PROBLEM);
                    }
                };
                daemon.poll_once().await;
                daemon.doc_counts_once().await;
                let report = daemon.report();
                match format {
                    OutputFormat::Json => match serde_json::to_string_pretty(&*report) {
                        Ok(s) => println!("{s}"),
                        Err(e) => {
                            eprintln!("error: {e}");
                            return ExitCode::from(EXIT_PROBLEM);
                        }
                    },
                    OutputFormat::Table => print!("{}", render_table(&report)),
                }
                if report.all_healthy() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_PROBLEM)
                }
            })
        }
        Command::Healthcheck { config, url } => {
            let base = match url {
                Some(u) => u,
                None => match load(&config) {
                    Ok(cfg) => {
                        let mut addr = cfg.http.listen;
                        // A wildcard listen address is reachable on loopback.
                        if addr.ip().is_unspecified() {
                            addr.set_ip(if addr.is_ipv4() {
                                std::net::Ipv4Addr::LOCALHOST.into()
                            } else {
                                std::net::Ipv6Addr::LOCALHOST.into()
                            });
                        }
                        format!("http://{addr}")
                    }
                    Err(code) => return code,
                },
            };
            healthcheck(&base)
        }
        Command::Reconcile {
            config,
            once,
            dry_run,
            format,
        } => {
            if !once {
                eprintln!("error: use `reconcile --once`; the daemon (`run`) reconciles on `schedule.reconcile`");
                return ExitCode::from(EXIT_CONFIG);
            }
            let cfg = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(cfg.log.format, cfg.log.level.as_deref(), "warn");
            block_on(crate::reconcile::cli_once(
                cfg,
                dry_run,
                format == OutputFormat::Json,
            ))
        }
        Command::Check { config, format } => {
            let cfg = match load(&config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(cfg.log.format, None, "error");
            block_on(crate::preflight::cli_check(
                cfg,
                format == OutputFormat::Json,
            ))
        }
        Command::Pause(a) => {
            crate::cli::actions::follower_command(crate::cli::actions::Which::Pause, a)
        }
        Command::Resume(a) => {
            crate::cli::actions::follower_command(crate::cli::actions::Which::Resume, a)
        }
        Command::Unfollow(a) => {
            crate::cli::actions::follower_command(crate::cli::actions::Which::Unfollow, a)
        }
        Command::Promote(a) => crate::cli::actions::promote_command(a),
        Command::Demo(args) => {
            // State changes (and the way back to healthy) are the point of the demo.
            init_logging(LogFormat::Text, None, "warn,ccr_sentinel::daemon=info");
            runtime_then(|| crate::demo::run(args))
        }
    }
}

/// Runs a command body that returns its own exit code.
fn block_on(f: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => {
            let code = rt.block_on(f);
            rt.shutdown_timeout(Duration::from_millis(500));
            code
        }
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}

/// Loads the configuration, printing every problem and mapping failure to exit status 2.
fn load(arg: &ConfigArg) -> Result<Config, ExitCode> {
    config::load(&arg.config).map_err(|e: ConfigError| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

fn runtime_then<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    let result = rt.block_on(f());
    // Do not wait for abandoned blocking tasks; shutdown must stay within a few seconds.
    rt.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_PROBLEM)
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

fn healthcheck(base: &str) -> ExitCode {
    let url = format!("{}/health", base.trim_end_matches('/'));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    rt.block_on(async {
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
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                eprintln!("unhealthy: {url} answered {status}: {body}");
                ExitCode::from(EXIT_PROBLEM)
            }
            Err(e) => {
                eprintln!("unhealthy: cannot reach {url}: {}", e.without_url());
                ExitCode::from(EXIT_PROBLEM)
            }
        }
    })
}

/// The `status` table: clusters, remotes, then one line per follower with its reasons below.
pub fn render_table(r: &Report) -> String {
    use std::fmt::Write;
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

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
