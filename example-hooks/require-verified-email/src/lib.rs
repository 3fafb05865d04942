//! Deny users whose email address is not verified.

use sigil_hooks::{Api, Event};

fn on_login(event: &Event, api: &Api) -> Result<(), String> {
    if !event.user().email_verified {
        api.log(format!("denied {}: email not verified", event.user().id));
        api.access()
            .deny("Please verify your email address before logging in.");
    }
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
