//! The layers hold: no crate of the workspace depends upward or sideways, and no module
//! inside a crate depends, through others, on itself.
//!
//! Crates: `cargo metadata --no-deps` lists each package's dependencies; every edge between
//! workspace packages must be in [`LAYERS`] (a crate may use the crates listed before it,
//! never one after it). Cargo itself refuses a cycle; this refuses the upward edge that
//! would not be a cycle yet (and a dev-dependency upward, which Cargo allows).
//!
//! Modules: each crate's sources are read, comments, strings and `#[cfg(test)]` modules
//! left out, and every `crate::a::...` path (in `use` lines and in code, `use crate::{a,
//! b}` groups included) is an edge from the file's top-level module to `a` (through the
//! crate root's aliases and re-exports, e.g. `use model as m`). Edges between a
//! module and its own submodules do not count (a parent and its children are one unit). A
//! strongly connected component of more than one module is a cycle; the test fails on any
//! not listed in [`KNOWN_CYCLES`] (empty since issue 18), and on a listed one that is gone
//! (so the list stays true).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The layers, bottom first, with the workspace crates each may depend on (any kind of
/// dependency: normal, dev or build). Each may only name crates listed before it.
const LAYERS: &[(&str, &[&str])] = &[
    ("badalloc-formats", &[]),
    ("badalloc-elf", &["badalloc-formats"]),
    ("badalloc-calloc", &["badalloc-elf"]),
    (
        "badalloc-audit-core",
        &["badalloc-formats", "badalloc-elf", "badalloc-calloc"],
    ),
    (
        "badalloc-report",
        &["badalloc-formats", "badalloc-audit-core"],
    ),
    (
        "badalloc-audit",
        &[
            "badalloc-formats",
            "badalloc-elf",
            "badalloc-calloc",
            "badalloc-audit-core",
            "badalloc-report",
        ],
    ),
];

/// The command line's crates: only the binary may depend on them (the libraries are usable
/// without a terminal).
const BINARY_ONLY: &[&str] = &["clap", "clap_complete", "clap_mangen", "indicatif"];
const BINARY: &str = "badalloc-audit";

/// Module cycles allowed for a while, per crate (package name, the modules of one strongly
/// connected component, sorted); remove a line when its cycle is gone. Issue 18 broke
/// report_model ↔ surface (the wire types left the audit crate), evidence ↔ facts (the
/// kernel's release string is its own module, `kernel`), content_memo/examine/image_memo
/// and carve/carve_flash.
const KNOWN_CYCLES: &[(&str, &[&str])] = &[
    // None left: issue 18 broke `content_memo`/`examine`/`image_memo` (the outcome the
    // memos store is `outcome::FileOutcome`) and `carve`/`carve_flash` (the cut both make
    // is `carve_cut`). A cycle that must stay a while is listed here, with why.
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata gives JSON")
}

/// (package name, directory of its manifest, dependency names) of each workspace member.
fn packages(meta: &Value) -> Vec<(String, PathBuf, Vec<String>)> {
    let packages = meta["packages"].as_array().expect("packages");
    packages
        .iter()
        .map(|p| {
            let name = p["name"].as_str().expect("name").to_string();
            let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest"));
            let deps = p["dependencies"].as_array().expect("dependencies");
            let deps = deps
                .iter()
                .map(|d| d["name"].as_str().expect("dep name").to_string())
                .collect();
            (name, manifest.parent().expect("dir").to_path_buf(), deps)
        })
        .collect()
}

#[test]
fn the_layer_table_only_points_down() {
    for (i, (name, allowed)) in LAYERS.iter().enumerate() {
        let below: Vec<&str> = LAYERS[..i].iter().map(|l| l.0).collect();
        for dep in *allowed {
            assert!(
                below.contains(dep),
                "{name} may not depend on {dep}: not below it"
            );
        }
    }
}

