//! A hook that does nothing: what the runtime costs before a hook does any work (the
//! baseline of `cargo bench --bench hooks`).

use sigil_hooks::{Api, Event};

fn on_login(_event: &Event, _api: &Api) -> Result<(), String> {
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
