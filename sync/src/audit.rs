//! The hash chain of the security audit log, shared by the edge (SQLite) and the cloud
//! (PostgreSQL) so both compute — and verify — exactly the same links.
//!
//! Each row's hash covers its content and the previous row's hash; every field is
//! length-prefixed so no two different rows encode alike. Pure: the stores own the rows.

use sha2::{Digest, Sha256};

/// `prev_hash` of the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Lower-case hex SHA-256 of one audit row chained to `prev` (the previous row's hash).
pub fn row_hash(
    seq: i64,
    ts_ms: i64,
    actor: &str,
    action: &str,
    target: &str,
    detail: &str,
    prev: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"farmco-audit-v1\0");
    for part in [
        seq.to_string().as_str(),
        ts_ms.to_string().as_str(),
        actor,
        action,
        target,
        detail,
        prev,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_hex_and_depends_on_every_field_and_the_link() {
        let base = row_hash(1, 2, "a", "b", "c", "{}", GENESIS_HASH);
        assert_eq!(base.len(), 64);
        assert!(
            base.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(base, row_hash(1, 2, "a", "b", "c", "{}", &base));
        assert_ne!(base, row_hash(1, 2, "ab", "", "c", "{}", GENESIS_HASH));
    }
}