#[test]
fn no_crate_depends_upward_or_sideways() {
    let meta = metadata();
    let packages = packages(&meta);
    let members: BTreeSet<&str> = packages.iter().map(|p| p.0.as_str()).collect();
    let table: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    assert_eq!(
        members,
        table.keys().copied().collect(),
        "every workspace crate has its row in LAYERS, and every row a crate"
    );
    let mut wrong = Vec::new();
    for (name, _, deps) in &packages {
        let allowed = table[name.as_str()];
        for dep in deps {
            if members.contains(dep.as_str()) && !allowed.contains(&dep.as_str()) {
                wrong.push(format!("{name} -> {dep}"));
            }
            if BINARY_ONLY.contains(&dep.as_str()) && name != BINARY {
                wrong.push(format!("{name} -> {dep} (the command line's, binary only)"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "edges the layers do not allow: {wrong:#?}"
    );
}

#[test]
fn no_module_cycle_other_than_the_known_ones() {
    let meta = metadata();
    let mut found: BTreeSet<(String, Vec<String>)> = BTreeSet::new();
    for (name, dir, _) in packages(&meta) {
        let src = dir.join("src");
        let files = rust_files(&src);
        assert!(
            !files.is_empty(),
            "{name}: no sources under {}",
            src.display()
        );
        let sources: Vec<(Vec<String>, String)> = files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).expect("source is UTF-8");
                (module_of(&src, f), text)
            })
            .collect();
        for cycle in cycles(&module_graph(&sources)) {
            found.insert((name.clone(), cycle));
        }
    }
    let known: BTreeSet<(String, Vec<String>)> = KNOWN_CYCLES
        .iter()
        .map(|(c, m)| (c.to_string(), m.iter().map(|s| s.to_string()).collect()))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(new.is_empty(), "module cycles: {new:#?}");
    assert!(
        gone.is_empty(),
        "listed in KNOWN_CYCLES, no longer there: {gone:#?}"
    );
}

/// The checker finds what it is meant to find, on sources made up here.
#[test]
fn the_module_checker_sees_cycles_aliases_and_skips_tests_and_comments() {
    let src = |m: &[&str], text: &str| (m.iter().map(|s| s.to_string()).collect(), text.into());
    let files: Vec<(Vec<String>, String)> =
        vec![
        src(
            &[],
            "mod a; mod b; mod c; mod d;\nuse b as bee;\npub use d::{Thing, other as Other};",
        ),
        src(&["a"], "use crate::{bee::X, c};\nfn f() { crate::Thing::new(); }"),
        src(&["b"], "// use crate::c;\nfn f() -> &'static str { \"crate::c::x\" }"),
        src(
            &["b", "inner"],
            "use super::super::a::Y;\n#[cfg(test)]\nmod tests { use crate::d; fn t() { '{'; } }",
        ),
        src(&["c"], "fn f() { let c = '}'; r#\"crate::a\"#; }"),
        src(&["d"], "use crate::a;"),
    ];
    let graph = module_graph(&files);
    let edges = |m: &str| graph[m].iter().cloned().collect::<Vec<_>>();
    assert_eq!(edges("a"), ["b", "c", "d"]);
    assert_eq!(edges("b"), ["a"]);
    assert!(edges("c").is_empty());
    assert_eq!(edges("d"), ["a"]);
    assert_eq!(
        cycles(&graph),
        [vec!["a".to_string(), "b".into(), "d".into()]]
    );
}

// ---------------------------------------------------------------- module graph

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("source directory").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `lib.rs`/`main.rs` → [], `a.rs` and `a/mod.rs` → [a], `a/b.rs` → [a, b].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod")) {
        parts.pop();
    }
    if parts.len() == 1 && matches!(parts[0].as_str(), "lib" | "main") {
        parts.clear();
    }
    parts
}

