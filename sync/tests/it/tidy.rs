//! Tidy checks of this crate's own source, run by `cargo test`: every Rust file opens with a
//! `//!` module doc, no banned macros, and the pure core's dependencies stay on an allowlist
//! (no async runtime, database, network or clock crates).

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_file_has_a_module_doc_and_no_banned_macros() {
    let root = crate_dir();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    assert!(files.len() >= 4);
    // Built by concatenation so this file does not match itself.
    let banned = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
    ];
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} must start with a //! module doc",
            file.display()
        );
        for macro_call in banned {
            assert!(
                !text.contains(macro_call),
                "{} contains {macro_call}",
                file.display()
            );
        }
    }
}

#[test]
fn library_code_has_no_unwrap_or_unsafe() {
    let mut files = Vec::new();
    rust_files(&crate_dir().join("src"), &mut files);
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        // Unit tests at the end of a file may unwrap.
        let library = text.split("#[cfg(test)]").next().unwrap_or("");
        assert!(
            !library.contains(concat!(".unwrap", "()")),
            "{} unwraps",
            file.display()
        );
        assert!(
            !library.contains(concat!("unsafe", " ")),
            "{} uses unsafe",
            file.display()
        );
    }
}

#[test]
fn dependencies_are_pure() {
    let manifest = fs::read_to_string(crate_dir().join("Cargo.toml")).unwrap();
    let allowed = [
        "automerge",
        "geo",
        "rstar",
        "serde",
        "serde_json",
        "thiserror",
        "uuid",
        "time",
        "sha2",
        "hex",
        // The sync protocol: signatures, payload encoding and compression, key hygiene.
        "ed25519-dalek",
        "postcard",
        "zeroize",
        "zstd",
        // Bounded inflation of automerge's DEFLATE chunks before automerge parses them
        // (automerge already depends on it, with the same backend).
        "flate2",
    ];
    let mut section = String::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        if section != "[dependencies]" || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['.', '=', ' ']).next().unwrap_or("");
        assert!(
            allowed.contains(&name),
            "dependency {name} is not on the pure-core allowlist"
        );
    }
}
