//! The classic Auth0 recipe: copy `app_metadata.roles` (and the user's role permissions) into
//! both tokens under a namespaced claim.

use sigil_hooks::serde_json::{Value, json};
use sigil_hooks::{Api, Event};

const NS: &str = "https://sigil.example/";

fn on_login(event: &Event, api: &Api) -> Result<(), String> {
    let user = event.user();
    let roles = user.app_metadata.get("roles").cloned().unwrap_or_else(|| json!([]));
    let permissions = Value::from(user.permissions.clone());
    api.id_token().set_custom_claim(&format!("{NS}roles"), &roles)?;
    api.access_token().set_custom_claim(&format!("{NS}roles"), &roles)?;
    api.access_token().set_custom_claim(&format!("{NS}permissions"), &permissions)?;
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
