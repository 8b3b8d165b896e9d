//! Harness for the end-to-end tests: databases (a temporary SQLite file, or a
//! fresh database on the PostgreSQL server named by
//! `LATCHKEY_TEST_POSTGRES_URL`), a real `latchkey` process on a loopback
//! port, and the CLI.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use reqwest;
pub use serde_json::{Value, json};

/// Path of the binary under test. Cargo builds a package's binaries before
/// its integration tests and puts them beside the `deps/` folder that holds
/// the test executables.
pub static BIN: std::sync::LazyLock<PathBuf> = std::sync::LazyLock::new(|| {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target profile folder");
    let bin = dir.join(format!("latchkey-under-test{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing: run the tests through cargo", bin.display());
    bin
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `$test(Backend)` once per backend, as two test functions.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::postgres_admin_url().is_some() {
                        super::$name($crate::Backend::Postgres).await
                    }
                }
            }
        )*
    };
}

/// The PostgreSQL server for tests; required when `CI` is set.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI must set LATCHKEY_TEST_POSTGRES_URL (scripts/test does)")
        }
        _ => {
            eprintln!("LATCHKEY_TEST_POSTGRES_URL unset: PostgreSQL variant not run (use scripts/test)");
            None
        }
    }
}

/// A database for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// Working directory for processes of this test (holds the SQLite file).
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/db/latchkey.db", dir.path().display());
                Self { url, backend, dir, pg: None }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url().expect("PostgreSQL URL");
                let name = format!("lk_e2e_{:016x}", rand::random::<u64>());
                let conn = admin_pool(&admin).await;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&conn)
                    .await
                    .expect("create database");
                conn.close().await;
                let base = admin.rsplit_once('/').expect("URL with a database").0;
                Self { url: format!("{base}/{name}"), backend, dir, pg: Some((admin, name)) }
            }
        }
    }

    /// A pool on the test database, for assertions about what is stored.
    pub async fn pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new().max_connections(2).connect(&self.url).await.expect("connect to test db")
    }

    /// Drops a PostgreSQL test database even while servers hold connections.
    pub async fn drop_now(&self) {
        if let Some((admin, name)) = &self.pg {
            let conn = admin_pool(admin).await;
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&conn)
                .await;
            conn.close().await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // Best effort, on a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let conn = admin_pool(&admin).await;
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                        .execute(&conn)
                        .await;
                    conn.close().await;
                });
            })
            .join();
        }
    }
}

async fn admin_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new().max_connections(1).connect(url).await.expect("connect to PostgreSQL")
}

/// Environment for a `latchkey` process: the test database, quiet defaults,
/// and nothing inherited from the developer's own `LATCHKEY_*` settings.
fn base_command(db: &TestDb, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(&*BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("LATCHKEY_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(db.dir.path())
        .env("LATCHKEY_DATABASE_URL", &db.url)
        .env("LATCHKEY_LOG_LEVEL", "info")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Result of one CLI run.
#[derive(Debug)]
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "command failed:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `latchkey ARGS` against the test database, feeding `stdin`.
pub fn cli(db: &TestDb, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> CliOutput {
    let mut child = base_command(db, env)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn latchkey");
    if let Some(input) = stdin {
        child.stdin.as_mut().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("latchkey output");
    CliOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Shorthand for a CLI run that must succeed and print JSON.
pub fn cli_json(db: &TestDb, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    cli(db, &all, &[], None).ok().json()
}

/// A free loopback port (released again; the server binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `latchkey serve`.
pub struct Server {
    child: Option<Child>,
    pub issuer: String,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts a server on a free port with issuer `http://127.0.0.1:PORT`.
    pub async fn start(db: &TestDb, env: &[(&str, &str)]) -> Self {
        Self::try_start(db, env).await.unwrap_or_else(|log| panic!("server did not start:\n{log}"))
    }

    /// Starts a server; on failure returns what it logged.
    pub async fn try_start(db: &TestDb, env: &[(&str, &str)]) -> Result<Self, String> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let issuer = format!("http://127.0.0.1:{port}");
            let listen = format!("127.0.0.1:{port}");
            let mut all: Vec<(&str, &str)> = vec![("LATCHKEY_ISSUER", &issuer), ("LATCHKEY_LISTEN", &listen)];
            all.extend_from_slice(env);
            let mut child = base_command(db, &all)
                .arg("serve")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn latchkey serve");
            let log = Arc::new(Mutex::new(String::new()));
            for stream in [
                Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
                Box::new(child.stdout.take().unwrap()),
            ] {
                let log = log.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines().map_while(Result::ok) {
                        let mut l = log.lock().unwrap();
                        l.push_str(&line);
                        l.push('\n');
                    }
                });
            }
            let mut server = Server { child: Some(child), issuer, port, log };
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                    std::thread::sleep(Duration::from_millis(100));
                    last = format!("exited with {status}\n{}", server.log());
                    server.child = None;
                    break;
                }
                if server.log().contains("listening on http://") {
                    return Ok(server);
                }
                if Instant::now() > deadline {
                    return Err(format!("not ready after 30 s\n{}", server.log()));
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            if !last.contains("cannot listen") {
                return Err(last);
            }
        }
        Err(last)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Everything the process has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP client that never follows redirects (tests look at them).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Polls `check` until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Repository root (for example files).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}
