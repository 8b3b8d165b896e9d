//! Helpers shared by the authorization-flow test files.

pub mod flow;
