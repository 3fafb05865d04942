//! The disk cache of compiled hook artifacts (issue 13 item 3: "cached on local disk keyed by
//! content hash and engine version"): a node prepares a hook from its disk without reading the
//! artifact from the database, and never loads a file whose MAC does not verify.

use reqwest::StatusCode;
use serde_json::Value;

use super::{Node, metric, only_hash, second_node};
use crate::both_backends;
use crate::grants::{ADA_PASSWORD, Setup, setup};
use crate::helpers::{Db, TestApp, ready, spawn_app_with, upload_and_bind};

/// The cached files (`*.cwasm`) in `dir`.
fn cached_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
                .collect()
        })
        .unwrap_or_default()
}

/// The first node, with the fixture's user and application, the `roles_claims` hook bound
/// (its upload wrote the artifact to the first node's disk cache), and the master key.
async fn first_node_with_a_bound_hook(db: Db) -> (TestApp, Setup, String) {
    let master = sigil::crypto::MasterKey::generate().to_base64();
    let first = spawn_app_with(db, |s| s.master_key = Some(master.clone())).await;
    let s = setup(&first, "ES256").await;
    upload_and_bind(&first, &[("roles", "roles_claims", "fail_closed")]).await;
    (first, s, master)
}

/// Ada's password grant at `node`: the status and the body.
async fn login_at(node: &Node, s: &Setup) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/t/default/oauth/token", node.base))
        .basic_auth(&s.client_id, Some(&s.secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", ADA_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

/// A second node (another process's memory: a runtime of its own) sharing the first node's
/// cache directory prepares the bound hook from disk at start: nothing read from the database,
/// nothing compiled; and its logins run the hook.
async fn a_second_node_sharing_the_cache_directory_prepares_the_hook_from_disk(db: Db) {
    let (first, s, master) = first_node_with_a_bound_hook(db).await;
    let dir = first.fresh().artifacts.clone();
    assert_eq!(
        cached_files(&dir).len(),
        1,
        "the upload cached its artifact"
    );
    let hash = only_hash(&first).await;

    let second = second_node(&first, &master, |s| s.artifact_cache = Some(dir.clone())).await;
    let node = Node::start(second);
    assert!(ready(node.port).await);
    assert!(node.svc.hooks.runtime.cached(&hash).is_some());
    for (source, n) in [("disk", 1.0), ("database", 0.0), ("compiled", 0.0)] {
        assert_eq!(
            metric(
                &node.svc,
                &format!("sigil_hook_prepares_total{{source=\"{source}\"}}")
            ),
            n,
            "{source}"
        );
    }
    let (st, body) = login_at(&node, &s).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    node.stop().await;
}

/// The cached file altered (one bit of the machine code): the second node refuses it before
/// deserializing, deletes it, counts it, prepares the hook from the database instead (and
/// caches that artifact again), and its logins run the hook.
async fn a_tampered_cached_artifact_is_refused_and_the_hook_runs_from_the_database(db: Db) {
    let (first, s, master) = first_node_with_a_bound_hook(db).await;
    let dir = first.fresh().artifacts.clone();
    let files = cached_files(&dir);
    assert_eq!(files.len(), 1);
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&files[0], &bytes).unwrap();

    let second = second_node(&first, &master, |s| s.artifact_cache = Some(dir.clone())).await;
    let node = Node::start(second);
    assert!(ready(node.port).await);
    assert_eq!(
        metric(&node.svc, "sigil_hook_artifact_cache_rejected_total"),
        1.0
    );
    assert_eq!(
        metric(&node.svc, "sigil_hook_prepares_total{source=\"disk\"}"),
        0.0
    );
    assert_eq!(
        metric(&node.svc, "sigil_hook_prepares_total{source=\"database\"}"),
        1.0
    );
    let now = std::fs::read(&files[0]).expect("cached again, from the database");
    assert_ne!(now, bytes, "the tampered file is gone");
    let (st, body) = login_at(&node, &s).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    node.stop().await;
}

both_backends!(
    a_second_node_sharing_the_cache_directory_prepares_the_hook_from_disk,
    a_tampered_cached_artifact_is_refused_and_the_hook_runs_from_the_database,
);
