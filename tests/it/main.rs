//! The integration tests: one binary (as ripgrep and jj do), one module per
//! area, so the shared harness in [`common`] links once. Every module runs
//! the real `tollgate` binary against real repositories in temporary
//! folders (see `common` for how each command is kept hermetic).
//!
//! All modules share one process and run on parallel threads: nothing here
//! may set environment variables or change the working directory of the
//! test process; tests that measure contention take turns on
//! [`common::HEAVY`]. Run one area with `cargo test --test it <module>::`.

mod common;

mod action;
mod agents;
mod allow;
mod anchor;
mod approval;
mod audit;
mod bad_input;
mod baseline;
mod ci_recipe;
mod content;
mod faults;
mod first_run;
mod fresh_clone;
mod fuzz_regressions;
mod hooks;
mod human_output;
mod ide;
mod import_gitleaks;
mod keys;
mod managers;
mod memory;
mod output_formats;
mod overrides;
mod policy_change;
mod policy_diagnostics;
mod precommit_framework;
mod presence;
mod rule_families;
mod scan;
mod server;
mod ship;
mod trail;
mod two_key;
