//! The simulated Elasticsearch state and its operations, free of HTTP: the layer every
//! transport (the REST endpoints, the `/_sim/` control API, the Rust API) drives.
//!
//! In dependency order:
//! - `settings`: the index and cluster settings each version and flavour knows;
//! - `model`: the world, its clusters, indices and follow tasks;
//! - `security`: users, roles, API keys, privileges, the keystore and API-key remotes;
//! - `ops`: the operations the endpoints share (create, follow, remote links, privileges);
//! - `foreign`: borrowing clusters of another `Sim` of the process for one operation;
//! - `leases`: retention leases in time (added, renewed, expired);
//! - `scenario`: scenario files, and the queue of their events waiting for their time;
//! - `replication`: the tick that moves writers, auto-follow patterns and shard tasks.

pub(crate) mod foreign;
pub(crate) mod leases;
pub(crate) mod model;
pub(crate) mod ops;
pub(crate) mod replication;
pub(crate) mod scenario;
pub(crate) mod security;
pub(crate) mod settings;
