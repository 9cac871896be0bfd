//! Authentication of field agents and supervisors: argon2id password hashes, random bearer tokens stored
//! only as SHA-256, and the login rate limiter. The code lives in `farmco-shell`, shared with the
//! cloud; this module keeps the `crate::auth` paths.

pub use farmco_shell::auth::*;
