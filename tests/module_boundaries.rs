//! The directions `docs/design.md` gives the library's modules, checked in the sources: each
//! module names only the modules it may depend on (`crate::NAME` paths, grouped or not), so a
//! dependency the other way is a failing test, not a surprise in review.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each module of `src/` and the other modules it may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("features", &[]),
    ("align", &["features"]),
    ("config", &[]),
    ("events", &[]),
    ("media", &["config"]),
    ("encode", &["features"]),
    (
        "flow",
        &[
            "align",
            "config",
            "encode",
            "engine_metrics",
            "events",
            "features",
            "latest_pictures",
            "media",
        ],
    ),
    ("serve", &["config", "engine_metrics", "events", "latest_pictures"]),
];

fn rust_files(folder: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(folder).unwrap_or_else(|e| panic!("reading {}: {e}", folder.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules `text` names through `crate::`: `crate::align::X` and `crate::{align, ...}`.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let word = |s: &str| {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
    };
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                named.insert(word(part.trim()));
            }
        } else {
            named.insert(word(rest));
        }
    }
    named.retain(|name| !name.is_empty());
    named
}

#[test]
fn each_module_uses_only_the_modules_it_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (module, allowed) in ALLOWED {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        assert!(!files.is_empty(), "src/{module} has no Rust files");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
            for named in crate_modules(&text) {
                if named != *module && !allowed.contains(&named.as_str()) {
                    wrong.push(format!("{} uses crate::{named}", file.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against docs/design.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn grouped_and_plain_paths_are_both_read() {
    let text = "use crate::align::X;\nuse crate::{encode, flow::Y};\nlet z = crate::serve::f();";
    let named: Vec<String> = crate_modules(text).into_iter().collect();
    assert_eq!(named, ["align", "encode", "flow", "serve"]);
}
