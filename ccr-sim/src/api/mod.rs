//! The HTTP-shaped API on top of the world: the Elasticsearch REST endpoints and the `/_sim/`
//! control API, as functions from a request to a reply (the server does the I/O).
//!
//! In dependency order:
//! - `reply`: the parsed request and the reply before faults and formatting;
//! - `xcontent`: media types (request bodies by `Content-Type`, response formats);
//! - `rest`: the Elasticsearch endpoints (routing, security, dispatch);
//! - `control`: control actions, the `/_sim/` endpoints and the simulation step.

pub(crate) mod control;
pub(crate) mod reply;
pub(crate) mod rest;
pub(crate) mod xcontent;
