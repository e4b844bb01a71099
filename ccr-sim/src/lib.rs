//! ccr-sim: simulated Elasticsearch clusters speaking the cross-cluster replication (CCR) REST
//! API as `docs/es-contract.md` describes, for testing ccr-sentinel without Elasticsearch.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ccr_sim::SimError> {
//! use ccr_sim::{ClusterConfig, Sim};
//! let sim = Sim::builder()
//!     .cluster(ClusterConfig::new("leader"))
//!     .cluster(ClusterConfig::new("follower").version("7.17.0"))
//!     .start()
//!     .await?;
//! let leader_url = sim.url("leader");            // http://127.0.0.1:PORT
//! let seeds = sim.transport_address("leader");   // 127.0.0.1:PORT+100, for cluster.remote.*.seeds
//! sim.cluster("follower").disconnect_remote("leader")?;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! See `ccr-sim/README.md` for the control API (`/_sim/...`), faults and scenario files.
//!
//! Modules in dependency order, each using only those above it:
//! - `clock`: simulated time, real or deterministic (stepped by `advance`).
//! - `version`: Elasticsearch versions and the response differences between them.
//! - `error`: Elasticsearch error bodies and the crate's own errors.
//! - `util`: parsing and formatting helpers (settings, wildcards, sizes, base64).
//! - `action`: the control actions, plain data shared by every layer.
//! - `world/`: the clusters and their operations (model, security, ops, foreign, scenario,
//!   replication).
//! - `api/`: REST endpoints (CCR, indices, data streams, security) and the `/_sim/` control API
//!   as request-to-reply functions.
//! - `server`: one HTTP server per simulated cluster, with connection-level faults.
//! - `sim`: the public facade: [`Sim`], [`SimBuilder`], [`ClusterHandle`].

#![warn(missing_docs)]

mod action;
mod clock;
mod error;
mod util;
mod version;

mod world;

mod api;

mod server;
mod sim;

#[cfg(test)]
mod layers_test;

pub use action::{Action, DisconnectMode, Secret};
pub use error::{EsError, ScenarioError, SimError};
pub use sim::{ClusterConfig, ClusterHandle, Sim, SimBuilder, DEFAULT_DOC_CAP};
pub use util::base64_encode;
pub use version::{Version, VersionError, DEFAULT_VERSION};
pub use world::model::{HttpFaults, License, RequestStats, Role, Security};
pub use world::scenario::{Event, Scenario};
pub use world::security::{
    IndicesPrivileges, RemoteIndicesPrivileges, RoleDescriptor, SecurityFileError,
    REMOTE_CLUSTER_PORT_OFFSET,
};
pub use world::settings::Flavor;
