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

/// `sigil:hooks@0.2.0`'s second world, `user-store`: the same imports as `post-login` (the
/// interfaces are 0.2.0's, so one set of host implementations serves both), and the exports a
/// legacy user store answers with.
#[allow(missing_docs)]
pub mod v0_2_user_store {
    wasmtime::component::bindgen!({
        path: "../../wit/0.2.0",
        world: "user-store",
        // The imports are 0.2.0's own (`with`), linked once for both worlds.
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "sigil:hooks/types": super::v0_2::sigil::hooks::types,
            "sigil:hooks/api": super::v0_2::sigil::hooks::api,
            "sigil:hooks/http": super::v0_2::sigil::hooks::http,
            "sigil:hooks/cache": super::v0_2::sigil::hooks::cache,
        },
    });
}
