//! SQLite and PostgreSQL implementations of the Latchkey stores from one
//! codebase: runtime queries on sqlx's `AnyPool` with `$1` placeholders, and
//! one migrations folder of portable SQL (`/migrations`).

mod admin;
mod audit;
mod changes;
mod clients;
mod device;
mod email;
mod factors;
mod federation;
mod flow;
mod keys;
mod pushed;
mod signup;
mod users;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use latchkey_store::{Health, StoreError, StoreResult, Transaction, UnitOfWork, window_start};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

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
        let pool = pool_options(backend)
            .max_connections(max_connections.max(1))
            .acquire_timeout(acquire_timeout)
            .connect(&url)
            .await
            .map_err(|e| ConnectError::Connect(e.to_string()))?;
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

    /// A probe of this database on a connection of its own, so that a busy
    /// pool never makes a healthy database look down. A refused connection
    /// fails the probe at once (a pool would retry until its timeout); a
    /// database that answers slowly gets `timeout`.
    pub fn prober(&self, timeout: Duration) -> SqlProbe {
        let options = self.pool.connect_options().as_ref().clone();
        SqlProbe(Arc::new(ProbeInner { options, backend: self.backend, timeout, conn: Default::default() }))
    }

    /// Applies pending migrations. A SQLite database made before
    /// incremental auto-vacuum was on is converted once (a `VACUUM`).
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
        })?;
        if self.backend == Backend::Sqlite {
            self.convert_to_incremental_vacuum().await;
        }
        Ok(())
    }

    /// New SQLite databases get `auto_vacuum = INCREMENTAL` before their
    /// first table; an older one needs a `VACUUM` to switch, which rewrites
    /// the file (it needs that much free space, and holds the database for
    /// as long as it takes). A failure leaves the file as it was: logged,
    /// not fatal, and tried again at the next start.
    async fn convert_to_incremental_vacuum(&self) {
        let mode = sqlx::query("PRAGMA auto_vacuum").fetch_one(&self.pool).await.and_then(|r| r.try_get::<i64, _>(0));
        if !matches!(mode, Ok(0)) {
            return;
        }
        let started = std::time::Instant::now();
        tracing::info!("converting the SQLite database to incremental auto-vacuum (a one-time VACUUM)");
        let converted = async {
            let mut conn = self.pool.acquire().await?;
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;").await?;
            Ok::<_, sqlx::Error>(())
        };
        match converted.await {
            Ok(()) => tracing::info!(ms = started.elapsed().as_millis() as u64, "SQLite database converted"),
            Err(e) => tracing::warn!(
                error = %e,
                "cannot convert the SQLite database to incremental auto-vacuum now; space freed by \
                 garbage collection is reused but not returned to the file system (tried again at the next start)"
            ),
        }
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

/// Pool settings common to the store's pool and the probe's: SQLite's
/// pragmas on every new connection, and no connection reused from inside a
/// transaction.
fn pool_options(backend: Backend) -> AnyPoolOptions {
    let options = AnyPoolOptions::new().min_connections(0).after_release(|conn, _meta| Box::pin(release_clean(conn)));
    if backend != Backend::Sqlite {
        return options;
    }
    options.after_connect(|conn, _meta| Box::pin(async move { sqlite_pragmas(conn).await }))
}

/// What every SQLite connection sets.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    // auto_vacuum first: it only takes on a database without tables. Setting
    // it waits for the write lock, so it is set only where it takes: a new
    // connection must not wait for a unit of work in progress to end.
    let fresh =
        sqlx::query("SELECT COUNT(*) FROM sqlite_master").fetch_one(&mut *conn).await?.try_get::<i64, _>(0)? == 0;
    if fresh {
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL").await?;
    }
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
    )
    .await?;
    Ok(())
}

/// Checks that the database answers and takes writes (for readiness and
/// for failing fast during an outage), on its own connection.
#[derive(Clone, Debug)]
pub struct SqlProbe(Arc<ProbeInner>);

#[derive(Debug)]
struct ProbeInner {
    options: sqlx::any::AnyConnectOptions,
    backend: Backend,
    timeout: Duration,
    conn: tokio::sync::Mutex<Option<sqlx::AnyConnection>>,
}

