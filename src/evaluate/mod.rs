//! Stage 2, evaluate (pure): judge every follower from the snapshot and the configuration.
//!
//! [`health`] computes one verdict per follower; [`lag`] the follower's lag in time, RPO, catch-up ETA, grade and
//! retention-lease margin from the per-shard history; [`report`] joins the snapshot, the configuration and the
//! verdicts into the [`report::Report`] that `/status`, `ccr-sentinel status`, `/metrics` and the policies read;
//! [`data_streams`] groups the followers by data stream and finds the backing indices auto-follow missed.

pub mod data_streams;
pub mod dr;
pub mod health;
pub mod lag;
pub mod report;
