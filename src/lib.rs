//! ccr-sentinel: keeps Elasticsearch cross-cluster replication healthy.
//!
//! Data flows one way, observe -> evaluate -> plan (reconcile, policy, preflight) -> act, and the folders are
//! its stages, one line each in the order of the flow. A module names only modules of lower layers: sync, then
//! config, then es, observe, evaluate, metrics, act, then reconcile, policy and preflight (which hand `act` their
//! actions), daemon, demo and cli; `tests/it/architecture.rs` checks that, and that the pure cores do no I/O.
//!
//! - [`config`]: what the operator declares, validated up front (every problem reported at once).
//! - [`es`]: the Elasticsearch client, its response types and the classification of its errors.
//! - [`observe`]: stage 1, read the clusters into a [`observe::Snapshot`] on schedule; the one caught-up
//!   predicate ([`observe::caught_up`]).
//! - [`evaluate`]: stage 2 (pure), a verdict per follower and the [`evaluate::report::Report`] everything renders.
//! - [`reconcile`]: stage 3a, make the clusters match the configuration (pure [`reconcile::plan`] + runner).
//! - [`policy`]: stage 3b, react to verdicts (pure rules, one function each, and their runner).
//! - [`preflight`]: stage 3c, check the prerequisites of replication (read-only).
//! - [`act`]: stage 4, the only code that sends a mutating request: executor, audit, back-off, the persisted
//!   [`act::history`] of what was done, runbooks.
//! - [`metrics`]: every metric family the daemon exports.
//! - [`sync`]: lock access that survives a poisoned lock and the atomic file write, for every layer.
//! - [`daemon`]: the one composition root of `run` (and `demo`): jobs, scheduler, HTTP, systemd.
//! - [`cli`]: the only code that prints or chooses an exit code.
//! - `demo` (cargo feature `demo`, on by default): the daemon against an embedded simulated leader and follower.

pub mod act;
pub mod cli;
pub mod config;
pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod es;
pub mod evaluate;
pub mod metrics;
pub mod observe;
pub mod policy;
pub mod preflight;
pub mod reconcile;
pub mod sync;
#[cfg(test)]
pub(crate) mod testing;
