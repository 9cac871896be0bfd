//! Tidy checks on the codebase itself: module docs on every Rust file, no leftover stubs or
//! debug macros, and the pure crates free of I/O dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name == "target"
                || name.starts_with('.')
                || name == "corpus"
                || name == "artifacts"
                || name == "node_modules"
            {
                continue;
            }
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let mut files = Vec::new();
    rust_files(&workspace_root(), &mut files);
    assert!(files.len() > 10);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            !first.starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! module doc: {missing:#?}"
    );
}

#[test]
fn no_stubs_or_debug_macros() {
    let banned = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
    ];
    let mut files = Vec::new();
    rust_files(&workspace_root(), &mut files);
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if banned.iter().any(|b| line.contains(b)) {
                hits.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(hits.is_empty(), "stubs or debug macros: {hits:#?}");
}

/// Crates the pure core must never depend on (directly or transitively).
const IO_CRATES: &[&str] = &[
    "tokio",
    "rusqlite",
    "libsqlite3-sys",
    "axum",
    "hyper",
    "mio",
    "reqwest",
    "socket2",
    "serialport",
    "rumqttc",
    "tokio-postgres",
    "sqlx",
    "postgres",
];

fn dependencies_of(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "-f",
            "{p}",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn pure_crates_do_no_io() {
    for package in ["farmco-sync", "farmco-modem-codec", "farmco-village"] {
        let deps = dependencies_of(package);
        assert!(
            deps.len() > 1 || package == "farmco-modem-codec",
            "{package}: {deps:?}"
        );
        let bad: Vec<_> = deps
            .iter()
            .filter(|d| IO_CRATES.contains(&d.as_str()))
            .collect();
        assert!(bad.is_empty(), "{package} depends on I/O crates {bad:?}");
    }
}

/// The top-level module of `edge/src` a file belongs to (`store` for `store/sms.rs`).
fn edge_module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// `crate::x` paths named by a file's non-test code (everything before `#[cfg(test)]`, the
/// convention here being that test modules close a file), as the set of top-level modules `x`.
fn crate_modules_named(text: &str) -> std::collections::BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut named = std::collections::BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `crate::{a, b}` names several modules at once.
            if name.is_empty() && after.starts_with('{') {
                let inner = after[1..].split('}').next().unwrap_or_default();
                for part in inner.split(',') {
                    let part: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !part.is_empty() && part != "self" {
                        named.insert(part);
                    }
                }
            } else if !name.is_empty() {
                named.insert(name);
            }
            rest = after;
        }
    }
    named
}

/// The dependency graph between the top-level modules of `edge/src` (lib.rs and main.rs, the
/// roots, left out).
fn edge_module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let src = workspace_root().join("edge").join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for file in &files {
        let module = edge_module_of(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let entry = graph.entry(module.clone()).or_default();
        for named in crate_modules_named(&text) {
            if named != module {
                entry.insert(named);
            }
        }
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        index: std::collections::HashMap<&'a str, usize>,
        low: std::collections::HashMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: std::collections::HashSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        let n = w.index.len();
        w.index.insert(v, n);
        w.low.insert(v, n);
        w.stack.push(v);
        w.on_stack.insert(v);
        if let Some(next) = w.graph.get(v) {
            for u in next {
                let u = u.as_str();
                if !w.index.contains_key(u) {
                    visit(w, u);
                    let low = w.low[v].min(w.low[u]);
                    w.low.insert(v, low);
                } else if w.on_stack.contains(u) {
                    let low = w.low[v].min(w.index[u]);
                    w.low.insert(v, low);
                }
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            while let Some(u) = w.stack.pop() {
                w.on_stack.remove(u);
                component.push(u.to_owned());
                if u == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                w.found.push(component);
            }
        }
    }
    let mut w = Walk {
        graph,
        index: Default::default(),
        low: Default::default(),
        stack: Vec::new(),
        on_stack: Default::default(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.found
}

#[test]
fn cycle_finder_finds_a_cycle() {
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    graph.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        crate_modules_named(
            "use crate::{api, store::Store};\nlet x = crate::sms::f();\n#[cfg(test)]\nuse crate::demo;"
        ),
        ["api", "sms", "store"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}

#[test]
fn edge_modules_form_no_cycle() {
    let graph = edge_module_graph();
    assert!(
        graph.contains_key("store") && graph.contains_key("api"),
        "{graph:?}"
    );
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "cycles between top-level modules of edge/src (each list is one cycle; see \
         ARCHITECTURE.md, Layers of the edge): {found:?}\nthe graph: {graph:#?}"
    );
}

#[test]
fn the_store_imports_no_layer_above_it() {
    // The store takes plain values: it may use farmco-sync, farmco-village and rusqlite, never
    // the node's config, tasks or HTTP layer.
    let graph = edge_module_graph();
    let above: Vec<_> = graph["store"].iter().collect();
    assert!(above.is_empty(), "edge/src/store imports {above:?}");
}
