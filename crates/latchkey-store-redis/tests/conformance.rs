//! Runs the shared store conformance suite on Redis (hot state) beside
//! SQLite (durable state), composed as the server composes them
//! (`latchkey_store::Split`), when `LATCHKEY_TEST_REDIS_URL` names a Redis server (CI
//! always sets it; the test fails rather than skips when `CI` is set and it
//! is missing). Each test uses its own key prefix, so tests share one server.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::MockClock;
use latchkey_store::{Split, conformance};
use latchkey_store_redis::{RedisSettings, RedisStore};
use latchkey_store_sql::SqlStore;

fn redis_url() -> Option<String> {
    match std::env::var("LATCHKEY_TEST_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => panic!("CI must set LATCHKEY_TEST_REDIS_URL"),
        Err(_) => {
            eprintln!("LATCHKEY_TEST_REDIS_URL unset: Redis store tests not run");
            None
        }
    }
}

struct Fixture {
    store: Split,
    url: String,
    prefix: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Option<Fixture> {
    let url = redis_url()?;
    let dir = tempfile::tempdir().unwrap();
    let sql = SqlStore::connect(&format!("sqlite://{}/store.db", dir.path().display()), 4, Duration::from_secs(5))
        .await
        .unwrap();
    sql.migrate().await.unwrap();
    let prefix = format!("lk-test-{:016x}:", rand::random::<u64>());
    let settings = RedisSettings { url: url.clone(), key_prefix: prefix.clone(), timeout: Duration::from_secs(2) };
    // The suite's times are small numbers: a clock at 0 turns them into TTLs.
    let redis = RedisStore::connect(&settings, Arc::new(MockClock::new(0))).await.unwrap();
    let store = Split::new(Arc::new(redis), Arc::new(sql));
    Some(Fixture { store, url, prefix, _dir: dir })
}

impl Fixture {
    /// Every key this test wrote carries a TTL; then they are removed.
    async fn check_ttls_and_clean(self) {
        let mut conn =
            redis::Client::open(self.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query_async(&mut conn).await.unwrap();
        for key in &keys {
            let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut conn).await.unwrap();
            assert!(ttl > 0, "{key} was written without a TTL ({ttl})");
        }
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
        }
    }
}

macro_rules! suite {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            if let Some(f) = fixture().await {
                conformance::$name(&f.store).await;
                f.check_ttls_and_clean().await;
            }
        }
    };
}

suite!(client_store);
suite!(user_store);
suite!(key_store);
suite!(session_store);
suite!(consent_store);
suite!(interaction_store);
suite!(code_store);
suite!(device_code_store);
suite!(pushed_request_store);
suite!(refresh_token_store);
suite!(rate_limit_store);
suite!(replay_store);
suite!(admin_store);
suite!(federated_identity_store);
suite!(factor_store);
suite!(passkey_store);
suite!(denylist_store);
suite!(unit_of_work);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unit_of_work_concurrent() {
    if let Some(f) = fixture().await {
        conformance::unit_of_work_concurrent(Arc::new(f.store.clone())).await;
        f.check_ttls_and_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failure_store() {
    if let Some(f) = fixture().await {
        // Counts live in Redis and end by TTL, not by purge.
        conformance::failure_store(f.store.clone(), false).await;
        f.check_ttls_and_clean().await;
    }
}

#[tokio::test]
async fn maintenance() {
    if let Some(f) = fixture().await {
        // The denylist lives in Redis and expires by TTL, not by purge.
        conformance::maintenance(&f.store, false).await;
        f.check_ttls_and_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_store_concurrent_redemption() {
    if let Some(f) = fixture().await {
        conformance::code_store_concurrent_redemption(f.store.clone()).await;
        f.check_ttls_and_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushed_request_store_concurrent() {
    if let Some(f) = fixture().await {
        conformance::pushed_request_store_concurrent(f.store.clone()).await;
        f.check_ttls_and_clean().await;
    }
}

#[tokio::test]
async fn records_expire_by_ttl() {
    use latchkey_store::{DenylistStore, SessionStore};
    let Some(f) = fixture().await else { return };
    // With the clock at 0, an expiry of 1 is a one-second TTL.
    f.store.deny_access_token("short", 1).await.unwrap();
    assert!(f.store.is_access_token_denied("short").await.unwrap());
    let session = latchkey_core::grant::Session {
        id_hash: "short-session".into(),
        auth: latchkey_core::grant::Authentication {
            user_id: "u".into(),
            auth_time: 0,
            amr: vec!["pwd".into()],
            acr: "a".into(),
            sid: "short-sid".into(),
        },
        created_at: 0,
        expires_at: 1,
        last_seen_at: 0,
        client_ids: vec![],
    };
    f.store.insert_session(&session).await.unwrap();
    f.store.add_session_client("short-session", "c").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert!(!f.store.is_access_token_denied("short").await.unwrap(), "the denylist entry expired");
    assert_eq!(f.store.find_session_by_sid("short-sid", 0).await.unwrap(), None, "the session expired");
    let mut conn = redis::Client::open(f.url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let left: Vec<String> = redis::cmd("KEYS").arg(format!("{}*", f.prefix)).query_async(&mut conn).await.unwrap();
    assert!(left.is_empty(), "nothing outlives its TTL: {left:?}");
}

#[tokio::test]
async fn unreachable_redis_is_unavailable_not_a_hang() {
    // A port nothing listens on: connecting fails within the timeout.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = RedisSettings {
        url: format!("redis://127.0.0.1:{port}/0"),
        key_prefix: "x:".into(),
        timeout: Duration::from_millis(500),
    };
    let started = std::time::Instant::now();
    let err = RedisStore::connect(&settings, Arc::new(MockClock::new(0))).await.err().expect("no Redis there");
    assert!(matches!(err, latchkey_store_redis::ConnectError::Unreachable(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "bounded: {:?}", started.elapsed());
}

/// The outbox and email links live in SQL beside Redis (durable state).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_store() {
    if let Some(f) = fixture().await {
        conformance::outbox_store(f.store.clone()).await;
        conformance::email_token_store(f.store.clone()).await;
        conformance::signup_store(f.store.clone()).await;
        f.check_ttls_and_clean().await;
    }
}
