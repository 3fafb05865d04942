//! Host bindings of every released contract version, side by side.
//!
//! Each version of the `sigil:hooks` package gets its own module here, generated from its
//! frozen WIT. A new version adds a module (and a WIT directory) and keeps the old ones, so a
//! hook uploaded against 0.1.0 keeps being instantiated with the 0.1.0 bindings forever (see
//! docs/hooks.md for the compatibility promise).

/// `sigil:hooks@0.1.0`.
// Generated from the WIT, whose doc comments the generator does not carry to every item.
#[allow(missing_docs)]
pub mod v0_1 {
    wasmtime::component::bindgen!({
        // The contract lives at the repository root, beside every crate that reads it.
        path: "../../wit/0.1.0",
        world: "post-login",
        imports: { default: trappable },
    });
}

/// `sigil:hooks@0.2.0`: 0.1.0's world plus `http` and `cache`. `fetch` is asynchronous on the
/// host: a guest that calls it waits on a fiber, and its pool thread serves other flows.
#[allow(missing_docs)]
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "post-login",
        imports: {
            "sigil:hooks/http.fetch": async | trappable,
            default: trappable,
        },
    });
}
