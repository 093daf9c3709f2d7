//! The source layout has no import cycles: between the library's top-level modules, between the
//! files of the tree (a folder's `mod.rs` and the files under it count as one module), and
//! between the command files. Read from the sources themselves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every `.rs` file under `src/` as (module path, text without comments or test modules); the
/// binary's files (`main.rs`, `commands/`) get the prefix `bin`.
fn sources() -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new("src") {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix("src").unwrap().with_extension("");
        let mut parts: Module = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if parts
            .last()
            .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
        {
            parts.pop();
        }
        if path == Path::new("src/main.rs") || parts.first().is_some_and(|p| p == "commands") {
            parts.insert(0, "bin".into());
        }
        let text = std::fs::read_to_string(path).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap();
        let code: String = text
            .lines()
            .map(|l| l.split("//").next().unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        out.insert(parts, code);
    }
    out
}

/// The paths a file names: `crate::a::b`, `super::a`, `ista_nas::a`, brace groups expanded;
/// resolved against `module` (the module of the file).
fn named_paths(module: &Module, is_mod_rs: bool, code: &str) -> Vec<Module> {
    let bin = module.first().is_some_and(|m| m == "bin");
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for root in ["crate::", "super::", "ista_nas::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(root) {
            let at = from + i;
            from = at + root.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let mut base: Module = match root {
                "crate::" if bin => vec!["bin".into()],
                "crate::" | "ista_nas::" => vec![],
                _ => {
                    let mut parent = module.clone();
                    if !is_mod_rs {
                        parent.pop();
                    }
                    parent
                }
            };
            let rest = &code[from..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let path = rest[..end].trim_end_matches(':');
            base.extend(path.split("::").filter(|s| !s.is_empty()).map(String::from));
            let grouped = rest[..end].is_empty() || rest[..end].ends_with("::");
            if rest[end..].starts_with('{') && grouped {
                let group = &rest[end + 1..rest[end..].find('}').map_or(end, |j| end + j)];
                for item in group.split(',') {
                    let item = item.trim().split(" as ").next().unwrap();
                    let mut full = base.clone();
                    full.extend(item.split("::").filter(|s| !s.is_empty()).map(String::from));
                    out.push(full);
                }
            } else {
                out.push(base);
            }
        }
    }
    out
}

/// The file module a path lands in: its longest prefix that is a file.
fn resolve(files: &BTreeSet<Module>, path: &Module) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|k| path[..k].to_vec())
        .find(|p| files.contains(p))
}

/// A cycle of `graph`, if it has one.
fn cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let start = stack.iter().position(|m| m == next).unwrap();
                    return Some(stack[start..].to_vec());
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node)
            && let Some(c) = visit(node, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

fn edges() -> BTreeMap<Module, BTreeSet<Module>> {
    let sources = sources();
    let files: BTreeSet<Module> = sources.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (module, code) in &sources {
        let is_mod_rs = files
            .iter()
            .any(|f| f.len() > module.len() && f.starts_with(module));
        let targets: BTreeSet<Module> = named_paths(module, is_mod_rs, code)
            .iter()
            .filter_map(|p| resolve(&files, p))
            .filter(|t| t != module)
            .collect();
        graph.insert(module.clone(), targets);
    }
    graph
}

fn show(cycle: &[Module]) -> String {
    cycle
        .iter()
        .map(|m| m.join("::"))
        .collect::<Vec<_>>()
        .join(" → ")
}

#[test]
fn files_import_no_cycle() {
    let graph: BTreeMap<_, BTreeSet<_>> = edges()
        .into_iter()
        .map(|(m, ts)| {
            let ts = ts
                .into_iter()
                .filter(|t: &Module| !t.starts_with(&m) && !m.starts_with(t));
            (m.clone(), ts.collect())
        })
        .collect();
    assert!(graph.len() > 100, "{} files read", graph.len());
    if let Some(c) = cycle(&graph) {
        panic!("import cycle between files: {}", show(&c));
    }
}

#[test]
fn top_level_modules_and_commands_import_no_cycle() {
    // the library's top-level modules; the binary's command files one by one
    let top =
        |m: &Module| -> Module { m[..m.len().min(if m[0] == "bin" { 3 } else { 1 })].to_vec() };
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, ts) in edges() {
        if m.is_empty() || m == ["bin"] {
            continue;
        }
        let from = top(&m);
        let entry = graph.entry(from.clone()).or_default();
        entry.extend(
            ts.iter()
                .filter(|t| !t.is_empty() && **t != ["bin"])
                .map(top)
                .filter(|t| *t != from),
        );
    }
    assert!(graph.keys().any(|m| m == &["bin", "commands", "search"]));
    if let Some(c) = cycle(&graph) {
        panic!("import cycle between modules: {}", show(&c));
    }
}

/// The check finds a cycle where there is one (so that it can fail).
#[test]
fn a_planted_cycle_is_found() {
    let a: Module = vec!["a".into()];
    let b: Module = vec!["b".into()];
    let code_a = "use crate::b::Thing;";
    let code_b = "fn f() { crate::a::g() }";
    let files: BTreeSet<Module> = [a.clone(), b.clone()].into();
    let mut graph = BTreeMap::new();
    for (m, code) in [(&a, code_a), (&b, code_b)] {
        let ts = named_paths(m, false, code)
            .iter()
            .filter_map(|p| resolve(&files, p))
            .collect();
        graph.insert(m.clone(), ts);
    }
    assert_eq!(cycle(&graph), Some(vec![a, b]));
    let grouped = named_paths(
        &vec!["x".into(), "y".into()],
        false,
        "use super::{z, w::v};",
    );
    let joined: Vec<String> = grouped.iter().map(|m| m.join("::")).collect();
    assert_eq!(joined, ["x::z", "x::w::v"]);
}
