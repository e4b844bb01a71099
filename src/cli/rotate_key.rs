//! `ccr-sentinel rotate-key <alias>`: the key rotation runbook of an API-key remote
//! ([`crate::act::runbook::rotate_key`]), printed step by step.
//!
//! The new key's secret goes where the operator asked, once: `--secret-file PATH` (created with mode 0600,
//! never overwritten) or `--show-secret` (stdout). Without either, nothing is minted. A dry run mints nothing and
//! needs neither.
//!
//! Exit status: 0 rotated (or dry run), 1 waiting for the operator step, failed or stopped, 2 bad arguments or
//! configuration.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::actions::{executor, load_quiet};
use super::{block_on, ConfigArg, EXIT_CONFIG, EXIT_PROBLEM};
use crate::act::runbook::{rotate_key, RotateCtx, RotateOptions, RotationStore};
use crate::act::secret::write_secret_file;
use crate::config::Config;

/// Arguments of `rotate-key`.
#[derive(Debug, Clone, Args)]
pub struct RotateKeyArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The remote cluster alias (an API-key remote of `[[remotes]]`).
    pub alias: String,
    /// The follower cluster (configuration name); needed when several configure the alias.
    #[arg(long)]
    pub cluster: Option<String>,
    /// The new key is in the keystore of every follower node: reload, wait for the reconnect, invalidate the
    /// old key.
    #[arg(long)]
    pub installed: bool,
    /// Write the new key's encoded credential to this new file (mode 0600).
    #[arg(long, conflicts_with = "show_secret")]
    pub secret_file: Option<PathBuf>,
    /// Print the new key's encoded credential on stdout (once).
    #[arg(long)]
    pub show_secret: bool,
    /// How long to wait for the remote to reconnect after the reload.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Show the steps, send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The follower cluster whose remote `alias` is rotated: `--cluster`, else the one cluster configuring it.
fn remote_cluster(cfg: &Config, alias: &str, cluster: Option<&str>) -> Result<String, String> {
    let configured: Vec<&crate::config::RemoteSettings> = cfg
        .remotes
        .iter()
        .filter(|r| r.alias == alias && cluster.map_or(true, |c| c == r.cluster))
        .collect();
    match configured.as_slice() {
        [one] if one.security != crate::config::RemoteSecurity::ApiKey => Err(format!(
            "remote `{alias}` on `{}` is a certificate remote (security = \"{}\"): it has no API key to rotate",
            one.cluster,
            one.security.as_str()
        )),
        [one] => Ok(one.cluster.clone()),
        [] => Err(format!(
            "remote `{alias}` is not in [[remotes]]{}",
            cluster.map(|c| format!(" of cluster `{c}`")).unwrap_or_default()
        )),
        many => Err(format!(
            "remote `{alias}` is configured on several clusters ({}); choose one with --cluster",
            many.iter()
                .map(|r| r.cluster.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `rotate-key`.
pub fn command(a: RotateKeyArgs) -> ExitCode {
    run(a).unwrap_or_else(|code| code)
}

fn run(a: RotateKeyArgs) -> Result<ExitCode, ExitCode> {
    let cfg = load_quiet(&a.config)?;
    let cluster = remote_cluster(&cfg, &a.alias, a.cluster.as_deref()).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_CONFIG)
    })?;
    let exec = executor(&cfg, a.dry_run)?;
    let store = RotationStore::new(cfg.policy.state_dir.as_deref());
    let opts = RotateOptions {
        installed: a.installed,
        reconnect_timeout: a.timeout,
        poll_interval: Duration::from_millis(500),
        secret_file: a.secret_file.clone(),
        can_deliver: a.secret_file.is_some() || a.show_secret,
    };
    let (secret_file, show) = (a.secret_file.clone(), a.show_secret);
    let alias = a.alias.clone();
    let dry_run = exec.is_dry_run();
    let result = block_on(async move {
        println!(
            "rotate-key: remote `{alias}` on `{cluster}`{}",
            if dry_run { " (dry run)" } else { "" }
        );
        let mut deliver = |secret: &secrecy::SecretString| -> Result<String, String> {
            use secrecy::ExposeSecret;
            match (&secret_file, show) {
                (Some(p), _) => write_secret_file(p, secret)
                    .map(|()| format!("was written to {} (mode 0600)", p.display()))
                    .map_err(|e| format!("cannot write {}: {e}", p.display())),
                (None, true) => {
                    println!("new key (encoded, shown once): {}", secret.expose_secret());
                    Ok("was printed above".into())
                }
                (None, false) => Err(
                    "give --secret-file PATH or --show-secret to receive the new key's secret"
                        .into(),
                ),
            }
        };
        let mut hook = |r: &crate::act::runbook::RotateReport| {
            println!("  {:<16} {:<12} {}", r.step.as_str(), r.result, r.detail);
            ControlFlow::Continue(())
        };
        let ctx = RotateCtx {
            exec: &exec,
            cfg: &cfg,
            store: &store,
        };
        let outcome = rotate_key(ctx, &cluster, &alias, &opts, &mut deliver, &mut hook).await?;
        if let Some(e) = &outcome.error {
            eprintln!("rotate-key: {e}");
            return Ok(ExitCode::from(EXIT_PROBLEM));
        }
        if outcome.waiting_for_operator.is_some() {
            println!("rotate-key: waiting for the operator step above");
            return Ok(ExitCode::from(EXIT_PROBLEM));
        }
        println!("rotate-key: done");
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })?;
    Ok(result.unwrap_or_else(|e| {
        eprintln!("rotate-key: {e}");
        ExitCode::from(EXIT_PROBLEM)
    }))
}
