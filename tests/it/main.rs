//! The integration tests of ccr-sentinel, one test binary: the daemon and the CLI against ccr-sim over real
//! HTTP, hostile servers for the failure paths, TLS and the systemd notify protocol.

mod api_keys;
mod apikey;
mod architecture;
mod bootstrap;
mod common;
mod config_cli;
mod data_streams;
#[cfg(feature = "demo")]
mod demo;
mod dr_topology;
mod ds_promote;
mod fake_es;
mod heartbeat;
mod hostile_input;
mod http_limits;
mod interrupt;
mod jobs;
mod lag_time;
mod policy_sim;
mod preflight;
mod reconcile;
mod reload;
mod sim_daemon;
mod switchover;
mod systemd_notify;
mod tls;
mod wire;
