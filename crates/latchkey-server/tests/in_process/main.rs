//! In-process tests of endpoint logic: the router `serve` builds, driven with
//! `tower::ServiceExt::oneshot` on an in-memory SQLite database of its own, time from a mock
//! clock, fixtures made by the CLI's own code (`latchkey_server::testing`).
//! One binary, so that it links once; each test has its own app.
//!
//! What needs processes (several replicas, outages, the browser, federation,
//! the CLI as people run it) and everything that must hold on PostgreSQL and
//! Redis too is tested end to end in `tests/`.

mod common;

mod authorize;
mod branding;
mod caches;
mod claims_parameter;
mod client_auth;
mod device;
mod discovery;
mod dpop;
mod exchange;
mod fapi2;
mod introspection;
mod jar;
mod jarm;
mod languages;
mod mfa;
mod mfa_admin;
mod par;
mod profile;
mod revocation;
mod self_service;
mod sign_in_limits;
mod signing_algorithms;
mod signup;
mod token;
