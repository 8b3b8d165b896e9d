//! What each command does. Commands print readable text, or JSON with `--json`;
//! errors go to standard error and make the process exit non-zero.

mod admin;
mod audit;
mod client;
mod invite;
mod keys;
mod session;
mod token;
pub(crate) mod user;

use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use latchkey_core::{Clock, SystemClock};
use latchkey_store::Store;
use latchkey_store_redis::RedisStore;
use latchkey_store_sql::{ConnectError, OpenMode, SqlStore};

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
    pub io: Io,
}

/// Where a command reads its input and writes its output.
#[derive(Debug, Default)]
pub enum Io {
    /// The process's standard input and output.
    #[default]
    Std,
    /// `input` as standard input, output kept in `output`: a command run
    /// in-process (`testing::TestApp::cli`).
    Captured { input: String, output: std::sync::Mutex<String> },
}

impl Context {
    /// Prints `value` as JSON with `--json`, else `text`.
    pub fn print(&self, text: impl FnOnce() -> String, value: &serde_json::Value) {
        let out = if self.json { serde_json::to_string_pretty(value).expect("JSON serializes") } else { text() };
        match &self.io {
            Io::Std => println!("{out}"),
            Io::Captured { output, .. } => {
                let mut output = output.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                output.push_str(&out);
                output.push('\n');
            }
        }
    }

