//! The house rule that layers point one way, checked on the source itself: every file
//! under `src/` is read, each path it names (`crate::…`, `super::…`, `self::…`) is
//! resolved to the file that defines it, and the test fails when a module names one in
//! its own layer or above ([`LAYERS`]), or when files inside one module name each other
//! in a circle. Run it with `cargo test --lib layers`.
//!
//! Only code counts: comments (and so doc links) are skipped, since they create no
//! dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom up; a module may name only modules of a lower
/// layer (and itself). Modules on one line are side by side and may not name each other.
/// The crate docs' `# Layout` describes the same order.
const LAYERS: &[&[&str]] = &[
    &["clock", "metrics", "conn_limit", "tls"],
    &["domain"],
    &["config", "roads"],
    &["store"],
    &["views"],
    &["dispatch"],
    &["mqtt"],
    &["ingest"],
    &["video", "live"],
    &["http"],
    &["cluster"],
    &["app", "telemetry"],
    &["sim"],
    &["demo", "admin"],
    &["cli", "fuzz"],
    &["main"],
];

/// This checker's own module, which is not part of the layering.
const THIS_FILE: &str = "layers";

/// A file's module path: `src/a/b.rs` and `src/a/b/mod.rs` are `["a", "b"]`; `src/lib.rs`
/// is `[]`, `src/main.rs` is `["main"]`.
type ModPath = Vec<String>;

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn module_path(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

/// The code of a file without its comments (line comments, doc comments and block
/// comments). String contents are kept; a `//` inside a string cuts the rest of its line,
/// which can only hide a name, never invent one.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if rest.starts_with("//") {
            rest = rest.find('\n').map_or("", |end| &rest[end..]);
        } else {
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                out.push(c);
            }
            rest = chars.as_str();
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every absolute module path named in `code` (a file of module `me`), e.g.
/// `crate::store::Store` → `["store", "Store"]`.
fn named_paths(code: &str, me: &ModPath) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let start_ok = i == 0 || !is_ident(char::from(bytes[i - 1]));
        let head = ["crate::", "griddispatch::", "super::", "self::"]
            .into_iter()
            .find(|h| start_ok && code[i..].starts_with(h));
        let Some(head) = head else {
            i += code[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let mut base: ModPath = match head {
            "crate::" | "griddispatch::" => Vec::new(),
            _ => me.clone(),
        };
        let mut j = i + head.len();
        if head == "super::" {
            base.pop();
        }
        while code[j..].starts_with("super::") {
            base.pop();
            j += "super::".len();
        }
        // The names that follow, up to the first that is not `name::`.
        let mut path = base;
        loop {
            let len = code[j..]
                .find(|c: char| !is_ident(c))
                .unwrap_or(code.len() - j);
            if len == 0 {
                break;
            }
            path.push(code[j..j + len].to_owned());
            j += len;
            if code[j..].starts_with("::") {
                j += 2;
            } else {
                break;
            }
        }
        found.push(path);
        i = j.max(i + 1);
    }
    found
}

fn layer_of(top: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&top))
}

/// The file a path lands in: the longest prefix that is a file's module.
fn owner<'a>(path: &[String], modules: &'a BTreeSet<ModPath>) -> Option<&'a ModPath> {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n].to_vec()))
}

/// Edges between files: (from module, to module, line of the first naming).
type Edges = BTreeMap<(ModPath, ModPath), usize>;

fn edges(src: &Path) -> (BTreeSet<ModPath>, Edges) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<ModPath> = files.iter().map(|f| module_path(src, f)).collect();
    let mut edges = Edges::new();
    for file in &files {
        let me = module_path(src, file);
        if me == [THIS_FILE] {
            // Its test writes example sources that name modules on purpose.
            continue;
        }
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let code = strip_comments(&text);
        for path in named_paths(&code, &me) {
            if let Some(to) = owner(&path, &modules) {
                if *to != me {
                    edges.entry((me.clone(), to.clone())).or_insert(0);
                }
            }
        }
    }
    (modules, edges)
}

