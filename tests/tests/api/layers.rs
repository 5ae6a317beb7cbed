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

/// The functions of `dir` longer than `limit` lines (outside `#[cfg(test)]`
/// modules), as `path::name` with their length. The code is rustfmt'd: a
/// function ends at the first line closing a brace at its `fn` indentation.
fn long_functions(dir: &str, limit: usize) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for (path, text) in sources(&root().join(dir)) {
        let lines: Vec<&str> = text.lines().collect();
        let end = lines
            .iter()
            .position(|l| l.starts_with("#[cfg(test)]"))
            .unwrap_or(lines.len());
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        for (i, line) in lines[..end].iter().enumerate() {
            let code = line.trim_start();
            let indent = &line[..line.len() - code.len()];
            let code = ["pub(crate) ", "pub(super) ", "pub "]
                .iter()
                .find_map(|p| code.strip_prefix(p))
                .unwrap_or(code);
            let code = code.strip_prefix("const ").unwrap_or(code);
            let code = code.strip_prefix("async ").unwrap_or(code);
            let Some(rest) = code.strip_prefix("fn ") else {
                continue;
            };
            if line.trim_end().ends_with(';') {
                continue;
            }
            let fn_name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let close = format!("{indent}}}");
            if let Some(j) = lines[i + 1..end].iter().position(|l| *l == close) {
                let length = j + 2;
                if length > limit {
                    found.insert(format!("{name}::{fn_name}"), length);
                }
            }
        }
    }
    found
}

/// No file of the front-ends over 600 lines; no function of any crate over
/// 80 outside its tests (`scripts/long-functions` lists the long ones).
#[test]
fn the_front_ends_stay_small() {
    for dir in ["api/src/http", "api/src/web"] {
        for (path, text) in sources(&root().join(dir)) {
            let lines = text.lines().count();
            assert!(
                lines <= 600,
                "{} has {lines} lines (at most 600)",
                path.display()
            );
        }
    }
    let mut found = BTreeMap::new();
    for dir in ["api/src", "app/src", "db/src", "sla-engine/src"] {
        found.extend(long_functions(dir, 80));
    }
    assert!(
        found.is_empty(),
        "functions over 80 lines (split them): {found:?}"
    );
}

/// The front-ends reach the database only through the application: they
/// may name `avip_db`'s types (rows, ids, pages), never call its queries or
/// its blocking helpers.
#[test]
fn the_front_ends_call_no_query() {
    let mut found = Vec::new();
    for dir in ["api/src/http", "api/src/web", "api/src/shared"] {
        for (path, text) in sources(&root().join(dir)) {
            let name = path.strip_prefix(root()).unwrap().display().to_string();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for (at, _) in code.match_indices("avip_db::") {
                    let rest = &code[at + "avip_db::".len()..];
                    let ident = |s: &str| -> usize {
                        s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .unwrap_or(s.len())
                    };
                    let module = &rest[..ident(rest)];
                    let after = &rest[module.len()..];
                    let called = after.strip_prefix("::").is_some_and(|f| {
                        let function = &f[..ident(f)];
                        function.starts_with(|c: char| c.is_lowercase())
                            && f[function.len()..].starts_with('(')
                    });
                    let imported = after.starts_with("::{self") || after.starts_with("::{");
                    let forbidden = module == "blocking"
                        || (module != "model" && called)
                        || (module != "model" && imported && after.contains("self"));
                    if forbidden {
                        found.push(format!("{name}:{}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a front-end calls the database itself (call a use case of avip_app):\n{}",
        found.join("\n")
    );
}