    /// One line of standard input, with its line ending.
    pub fn read_line(&self) -> std::io::Result<String> {
        match &self.io {
            Io::Std => {
                let mut line = String::new();
                std::io::BufRead::read_line(&mut std::io::stdin().lock(), &mut line)?;
                Ok(line)
            }
            Io::Captured { input, .. } => Ok(input.split_inclusive('\n').next().unwrap_or_default().to_string()),
        }
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads and validates the configuration; `--database-url` wins over the
/// environment and the file.
pub fn settings(cli: &Cli) -> Result<Settings, ConfigError> {
    let path = config::config_path(cli.config.clone(), &env_var);
    config::load(path.as_deref(), &env_var, cli.database_url.as_deref())
}

/// Opens the database named by the settings and applies pending migrations,
/// then Redis if configured (for the hot state, beside the database: a
/// `Split`). Returns the store, the SQL pool underneath, and the Redis store
/// if there is one. Only `serve` and `migrate` pass
/// [`OpenMode::Create`]: every other command refuses a database that does
/// not exist rather than start an empty one.
pub async fn open_store(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    mode: OpenMode,
) -> anyhow::Result<(Arc<dyn Store>, SqlStore, Option<RedisStore>)> {
    let sql = open_sql(settings, mode).await?;
    sql.migrate().await.context("applying database migrations")?;
    let Some(redis) = &settings.redis else {
        return Ok((Arc::new(sql.clone()), sql, None));
    };
    let hot = RedisStore::connect(redis, clock)
        .await
        .map_err(|e| ConfigError::new("redis_url", format!("cannot open {}: {e}", config::redact(&redis.url))))?;
    let store = latchkey_store::Split::new(Arc::new(hot.clone()), Arc::new(sql.clone()));
    Ok((Arc::new(store), sql, Some(hot)))
}

/// The SQL database alone, not migrated; with [`OpenMode::Existing`] it
/// must exist and hold Latchkey's tables.
pub async fn open_sql(settings: &Settings, mode: OpenMode) -> anyhow::Result<SqlStore> {
    let url = &settings.config.database_url;
    if mode == OpenMode::Existing
        && let Some(file) = latchkey_store_sql::sqlite_file(url)
        && !file.exists()
    {
        return Err(anyhow!(missing_database(&format!("no database at {}", file.display()), url)));
    }
    match SqlStore::open(
        url,
        settings.config.database.max_connections,
        settings.config.database.acquire_timeout_seconds.duration(),
        mode,
    )
    .await
    {
        Ok(sql) => Ok(sql),
        Err(ConnectError::NotLatchkey) => {
            let what = format!("{} is not a Latchkey database (it has no tables)", config::database_location(url));
            Err(anyhow!(missing_database(&what, url)))
        }
        Err(e) => {
            let message = format!("cannot open {}: {e}", config::database_location(url));
            Err(ConfigError::new("database_url", message).into())
        }
    }
}

/// Why a command that needs an existing database found none, and how to
/// point it at the server's.
fn missing_database(what: &str, url: &str) -> String {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
    let relative = if path.is_some_and(|p| !p.starts_with('/')) {
        let here = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "?".into());
        format!(", a path relative to the directory this command runs in (here {here})")
    } else {
        String::new()
    };
    format!(
        "{what}.\n\
         database_url is {shown}{relative}. The server's default, sqlite://./data/latchkey.db, is relative \
         too: the data/ folder beside wherever `latchkey serve` was started.\n\
         Only `latchkey serve` and `latchkey migrate` create a database. Point this command at the server's \
         database with one of:\n  \
         --database-url sqlite:///ABSOLUTE/PATH/latchkey.db   (or postgres://USER@HOST/DB)\n  \
         LATCHKEY_DATABASE_URL=sqlite:///ABSOLUTE/PATH/latchkey.db\n  \
         --config PATH   (the server's configuration file; also LATCHKEY_CONFIG)\n\
         `latchkey serve` logs the absolute path of its database when it starts.",
        shown = config::redact(url),
    )
}

pub async fn run(cli: Cli, hooks: crate::Hooks) -> anyhow::Result<()> {
    let settings = settings(&cli).map_err(|e| anyhow!("configuration: {e}"))?;
    if let Command::Serve = cli.command {
        return crate::serve::serve_with(settings, hooks).await;
    }
    crate::serve::init_logging(&settings, Some("warn"));
    // Inspection reads the database if it can, and works without it.
    if let Command::Token(cmd) = cli.command {
        return token::run(&settings, cmd, cli.json).await;
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mode = if let Command::Migrate = cli.command { OpenMode::Create } else { OpenMode::Existing };
    let (store, sql, _) = open_store(&settings, clock.clone(), mode).await?;
    // No caches here, but writes still go to the change feed for the servers'.
    let store: Arc<dyn Store> = Arc::new(crate::cached::Cached::new(store, None, clock.clone()));
    let ctx = Context { settings, store, sql, clock, json: cli.json, io: Io::Std };
    let result = execute(&ctx, cli.command).await;
    ctx.sql.close().await;
    result
}

/// Runs a command on the database (not `serve` or `token`) and records it in
/// the audit log if it changed something.
pub async fn execute(ctx: &Context, command: Command) -> anyhow::Result<()> {
    let audited = audit::event_of(&command);
    let result = match command {
        Command::Serve | Command::Token(_) => Err(anyhow!("serve and token commands do not run on a Context")),
        Command::Migrate => {
            ctx.print(|| "database is up to date".into(), &serde_json::json!({"migrated": true}));
            Ok(())
        }
        Command::Client(cmd) => client::run(ctx, *cmd).await,
        Command::User(cmd) => user::run(ctx, cmd).await,
        Command::Keys(cmd) => keys::run(ctx, cmd).await,
        Command::Session(cmd) => session::run(ctx, cmd).await,
        Command::Invite(cmd) => invite::run(ctx, cmd).await,
        Command::Audit(cmd) => audit::run(ctx, cmd).await,
        Command::Admin(cmd) => admin::run(ctx, cmd).await,
    };
    if let (Ok(()), Some((kind, subject))) = (&result, audited) {
        audit::record(ctx, kind, subject).await;
    }
    result
}

/// Rows under a header: each column as wide as its widest cell, two spaces
/// apart, the last column unpadded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 < widths.len() {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push('\n');
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// Formats Unix seconds as an RFC 3339 UTC timestamp.
pub fn timestamp(secs: i64) -> String {
    latchkey_core::calendar::rfc3339(secs)
}
