//! `farmco-shell`: the plumbing the edge's and the cloud's thin shells share, so each is written
//! once — argon2id passwords, bearer tokens and the login limiter ([`auth`]), the HTTP error
//! shape and its extractors ([`http`]), metric label sets ([`metrics`]), logging and the shutdown
//! signal ([`process`]). With the `test-pki` feature (tests only), `test_pki` makes a
//! throwaway CA and server certificates at run time.
//!
//! It depends on `farmco-sync` (for `ValidationError` → 422) and never on the edge or the
//! cloud: both point at it, and it knows nothing of SQLite or PostgreSQL.

pub mod auth;
pub mod http;
pub mod metrics;
pub mod process;
#[cfg(feature = "test-pki")]
pub mod test_pki;
