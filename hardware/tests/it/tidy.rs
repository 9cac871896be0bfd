//! Tidy checks on the crate's own source, inside `cargo test`: every Rust file opens with a
//! `//!` doc; no to-do, debug-print or unimplemented macros anywhere; library code (outside
//! `#[cfg(test)]` modules) neither unwraps nor panics; and the driver and the simulator do
//! not depend on each other.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(folder: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
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
    fs::read_to_string(path).unwrap()
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let mut files = Vec::new();
    for folder in ["src", "tests", "examples", "benches"] {
        rust_files(&crate_root().join(folder), &mut files);
    }
    assert!(files.len() > 15);
    for path in files {
        assert!(
            read(&path).starts_with("//!"),
            "{} must start with a //! doc",
            path.display()
        );
    }
}

#[test]
fn no_placeholders_and_no_panics_in_library_code() {
    let everywhere = [
        concat!("to", "do!"),
        concat!("db", "g!"),
        concat!("unimpl", "emented!"),
    ];
    let in_library = [".unwrap()", ".expect(", "panic!(", "unreachable!("];
    let mut files = Vec::new();
    for folder in ["src", "tests", "examples", "benches"] {
        rust_files(&crate_root().join(folder), &mut files);
    }
    for path in &files {
        let text = read(path);
        for pattern in everywhere {
            assert!(
                !text.contains(pattern),
                "{} contains {pattern}",
                path.display()
            );
        }
        if path.starts_with(crate_root().join("src")) {
            let library = text.split("#[cfg(test)]").next().unwrap_or_default();
            for pattern in in_library {
                assert!(
                    !library.contains(pattern),
                    "{} library code contains {pattern}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_driver_and_the_simulator_do_not_depend_on_each_other() {
    let mut driver = Vec::new();
    rust_files(&crate_root().join("src/driver"), &mut driver);
    for path in driver {
        assert!(!read(&path).contains("crate::sim"), "{}", path.display());
    }
    let mut sim = Vec::new();
    rust_files(&crate_root().join("src/sim"), &mut sim);
    for path in sim {
        assert!(!read(&path).contains("crate::driver"), "{}", path.display());
    }
}