impl SqlProbe {
    /// `SELECT 1`.
    pub async fn ping(&self) -> StoreResult<()> {
        self.run(sqlx::query("SELECT 1")).await
    }

    /// One small write: a counter row per minute in `rate_limits` (expired
    /// rows go with the garbage collection, like any counter's).
    pub async fn write(&self, now: i64) -> StoreResult<()> {
        let minute = window_start(now, 60);
        let write = sqlx::query(
            "INSERT INTO rate_limits (bucket, window_start, hits, expires_at) VALUES ('latchkey:write-probe', $1, 1, $2) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1",
        )
        .bind(minute)
        .bind(minute + 60);
        self.run(write).await
    }

    /// Runs `query` on the probe's connection (opened first if needed),
    /// within the timeout; a connection that failed is dropped.
    async fn run<'q>(&self, query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>) -> StoreResult<()> {
        use sqlx::Connection as _;
        let p = &self.0;
        let mut conn = p.conn.lock().await;
        let ran = tokio::time::timeout(p.timeout, async {
            if conn.is_none() {
                let mut new = sqlx::AnyConnection::connect_with(&p.options).await?;
                if p.backend == Backend::Sqlite {
                    sqlite_pragmas(&mut new).await?;
                }
                *conn = Some(new);
            }
            query.execute(conn.as_mut().expect("just opened")).await
        })
        .await;
        let result = match ran {
            Ok(result) => result.map(|_| ()).map_err(map_err),
            Err(_) => Err(StoreError::Unavailable(format!("no answer within {} ms", p.timeout.as_millis()))),
        };
        if result.is_err() {
            *conn = None;
        }
        result
    }

    pub async fn close(&self) {
        use sqlx::Connection as _;
        if let Some(conn) = self.0.conn.lock().await.take() {
            let _ = conn.close().await;
        }
    }
}

/// Every query of the store, on one connection: a pooled one for a call on
/// [`SqlStore`], or a unit of work's ([`SqlTransaction`]). Each store module
/// adds the methods of its trait; both types get the trait from the one
/// method list (`latchkey_store::store_methods!`), so no query is written twice.
pub(crate) struct Db<'c>(pub(crate) &'c mut sqlx::AnyConnection);

/// Implements a store trait by running each method on `self.connection()`.
macro_rules! on_connection {
    (($ty:ty) $trait:ident { $(fn $name:ident($($arg:ident: [$($argty:tt)*]),*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl latchkey_store::$trait for $ty {
            $(async fn $name(&self, $($arg: $($argty)*),*) -> $ret {
                let mut conn = self.connection().await?;
                Db(&mut *conn).$name($($arg),*).await
            })*
        }
    };
}
pub(crate) use on_connection;

latchkey_store::for_each_operations_trait!([crate::on_connection](SqlStore));
latchkey_store::for_each_operations_trait!([crate::on_connection](SqlTransaction));

impl SqlStore {
    async fn connection(&self) -> StoreResult<sqlx::pool::PoolConnection<sqlx::Any>> {
        self.pool.acquire().await.map_err(map_err)
    }
}

/// A unit of work on the database: one connection, inside a transaction
/// until it is committed or rolled back (dropping it rolls back).
pub struct SqlTransaction {
    tx: tokio::sync::Mutex<sqlx::Transaction<'static, sqlx::Any>>,
}

impl SqlTransaction {
    async fn connection(&self) -> StoreResult<tokio::sync::MappedMutexGuard<'_, sqlx::AnyConnection>> {
        Ok(tokio::sync::MutexGuard::map(self.tx.lock().await, |tx| &mut **tx))
    }
}

#[async_trait]
impl Transaction for SqlTransaction {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.into_inner().commit().await.map_err(map_err)
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.tx.into_inner().rollback().await.map_err(map_err)
    }
}

#[async_trait]
impl UnitOfWork for SqlStore {
    /// On SQLite the transaction takes the write lock at once (`BEGIN
    /// IMMEDIATE`): one that read first and wrote later could find the
    /// database changed under it and fail at its first write instead of
    /// waiting its turn.
    async fn begin(&self) -> StoreResult<Box<dyn Transaction>> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(map_err)?;
        Ok(Box::new(SqlTransaction { tx: tokio::sync::Mutex::new(tx) }))
    }

    /// A deferred `BEGIN`: the first statement writes, and SQLite waits for
    /// the lock there (busy timeout) as it would at `BEGIN IMMEDIATE`, since
    /// the transaction has read nothing that could have gone stale.
    async fn begin_writing(&self) -> StoreResult<Box<dyn Transaction>> {
        let tx = self.pool.begin().await.map_err(map_err)?;
        Ok(Box::new(SqlTransaction { tx: tokio::sync::Mutex::new(tx) }))
    }
}

