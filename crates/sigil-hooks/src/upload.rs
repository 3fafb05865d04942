//! Validation of uploaded hooks, before anything is stored or compiled.
//!
//! Accepted: a component, or a core module carrying the WIT metadata (what
//! `cargo build --target wasm32-unknown-unknown` with the SDK produces), which is turned into a
//! component here with `wit-component`; a core module built for WASI preview 1 gets the
//! preview-1 adapter. Refused, with the reason: over the size limit, not wasm, a component
//! that imports anything beyond the world and the sealed WASI (the error names the import),
//! or a contract version this server does not bind.

use sha2::{Digest, Sha256};

use crate::prepare::World;

/// Largest upload accepted.
pub const MAX_UPLOAD_BYTES: usize = 4 << 20;

/// The contract versions this host binds.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];

/// The interfaces each contract version lets a hook import.
fn interfaces(version: &str) -> &'static [&'static str] {
    match version {
        "0.1.0" => &["api", "types"],
        "0.2.0" => &["api", "types", "http", "cache"],
        _ => &[],
    }
}

/// WASI interfaces a guest may import. They are linked sealed: nothing preopened, no
/// environment, frozen clocks, seeded randomness, captured stdout/stderr. Filesystem
/// interfaces are allowed because Rust's and C's WASI runtimes import them at start-up; with
/// nothing preopened every open fails. Sockets and HTTP are refused.
const WASI_ALLOWED: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// Why an upload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UploadError {
    /// Too big.
    #[error("the module is {0} bytes; the limit is {MAX_UPLOAD_BYTES}")]
    TooLarge(usize),
    /// Not WebAssembly.
    #[error("not a WebAssembly module or component: {0}")]
    NotWasm(String),
    /// A core module could not be turned into a component.
    #[error(
        "the core module could not be turned into a component (build it with the sigil-hooks SDK): {0}"
    )]
    Componentize(String),
    /// An import outside the world and the sealed WASI.
    #[error("the hook imports `{0}`, which hooks may not use")]
    ForbiddenImport(String),
    /// A contract version this server does not support.
    #[error("the hook targets `{0}`; this server supports sigil:hooks@{supported}", supported = SUPPORTED_VERSIONS.join(", @"))]
    UnsupportedVersion(String),
}

/// A validated upload.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The component bytes (converted when a core module was uploaded).
    pub component: Vec<u8>,
    /// SHA-256 hex of `component`.
    pub hash: String,
    /// Top-level imports.
    pub imports: Vec<String>,
    /// The world it implements, by its exports: `user-store` when it exports `login`,
    /// `post-login` otherwise (the type check at preparation holds it to that world).
    pub world: World,
}

/// SHA-256 in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Validates an upload and returns the component to compile.
pub fn validate(bytes: &[u8]) -> Result<Validated, UploadError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(UploadError::TooLarge(bytes.len()));
    }
    let component = if wasmparser::Parser::is_component(bytes) {
        bytes.to_vec()
    } else if wasmparser::Parser::is_core_wasm(bytes) {
        componentize(bytes)?
    } else {
        return Err(UploadError::NotWasm("missing the wasm header".into()));
    };
    let (imports, exports) = top_level_names(&component)?;
    for name in &imports {
        check_import(name)?;
    }
    let world = if exports
        .iter()
        .any(|e| e == crate::prepare::USER_STORE_LOGIN)
    {
        World::UserStore
    } else {
        World::PostLogin
    };
    Ok(Validated {
        hash: sha256_hex(&component),
        component,
        imports,
        world,
    })
}

