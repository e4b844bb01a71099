//! The dependency rule of the source tree, checked on the source text.
//!
//! Data flows one way (config, es -> observe -> evaluate -> reconcile, policy, preflight -> act), so a top-level
//! module names only modules of lower layers ([`LAYERS`]), nothing below `daemon/` and `cli/` names either of
//! them, and the pure cores (caught-up, verdicts, reconcile planning, policy rules, preflight evaluation, runbook
//! planning) may not do I/O or read the clock: they take what they need as arguments, which is what makes their
//! table tests possible.

use std::path::{Path, PathBuf};

/// The pure cores. A file listed here may not contain any of [`IO_TOKENS`] outside its `#[cfg(test)]` module.
const PURE: &[&str] = &[
    "src/observe/snapshot.rs",
    "src/observe/lag_ring.rs",
    "src/observe/seek.rs",
    "src/observe/follower.rs",
    "src/observe/caught_up.rs",
    "src/evaluate/health.rs",
    "src/evaluate/data_streams.rs",
    "src/evaluate/dr.rs",
    "src/evaluate/report.rs",
    "src/reconcile/plan.rs",
    "src/policy/mod.rs",
    "src/policy/rules.rs",
    "src/act/runbook/plan.rs",
    "src/act/runbook/data_stream_plan.rs",
    "src/act/runbook/switchover_plan.rs",
    "src/preflight/evaluate.rs",
    "src/preflight/security.rs",
];

/// What a pure core may not mention: network and file I/O, the client, async code, the wall clock.
const IO_TOKENS: &[&str] = &[
    "reqwest",
    "EsClient",
    "Clients",
    "tokio::fs",
    "std::fs",
    "tokio::",
    ".await",
    "async ",
    "Utc::now",
    "SystemTime::now",
    "Instant::now",
    "std::net",
    "std::process",
];

/// The top of the tree: only these may name `crate::daemon` / `crate::cli`.
const TOP: &[&str] = &[
    "src/daemon/",
    "src/cli/",
    "src/demo.rs",
    "src/lib.rs",
    "src/main.rs",
];

