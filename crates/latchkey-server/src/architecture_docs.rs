//! docs/architecture.md draws the crate graph; this test fails when the
//! drawing and the crates' `Cargo.toml` files disagree, and when any file of
//! the repository's documentation or scripts points outside the repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Each crate's Latchkey dependencies (`[dependencies]` only: what the code
/// may use, not what its tests use), from the manifests.
fn manifests() -> BTreeMap<String, Vec<String>> {
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else { continue };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut in_deps = false;
        let mut deps = Vec::new();
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
            } else if in_deps && line.starts_with("latchkey-") {
                let dep: String = line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                deps.push(dep);
            }
        }
        deps.sort();
        graph.insert(name, deps);
    }
    graph
}

/// The block under "## Crate graph": `crate -> dep, dep` per line.
fn drawn() -> BTreeMap<String, Vec<String>> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let section = doc.split("## Crate graph").nth(1).expect("docs/architecture.md has a \"## Crate graph\" section");
    let block = section.split("```").nth(1).expect("the crate graph is a fenced block");
    let mut graph = BTreeMap::new();
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (name, deps) = line.split_once("->").unwrap_or((line, ""));
        let mut deps: Vec<String> =
            deps.split(',').map(|d| d.trim().to_string()).filter(|d| !d.is_empty() && d != "(none)").collect();
        deps.sort();
        graph.insert(name.trim().to_string(), deps);
    }
    graph
}

#[test]
fn the_crate_graph_in_the_docs_is_the_one_in_the_manifests() {
    let (actual, drawn) = (manifests(), drawn());
    let mut wrong = Vec::new();
    for (name, deps) in &actual {
        match drawn.get(name) {
            None => wrong.push(format!("{name} is missing (it depends on: {})", deps.join(", "))),
            Some(d) if d != deps => wrong.push(format!("{name}: drawn {d:?}, manifest says {deps:?}")),
            Some(_) => {}
        }
    }
    for name in drawn.keys().filter(|n| !actual.contains_key(*n)) {
        wrong.push(format!("{name} is drawn but there is no crates/{name}"));
    }
    assert!(wrong.is_empty(), "docs/architecture.md's crate graph is out of date:\n{}", wrong.join("\n"));
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() {
            if !matches!(name.as_ref(), "target" | "node_modules" | "out" | ".git") {
                files(&path, out);
            }
        } else if !matches!(path.extension().and_then(|e| e.to_str()), Some("lock" | "png" | "db")) {
            out.push(path);
        }
    }
}

#[test]
fn nothing_points_outside_the_repository() {
    let mut all = Vec::new();
    for dir in ["docs", "bench", "scripts", ".ci", "config", "tests", "crates"] {
        let dir = root().join(dir);
        if dir.exists() {
            files(&dir, &mut all);
        }
    }
    all.push(root().join("README.md"));
    // Spelled in two parts so that this file does not match itself.
    let needles = [concat!("../", "shared"), concat!("/work/", "shared")];
    let offenders: Vec<String> = all
        .iter()
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|text| needles.iter().any(|n| text.contains(n))))
        .map(|p| p.strip_prefix(root()).unwrap_or(p).display().to_string())
        .collect();
    assert!(offenders.is_empty(), "files that point outside the repository: {offenders:?}");
}