/// Top-level module → the top-level modules it names. Files are (module path, source).
fn module_graph(files: &[(Vec<String>, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let tops: BTreeSet<String> = files.iter().filter_map(|f| f.0.first().cloned()).collect();
    // Names the crate root gives to its modules' items (`use x as y`, `pub use x::{A, B}`).
    let mut root_names: BTreeMap<String, String> = BTreeMap::new();
    for (module, text) in files.iter().filter(|f| f.0.is_empty()) {
        let code = code_only(text);
        for path in use_paths(&code) {
            let first = path.segments.first().map(String::as_str);
            let first = match first {
                Some("crate" | "self") => path.segments.get(1).map(String::as_str),
                other => other,
            };
            if let (Some(first), Some(name)) = (first, path.name()) {
                if tops.contains(first) && module.is_empty() {
                    root_names.insert(name, first.to_string());
                }
            }
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> =
        tops.iter().map(|t| (t.clone(), BTreeSet::new())).collect();
    for (module, text) in files {
        let Some(from) = module.first() else { continue };
        for path in crate_paths(&code_only(text), module) {
            let Some(first) = path.first() else { continue };
            let to = if tops.contains(first) {
                Some(first.clone())
            } else {
                root_names.get(first).cloned()
            };
            if let Some(to) = to.filter(|to| to != from) {
                graph.get_mut(from).expect("node").insert(to);
            }
        }
    }
    graph
}

/// The strongly connected components of more than one module (Tarjan), each sorted.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

// ---------------------------------------------------------------- reading Rust, roughly

/// The source without comments, string and char literals, and `#[cfg(test)]` modules: what
/// is left holds the paths the code uses (and balanced braces).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if let Some(len) = raw_string_len(rest) {
            out.push_str("\"\"");
            i += len;
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() && rest.as_bytes()[j] != b'"' {
                j += if rest.as_bytes()[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += (j + 1).min(rest.len());
        } else if let Some(len) = char_literal_len(rest) {
            out.push_str("' '");
            i += len;
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            i += c.len_utf8();
        }
    }
    without_test_modules(&out)
}

/// `r"..."`, `r#"..."#`, `br"..."`: its length, if `s` starts with one.
fn raw_string_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix("br").or_else(|| s.strip_prefix('r'))?;
    let hashes = body.len() - body.trim_start_matches('#').len();
    let after = body[hashes..].strip_prefix('"')?;
    let close = format!("\"{}", "#".repeat(hashes));
    let end = after.find(&close)?;
    Some(s.len() - after.len() + end + close.len())
}

/// `'x'`, `'\n'`, `'\u{7f}'` (not a lifetime `'a`): its length, if `s` starts with one.
fn char_literal_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('\'')?;
    if let Some(esc) = rest.strip_prefix('\\') {
        return esc.find('\'').map(|e| e + 3);
    }
    let c = rest.chars().next()?;
    rest[c.len_utf8()..]
        .starts_with('\'')
        .then_some(2 + c.len_utf8())
}

/// Drops each `#[cfg(test)] mod name { ... }` (braces are balanced once literals are gone).
fn without_test_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let is_mod = trimmed.starts_with("mod ") || trimmed.starts_with("pub mod ");
        let open = trimmed.find(['{', ';']);
        match open {
            Some(o) if is_mod && trimmed.as_bytes()[o] == b'{' => {
                let mut depth = 0usize;
                let mut end = trimmed.len();
                for (k, c) in trimmed[o..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = o + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &trimmed[end..];
            }
            _ => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// One path of a `use` tree: its segments and the name it binds (`as` or the last one).
struct UsePath {
    segments: Vec<String>,
    alias: Option<String>,
}

impl UsePath {
    fn name(&self) -> Option<String> {
        self.alias.clone().or_else(|| {
            self.segments
                .last()
                .filter(|s| *s != "*" && *s != "self")
                .cloned()
        })
    }
}

/// Every path of every `use` declaration.
fn use_paths(code: &str) -> Vec<UsePath> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("use ") {
        let start = from + at;
        from = start + 4;
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let mut p = Parser { s: code, i: from };
        p.tree(Vec::new(), &mut out);
    }
    out
}

/// The paths after each `crate::` (and `super::`, resolved from `module`) in `code`, as
/// segments below the crate root.
fn crate_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (key, base) in [
        ("crate::", Vec::new()),
        ("super::", module[..module.len().saturating_sub(1)].to_vec()),
    ] {
        let mut from = 0;
        while let Some(at) = code[from..].find(key) {
            let start = from + at;
            from = start + key.len();
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut paths = Vec::new();
            let mut p = Parser { s: code, i: from };
            p.tree(Vec::new(), &mut paths);
            for path in paths {
                let mut segments = base.clone();
                let mut rest = path.segments.as_slice();
                // `super::super::x`: up once more per `super`.
                while rest.first().is_some_and(|s| s == "super") {
                    segments.pop();
                    rest = &rest[1..];
                }
                segments.extend(rest.iter().filter(|s| *s != "self").cloned());
                out.push(segments);
            }
        }
    }
    out
}

/// A `use` tree: `a::b`, `a::{b, c::d as e, self}`, `a::*`.
struct Parser<'s> {
    s: &'s str,
    i: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        let rest = &self.s[self.i..];
        self.i += rest.len() - rest.trim_start().len();
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_space();
        let rest = &self.s[self.i..];
        if rest.starts_with('*') {
            self.i += 1;
            return Some("*".into());
        }
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (len > 0).then(|| {
            self.i += len;
            rest[..len].to_string()
        })
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        let found = self.s[self.i..].starts_with(token);
        if found {
            self.i += token.len();
        }
        found
    }

    fn tree(&mut self, mut prefix: Vec<String>, out: &mut Vec<UsePath>) {
        if self.eat("{") {
            loop {
                if self.eat("}") {
                    break;
                }
                let before = self.i;
                self.tree(prefix.clone(), out);
                if !self.eat(",") {
                    self.eat("}");
                    break;
                }
                if self.i == before {
                    break;
                }
            }
            return;
        }
        let Some(segment) = self.ident() else {
            return;
        };
        prefix.push(segment);
        if self.eat("::") {
            return self.tree(prefix, out);
        }
        let alias = if self.eat("as ") { self.ident() } else { None };
        out.push(UsePath {
            segments: prefix,
            alias,
        });
    }
}
