//! A `tenant_id` claim taken from `user_metadata.tenant_id`, only when the user has one.

use sigil_hooks::{Api, Event};

fn on_login(event: &Event, api: &Api) -> Result<(), String> {
    if let Some(tenant_id) = event.user().user_metadata.get("tenant_id") {
        api.id_token().set_custom_claim("tenant_id", tenant_id)?;
        api.access_token().set_custom_claim("tenant_id", tenant_id)?;
    }
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
