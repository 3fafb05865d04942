//! OpenID Provider metadata (OIDC Discovery 1.0): each tenant is an issuer of its own.

use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::{Db, Reply, spawn_app};

async fn the_tenant_is_the_issuer_and_names_its_token_endpoint(db: Db) {
    let app = spawn_app(db).await;
    let disco = app
        .call(
            Method::GET,
            "/t/default/.well-known/openid-configuration",
            None,
            None,
        )
        .await
        .expect_status(StatusCode::OK);
    assert_eq!(disco["issuer"], format!("{}/t/default", app.base));
    assert_eq!(
        disco["token_endpoint"],
        format!("{}/t/default/oauth/token", app.base)
    );
}

both_backends!(the_tenant_is_the_issuer_and_names_its_token_endpoint);
