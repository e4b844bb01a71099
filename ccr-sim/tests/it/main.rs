//! The simulator's integration tests, in one binary: one link step instead of one per file.

mod common;

mod bad_input;
mod cli;
mod contract;
mod endpoints;
mod faults;
mod rest_layer;
mod security;
mod versions;
mod walkthrough;
