//! A grant acknowledged to its client survives a crash of the process (issue 14: no durability
//! given up for speed). On SQLite the server commits in write-ahead-log mode and copies the log
//! into the database on a thread of its own, later; a process killed between the two must
//! still have every acknowledged rotation when it starts again.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use super::process::Serve;
use crate::helpers::{Db, FreshDb};

/// Refresh-token chains rotated at once.
const CHAINS: usize = 8;

async fn token(serve: &Serve, basic: &str, form: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/t/default/oauth/token", serve.base))
        .header("authorization", basic)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

fn refresh_form(rt: &str) -> String {
    format!("grant_type=refresh_token&refresh_token={rt}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refresh_acknowledged_before_a_kill_is_the_one_that_works_after_the_restart() {
    let fresh = FreshDb::new(Db::Sqlite).await;
    let mut serve = Serve::start(&fresh, &[], &[]).await;
    let basic = serve.user_and_app(&["password", "refresh_token"]).await;

    // Each chain rotates its refresh token as fast as it is answered for a second, keeping
    // the token it was last given and the one before it.
    let serve_ref = &serve;
    let chains = futures::future::join_all((0..CHAINS).map(|_| {
        let basic = basic.clone();
        async move {
            let (st, t) = token(
                serve_ref,
                &basic,
                "grant_type=password&username=ada%40example.com\
                 &password=correct+horse+battery&scope=openid+offline_access",
            )
            .await;
            assert_eq!(st, StatusCode::OK, "{t}");
            let mut latest = t["refresh_token"].as_str().unwrap().to_string();
            let mut before = None;
            let mut rotations = 0;
            let until = Instant::now() + Duration::from_secs(1);
            while Instant::now() < until {
                let (st, t) = token(serve_ref, &basic, &refresh_form(&latest)).await;
                assert_eq!(st, StatusCode::OK, "{t}");
                before = Some(std::mem::replace(
                    &mut latest,
                    t["refresh_token"].as_str().unwrap().to_string(),
                ));
                rotations += 1;
            }
            (latest, before.expect("at least one rotation"), rotations)
        }
    }))
    .await;
    let rotations: usize = chains.iter().map(|c| c.2).sum();
    assert!(
        rotations >= CHAINS * 5,
        "only {rotations} rotations in a second"
    );

    // Killed at once: the last commits are in the log and nowhere else.
    serve.kill_and_restart().await;

    for (latest, before, _) in &chains {
        let (st, t) = token(&serve, &basic, &refresh_form(latest)).await;
        assert_eq!(
            st,
            StatusCode::OK,
            "the last acknowledged refresh token works after the crash: {t}"
        );
        // And the one it replaced stays redeemed (reuse is refused), so the rotation before
        // the crash was kept, not rolled back.
        let (st, t) = token(&serve, &basic, &refresh_form(before)).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{t}");
        assert_eq!(t["error"], "invalid_grant");
    }
}
