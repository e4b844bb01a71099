//! `ccr-sim`: run simulated Elasticsearch clusters standalone.

use std::net::SocketAddr;

use anyhow::Context;
use ccr_sim::{ClusterConfig, Flavor, License, Scenario, Security, Sim};
use clap::{Parser, ValueEnum};

/// Simulated Elasticsearch clusters speaking the cross-cluster replication (CCR) REST API.
///
/// Each cluster listens for HTTP on its address; its transport address (what
/// `cluster.remote.<alias>.seeds` takes) is the same host with the port + 100. The control API
/// is under `/_sim/` on every cluster (see ccr-sim/README.md).
#[derive(Debug, Parser)]
#[command(name = "ccr-sim", disable_version_flag = true)]
struct Args {
    /// A cluster as NAME=HOST:PORT or NAME=HOST:PORT@VERSION (repeatable), e.g.
    /// `leader=127.0.0.1:19200` or `follower=127.0.0.1:19201@7.17.0`.
    #[arg(long = "cluster", value_name = "NAME=ADDR[@VERSION]", required = true)]
    clusters: Vec<String>,

    /// Elasticsearch version of clusters that do not give one (6.7 to 9.x).
    #[arg(long, value_name = "VERSION", default_value = "8.15.0")]
    version: String,

    /// Distribution every cluster imitates: `default` (Elastic's) or `aliyun` (Alibaba Cloud
    /// Elasticsearch 6.7: new indices carry `index.replication.type: physical`; 6.7 only).
    #[arg(long, value_enum, default_value_t = FlavorArg::Default)]
    flavor: FlavorArg,

    /// License of every cluster: trial (CCR allowed), basic or expired (CCR refused).
    #[arg(long, value_enum, default_value_t = LicenseArg::Trial)]
    license: LicenseArg,

    /// A TOML scenario file scripting faults and writes over time.
    #[arg(long, value_name = "FILE")]
    scenario: Option<std::path::PathBuf>,

    /// Stepped clock: time moves only by `POST /_sim/clock/advance {"ms":N}`.
    #[arg(long)]
    deterministic: bool,

    /// Seed for the fault-injection dice (same seed, same faults).
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,

    /// Turn security on for every cluster: requests must authenticate (Basic or ApiKey) and are
    /// authorized by role. Needs at least one --user or a --security-file.
    #[arg(long)]
    security: bool,

    /// A user as NAME:PASSWORD:ROLE[,ROLE...] (repeatable); built-in roles: superuser, monitor,
    /// no_privileges, or roles of --security-file.
    #[arg(long = "user", value_name = "NAME:PASSWORD:ROLES")]
    users: Vec<String>,

    /// A REST API key as ID:KEY:OWNER:ROLE (repeatable), sent as `ApiKey base64(ID:KEY)`.
    #[arg(long = "api-key", value_name = "ID:KEY:OWNER:ROLE")]
    api_keys: Vec<String>,

    /// A TOML file of roles (`[role.NAME]` with cluster, indices, remote_indices), users
    /// (`[[user]]`), API keys (`[[api_key]]`) and cross-cluster keys (`[[cross_cluster_key]]`);
    /// implies --security.
    #[arg(long, value_name = "FILE")]
    security_file: Option<std::path::PathBuf>,
}

/// The security realm of --security, --user, --api-key and --security-file (None: off).
fn security(args: &Args) -> anyhow::Result<Option<Security>> {
    let on = args.security || args.security_file.is_some();
    if !on {
        if !args.users.is_empty() || !args.api_keys.is_empty() {
            anyhow::bail!("--user and --api-key need --security (or --security-file)");
        }
        return Ok(None);
    }
    let mut sec = match &args.security_file {
        Some(p) => Security::from_file(p)?,
        None => Security::new(),
    };
    for spec in &args.users {
        // The password may hold ':'; the name is before the first one, the roles after the last.
        let (name, rest) = spec
            .split_once(':')
            .with_context(|| "--user: expected NAME:PASSWORD:ROLES".to_string())?;
        let (password, roles) = rest
            .rsplit_once(':')
            .with_context(|| format!("--user for [{name}]: expected NAME:PASSWORD:ROLES"))?;
        let roles: Vec<&str> = roles.split(',').map(str::trim).collect();
        sec = sec.add_user(name, password, &roles).context("--user")?;
    }
    for spec in &args.api_keys {
        let parts: Vec<&str> = spec.splitn(4, ':').collect();
        let [id, key, owner, role] = parts.as_slice() else {
            anyhow::bail!("--api-key: expected ID:KEY:OWNER:ROLE");
        };
        sec = sec.add_api_key(id, key, owner, role).context("--api-key")?;
    }
    if !sec.has_users() {
        anyhow::bail!("--security needs at least one --user or a --security-file with [[user]]");
    }
    Ok(Some(sec))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FlavorArg {
    Default,
    Aliyun,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LicenseArg {
    Trial,
    Basic,
    Expired,
}

fn parse_cluster(spec: &str, default_version: &str) -> anyhow::Result<ClusterConfig> {
    let (name, rest) = spec
        .split_once('=')
        .with_context(|| format!("--cluster [{spec}]: expected NAME=HOST:PORT[@VERSION]"))?;
    let (addr, version) = match rest.split_once('@') {
        Some((a, v)) => (a, v),
        None => (rest, default_version),
    };
    let addr: SocketAddr = addr.parse().with_context(|| {
        format!("--cluster [{spec}]: [{addr}] is not a HOST:PORT socket address")
    })?;
    version
        .parse::<ccr_sim::Version>()
        .with_context(|| format!("--cluster [{spec}]"))?;
    if name.is_empty() {
        anyhow::bail!("--cluster [{spec}]: the cluster name is empty");
    }
    Ok(ClusterConfig::new(name).addr(addr).version(version))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    args.version
        .parse::<ccr_sim::Version>()
        .context("--version")?;
    let license = match args.license {
        LicenseArg::Trial => License::trial(),
        LicenseArg::Basic => License::basic(),
        LicenseArg::Expired => License::expired(),
    };
    let flavor = match args.flavor {
        FlavorArg::Default => Flavor::Default,
        FlavorArg::Aliyun => Flavor::Aliyun,
    };
    let security = security(&args)?;
    let mut builder = Sim::builder().seed(args.seed);
    if args.deterministic {
        builder = builder.deterministic_clock();
    }
    for spec in &args.clusters {
        let mut cfg = parse_cluster(spec, &args.version)?
            .license(license.clone())
            .flavor(flavor);
        if let Some(sec) = &security {
            cfg = cfg.security(sec.clone());
        }
        builder = builder.cluster(cfg);
    }
    let scenario = match &args.scenario {
        Some(p) => Some(Scenario::from_file(p)?),
        None => None,
    };
    let sim = builder.start().await?;
    for name in sim.cluster_names() {
        tracing::info!(
            cluster = %name,
            http = %sim.url(name),
            transport = %sim.transport_address(name),
            security = security.is_some(),
            "simulated cluster listening"
        );
    }
    if let Some(s) = scenario {
        sim.run_scenario(&s)?;
        tracing::info!(events = s.events.len(), "scenario scheduled");
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}
