//! Runs the shared store conformance suite on SQLite, and on PostgreSQL when
//! `LATCHKEY_TEST_POSTGRES_URL` names a server (CI always sets it; the test
//! fails rather than skips when `CI` is set and it is missing).

use std::time::Duration;

use latchkey_store::conformance;
use latchkey_store_sql::SqlStore;

async fn sqlite() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nested/store.db", dir.path().display());
    let store = SqlStore::connect(&url, 4, Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

/// A fresh database on the PostgreSQL server, dropped by the caller.
async fn postgres() -> Option<(SqlStore, String, String)> {
    let admin_url = match std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI must set LATCHKEY_TEST_POSTGRES_URL")
        }
        Err(_) => {
            eprintln!("LATCHKEY_TEST_POSTGRES_URL unset: PostgreSQL part not run");
            return None;
        }
    };
    let admin = SqlStore::connect(&admin_url, 1, Duration::from_secs(5)).await.unwrap();
    let name = format!("lk_store_{:016x}", rand::random::<u64>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(admin.pool()).await.unwrap();
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    let store = SqlStore::connect(&url, 4, Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    Some((store, admin_url, name))
}

async fn drop_postgres(store: SqlStore, admin_url: String, name: String) {
    store.close().await;
    let admin = SqlStore::connect(&admin_url, 1, Duration::from_secs(5)).await.unwrap();
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(admin.pool())
        .await;
}

macro_rules! suite {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite_backend() {
                let (store, _dir) = sqlite().await;
                conformance::$name(&store).await;
            }

            #[tokio::test]
            async fn postgres_backend() {
                if let Some((store, admin, name)) = postgres().await {
                    conformance::$name(&store).await;
                    drop_postgres(store, admin, name).await;
                }
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

mod outbox_store {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_backend() {
        let (store, _dir) = sqlite().await;
        conformance::outbox_store(store.clone()).await;
        conformance::email_token_store(store.clone()).await;
        conformance::signup_store(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_backend() {
        if let Some((store, admin, name)) = postgres().await {
            conformance::outbox_store(store.clone()).await;
            conformance::email_token_store(store.clone()).await;
            conformance::signup_store(store.clone()).await;
            drop_postgres(store, admin, name).await;
        }
    }
}

mod failure_store {
    use super::*;

    #[tokio::test]
    async fn sqlite_backend() {
        let (store, _dir) = sqlite().await;
        conformance::failure_store(store, true).await;
    }

    #[tokio::test]
    async fn postgres_backend() {
        if let Some((store, admin, name)) = postgres().await {
            conformance::failure_store(store.clone(), true).await;
            drop_postgres(store, admin, name).await;
        }
    }
}

mod maintenance {
    use super::*;

    #[tokio::test]
    async fn sqlite_backend() {
        let (store, _dir) = sqlite().await;
        conformance::maintenance(&store, true).await;
    }

    #[tokio::test]
    async fn postgres_backend() {
        if let Some((store, admin, name)) = postgres().await {
            conformance::maintenance(&store, true).await;
            drop_postgres(store, admin, name).await;
        }
    }
}

mod audit_store {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_backend() {
        let (store, _dir) = sqlite().await;
        conformance::audit_store(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_backend() {
        if let Some((store, admin, name)) = postgres().await {
            conformance::audit_store(store.clone()).await;
            drop_postgres(store, admin, name).await;
        }
    }
}

mod change_feed {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_backend() {
        let (store, _dir) = sqlite().await;
        conformance::change_feed(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_backend() {
        if let Some((store, admin, name)) = postgres().await {
            conformance::change_feed(store.clone()).await;
            drop_postgres(store, admin, name).await;
        }
    }
}

mod code_store_concurrent_redemption {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_backend() {
        let (store, _dir) = sqlite().await;
        conformance::code_store_concurrent_redemption(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_backend() {
        if let Some((store, admin, name)) = postgres().await {
            conformance::code_store_concurrent_redemption(store.clone()).await;
            drop_postgres(store, admin, name).await;
        }
    }
}

mod pushed_request_store_concurrent {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_backend() {
        let (store, _dir) = sqlite().await;
        conformance::pushed_request_store_concurrent(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_backend() {
        if let Some((store, admin, name)) = postgres().await {
            conformance::pushed_request_store_concurrent(store.clone()).await;
            drop_postgres(store, admin, name).await;
        }
    }
}

mod unit_of_work_concurrent {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_backend() {
        let (store, _dir) = sqlite().await;
        conformance::unit_of_work_concurrent(std::sync::Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_backend() {
        if let Some((store, admin, name)) = postgres().await {
            conformance::unit_of_work_concurrent(std::sync::Arc::new(store.clone())).await;
            drop_postgres(store, admin, name).await;
        }
    }
}

#[tokio::test]
async fn migrations_are_idempotent_and_sqlite_folder_is_created() {
    let (store, dir) = sqlite().await;
    store.migrate().await.unwrap();
    assert!(dir.path().join("nested/store.db").exists());
}