fn componentize(module: &[u8]) -> Result<Vec<u8>, UploadError> {
    let mut wasi_p1 = false;
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        match payload.map_err(|e| UploadError::NotWasm(e.to_string()))? {
            wasmparser::Payload::ImportSection(reader) => {
                for imp in reader.into_imports() {
                    let imp = imp.map_err(|e| UploadError::NotWasm(e.to_string()))?;
                    if imp.module == "wasi_snapshot_preview1" {
                        wasi_p1 = true;
                    }
                }
            }
            wasmparser::Payload::CodeSectionStart { .. } => break,
            _ => {}
        }
    }
    // `{:#}` prints the encoder's whole cause chain.
    fn err(e: impl std::fmt::Display) -> UploadError {
        UploadError::Componentize(format!("{e:#}"))
    }
    let mut enc = wit_component::ComponentEncoder::default();
    enc.module(module).map_err(err)?.validate(true);
    if wasi_p1 {
        enc.adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .map_err(err)?;
    }
    enc.encode().map_err(err)
}

/// The component's own imports (what it needs) and exports (what it is).
fn top_level_names(component: &[u8]) -> Result<(Vec<String>, Vec<String>), UploadError> {
    let mut depth = 0usize;
    let mut out = Vec::new();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.map_err(|e| UploadError::NotWasm(e.to_string()))? {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 => {
                for imp in reader {
                    let imp = imp.map_err(|e| UploadError::NotWasm(e.to_string()))?;
                    // Type imports (the world's `use types.{event}`) grant nothing.
                    if matches!(imp.ty, wasmparser::ComponentTypeRef::Type(_)) {
                        continue;
                    }
                    out.push(imp.name.full_name().into_owned());
                }
            }
            wasmparser::Payload::ComponentExportSection(reader) if depth == 0 => {
                for exp in reader {
                    let exp = exp.map_err(|e| UploadError::NotWasm(e.to_string()))?;
                    exports.push(exp.name.full_name().into_owned());
                }
            }
            _ => {}
        }
    }
    Ok((out, exports))
}

/// Whether a top-level import is allowed.
fn check_import(name: &str) -> Result<(), UploadError> {
    let (base, version) = name.split_once('@').unwrap_or((name, ""));
    if let Some(iface) = base.strip_prefix("sigil:hooks/") {
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(UploadError::UnsupportedVersion(format!(
                "sigil:hooks@{version}"
            )));
        }
        if !interfaces(version).contains(&iface) {
            return Err(UploadError::ForbiddenImport(name.into()));
        }
        return Ok(());
    }
    if WASI_ALLOWED.contains(&base) && version.starts_with("0.2.") {
        return Ok(());
    }
    Err(UploadError::ForbiddenImport(name.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_rules() {
        assert!(check_import("sigil:hooks/api@0.1.0").is_ok());
        assert!(check_import("sigil:hooks/http@0.2.0").is_ok());
        assert!(check_import("sigil:hooks/cache@0.2.0").is_ok());
        // 0.1.0 had no network.
        assert_eq!(
            check_import("sigil:hooks/http@0.1.0"),
            Err(UploadError::ForbiddenImport(
                "sigil:hooks/http@0.1.0".into()
            ))
        );
        assert!(check_import("wasi:cli/stdout@0.2.6").is_ok());
        assert!(check_import("wasi:filesystem/preopens@0.2.0").is_ok());
        assert_eq!(
            check_import("wasi:sockets/tcp@0.2.0"),
            Err(UploadError::ForbiddenImport(
                "wasi:sockets/tcp@0.2.0".into()
            ))
        );
        assert!(matches!(
            check_import("wasi:http/outgoing-handler@0.2.0"),
            Err(UploadError::ForbiddenImport(_))
        ));
        assert!(matches!(
            check_import("sigil:hooks/api@0.9.0"),
            Err(UploadError::UnsupportedVersion(_))
        ));
        assert!(matches!(
            check_import("evil:net/raw"),
            Err(UploadError::ForbiddenImport(_))
        ));
    }

    #[test]
    fn refuses_non_wasm_and_oversize() {
        assert!(matches!(validate(b"hello"), Err(UploadError::NotWasm(_))));
        assert!(matches!(
            validate(&vec![0u8; MAX_UPLOAD_BYTES + 1]),
            Err(UploadError::TooLarge(_))
        ));
    }
}
