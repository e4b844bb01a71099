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

#![warn(missing_docs)]

mod clock;
mod control;
mod error;
mod model;
mod ops;
mod replication;
mod rest;
mod scenario;
mod server;
mod sim;
mod util;
mod version;

pub use control::Action;
pub use error::{EsError, SimError};
pub use model::{HttpFaults, License, RequestStats, Role, Security};
pub use scenario::{Event, Scenario, ScenarioError};
pub use sim::{ClusterConfig, ClusterHandle, Sim, SimBuilder, DEFAULT_DOC_CAP};
pub use util::base64_encode;
pub use version::{Version, VersionError, DEFAULT_VERSION};
