//! The simulator's integration tests, in one binary: one link step instead of one per file.

mod common;

mod api_keys;
mod bad_input;
mod cli;
mod contract;
mod endpoints;
mod faults;
mod security;
mod versions;
mod walkthrough;
