//! What each command does. Commands print readable text, or JSON with `--json`;
//! errors go to standard error and make the process exit non-zero.

mod admin;
mod audit;
mod client;
mod keys;
mod session;
pub(crate) mod user;

use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use latchkey_core::{Clock, SystemClock};
use latchkey_store::Store;
use latchkey_store_redis::RedisStore;
use latchkey_store_sql::SqlStore;

use crate::cli::{Cli, Command};
use crate::config::{self, ConfigError, Settings};

/// What every command shares.
pub struct Context {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    /// The SQL pool underneath, closed at the end.
    pub sql: SqlStore,
    pub clock: Arc<dyn Clock>,
    pub json: bool,
}

impl Context {
    /// Prints `value` as JSON with `--json`, else `text`.
    pub fn print(&self, text: impl FnOnce() -> String, value: &serde_json::Value) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).expect("JSON serializes"));
        } else {
            println!("{}", text());
        }
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads and validates the configuration.
pub fn settings(cli: &Cli) -> Result<Settings, ConfigError> {
    let path = config::config_path(cli.config.clone(), &env_var);
    let config = config::load(path.as_deref(), &env_var)?;
    config::validate(&config)
}

/// Opens the database named by the settings and applies pending migrations,
/// then Redis if configured. Returns the store, the SQL pool underneath, and
/// the Redis store if there is one.
pub async fn open_store(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Arc<dyn Store>, SqlStore, Option<RedisStore>)> {
    let sql = SqlStore::connect(&settings.database_url, settings.db_max_connections, settings.db_acquire_timeout)
        .await
        .map_err(|e| {
            ConfigError::new("database_url", format!("cannot open {}: {e}", config::redact(&settings.database_url)))
        })?;
    sql.migrate().await.context("applying database migrations")?;
    let Some(redis) = &settings.redis else {
        return Ok((Arc::new(sql.clone()), sql, None));
    };
    let store = RedisStore::connect(sql.clone(), redis, clock)
        .await
        .map_err(|e| ConfigError::new("redis_url", format!("cannot open {}: {e}", config::redact(&redis.url))))?;
    Ok((Arc::new(store.clone()), sql, Some(store)))
}

pub async fn run(cli: Cli, hooks: crate::Hooks) -> anyhow::Result<()> {
    let settings = settings(&cli).map_err(|e| anyhow!("configuration: {e}"))?;
    if let Command::Serve = cli.command {
        return crate::serve::serve_with(settings, hooks).await;
    }
    crate::serve::init_logging(&settings, Some("warn"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (store, sql, _) = open_store(&settings, clock.clone()).await?;
    // No caches here, but writes still go to the change feed for the servers'.
    let store: Arc<dyn Store> = Arc::new(crate::cached::Cached::new(store, None, clock.clone()));
    let ctx = Context { settings, store, sql, clock, json: cli.json };
    let audited = audit::event_of(&cli.command);
    let result = match cli.command {
        Command::Serve => unreachable!("handled above"),
        Command::Migrate => {
            ctx.print(|| "database is up to date".into(), &serde_json::json!({"migrated": true}));
            Ok(())
        }
        Command::Client(cmd) => client::run(&ctx, *cmd).await,
        Command::User(cmd) => user::run(&ctx, cmd).await,
        Command::Keys(cmd) => keys::run(&ctx, cmd).await,
        Command::Session(cmd) => session::run(&ctx, cmd).await,
        Command::Audit(cmd) => audit::run(&ctx, cmd).await,
        Command::Admin(cmd) => admin::run(&ctx, cmd).await,
    };
    if let (Ok(()), Some((kind, subject))) = (&result, audited) {
        audit::record(&ctx, kind, subject).await;
    }
    ctx.sql.close().await;
    result
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp.
pub fn timestamp(secs: i64) -> String {
    latchkey_core::calendar::rfc3339(secs)
}
