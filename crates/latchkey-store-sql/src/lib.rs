//! SQLite and PostgreSQL implementations of the Latchkey stores from one
//! codebase: runtime queries on sqlx's `AnyPool` with `$1` placeholders, and
//! one migrations folder of portable SQL (`/migrations`).

mod admin;
mod audit;
mod changes;
mod clients;
mod federation;
mod flow;
pub use flow::DeniedAccessTokens;
mod keys;
mod users;

use std::time::Duration;

use async_trait::async_trait;
use latchkey_store::{Health, StoreError, StoreResult};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

/// The migrations in `/migrations`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL scheme; use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedScheme,
    #[error("cannot create the folder {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("cannot apply migrations: {0}")]
    Migrate(String),
    /// [`OpenMode::Existing`]: the database has none of Latchkey's tables.
    #[error("it is not a Latchkey database (it has no tables of Latchkey's)")]
    NotLatchkey,
}

/// All SQL-backed stores over one connection pool.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

/// Path of the database file in a `sqlite:` URL, if it names a file.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// The database file a `sqlite:` URL names, made absolute against the
/// current directory (where a relative path is looked up); None for other
/// URLs and in-memory databases.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(sqlite_path(url)?);
    Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// Whether opening may create the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// SQLite: create the file and its folder if missing (`serve`, `migrate`).
    Create,
    /// The database must exist and hold Latchkey's tables (every other
    /// command); nothing is written to it before that is known.
    Existing,
}

impl SqlStore {
    /// Opens a pool. For SQLite the file and its folder are created if
    /// missing, and WAL mode with a busy timeout is set on every connection.
    pub async fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> Result<Self, ConnectError> {
        Self::open(url, max_connections, acquire_timeout, OpenMode::Create).await
    }

    /// Opens a pool; with [`OpenMode::Existing`] a missing SQLite file is an
    /// error rather than a new, empty database.
    pub async fn open(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
        mode: OpenMode,
    ) -> Result<Self, ConnectError> {
        let backend = Backend::of_url(url).ok_or(ConnectError::UnsupportedScheme)?;
        install_default_drivers();
        let mut url = url.to_string();
        if backend == Backend::Sqlite && mode == OpenMode::Existing {
            // Read-only and without the pragmas (WAL would rewrite the file):
            // a file that is not ours is left as it was.
            let mut probe = url.clone();
            if !probe.contains("mode=") {
                probe.push(if probe.contains('?') { '&' } else { '?' });
                probe.push_str("mode=ro");
            }
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&probe)
                .await
                .map_err(|e| ConnectError::Connect(e.to_string()))?;
            let initialised = has_migrations(&mut conn).await;
            let _ = sqlx::Connection::close(conn).await;
            if !initialised? {
                return Err(ConnectError::NotLatchkey);
            }
        }
        if backend == Backend::Sqlite {
            if mode == OpenMode::Create
                && let Some(path) = sqlite_path(&url)
                && let Some(parent) = std::path::Path::new(path).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .map_err(|source| ConnectError::CreateDir { path: parent.display().to_string(), source })?;
            }
            if !url.contains("mode=") {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(if mode == OpenMode::Create { "mode=rwc" } else { "mode=rw" });
            }
        }
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(acquire_timeout);
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await.map_err(|e| ConnectError::Connect(e.to_string()))?;
        if backend == Backend::Postgres && mode == OpenMode::Existing {
            let mut conn = pool.acquire().await.map_err(|e| ConnectError::Connect(e.to_string()))?;
            if !has_migrations(&mut conn).await? {
                drop(conn);
                pool.close().await;
                return Err(ConnectError::NotLatchkey);
            }
        }
        Ok(Self { pool, backend })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        MIGRATOR.run(&self.pool).await.map_err(|e| match e {
            // Migrations only go forward: an older binary cannot undo a newer one's.
            sqlx::migrate::MigrateError::VersionMissing(v) => ConnectError::Migrate(format!(
                "the database was migrated by a newer Latchkey (migration {v} is unknown to this version, {}); \
                 run that version or a newer one, or restore the backup taken before the upgrade \
                 (docs/upgrading.md)",
                env!("CARGO_PKG_VERSION")
            )),
            e => ConnectError::Migrate(e.to_string()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Health for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(map_err)
    }
}

/// Maps sqlx errors onto the store's vocabulary.
pub(crate) fn map_err(e: sqlx::Error) -> StoreError {
    let error = classify(e);
    if !matches!(error, StoreError::Conflict(_)) {
        let kind = match error {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Corrupt(_) => "corrupt",
            _ => "backend",
        };
        metrics::counter!("latchkey_store_errors_total", "backend" => "sql", "kind" => kind).increment(1);
    }
    error
}

fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_string()),
        // PostgreSQL shutting down or not accepting connections (SQLSTATE
        // class 08, 57P01-57P03, 53300): the server is away, not the query wrong.
        sqlx::Error::Database(db)
            if db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300") =>
        {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(e.to_string()),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
            StoreError::Corrupt(e.to_string())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Whether migrations were ever applied to the database: false for one
/// that Latchkey did not create (a wrong database name, a stray empty file).
async fn has_migrations(conn: &mut sqlx::AnyConnection) -> Result<bool, ConnectError> {
    match sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations").fetch_one(&mut *conn).await {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(_)) => Ok(false),
        Err(e) => Err(ConnectError::Connect(e.to_string())),
    }
}

pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_backends_and_sqlite_paths() {
        assert_eq!(Backend::of_url("sqlite://./data/x.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("postgres://u@h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of_url("postgresql://u@h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of_url("mysql://u@h/db"), None);
        assert_eq!(sqlite_path("sqlite://./data/x.db?mode=rwc"), Some("./data/x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
