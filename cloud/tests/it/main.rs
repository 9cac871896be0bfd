//! Integration tests of farmco-cloud against a real PostgreSQL 15 + PostGIS 3: each test gets a
//! fresh database (`farmco_test_<random>`, created through `FARMCO_TEST_DATABASE_URL`, default
//! postgres://postgres@127.0.0.1:5432/postgres), migrated at open and dropped at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod bench;
mod cli;
mod console;
mod documents;
mod hardening;
mod nodes;
mod readings;
mod schema;
mod support;
mod tidy;
mod tls;
