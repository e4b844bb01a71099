//! Stage 2, evaluate (pure): judge every follower from the snapshot and the configuration.
//!
//! [`health`] computes one verdict per follower; [`report`] joins the snapshot, the configuration and the
//! verdicts into the [`report::Report`] that `/status`, `ccr-sentinel status`, `/metrics` and the policies read.

pub mod health;
pub mod report;
