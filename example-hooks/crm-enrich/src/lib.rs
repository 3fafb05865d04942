//! The user's plan and account tier from the customer's CRM, on both tokens.
//!
//! Looks the user up by `external_id` at `{CRM_URL}/v1/accounts/{external_id}` (the hook's
//! secret `CRM_URL`, and its secret `CRM_KEY` as a bearer token, substituted by the host so the
//! key never enters the hook), caches the answer for 60 seconds, and sets
//! `https://myapp.com/plan` and `https://myapp.com/account_tier` on the ID and access tokens.
//! When the CRM is down or slow, the login goes on without the claims and the hook logs why
//! (it fails open by design; bind it `fail_closed` and return the error instead to refuse
//! logins the CRM cannot vouch for).
//!
//! Allow-list it needs: `{"host": "<the CRM's host>", "paths": ["/v1/accounts"], "methods": ["GET"]}`.

#[cfg(feature = "contract-0-2")]
mod hook {
    use std::time::Duration;

    use serde_json::Value;
    use sigil_hooks::cache;
    use sigil_hooks::http::Request;
    use sigil_hooks::{Api, Event};

    const PLAN: &str = "https://myapp.com/plan";
    const TIER: &str = "https://myapp.com/account_tier";

    fn on_login(event: &Event, api: &Api) -> Result<(), String> {
        let Some(id) = event.user().external_id.clone() else {
            return Ok(());
        };
        let key = format!("account:{id}");
        let account: Value = match cache::get_json(&key) {
            Some(a) => a,
            None => match lookup(event, &id) {
                Ok(a) => {
                    // Best-effort: a full cache only means the next login asks the CRM again.
                    let _ = cache::set_json(&key, &a, Duration::from_secs(60));
                    a
                }
                Err(why) => {
                    api.log(format!("CRM lookup failed, no plan claims: {why}"));
                    return Ok(());
                }
            },
        };
        for claim in [(PLAN, "plan"), (TIER, "tier")] {
            if let Some(v) = account.get(claim.1) {
                api.id_token().set_custom_claim(claim.0, v)?;
                api.access_token().set_custom_claim(claim.0, v)?;
            }
        }
        Ok(())
    }

    fn lookup(event: &Event, id: &str) -> Result<Value, String> {
        let base = event
            .secret("CRM_URL")
            .ok_or("the hook has no CRM_URL secret")?;
        let url = format!("{}/v1/accounts/{id}", base.trim_end_matches('/'));
        let r = Request::get(url)
            .bearer_secret("CRM_KEY")
            .timeout_ms(500)
            .send()
            .map_err(|e| e.to_string())?;
        if !r.is_success() {
            return Err(format!("the CRM answered {}", r.status()));
        }
        r.json()
    }

    sigil_hooks::export_post_login!(on_login);
}

#[cfg(not(feature = "contract-0-2"))]
mod hook {
    use sigil_hooks::{Api, Event};

    fn on_login(_event: &Event, _api: &Api) -> Result<(), String> {
        Ok(())
    }

    sigil_hooks::export_post_login!(on_login);
}
