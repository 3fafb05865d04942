//! Write-back: stamp `app_metadata.first_login_at` with the login time, once.

use sigil_hooks::{Api, Event};

fn on_login(event: &Event, api: &Api) -> Result<(), String> {
    if event.user().app_metadata.get("first_login_at").is_none() {
        api.user().set_app_metadata("first_login_at", &event.now())?;
    }
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
