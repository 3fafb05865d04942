//! The precedence of the module doc, pinned.

use serde_json::{Value, json};

use super::*;

fn user() -> UserRow {
    let some = |s: &str| Some(s.to_string());
    UserRow {
        id: "usr_1".into(),
        tenant_id: "ten_1".into(),
        email: "ada@example.com".into(),
        email_normalized: "ada@example.com".into(),
        email_verified: true,
        password_hash: None,
        name: some("Ada Lovelace"),
        given_name: some("Ada"),
        family_name: some("Lovelace"),
        nickname: some("ada"),
        picture: some("https://example.com/a.png"),
        blocked: false,
        user_metadata: Default::default(),
        app_metadata: Default::default(),
        external_id: None,
        created_at: 0,
        updated_at: 0,
        last_login: None,
        logins_count: 0,
    }
}

fn app() -> AppRow {
    AppRow {
        client_id: "app_1".into(),
        tenant_id: "ten_1".into(),
        name: "App".into(),
        client_type: crate::store::ClientType::Confidential,
        secret_hash: None,
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        allowed_web_origins: vec![],
        grant_types: vec![],
        client_metadata: Default::default(),
        id_token_lifetime: 3600,
        access_token_lifetime: 600,
        refresh_token_lifetime: 86400,
        signing_alg: crate::store::SigningAlg::Es256,
        first_party: true,
        created_at: 0,
        updated_at: 0,
    }
}

fn claims(v: Value) -> Claims {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    }
}

fn grant<'a>(user: &'a UserRow, app: &'a AppRow, scopes: &'a [String]) -> UserGrant<'a> {
    UserGrant {
        issuer: "https://id.example.com/t/acme",
        user,
        app,
        scopes,
        audiences: &[],
        org_id: Some("org_1"),
        auth_time: 1,
        jti: "at_1",
        nonce: Some("n-0S6"),
        sid: None,
        now: 100,
    }
}

fn scopes(s: &str) -> Vec<String> {
    crate::scopes::parse(s)
}

#[test]
fn a_hook_claim_replaces_the_template_claim_of_the_same_name() {
    let templates = claims(json!({"plan": "free", "region": "eu"}));
    let hooks = claims(json!({"plan": "pro"}));
    let out = custom(templates, &hooks);
    assert_eq!(out["plan"], "pro");
    assert_eq!(
        out["region"], "eu",
        "template claims the hooks did not set stay"
    );
}

#[test]
fn profile_claims_override_custom_claims_in_the_id_token() {
    let (u, a, s) = (user(), app(), scopes("openid email"));
    let auds = ["https://api.example.com".to_string()];
    let g = UserGrant {
        audiences: &auds,
        ..grant(&u, &a, &s)
    };
    let it = id_token(&g, &claims(json!({"email": "forged@evil.test"})), "h");
    assert_eq!(it["email"], "ada@example.com");
}

#[test]
fn protocol_claims_override_custom_claims_in_both_tokens() {
    let (u, a, s) = (user(), app(), scopes("openid"));
    let auds = ["https://api.example.com".to_string()];
    let g = UserGrant {
        audiences: &auds,
        ..grant(&u, &a, &s)
    };
    let forged = claims(json!({"sub": "usr_admin", "iss": "x", "org_id": "org_other"}));
    for token in [access_token(&g, &forged), id_token(&g, &forged, "h")] {
        assert_eq!(token["sub"], "usr_1");
        assert_eq!(token["iss"], "https://id.example.com/t/acme");
        assert_eq!(token["org_id"], "org_1");
    }
}

#[test]
fn the_access_token_carries_no_profile_claims() {
    let (u, a, s) = (user(), app(), scopes("openid profile email"));
    let auds = ["https://api.example.com".to_string()];
    let g = UserGrant {
        audiences: &auds,
        ..grant(&u, &a, &s)
    };
    let at = access_token(&g, &Claims::new());
    for name in PROFILE_CLAIMS {
        assert!(!at.contains_key(*name), "{name} in the access token");
    }
    assert_eq!(
        at["aud"], "https://api.example.com",
        "one audience is a string"
    );
    assert_eq!(at["scope"], "openid profile email");
}

#[test]
fn userinfo_answers_stored_custom_claims_under_the_current_profile_and_sub() {
    let u = user();
    let stored = claims(json!({"plan": "pro", "sub": "usr_forged", "name": "Old Name"}));
    let out = userinfo(stored, &u, &scopes("openid profile"));
    assert_eq!(out["plan"], "pro");
    assert_eq!(out["sub"], "usr_1");
    assert_eq!(out["name"], "Ada Lovelace");
    assert!(!out.contains_key("email"), "email scope not granted");
}

#[test]
fn the_machine_token_is_about_the_client() {
    let a = app();
    let at = machine_access_token("iss", &a, "https://api", &scopes("read"), "at_2", 5);
    assert_eq!(at["sub"], "app_1");
    assert_eq!(at["exp"], 605);
}

/// Every claim Sigil itself writes is on the restricted list, so no template or hook claim
/// can be silently replaced by one (they are refused instead).
#[test]
fn every_claim_sigil_writes_is_restricted() {
    let (u, a, s) = (user(), app(), scopes("openid profile email"));
    let auds = ["a".to_string(), "b".to_string()];
    let g = UserGrant {
        audiences: &auds,
        sid: Some("sid_1"),
        ..grant(&u, &a, &s)
    };
    let none = Claims::new();
    let written = access_token(&g, &none)
        .into_iter()
        .chain(id_token(&g, &none, "h"))
        .chain(machine_access_token("i", &a, "x", &s, "j", 0));
    for (name, _) in written {
        assert!(
            RESTRICTED_CLAIMS.contains(&name.as_str()),
            "{name} is written by Sigil but not restricted"
        );
    }
    assert!(
        PROTOCOL_CLAIMS
            .iter()
            .chain(PROFILE_CLAIMS)
            .all(|c| RESTRICTED_CLAIMS.contains(c))
    );
}
