//! Engine tests on in-memory events.
