//! Scopes by role and plan: `admin:all` only for members holding the `admin` role in the
//! organization; no `write:*` scope when the client's plan is `blocked`.

use sigil_hooks::{Api, Event};

fn on_login(event: &Event, api: &Api) -> Result<(), String> {
    let is_admin = event
        .organization()
        .is_some_and(|o| o.roles.iter().any(|r| r == "admin"));
    if is_admin {
        api.access_token().add_scope("admin:all");
    }
    let plan = event.client().client_metadata.get("plan").and_then(|p| p.as_str());
    if plan == Some("blocked") {
        for scope in event.requested_scopes() {
            if scope.starts_with("write:") {
                api.access_token().remove_scope(scope);
            }
        }
    }
    Ok(())
}

sigil_hooks::export_post_login!(on_login);
