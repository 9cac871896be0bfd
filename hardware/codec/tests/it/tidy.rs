//! Tidy checks on the crate's own source, inside `cargo test`: every Rust file opens with a
//! `//!` doc; no to-do, debug-print or unimplemented macros anywhere; library code outside its
//! `#[cfg(test)]` modules neither unwraps nor panics; the library touches no I/O, clock or
//! randomness; and its dependencies stay on the allowlist.

use std::fs;
use std::path::{Path, PathBuf};

/// The only normal dependencies this pure crate may have.
const DEPENDENCY_ALLOWLIST: [&str; 1] = ["thiserror"];

fn rust_files(folder: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        if path.is_dir() && name != "target" && name != "corpus" && name != "artifacts" {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let mut files = Vec::new();
    for folder in ["src", "tests", "fuzz"] {
        rust_files(&crate_root().join(folder), &mut files);
    }
    assert!(files.len() > 10);
    for path in files {
        let text = read(&path);
        assert!(
            text.starts_with("//!"),
            "{} must start with a //! doc",
            path.display()
        );
    }
}

#[test]
fn no_placeholders_and_no_panics_in_library_code() {
    let forbidden_everywhere = [
        concat!("to", "do!"),
        concat!("db", "g!"),
        concat!("unimpl", "emented!"),
    ];
    let forbidden_in_library = [".unwrap()", ".expect(", "panic!(", "unreachable!("];
    let impure = [
        "std::fs",
        "std::net",
        "std::io",
        "std::time",
        "std::thread",
        "std::process",
        "std::env",
    ];
    let mut files = Vec::new();
    rust_files(&crate_root().join("src"), &mut files);
    for path in &files {
        let text = read(path);
        let library = text.split("#[cfg(test)]").next().unwrap_or_default();
        for pattern in forbidden_everywhere {
            assert!(
                !text.contains(pattern),
                "{} contains {pattern}",
                path.display()
            );
        }
        for pattern in forbidden_in_library.iter().chain(impure.iter()) {
            assert!(
                !library.contains(pattern),
                "{} library code contains {pattern}",
                path.display()
            );
        }
    }
    let mut test_files = Vec::new();
    rust_files(&crate_root().join("tests"), &mut test_files);
    rust_files(&crate_root().join("fuzz"), &mut test_files);
    for path in &test_files {
        let text = read(path);
        for pattern in forbidden_everywhere {
            assert!(
                !text.contains(pattern),
                "{} contains {pattern}",
                path.display()
            );
        }
    }
}

#[test]
fn dependencies_stay_on_the_allowlist() {
    let manifest = read(&crate_root().join("Cargo.toml"));
    let mut section = "";
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section != "[dependencies]" || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        assert!(
            DEPENDENCY_ALLOWLIST.contains(&name),
            "{name} is not on the allowlist of this pure crate (tests/it/tidy.rs)"
        );
    }
}
