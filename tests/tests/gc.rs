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
    audit_events_past_their_retention_go_in_batches_and_the_newest_stays,
    a_sign_in_in_progress_lives_as_long_as_configured,
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

/// Adds audit events at `at` straight into the table (as old events would be).
async fn old_events(pool: &sqlx::AnyPool, n: usize, at: i64) {
    for _ in 0..n {
        exec(
            pool,
            &format!(
                "INSERT INTO audit_events (id, at, kind, actor, details) \
                 SELECT COALESCE(MAX(id), 0) + 1, {at}, 'login.failure', 'anonymous', '{{}}' FROM audit_events"
            ),
        )
        .await;
    }
}

async fn audit_events_past_their_retention_go_in_batches_and_the_newest_stays(backend: Backend) {
    let Env { db, server, alice } = env(
        backend,
        &[
            ("LATCHKEY_GC_INTERVAL_SECONDS", "1"),
            ("LATCHKEY_GC_BATCH_SIZE", "2"),
            ("LATCHKEY_AUDIT_RETENTION_DAYS", "30"),
        ],
    )
    .await;
    let pool = db.pool().await;
    // Five events from 40 days ago, then this sign-in's (recent).
    old_events(&pool, 5, now() - 40 * 86_400).await;
    let client = confidential(&db);
    code_for(&Browser::new(&server), &code_request(&client.id, &pkce()).set("scope", "openid"), &alice).await;
    let recent = count(&pool, &format!("SELECT COUNT(*) FROM audit_events WHERE at >= {}", now() - 86_400)).await;
    assert!(recent >= 1, "the sign-in was recorded");
    let mut seen = Vec::new();
    let old = format!("SELECT COUNT(*) FROM audit_events WHERE at < {}", now() - 86_400);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let n = count(&pool, &old).await;
        if seen.last() != Some(&n) {
            seen.push(n);
        }
        if n == 0 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.last(), Some(&0), "events past retention are deleted: {seen:?}\n{}", tail(&server.log(), 20));
    for w in seen.windows(2) {
        assert!(w[0] - w[1] <= 2, "at most gc.batch_size per pass: {seen:?}");
    }
    let left = count(&pool, "SELECT COUNT(*) FROM audit_events").await;
    assert_eq!(left, recent, "recent events stay");
    let listed = cli_json(&db, &["audit", "list"]);
    assert!(listed.to_string().contains("login.success"), "{listed}");

    // The newest event stays even past retention, so ids never start over.
    let newest = count(&pool, "SELECT MAX(id) FROM audit_events").await;
    exec(&pool, "UPDATE audit_events SET at = at - 400 * 86400").await;
    let pool_ref = &pool;
    let gone = eventually(Duration::from_secs(6), || async move {
        count(pool_ref, "SELECT COUNT(*) FROM audit_events").await == 1
    })
    .await;
    assert!(gone, "all but the newest deleted");
    assert_eq!(count(&pool, "SELECT MAX(id) FROM audit_events").await, newest);
    pool.close().await;
}

async fn a_sign_in_in_progress_lives_as_long_as_configured(backend: Backend) {
    let lifetime = |env_value: Option<&'static str>| async move {
        let extra: Vec<(&str, &str)> =
            env_value.map(|v| vec![("LATCHKEY_LOGIN_INTERACTION_TTL_SECONDS", v)]).unwrap_or_default();
        let Env { db, server, .. } = env(backend, &extra).await;
        let client = confidential(&db);
        let page = Browser::new(&server).authorize(&code_request(&client.id, &pkce()).set("scope", "openid")).await;
        assert!(page.is_login(), "{}", page.describe());
        let pool = db.pool().await;
        let ttl = count(&pool, "SELECT expires_at - created_at FROM interactions").await;
        pool.close().await;
        ttl
    };
    assert_eq!(lifetime(None).await, 600, "ten minutes by default");
    assert_eq!(lifetime(Some("90")).await, 90);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_gives_freed_pages_back_to_the_file_system() {
    let Env { db, server, .. } = env(Backend::Sqlite, &[GC, ("LATCHKEY_GC_BATCH_SIZE", "100000")]).await;
    let pool = db.pool().await;
    assert_eq!(count(&pool, "PRAGMA auto_vacuum").await, 2, "incremental auto-vacuum from the start");
    let pages = count(&pool, "PRAGMA page_count").await;
    // About 4 MB of expired counters, written and measured in one
    // transaction: the collector, running meanwhile, sees them all at once
    // (row by row, it cleaned up behind the inserts on a busy machine).
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO rate_limits WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 3999) \
         SELECT 'gc-' || i || '-' || printf('%.1000c', 'x'), 0, 1, 1 FROM n",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let full: i64 = sqlx::query("PRAGMA page_count").fetch_one(&mut *tx).await.unwrap().get(0);
    tx.commit().await.unwrap();
    assert!(full > pages + 500, "{pages} -> {full} pages");
    let pool_ref = &pool;
    let shrunk =
        eventually(Duration::from_secs(8), || async move { count(pool_ref, "PRAGMA page_count").await < pages + 100 })
            .await;
    let after = count(&pool, "PRAGMA page_count").await;
    assert!(shrunk, "the file gives its free pages back: {pages} -> {full} -> {after}\n{}", tail(&server.log(), 10));
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM rate_limits WHERE bucket LIKE 'gc-%'").await, 0);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_sqlite_database_is_converted_to_incremental_auto_vacuum_once() {
    let db = TestDb::new(Backend::Sqlite).await;
    // A database made without auto-vacuum (as every one was before).
    let path = db.dir.path().join("db");
    std::fs::create_dir_all(&path).unwrap();
    // Every test runs in a process of its own (cargo nextest): this one may
    // be the first here to open a pool.
    sqlx::any::install_default_drivers();
    let old =
        sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&format!("{}?mode=rwc", db.url)).await.unwrap();
    exec(&old, "CREATE TABLE before_upgrade (x INTEGER)").await;
    assert_eq!(count(&old, "PRAGMA auto_vacuum").await, 0);
    old.close().await;
    let out = cli(&db, &["migrate"], &[], None).ok();
    let pool = db.pool().await;
    assert_eq!(count(&pool, "PRAGMA auto_vacuum").await, 2, "converted: {}", out.stderr);
    pool.close().await;
}
