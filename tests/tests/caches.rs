//! The in-memory caches of clients, users and denylist answers
//! (docs/deployment.md, "Caches and how stale a replica can be"): a write
//! through a server applies there at once, a write elsewhere (the CLI, another
//! server on the same database) within one poll of the change feed.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::{Duration, Instant};

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

/// One series of `/metrics`, 0 when absent.
async fn metric(server: &Server, series: &str) -> f64 {
    let text = http().get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn lookups(cache: &str, result: &str) -> String {
    format!("latchkey_cache_lookups_total{{cache=\"{cache}\",result=\"{result}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_reads_come_from_memory_and_writes_here_apply_at_once() {
    let Env { db, server, alice } = env(Backend::Sqlite, &[]).await;
    let client = offline_client(&db, "RP", &[]);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();

    for _ in 0..3 {
        assert!(is_active(&server, auth_of(&client), &at).await);
        assert_eq!(userinfo_status(&server, &at).await, 200);
    }
    let reads_before = metric(&server, "latchkey_store_operation_seconds_count{op=\"is_access_token_denied\"}").await;
    for _ in 0..5 {
        assert!(is_active(&server, auth_of(&client), &at).await);
    }
    assert_eq!(
        metric(&server, "latchkey_store_operation_seconds_count{op=\"is_access_token_denied\"}").await,
        reads_before,
        "the denylist answer came from memory"
    );
    for cache in ["client", "user", "denylist"] {
        assert!(metric(&server, &lookups(cache, "hit")).await >= 4.0, "{cache} cache hits");
    }

    // Revoked through this server: inactive on the very next request, though
    // "not revoked" was cached a moment ago.
    assert_revoke_ok(&revoke(&server, auth_of(&client), &at, None).await, "revoke");
    assert!(!is_active(&server, auth_of(&client), &at).await, "revocation applies at once");
    assert_eq!(userinfo_status(&server, &at).await, 401);

    // Written by the CLI: visible after one poll of the change feed.
    let t = refresh_ok(&server, &client, str_of(&t, "refresh_token")).await;
    let at = str_of(&t, "access_token").to_string();
    assert_eq!(userinfo_status(&server, &at).await, 200);
    cli(&db, &["user", "disable", "alice"], &[], None).ok();
    assert_eq!(userinfo_status(&server, &at).await, 401, "a disabled user's token stops working");
    assert!(!is_active(&server, auth_of(&client), &at).await);
    cli(&db, &["user", "enable", "alice"], &[], None).ok();
    assert_eq!(userinfo_status(&server, &at).await, 200);
    cli(&db, &["client", "delete", &client.id], &[], None).ok();
    assert_oauth_error(&introspect(&server, auth_of(&client), &at, None).await, 401, "invalid_client", "deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_see_each_others_revocations_within_a_poll() {
    if postgres_admin_url().is_none() {
        eprintln!("no PostgreSQL: skipped");
        return;
    }
    let Env { db, server: a, alice } = env(Backend::Postgres, &[]).await;
    // Replicas share one issuer (behind a load balancer); B listens elsewhere.
    let b_server = Server::start(&db, &[("LATCHKEY_ISSUER", a.issuer.as_str())]).await;
    let client = offline_client(&db, "RP", &[]);
    let browser = Browser::new(&a);
    let t = tokens_for(&a, &browser, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    // B caches "not revoked" for this token, and the client.
    assert!(is_active(&b_server, auth_of(&client), &at).await);
    assert!(is_active(&b_server, auth_of(&client), &at).await);

    assert_revoke_ok(&revoke(&a, auth_of(&client), &at, None).await, "revoke at A");
    let started = Instant::now();
    let seen =
        eventually(Duration::from_secs(5), || async { !is_active(&b_server, auth_of(&client), &at).await }).await;
    let took = started.elapsed();
    assert!(seen, "B never saw the revocation");
    assert!(took < Duration::from_millis(1_000), "B saw it after {took:?}; the poll interval is {CACHE_POLL_MS} ms");
    assert_eq!(userinfo_status(&b_server, &at).await, 401);

    // A family revoked at A (refresh-token reuse) reaches B's cached answers too.
    let rt = str_of(&t, "refresh_token").to_string();
    let t2 = refresh_ok(&a, &client, &rt).await;
    let at2 = str_of(&t2, "access_token").to_string();
    assert!(is_active(&b_server, auth_of(&client), &at2).await);
    assert_eq!(refresh(&a, auth_of(&client), &rt, None).await.status, 400, "reuse");
    assert!(
        eventually(Duration::from_secs(5), || async { !is_active(&b_server, auth_of(&client), &at2).await }).await,
        "B never saw the family revocation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_can_be_turned_off_and_are_off_with_redis_by_default() {
    let Env { db, server, alice } = env(Backend::Sqlite, &[("LATCHKEY_CACHE_MODE", "off")]).await;
    let client = offline_client(&db, "RP", &[]);
    let t = tokens_for(&server, &Browser::new(&server), &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token");
    assert!(is_active(&server, auth_of(&client), at).await);
    assert!(is_active(&server, auth_of(&client), at).await);
    assert_eq!(metric(&server, &lookups("client", "hit")).await, 0.0, "no cache");
    assert_eq!(metric(&server, "latchkey_store_operation_seconds_count{op=\"is_access_token_denied\"}").await, 2.0);

    let bad = Server::try_start(&db, &[("LATCHKEY_CACHE_MODE", "sometimes")]).await;
    assert!(bad.is_err_and(|log| log.contains("cache.mode")), "a bad mode is refused by name");

    if !cluster_available() {
        return;
    }
    let redis_db = TestDb::new(Backend::Postgres).await;
    let url = redis_url().expect("cluster available");
    let prefix = format!("lk-cache-{:016x}:", rand::random::<u64>());
    let server =
        Server::start(&redis_db, &[("LATCHKEY_REDIS_URL", url.as_str()), ("LATCHKEY_REDIS_KEY_PREFIX", &prefix)]).await;
    let alice = create_alice(&redis_db);
    let client = offline_client(&redis_db, "RP", &[]);
    let t = tokens_for(&server, &Browser::new(&server), &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token");
    assert!(is_active(&server, auth_of(&client), at).await);
    assert!(is_active(&server, auth_of(&client), at).await);
    assert_eq!(metric(&server, &lookups("client", "hit")).await, 0.0, "no process cache beside Redis");
}
