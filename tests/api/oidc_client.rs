//! An independent client library, the `openidconnect` crate, drives Sigil as any relying party
//! would: discovery, the code flow with PKCE, ID-token validation against the JWKS (signature,
//! issuer, audience, nonce, at_hash), refresh and `/userinfo`, with the hooks' custom claims.

use std::collections::HashMap;

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    UserInfoClaims,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::both_backends;
use crate::code_flow::Browser;
use crate::helpers::{Db, spawn_app, upload_and_bind};

const REDIRECT: &str = "https://rp.example.com/callback";

/// Every claim beyond the standard ones (the hooks' custom claims).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Custom {
    #[serde(flatten)]
    rest: HashMap<String, Value>,
}
impl AdditionalClaims for Custom {}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn openidconnect_crate_drives_the_code_flow(db: Db) {
    let app = spawn_app(db).await;
    for alg in ["RS256", "ES256", "EdDSA"] {
        let email = format!("{}@example.com", alg.to_lowercase());
        let (s, u) = app
            .post(
                "/t/default/api/users",
                json!({"email": email, "password": "correct horse battery", "email_verified": true,
                       "name": "Rp User", "app_metadata": {"roles": ["admin", "billing"]}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        let (s, a) = app
            .post(
                "/t/default/api/applications",
                json!({"name": format!("rp-{alg}"), "redirect_uris": [REDIRECT], "signing_alg": alg}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        if alg == "RS256" {
            upload_and_bind(&app, &[("roles", "roles_claims", "fail_closed")]).await;
        }

        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let issuer = IssuerUrl::new(format!("{}/t/default", app.base)).unwrap();
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .expect("discovery");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(a["client_id"].as_str().unwrap().into()),
            Some(ClientSecret::new(
                a["client_secret"].as_str().unwrap().into(),
            )),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .set_pkce_challenge(challenge)
            .url();

        // The user logs in on the hosted page.
        let mut browser = Browser::new(&app);
        let path = url.as_str().strip_prefix(&app.base).unwrap().to_string();
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let back = browser.login(&page, &email, "correct horse battery").await;
        assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
        let q = back.location();
        assert_eq!(&q["state"], state.secret());
        assert_eq!(q["iss"], format!("{}/t/default", app.base));

        let tokens = client
            .exchange_code(AuthorizationCode::new(q["code"].clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("code exchange");
        let id_token = tokens.id_token().expect("an ID token");
        let id_verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&id_verifier, &nonce)
            .expect("the ID token validates");
        assert_eq!(claims.subject().as_str(), u["id"].as_str().unwrap());
        assert_eq!(claims.email().unwrap().as_str(), email);
        let expected = claims.access_token_hash().expect("at_hash");
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&id_verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(&actual, expected, "{alg}");
        let raw = payload(&id_token.to_string());
        if alg == "RS256" {
            assert_eq!(
                raw["https://sigil.example/roles"],
                json!(["admin", "billing"])
            );
        }

        let info: UserInfoClaims<Custom, CoreGenderClaim> = client
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&http)
            .await
            .expect("userinfo");
        assert_eq!(info.subject().as_str(), u["id"].as_str().unwrap());
        if alg == "RS256" {
            assert_eq!(
                info.additional_claims().rest["https://sigil.example/roles"],
                json!(["admin", "billing"])
            );
        }

        let refreshed = client
            .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
            .unwrap()
            .request_async(&http)
            .await
            .expect("refresh");
        let rid = refreshed.id_token().expect("a refreshed ID token");
        let rclaims = rid
            .claims(&id_verifier, |_: Option<&Nonce>| Ok(()))
            .expect("the refreshed ID token validates");
        assert_eq!(rclaims.subject(), claims.subject());
        assert_ne!(
            refreshed.refresh_token().unwrap().secret(),
            tokens.refresh_token().unwrap().secret()
        );
    }
}

both_backends!(openidconnect_crate_drives_the_code_flow);