/// The layers, lowest first. A module may name modules of lower layers only; modules of one layer are peers
/// and may not name each other. `reconcile` and `policy` sit above `act` because they hand it their actions;
/// `metrics` renders `evaluate`'s report and counts what `act` does.
const LAYERS: &[&[&str]] = &[
    // `sync` (lock helpers, the atomic file write) names nothing of the crate; every layer may use it.
    &["sync"],
    &["config"],
    &["es"],
    &["observe"],
    &["evaluate"],
    &["metrics"],
    &["act"],
    &["reconcile", "policy", "preflight"],
    &["daemon"],
    &["demo"],
    &["cli"],
    // The unit-test builders (`#[cfg(test)]` only) may set up anything.
    &["testing"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a source file belongs to: `src/act/runbook/plan.rs` -> `act`, `src/metrics.rs` -> `metrics`.
fn module_of(rel: &str) -> String {
    let path = rel.trim_start_matches("src/");
    let first = path.split('/').next().unwrap_or(path);
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::<module>` that `source` names, outside comments and tests.
fn named_modules(source: &str) -> Vec<String> {
    let code = code_of(source);
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The upward or sideways edges of one file, as messages.
fn layer_violations(rel: &str, source: &str) -> Vec<String> {
    let own = module_of(rel);
    let Some(own_layer) = layer_of(&own) else {
        return vec![format!("{rel}: module `{own}` is in no layer of LAYERS")];
    };
    named_modules(source)
        .into_iter()
        .filter(|m| *m != own)
        .filter_map(|m| match layer_of(&m) {
            Some(l) if l < own_layer => None,
            Some(_) => Some(format!(
                "{rel}: `{own}` names `crate::{m}`, which is not below it"
            )),
            None => Some(format!(
                "{rel}: names `crate::{m}`, which is in no layer of LAYERS"
            )),
        })
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments and without its unit-test module (tests may use the clock).
fn code_of(source: &str) -> String {
    let mut code = String::new();
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let line = match line.find("//") {
            // A `//` inside a string literal ("http://...") is not a comment; good enough for this tree.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// Every forbidden token found in `source`, with its line in the stripped code.
fn violations(source: &str, forbidden: &[&str]) -> Vec<String> {
    let code = code_of(source);
    let mut found = Vec::new();
    for line in code.lines() {
        for token in forbidden {
            if line.contains(token) {
                found.push(format!("`{token}` in: {}", line.trim()));
            }
        }
    }
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .expect("under the crate")
        .to_string_lossy()
        .replace('\\', "/")
}

#[test]
fn lower_layers_never_import_daemon_or_cli() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut problems = Vec::new();
    for file in &files {
        let rel = relative(file);
        if TOP.iter().any(|top| rel.starts_with(top)) {
            continue;
        }
        let source = std::fs::read_to_string(file).expect("source is UTF-8");
        for v in violations(&source, &["crate::daemon", "crate::cli"]) {
            problems.push(format!("{rel}: {v}"));
        }
    }
    assert!(
        problems.is_empty(),
        "upward dependencies:\n{}",
        problems.join("\n")
    );
}

#[test]
fn modules_name_only_lower_layers() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let rel = relative(file);
        if rel == "src/lib.rs" || rel == "src/main.rs" {
            continue;
        }
        let source = std::fs::read_to_string(file).expect("source is UTF-8");
        problems.extend(layer_violations(&rel, &source));
    }
    assert!(
        problems.is_empty(),
        "edges against the data flow:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_layer_check_finds_an_upward_and_a_sideways_edge() {
    assert_eq!(module_of("src/act/runbook/plan.rs"), "act");
    assert_eq!(module_of("src/metrics.rs"), "metrics");
    assert_eq!(
        layer_violations(
            "src/policy/mod.rs",
            "use crate::act::Action;\nuse crate::config::Config;\n"
        )
        .len(),
        0
    );
    let upward = layer_violations(
        "src/observe/mod.rs",
        "use crate::evaluate::report::Report;\n",
    );
    assert_eq!(upward.len(), 1, "{upward:?}");
    assert!(upward[0].contains("crate::evaluate"), "{upward:?}");
    let sideways = layer_violations(
        "src/reconcile/mod.rs",
        "use crate::policy::runner::PolicyRunner;\n",
    );
    assert_eq!(sideways.len(), 1, "{sideways:?}");
    let in_a_comment = layer_violations(
        "src/es/mod.rs",
        "/// See [`crate::daemon`].\nuse crate::config::Config;\n",
    );
    assert_eq!(in_a_comment, Vec::<String>::new());
    assert_eq!(
        layer_violations("src/newthing.rs", "").len(),
        1,
        "a new top-level module must be given a layer"
    );
}

#[test]
fn pure_cores_do_no_io_and_read_no_clock() {
    let mut problems = Vec::new();
    for rel in PURE {
        let source =
            std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        for v in violations(&source, IO_TOKENS) {
            problems.push(format!("{rel}: {v}"));
        }
    }
    assert!(
        problems.is_empty(),
        "I/O in a pure core:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_finds_an_io_import_and_ignores_comments_and_tests() {
    let bad = "use crate::config::Config;\nuse reqwest::Client;\nfn f() { let t = chrono::Utc::now(); }\n";
    let found = violations(bad, IO_TOKENS);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("reqwest"), "{found:?}");
    assert!(found[1].contains("Utc::now"), "{found:?}");

    let clean = "//! Uses no reqwest.\nfn f() {} // not Utc::now\n#[cfg(test)]\nmod tests { fn t() { Utc::now(); } }\n";
    assert_eq!(violations(clean, IO_TOKENS), Vec::<String>::new());

    let upward = "use crate::daemon::Daemon;\n";
    assert_eq!(
        violations(upward, &["crate::daemon", "crate::cli"]).len(),
        1
    );
}
