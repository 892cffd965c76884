//! tollgate: a git safety gate.
//!
//! Hooks installed by tollgate run the constraints of a TOML policy on every
//! commit and push. A failed constraint is a warning (acknowledged) or a
//! blocker (passed only with a single-use override token that is scoped to
//! that one blocker). The library holds everything; `main.rs` only parses
//! arguments and maps errors to exit codes.

pub mod audit;
pub mod baseline;
pub mod check;
pub mod cli;
pub mod clock;
pub mod detect;
pub mod gate;
pub mod git;
pub mod hooks;
pub mod overrides;
pub mod policy;
pub mod report;
pub mod scan;
pub mod ship;
pub mod state;
pub mod text;
pub mod trust;
