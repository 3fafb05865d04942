//! PostgreSQL connections kept between reads (`src/store/warm.rs`): reused, checked before
//! use so one the server ended is replaced rather than handed out, handed to reads in the
//! order they asked, never more than half the pool, and given back when the store closes.

use std::time::Duration;

use sigil::store::Store;

use crate::helpers::{Db, FreshDb, pg_admin_url};

async fn backend_pid(store: &Store) -> i32 {
    let mut read = store.read().await.unwrap();
    let (pid,): (i32,) = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(read.conn())
        .await
        .unwrap();
    pid
}

/// A store on `fresh` with a pool of `size` connections and that acquire timeout.
async fn store_of(fresh: &FreshDb, size: u32, acquire: Duration) -> Store {
    Store::connect_with(&fresh.url, size, acquire, sigil::store::SqliteSync::Normal)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_read_takes_the_connection_the_last_read_kept() {
    let fresh = FreshDb::new(Db::Postgres).await;
    let store = Store::connect(&fresh.url, 4).await.unwrap();
    let first = backend_pid(&store).await;
    for _ in 0..5 {
        assert_eq!(
            backend_pid(&store).await,
            first,
            "the kept connection is reused"
        );
    }
    let usage = store.pool_usage();
    assert_eq!(
        (usage.open, usage.idle),
        (1, 1),
        "one connection, kept and idle"
    );
    store.close().await;
}

#[tokio::test]
async fn a_kept_connection_the_server_ended_is_replaced_not_handed_out() {
    let fresh = FreshDb::new(Db::Postgres).await;
    let store = Store::connect(&fresh.url, 4).await.unwrap();
    let ended = backend_pid(&store).await;
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&pg_admin_url())
        .await
        .unwrap();
    let (done,): (bool,) = sqlx::query_as("SELECT pg_terminate_backend($1)")
        .bind(ended)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(done, "the kept connection's backend was ended");
    // The next read checks the kept connection, finds it ended, and gets a new one: no error.
    let now = backend_pid(&store).await;
    assert_ne!(now, ended);
    store.close().await;
}

#[tokio::test]
async fn closing_the_store_gives_back_the_kept_connections() {
    let fresh = FreshDb::new(Db::Postgres).await;
    let store = Store::connect(&fresh.url, 4).await.unwrap();
    // Several reads at once, so connections are kept (at most half the pool of 4).
    let reads = futures::future::join_all((0..3).map(|_| store.read())).await;
    drop(reads);
    assert!(store.pool_usage().idle >= 1);
    // sqlx's close waits for every connection to come back: kept ones must not hold it up.
    tokio::time::timeout(Duration::from_secs(10), store.close())
        .await
        .expect("the store closes with connections kept");
    assert!(store.read().await.is_err(), "no read after close");
}

#[tokio::test]
async fn reads_hold_at_most_half_the_pool_so_writes_always_find_a_connection() {
    let fresh = FreshDb::new(Db::Postgres).await;
    let store = store_of(&fresh, 4, Duration::from_secs(2)).await;
    // Half the pool held by reads, and more reads waiting for them: had reads taken every
    // connection (or kept them all), a write (sqlx's transaction) would find none and time out.
    let held = futures::future::join_all((0..2).map(|_| store.read())).await;
    assert!(held.iter().all(Result::is_ok));
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { backend_pid(&store).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        waiting.iter().all(|w| !w.is_finished()),
        "a third read waits while half the pool is held by reads"
    );
    for _ in 0..3 {
        let tx = store
            .begin_write()
            .await
            .expect("a write gets a connection");
        tx.commit().await.unwrap();
    }
    drop(held);
    for w in waiting {
        w.await.unwrap();
    }
    store.close().await;
}

#[tokio::test]
async fn reads_get_connections_in_the_order_they_asked() {
    let fresh = FreshDb::new(Db::Postgres).await;
    // A pool of 2: one connection for reads.
    let store = store_of(&fresh, 2, Duration::from_secs(5)).await;
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = |id: u32| {
        let (store, order) = (store.clone(), order.clone());
        tokio::spawn(async move {
            let read = store.read().await.unwrap();
            order.lock().unwrap().push(id);
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(read);
        })
    };
    let held = store.read().await.unwrap();
    let first = reader(1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = reader(2);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The held read ends and a new one asks at once: it takes its turn after those waiting,
    // not the connection just given back.
    drop(held);
    let late = reader(3);
    for r in [first, second, late] {
        r.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [1, 2, 3]);
    store.close().await;
}
