//! The group commit's behaviours, on a real database file.

use std::time::Duration;

use super::*;

/// A new database with a table `t`, a table `k` with a unique key, and a deferred foreign key
/// from `c` to `p` (only `COMMIT` checks it: the way to make a group's commit fail).
fn database(name: &str) -> (Arc<LiteDb>, impl Drop + use<>) {
    let (path, gone) = super::super::tests::database_with(
        &format!("group-{name}"),
        "CREATE TABLE t (x BIGINT NOT NULL);
         CREATE TABLE k (x BIGINT PRIMARY KEY);
         CREATE TABLE p (id BIGINT PRIMARY KEY);
         CREATE TABLE c (x BIGINT REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED);",
    );
    let db = LiteDb::open(&path, 2, Duration::from_secs(1), SqliteSync::Normal).unwrap();
    (db, gone)
}

async fn rows(db: &Arc<LiteDb>) -> Vec<i64> {
    let mut r = db.reader().await.unwrap();
    let mut s = r.conn().prepare("SELECT x FROM t ORDER BY x").unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

async fn commits(db: &Arc<LiteDb>) -> u64 {
    db.writer.lock().await.commits()
}

/// A write that inserts `x` into `t`, lets the other tasks run (so they queue for the
/// writer), then commits.
async fn insert(db: Arc<LiteDb>, x: i64) -> Result<(), sqlx::Error> {
    let mut w = db.begin().await?;
    w.conn()
        .execute("INSERT INTO t VALUES (?1)", [x])
        .map_err(to_sqlx)?;
    tokio::task::yield_now().await;
    w.commit().await
}

#[tokio::test]
async fn writes_queued_behind_a_commit_share_it_and_each_returns_once_it_is_durable() {
    let (db, _gone) = database("share");
    let tasks: Vec<_> = (1..=8)
        .map(|x| tokio::spawn(insert(db.clone(), x)))
        .collect();
    for t in tasks {
        t.await.unwrap().expect("committed");
    }
    assert_eq!(rows(&db).await, (1..=8).collect::<Vec<_>>());
    let n = commits(&db).await;
    assert!((1..8).contains(&n), "8 writes in {n} commits");
}

#[tokio::test]
async fn a_write_that_rolls_back_leaves_the_rest_of_its_group_committed() {
    let (db, _gone) = database("rollback");
    let mut a = db.begin().await.unwrap();
    a.conn().execute_batch("INSERT INTO t VALUES (1)").unwrap();
    let dropped = tokio::spawn({
        let db = db.clone();
        async move {
            let mut b = db.begin().await.unwrap();
            b.conn().execute_batch("INSERT INTO t VALUES (2)").unwrap();
            drop(b); // an error, or a client that hung up
        }
    });
    let last = tokio::spawn(insert(db.clone(), 3));
    tokio::task::yield_now().await; // both queue for the writer
    a.commit().await.expect("1 is committed");
    dropped.await.unwrap();
    last.await.unwrap().expect("3 is committed");
    assert_eq!(rows(&db).await, vec![1, 3]);
    // The write given up commits the group it leaves (1) at once: see the next test.
    assert_eq!(commits(&db).await, 2, "1 when 2 was given up, then 3");
}

#[tokio::test]
async fn a_group_whose_commit_fails_fails_every_member_and_keeps_none_of_their_writes() {
    let (db, _gone) = database("fail");
    let mut a = db.begin().await.unwrap();
    a.conn().execute_batch("INSERT INTO t VALUES (1)").unwrap();
    let breaks = tokio::spawn({
        let db = db.clone();
        async move {
            let mut b = db.begin().await?;
            // Only COMMIT checks the deferred key: the group's commit fails.
            b.conn()
                .execute_batch("INSERT INTO c VALUES (99)")
                .map_err(to_sqlx)?;
            b.commit().await
        }
    });
    tokio::task::yield_now().await;
    let joined = a.commit().await;
    let failed = breaks.await.unwrap();
    for (who, r) in [("the member", joined), ("the committer", failed)] {
        let e = r.expect_err(who);
        assert!(e.to_string().contains("FOREIGN KEY"), "{who}: {e}");
    }
    assert!(rows(&db).await.is_empty(), "nothing of the group was kept");
    insert(db.clone(), 4)
        .await
        .expect("the writer is free again");
    assert_eq!(rows(&db).await, vec![4]);
}

#[tokio::test]
async fn a_write_whose_caller_left_after_joining_a_group_is_still_committed() {
    let (db, _gone) = database("left");
    let mut a = db.begin().await.unwrap();
    a.conn().execute_batch("INSERT INTO t VALUES (1)").unwrap();
    let queued = tokio::spawn({
        let db = db.clone();
        async move {
            let b = db.begin().await.unwrap();
            tokio::task::yield_now().await;
            drop(b); // rolls back: nobody after it to commit the group
        }
    });
    tokio::task::yield_now().await;
    {
        let mut committing = Box::pin(a.commit());
        assert!(
            futures::poll!(&mut committing).is_pending(),
            "joined the group queued behind"
        );
    } // the request is dropped while it waits for the group's commit
    drop(a);
    queued.await.unwrap();
    // The member's own task commits the group when its turn comes.
    for _ in 0..1000 {
        if !rows(&db).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(rows(&db).await, vec![1]);
    insert(db.clone(), 2)
        .await
        .expect("the writer is free again");
}

#[tokio::test(start_paused = true)]
async fn a_commit_waits_for_a_write_announced_before_it_and_shares_its_commit() {
    let (db, _gone) = database("announced");
    let coming = db.announce();
    let first = tokio::spawn(insert(db.clone(), 1));
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!first.is_finished(), "it waits for the announced write");
    drop(coming); // the announced write begins
    insert(db.clone(), 2).await.expect("2 is committed");
    first.await.unwrap().expect("1 is committed with it");
    assert_eq!(rows(&db).await, vec![1, 2]);
    assert_eq!(commits(&db).await, 1, "one commit for both");
}

#[tokio::test(start_paused = true)]
async fn an_announced_write_that_does_not_come_delays_a_commit_by_the_linger_at_most() {
    let (db, _gone) = database("linger");
    let alone = tokio::time::Instant::now();
    insert(db.clone(), 1).await.expect("1 is committed");
    assert_eq!(
        alone.elapsed(),
        Duration::ZERO,
        "nothing announced: no wait"
    );

    let _never = db.announce(); // a grant whose flow fails, say
    let waiting = tokio::time::Instant::now();
    insert(db.clone(), 2)
        .await
        .expect("2 is committed without it");
    let waited = waiting.elapsed();
    assert!(
        waited >= LINGER && waited <= LINGER + Duration::from_millis(1),
        "waited {waited:?} (the linger is {LINGER:?})"
    );
    assert_eq!(rows(&db).await, vec![1, 2]);
    assert_eq!(commits(&db).await, 2);
}

/// How a signing key's first use by concurrent requests goes (keys::signing_key): both insert
/// the key, the second is refused by the unique key, gives up its write and reads the first
/// one's key with a reader. That read must find it, though the two writes met in one group.
#[tokio::test]
async fn a_write_refused_over_its_groups_rows_returns_once_they_are_committed() {
    let (db, _gone) = database("refused");
    let mut first = db.begin().await.unwrap();
    first
        .conn()
        .execute_batch("INSERT INTO k VALUES (7)")
        .unwrap();
    let second = tokio::spawn({
        let db = db.clone();
        async move {
            let mut w = db.begin().await.unwrap();
            let refused = w.conn().execute_batch("INSERT INTO k VALUES (7)");
            assert!(refused.is_err(), "the group holds 7 already");
            drop(w);
            let mut r = db.reader().await.unwrap();
            r.conn()
                .query_row("SELECT count(*) FROM k WHERE x = 7", [], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
        }
    });
    tokio::task::yield_now().await; // the second write queues: the first joins its group
    let mut committing = Box::pin(first.commit());
    assert!(futures::poll!(&mut committing).is_pending());
    assert_eq!(
        second.await.unwrap(),
        1,
        "the reader sees the first write's row"
    );
    committing.await.expect("the first write is committed");
}