#[async_trait]
impl Health for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(map_err)
    }
}

/// Whether a connection going back to the pool is outside any transaction;
/// one that is not is closed instead (closing rolls back what it holds).
///
/// A failed transaction is rolled back when its `Transaction` is dropped.
/// On SQLite an error such as `SQLITE_FULL` may already have rolled it back
/// (https://sqlite.org/lang_transaction.html, "Response To Errors Within A
/// Transaction"): the `ROLLBACK` then fails, sqlx still counts one open
/// transaction, and the connection's next `begin` becomes a `SAVEPOINT`
/// whose failure leaves a real transaction open. That connection would hold
/// the write lock ("database is locked" for everyone else) and its later
/// "commits" would only release savepoints, so answers it gave would be
/// lost at the next restart. Such a connection never serves again.
async fn release_clean(conn: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection as _;
    if conn.is_in_transaction() {
        // SQLite runs a dropped transaction's rollback on its worker thread:
        // wait for it, then look again.
        conn.ping().await?;
        if conn.is_in_transaction() {
            metrics::counter!("latchkey_store_connections_discarded_total", "backend" => "sql").increment(1);
            tracing::warn!("a database connection was left inside a failed transaction; closing it");
            return Ok(false);
        }
    }
    Ok(true)
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

/// Whether a database error code says the database cannot serve right now
/// (away, full, out of resources, busy) rather than that the query is wrong.
/// Such failures are answered with 503 and `Retry-After`.
fn is_transient(backend: Backend, code: &str) -> bool {
    match backend {
        // SQLite's (extended) result codes; the primary code is the low byte:
        // BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR, FULL, CANTOPEN, PROTOCOL.
        Backend::Sqlite => code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5..=10 | 13..=15)),
        // PostgreSQL SQLSTATEs: connection exceptions (08), insufficient
        // resources such as a full disk (53), operator intervention:
        // shutdown, statement timeout (57), system errors such as I/O (58),
        // serialization failures and deadlocks (40001, 40P01), a standby
        // that refuses writes after a failover (25006), lock not available (55P03).
        Backend::Postgres => {
            ["08", "53", "57", "58"].iter().any(|class| code.starts_with(class))
                || ["40001", "40P01", "25006", "55P03"].contains(&code)
        }
    }
}

fn classify(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_string()),
        sqlx::Error::Database(db)
            if db.code().is_some_and(|c| {
                let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
                is_transient(if sqlite { Backend::Sqlite } else { Backend::Postgres }, &c)
            }) =>
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

    #[test]
    fn a_full_disk_or_an_absent_server_is_transient_a_bad_query_is_not() {
        // SQLite: FULL, BUSY, IOERR_WRITE (extended), READONLY; PostgreSQL:
        // disk_full, admin_shutdown, connection_failure, io_error, deadlock.
        for code in ["13", "5", "778", "8"] {
            assert!(is_transient(Backend::Sqlite, code), "{code}");
        }
        for code in ["53100", "57P01", "08006", "58030", "40P01", "25006"] {
            assert!(is_transient(Backend::Postgres, code), "{code}");
        }
        // SQLite: ERROR, CONSTRAINT, CONSTRAINT_UNIQUE, CORRUPT; PostgreSQL:
        // syntax error, undefined column, not-null violation.
        for code in ["1", "19", "2067", "11"] {
            assert!(!is_transient(Backend::Sqlite, code), "{code}");
        }
        for code in ["42601", "42703", "23502"] {
            assert!(!is_transient(Backend::Postgres, code), "{code}");
        }
    }
}
