//! Keeps the layers of the crate doc true: a lower layer never names a higher one. The compiler
//! allows any module to use any other, so without this check a cycle could come back unseen.

use std::path::{Path, PathBuf};

const WORLD_FORBIDS: &[&str] = &[
    "crate::api",
    "crate::server",
    "crate::sim",
    "axum",
    "hyper",
    "tokio::net",
];
const API_FORBIDS: &[&str] = &["crate::server", "crate::sim"];
const LEAF_FORBIDS: &[&str] = &["crate::world", "crate::api", "crate::server", "crate::sim"];
const LEAVES: &[&str] = &["action.rs", "clock.rs", "error.rs", "util.rs", "version.rs"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The code without `//` comments (doc comments included), so prose may name any module.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The forbidden names `text` mentions as a whole path segment (`crate::sim`, not
/// `crate::simple`).
fn mentions<'a>(text: &str, forbidden: &[&'a str]) -> Vec<&'a str> {
    let code = code(text);
    forbidden
        .iter()
        .copied()
        .filter(|name| {
            code.match_indices(name).any(|(i, _)| {
                let before = code[..i].chars().next_back();
                let after = code[i + name.len()..].chars().next();
                let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !ident(before) && !ident(after)
            })
        })
        .collect()
}

fn violations(files: &[PathBuf], forbidden: &[&str]) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| {
            let text =
                std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            mentions(&text, forbidden)
                .into_iter()
                .map(move |name| format!("{} uses {name}", f.display()))
        })
        .collect()
}

fn files_under(folder: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&src().join(folder), &mut files);
    assert!(!files.is_empty(), "no sources under src/{folder}");
    files
}

#[test]
fn world_knows_nothing_of_http_or_the_layers_above() {
    let bad = violations(&files_under("world"), WORLD_FORBIDS);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn api_knows_nothing_of_the_server_or_the_facade() {
    let bad = violations(&files_under("api"), API_FORBIDS);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn leaves_use_no_layer() {
    let files: Vec<PathBuf> = LEAVES.iter().map(|f| src().join(f)).collect();
    let bad = violations(&files, LEAF_FORBIDS);
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn the_check_sees_code_but_not_comments() {
    let forbidden = &["crate::sim", "axum"];
    assert_eq!(mentions("use crate::sim::Sim;", forbidden), ["crate::sim"]);
    assert_eq!(
        mentions("    let r = axum::body::Body::empty();", forbidden),
        ["axum"]
    );
    assert!(mentions("/// Unlike crate::sim, this uses axum.", forbidden).is_empty());
    assert!(mentions("let x = 1; // crate::sim", forbidden).is_empty());
    assert!(mentions("use crate::simple; let axumx = 1;", forbidden).is_empty());
}
