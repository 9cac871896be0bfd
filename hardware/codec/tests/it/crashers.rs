//! Replays every committed fuzz input under tests/crashers/{at,pdu}/ through the fuzz
//! targets' bodies (harness.rs), so a crash found once stays fixed. Files named README* are
//! documentation and skipped; the folders also hold seed inputs, replayed the same way.

use std::fs;
use std::path::Path;

use crate::harness;

fn replay(folder: &str, target: fn(&[u8])) -> usize {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/crashers")
        .join(folder);
    let mut replayed = 0;
    let entries = fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let is_readme = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("README"));
        if !path.is_file() || is_readme {
            continue;
        }
        let data = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        target(&data);
        replayed += 1;
    }
    replayed
}

#[test]
fn at_reader_crashers_and_seeds_replay() {
    assert!(
        replay("at", harness::at_reader) > 0,
        "no inputs under tests/crashers/at"
    );
}

#[test]
fn pdu_decode_crashers_and_seeds_replay() {
    assert!(
        replay("pdu", harness::pdu_decode) > 0,
        "no inputs under tests/crashers/pdu"
    );
}