fn show(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".to_owned()
    } else {
        m.join("::")
    }
}

/// Every import from a module to one of its own layer or above.
fn upward(edges: &Edges) -> Vec<String> {
    let mut bad = Vec::new();
    for (from, to) in edges.keys() {
        let (Some(f), Some(t)) = (from.first(), to.first()) else {
            continue;
        };
        if f == t {
            continue;
        }
        match (layer_of(f), layer_of(t)) {
            (Some(lf), Some(lt)) if lt < lf => {}
            (None, _) | (_, None) => bad.push(format!(
                "{} → {}: a top-level module missing from LAYERS in src/layers.rs",
                show(from),
                show(to)
            )),
            _ => bad.push(format!(
                "{} names {}, which is not in a lower layer",
                show(from),
                show(to)
            )),
        }
    }
    bad
}

/// Circles among the files of one module (a child naming its parent's `mod.rs` is how
/// a parent shares its types, so those edges do not count).
fn circles(modules: &BTreeSet<ModPath>, edges: &Edges) -> Vec<String> {
    let mut next: BTreeMap<&ModPath, Vec<&ModPath>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        let to_ancestor = from.starts_with(to);
        if !to_ancestor {
            next.entry(from).or_default().push(to);
        }
    }
    // Depth-first search with colours; each back edge closes a circle.
    let mut state: BTreeMap<&ModPath, u8> = BTreeMap::new();
    let mut found = Vec::new();
    for start in modules {
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&ModPath, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((node, i)) = stack.pop() {
            let outs = next.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&to) = outs.get(i) {
                stack.push((node, i + 1));
                match state.get(to).copied().unwrap_or(0) {
                    0 => {
                        state.insert(to, 1);
                        stack.push((to, 0));
                    }
                    1 => {
                        let at = stack.iter().position(|(m, _)| *m == to).unwrap_or(0);
                        let ring: Vec<String> = stack[at..].iter().map(|(m, _)| show(m)).collect();
                        found.push(format!("{} → {}", ring.join(" → "), show(to)));
                    }
                    _ => {}
                }
            } else {
                state.insert(node, 2);
            }
        }
    }
    found
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_names_only_lower_layers() {
    let (_, edges) = edges(&src_dir());
    assert!(
        edges.len() > 100,
        "only {} imports found: the scan is broken",
        edges.len()
    );
    let bad = upward(&edges);
    assert!(bad.is_empty(), "imports that point up:\n{}", bad.join("\n"));
}

#[test]
fn no_files_name_each_other_in_a_circle() {
    let (modules, edges) = edges(&src_dir());
    let found = circles(&modules, &edges);
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_scan_sees_an_upward_import_and_a_circle() {
    // A store file naming the dispatcher, and two broker files naming each other.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(p, text).unwrap_or_else(|e| panic!("{e}"));
    };
    write("lib.rs", "pub mod store; pub mod dispatch; pub mod mqtt;");
    write(
        "store/mod.rs",
        "// crate::http is only a comment\nmod outbox;",
    );
    write("store/outbox.rs", "use crate::dispatch::Outgoing;");
    write(
        "dispatch/mod.rs",
        "use crate::store::Store; pub struct Outgoing;",
    );
    write("mqtt/mod.rs", "mod broker;");
    write(
        "mqtt/broker/mod.rs",
        "mod session; mod topic; pub struct Config;",
    );
    write(
        "mqtt/broker/session.rs",
        "use super::topic::Trie; use super::Config;",
    );
    write("mqtt/broker/topic.rs", "use super::session::Shared;");
    let (modules, edges) = edges(src);
    assert_eq!(
        upward(&edges),
        vec!["store::outbox names dispatch, which is not in a lower layer".to_owned()]
    );
    let found = circles(&modules, &edges);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("mqtt::broker::session") && found[0].contains("mqtt::broker::topic"));
}
