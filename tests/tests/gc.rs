//! Garbage collection (docs/token-lifecycle.md, "Garbage collection"): a
//! running server deletes expired rows. Rows are made to expire either by a
//! short lifetime (denylist entries) or by moving their `expires_at` into the
//! past (the other kinds have minimum lifetimes of a minute or more).

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::Duration;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;
use sqlx::Row;

on_sql_backends!(
    denylist_entries_go_after_the_token_expires,
    expired_sessions_refresh_tokens_interactions_and_old_codes_go,
    at_most_batch_size_per_pass,
);

const GC: (&str, &str) = ("LATCHKEY_GC_INTERVAL_SECONDS", "1");

async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get::<i64, _>(0)
}

async fn exec(pool: &sqlx::AnyPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn denylist_entries_go_after_the_token_expires(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[GC, ("LATCHKEY_TOKENS_ACCESS_TOKEN_TTL_SECONDS", "4")]).await;
    let client = offline_client(&db, "Offline", &[]);
    let pool = db.pool().await;
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    let exp = claims(&at)["exp"].as_i64().unwrap();
    assert_revoke_ok(&revoke(&server, auth_of(&client), &at, None).await, "revoke");

    let n = count(&pool, "SELECT COUNT(*) FROM revoked_access_tokens").await;
    assert_eq!(n, 1, "the revoked jti is on the denylist");
    // Kept while the token could still be presented.
    while now() < exp - 1 {
        assert_eq!(count(&pool, "SELECT COUNT(*) FROM revoked_access_tokens").await, 1, "kept until the token's exp");
        assert_eq!(userinfo_status(&server, &at).await, 401);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Gone soon after it.
    let pool_ref = &pool;
    let gone = eventually(Duration::from_secs(5), || async move {
        count(pool_ref, "SELECT COUNT(*) FROM revoked_access_tokens").await == 0
    })
    .await;
    assert!(gone, "denylist entries past the token's exp are deleted\n{}", tail(&server.log(), 20));
    assert!(now() >= exp, "not before exp");
    pool.close().await;
}

async fn expired_sessions_refresh_tokens_interactions_and_old_codes_go(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[GC]).await;
    let client = offline_client(&db, "Offline", &[]);
    let pool = db.pool().await;

    // A session with its client, a refresh token, an interaction (a login
    // page shown), and codes (one used, one never redeemed).
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let rt = str_of(&t, "refresh_token").to_string();
    let unredeemed = code_for(&b, &code_request(&client.id, &pkce()).set("scope", "openid"), &alice).await;
    assert!(!unredeemed.is_empty());
    let other = Browser::new(&server);
    let login = other.authorize(&code_request(&client.id, &pkce()).set("scope", "openid")).await;
    assert!(login.is_login(), "{}", login.describe());

    let tables = ["sessions", "session_clients", "refresh_tokens", "interactions", "authorization_codes"];
    for table in tables {
        let n = count(&pool, &format!("SELECT COUNT(*) FROM {table}")).await;
        assert!(n >= 1, "{table} has a row to collect");
    }
    // Nothing live is collected.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for table in tables {
        let n = count(&pool, &format!("SELECT COUNT(*) FROM {table}")).await;
        assert!(n >= 1, "a live row of {table} was collected");
    }
    assert!(is_active(&server, auth_of(&client), &rt).await);

    // Codes are kept a day past expiry: an hour past is not enough.
    exec(&pool, "UPDATE authorization_codes SET expires_at = expires_at - 3600").await;
    exec(&pool, "UPDATE sessions SET expires_at = expires_at - 8 * 86400").await;
    exec(&pool, "UPDATE refresh_tokens SET expires_at = expires_at - 31 * 86400").await;
    exec(&pool, "UPDATE interactions SET expires_at = expires_at - 3600").await;
    let pool_ref = &pool;
    let gone = eventually(Duration::from_secs(6), || async move {
        let mut total = 0;
        for table in ["sessions", "session_clients", "refresh_tokens", "interactions"] {
            total += count(pool_ref, &format!("SELECT COUNT(*) FROM {table}")).await;
        }
        total == 0
    })
    .await;
    let mut left = Vec::new();
    for table in tables {
        left.push((table, count(&pool, &format!("SELECT COUNT(*) FROM {table}")).await));
    }
    assert!(gone, "expired rows are deleted: {left:?}\n{}", tail(&server.log(), 20));
    let codes = count(&pool, "SELECT COUNT(*) FROM authorization_codes").await;
    assert!(codes >= 1, "codes an hour past expiry are kept (a day)");
    exec(&pool, "UPDATE authorization_codes SET expires_at = expires_at - 86400").await;
    let gone = eventually(Duration::from_secs(6), || async move {
        count(pool_ref, "SELECT COUNT(*) FROM authorization_codes").await == 0
    })
    .await;
    assert!(gone, "codes more than a day past expiry are deleted");
    // The collected session and refresh token are gone for the browser too.
    let res = refresh(&server, auth_of(&client), &rt, None).await;
    assert_oauth_error(&res, 400, "invalid_grant", "a collected refresh token");
    pool.close().await;
}

async fn at_most_batch_size_per_pass(backend: Backend) {
    let Env { db, server, alice } =
        env(backend, &[("LATCHKEY_GC_INTERVAL_SECONDS", "2"), ("LATCHKEY_GC_BATCH_SIZE", "1")]).await;
    let client = offline_client(&db, "Offline", &[]);
    let pool = db.pool().await;
    let b = Browser::new(&server);
    for _ in 0..3 {
        let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
        assert_revoke_ok(&revoke(&server, auth_of(&client), str_of(&t, "access_token"), None).await, "revoke");
    }
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM revoked_access_tokens").await, 3);
    // All three expire at once; one pass takes one.
    exec(&pool, "UPDATE revoked_access_tokens SET expires_at = expires_at - 3600").await;
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let n = count(&pool, "SELECT COUNT(*) FROM revoked_access_tokens").await;
        if seen.last() != Some(&n) {
            seen.push(n);
        }
        if n == 0 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.last(), Some(&0), "all collected in the end: {seen:?}");
    for w in seen.windows(2) {
        assert_eq!(w[0] - w[1], 1, "one entry per pass with gc.batch_size = 1: {seen:?}");
    }
    pool.close().await;
}
