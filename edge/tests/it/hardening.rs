//! Regression tests of the security review's hardening findings (docs/security.md, "Hardening
//! (review 2026-12)"): each test attacks the way the review describes and asserts the refusal.

mod login;
mod metrics;
mod readings_bounds;
mod scope;
mod simulator;
mod users;
