//! The layering rule, checked: every top-level module may name only the modules of the layers
//! below it (see `docs/architecture.md`). The hook host is its own crate (`sigil_hooks`), so
//! the compiler already keeps it from reaching up; this test keeps the modules of this crate in
//! order the same way, reading `crate::` paths from the source.

/// The leaves: small rules everything may lean on, which use nothing of the crate.
const LEAVES: &[&str] = &[
    "crypto",
    "clock",
    "ids",
    "scopes",
    "passwords",
    "config",
    "metrics",
    "fields",
];

/// What the domains stand on: the store, the hook bridge, templates and keys.
const BELOW_DOMAINS: &[&str] = &["flows", "templates", "keys", "db", "store"];

/// Which top-level modules each module may use, besides [`LEAVES`] (`*`: anything). A module
/// missing here fails the test, so a new module has to be placed in a layer.
const ALLOWED: &[(&str, &[&str])] = &[
    // Composition root: builds everything and may use anything.
    ("main", &["*"]),
    ("lib", &["*"]),
    ("cli", &["*"]),
    ("startup", &["*"]),
    // The local runner: the hook host (its own crate) and the scope rule, nothing else.
    ("runner", &[]),
    ("layers", &["*"]),
    ("telemetry", &["*"]),
    // HTTP: axum only, thin; calls the two domains.
    ("http", &["manage", "oauth", "services", "health", "+below"]),
    // The HTTP layer's state: the parts, built once; handlers pass on only what a call uses.
    ("services", &["oauth", "invalidation", "health", "+below"]),
    // The data key, opened with the master key.
    ("root_key", &["store"]),
    // Drops a node's cached copies when the change feed announces a change.
    ("invalidation", &["+below"]),
    // Readiness: the schema and hook checks, the warm-up at start, the drain flag.
    ("health", &["+below"]),
    // The two domains: neither uses the other, and neither sees the whole container.
    ("manage", &["+below"]),
    ("oauth", &["+below"]),
    // Beside the hook host (the `sigil_hooks` crate): what the domains stand on.
    ("flows", &["store"]),
    ("templates", &["store"]),
    ("keys", &["store"]),
    // The store and the clock, paired; the issuer names.
    ("db", &["store"]),
    // All SQL.
    ("store", &[]),
    // The leaves.
    // Checks the operator's argon2id parameters before a hasher is made from them.
    ("config", &["store", "crypto", "passwords"]),
    ("passwords", &["crypto"]),
    ("crypto", &[]),
    ("clock", &[]),
    ("ids", &[]),
    ("scopes", &[]),
    // The metrics registry and the security events: counted by every layer, using none.
    ("metrics", &[]),
    // Field checks (email, names, picture, external id, tokens) the API and the login path share.
    ("fields", &[]),
];

/// Whether `module` may name `target`.
#[cfg(test)]
fn allowed(module: &str, target: &str) -> Option<bool> {
    let (_, list) = ALLOWED.iter().find(|(m, _)| *m == module)?;
    Some(
        target == module
            || list.contains(&"*")
            || list.contains(&target)
            // A leaf may use another leaf only when its own entry says so.
            || (LEAVES.contains(&target) && !LEAVES.contains(&module))
            || (list.contains(&"+below") && BELOW_DOMAINS.contains(&target)),
    )
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::allowed;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The top-level module a file of `src/` belongs to.
    fn module_of(src: &Path, file: &Path) -> String {
        let rel = file.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("a component");
        let name = first.as_os_str().to_string_lossy();
        name.trim_end_matches(".rs").to_string()
    }

    /// The top-level modules `text` names as `crate::x`, outside comments.
    fn used(text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                let after = &rest[i + "crate::".len()..];
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push((n + 1, name));
                rest = after;
            }
        }
        out
    }

    #[test]
    fn every_module_uses_only_the_layers_below_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut wrong = Vec::new();
        for file in &files {
            let module = module_of(&src, file);
            if allowed(&module, &module).is_none() {
                wrong.push(format!(
                    "{}: module `{module}` has no layer",
                    file.display()
                ));
                continue;
            }
            let text = std::fs::read_to_string(file).expect("a readable file");
            for (line, target) in used(&text) {
                if allowed(&module, &target) != Some(true) {
                    wrong.push(format!(
                        "{}:{line}: `{module}` uses `crate::{target}`",
                        file.display()
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
    }
}
