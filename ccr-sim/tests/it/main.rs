//! The simulator's integration tests, in one binary: one link step instead of one per file.

mod common;

mod api_keys;
mod bad_input;
mod cli;
mod cluster_state;
mod connectivity;
mod contract;
mod endpoints;
mod faults;
mod leases;
mod rest_layer;
mod restore;
mod security;
mod seed;
mod settings;
mod versions;
mod walkthrough;
