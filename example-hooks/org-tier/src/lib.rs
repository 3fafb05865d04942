//! The WorkOS example: the organization's tier and the user's department on the access token.

use sigil_hooks::{Api, Event};

fn on_login(event: &Event, api: &Api) -> Result<(), String> {
    if let Some(tier) = event.organization().and_then(|o| o.metadata.get("tier")) {
        api.access_token().set_custom_claim("org_tier", tier)?;
    }
    if let Some(dept) = event.user().user_metadata.get("department") {
        api.access_token().set_custom_claim("department", dept)?;
        api.id_token().set_custom_claim("department", dept)?;
    }
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
