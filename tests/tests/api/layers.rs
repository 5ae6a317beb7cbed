//! The layers of docs/ARCHITECTURE.md, kept by a test: what the crate
//! graph cannot forbid (two modules of one crate importing each other) is
//! checked on the sources, and the crate graph itself on `Cargo.lock`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds the tests crate")
        .to_owned()
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}

/// The lines of the files under `dir` (from the workspace's root) that
/// contain one of `forbidden`, outside comments.
fn offending(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in sources(&root().join(dir)) {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if forbidden.iter().any(|f| code.contains(f)) {
                let name = path.strip_prefix(root()).unwrap().display().to_string();
                found.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_front_ends_do_not_import_each_other() {
    let web = offending(
        "api/src/web",
        &["crate::http", "super::http", "avip_api::http"],
    );
    assert!(
        web.is_empty(),
        "the pages import the JSON API:\n{}",
        web.join("\n")
    );
    let http = offending(
        "api/src/http",
        &["crate::web", "super::web", "avip_api::web"],
    );
    assert!(
        http.is_empty(),
        "the JSON API imports the pages:\n{}",
        http.join("\n")
    );
    let shared = offending("api/src/shared", &["crate::http", "crate::web"]);
    assert!(
        shared.is_empty(),
        "what both front-ends share imports one of them:\n{}",
        shared.join("\n")
    );
}

#[test]
fn the_application_layer_knows_no_front_end() {
    let found = offending("app/src", &["avip_api", "actix"]);
    assert!(
        found.is_empty(),
        "avip_app names a front-end:\n{}",
        found.join("\n")
    );
}

/// Each package of `Cargo.lock` with the names of its dependencies (every
/// kind and feature: a superset of what a build links).
fn lock_graph() -> BTreeMap<String, Vec<String>> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let mut graph = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in block.lines() {
            let line = line.trim();
            if let Some(n) = line.strip_prefix("name = ") {
                name = Some(n.trim_matches('"').to_owned());
            } else if line.starts_with("dependencies = [") {
                in_deps = true;
            } else if in_deps && line == "]" {
                in_deps = false;
            } else if in_deps {
                let dep = line.trim_matches(|c| c == '"' || c == ',');
                deps.push(dep.split(' ').next().unwrap_or(dep).to_owned());
            }
        }
        if let Some(name) = name {
            graph.entry(name).or_insert_with(Vec::new).extend(deps);
        }
    }
    graph
}

fn reachable(graph: &BTreeMap<String, Vec<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(graph.get(&name).into_iter().flatten().cloned());
        }
    }
    seen
}

#[test]
fn the_crate_graph_keeps_http_above_the_application() {
    let graph = lock_graph();
    for (krate, forbidden) in [
        (
            "avip-app",
            &["actix-web", "actix-http", "askama", "avip-api"][..],
        ),
        (
            "avip-sla-engine",
            &["actix-web", "avip-app", "avip-api"][..],
        ),
        (
            "avip-db",
            &["actix-web", "avip-sla-engine", "avip-app", "avip-api"][..],
        ),
    ] {
        assert!(graph.contains_key(krate), "{krate} is in Cargo.lock");
        let reached = reachable(&graph, krate);
        for f in forbidden {
            assert!(!reached.contains(*f), "{krate} depends on {f}");
        }
    }
    assert!(reachable(&graph, "avip-api").contains("avip-app"));
}
