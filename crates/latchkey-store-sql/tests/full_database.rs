//! A full SQLite database: writes fail with `Unavailable` (503), and once
//! there is room again the next transaction really commits.
//!
//! On a full disk, SQLite rolls back a transaction whose COMMIT cannot write
//! the log by itself. sqlx then still counted one open transaction: its
//! rollback failed, the connection's next transaction became a savepoint
//! that a failure left inside a real, never-committed transaction, which
//! kept the write lock ("database is locked" for every other connection)
//! and swallowed later "commits" until a restart. Connections left inside
//! a transaction are now closed instead of reused.

use std::time::Duration;

use latchkey_core::Scope;
use latchkey_core::grant::{Authentication, RefreshToken};
use latchkey_store::{RefreshTokenStore, Rotation, StoreError};
use latchkey_store_sql::SqlStore;
use sqlx::Row;

fn token(n: u32, now: i64) -> RefreshToken {
    RefreshToken {
        token_hash: format!("rt-{n}"),
        grant_id: "grant".into(),
        client_id: "client".into(),
        scope: Scope::parse("openid offline_access").unwrap(),
        // About one database page per token, so that the limit comes soon.
        auth: Authentication {
            user_id: "u1".into(),
            auth_time: now,
            amr: vec!["pwd".into()],
            acr: "x".repeat(3000),
            sid: "sid".into(),
        },
        offline: true,
        dpop_jkt: None,
        created_at: now,
        expires_at: now + 1_000,
        family_expires_at: now + 5_000,
        claims: Default::default(),
    }
}

async fn rotate(store: &SqlStore, from: u32, to: u32) -> Result<bool, StoreError> {
    let successor = token(to, 100);
    let rotation = Rotation { successor: &successor, successor_sealed: "sealed", access_jti: "jti", access_exp: 2_000 };
    store.rotate_refresh_token(&format!("rt-{from}"), "client", 100, rotation).await
}

#[tokio::test]
async fn a_full_database_answers_unavailable_and_commits_again_once_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/full.db", dir.path().display());
    // One connection: the one that fails is the one that must work again.
    let store = SqlStore::connect(&url, 1, Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    store.insert_refresh_token(&token(0, 100), "jti0", 2_000).await.unwrap();
    let pages: i64 = sqlx::query("PRAGMA page_count").fetch_one(store.pool()).await.unwrap().get(0);
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA max_page_count = {}", pages + 8)))
        .execute(store.pool())
        .await
        .unwrap();

    let mut last = 0;
    let error = loop {
        match rotate(&store, last, last + 1).await {
            Ok(true) => last += 1,
            Ok(false) => panic!("rotation {last} lost a race it had no rival in"),
            Err(e) => break e,
        }
        assert!(last < 1_000, "the page limit was never reached");
    };
    assert!(matches!(error, StoreError::Unavailable(_)), "a full database is unavailable (503), not {error:?}");

    // Room again (the limit is per connection: lift it on whichever one
    // the pool holds now).
    sqlx::query("PRAGMA max_page_count = 1073741823").execute(store.pool()).await.unwrap();
    assert!(rotate(&store, last, last + 1).await.expect("writes work again once there is room"));
    assert!(rotate(&store, last + 1, last + 2).await.unwrap());

    // Committed for real: another connection sees the newest token, and can write.
    let other = SqlStore::connect(&url, 1, Duration::from_millis(500)).await.unwrap();
    let seen = other.get_refresh_token(&format!("rt-{}", last + 2)).await.unwrap();
    assert!(seen.is_some(), "the last rotation is visible to another connection");
    assert!(
        other.insert_refresh_token(&token(9_999, 100), "jti9", 2_000).await.is_ok(),
        "no connection holds the write lock"
    );
}

#[tokio::test]
async fn a_transaction_sqlite_rolled_back_by_itself_leaves_no_connection_behind_in_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/rolled-back.db", dir.path().display());
    let store = SqlStore::connect(&url, 1, Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    store.insert_refresh_token(&token(0, 100), "jti0", 2_000).await.unwrap();
    // What SQLite does when a COMMIT meets a full disk: the transaction ends
    // under sqlx's feet, and the COMMIT fails.
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
    assert!(tx.commit().await.is_err(), "nothing left to commit");
    // The pool's only connection then serves a rotation that loses (its
    // token is unknown) and rolls back, and two that win.
    assert!(!rotate(&store, 777, 1).await.unwrap());
    assert!(rotate(&store, 0, 1).await.unwrap());
    assert!(rotate(&store, 1, 2).await.unwrap());
    let other = SqlStore::connect(&url, 1, Duration::from_millis(500)).await.unwrap();
    assert!(other.get_refresh_token("rt-2").await.unwrap().is_some(), "the rotations were committed");
    other.insert_refresh_token(&token(9_999, 100), "jti9", 2_000).await.expect("no connection holds the write lock");
}
