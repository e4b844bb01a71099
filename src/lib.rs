//! ccr-sentinel: keeps Elasticsearch cross-cluster replication healthy.
//!
//! Data flow: [`observe`] reads the clusters into a [`observe::Snapshot`], [`health`] judges every follower
//! (pure), [`report`] joins both for [`metrics`], [`http`] and the CLI. [`schedule`] runs the jobs,
//! [`daemon`] wires everything for `ccr-sentinel run`.

pub mod act;
pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod es;
pub mod health;
pub mod history;
pub mod http;
pub mod metrics;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod policy_runner;
pub mod preflight;
pub mod reconcile;
pub mod report;
pub mod runbook;
pub mod schedule;
pub mod systemd;
