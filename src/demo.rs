//! `ccr-sentinel demo`: the daemon against an embedded simulated leader and follower (ccr-sim).

use std::net::SocketAddr;

/// Options of `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the daemon serves /metrics, /status, /health.
    #[arg(long, default_value = "127.0.0.1:9725")]
    pub listen: SocketAddr,
    /// Leader HTTP port; the follower gets PORT+1. 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    pub sim_port: u16,
    /// Do not run the scripted events (outage, fatal error, write burst).
    #[arg(long)]
    pub no_events: bool,
}

/// Runs the demo until Ctrl-C.
pub async fn run(_args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("the demo needs the ccr-sim library, which is not merged yet")
}
