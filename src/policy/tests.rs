//! Tests of policy loading and diagnostics.
