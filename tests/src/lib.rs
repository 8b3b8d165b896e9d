//! Harness for the end-to-end tests: databases (a temporary SQLite file, or a
//! fresh database on the PostgreSQL server named by
//! `LATCHKEY_TEST_POSTGRES_URL`), a real `latchkey` process on a loopback
//! port, and the CLI. The cluster backend runs the scaled-out topology
//! instead: PostgreSQL plus Redis (`LATCHKEY_TEST_REDIS_URL`, one key prefix
//! per test), two replicas, and nginx (configured from `deploy/nginx.conf`)
//! in front; the server's URL is the load balancer's.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod console;
pub mod webdriver;

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
    /// One server on an embedded SQLite file.
    Sqlite,
    /// One server on PostgreSQL.
    Postgres,
    /// Two replicas on PostgreSQL + Redis behind nginx.
    Cluster,
}

/// One test module `$name` with a test function per listed variant; each runs
/// `$name(Backend::$backend)` when `$available` holds. Used by the two macros below.
#[doc(hidden)]
#[macro_export]
macro_rules! backend_variants {
    ($name:ident: $($variant:ident => $backend:ident if $available:expr),*) => {
        mod $name {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $variant() {
                    if $available {
                        super::$name($crate::Backend::$backend).await
                    }
                }
            )*
        }
    };
}

/// Runs `$test(Backend)` on every backend, as three test functions: SQLite,
/// PostgreSQL, and the two-replica cluster behind nginx.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            $crate::backend_variants!($name:
                sqlite => Sqlite if true,
                postgres => Postgres if $crate::postgres_admin_url().is_some(),
                cluster => Cluster if $crate::cluster_available()
            );
        )*
    };
}

/// Like `on_both_backends!` but without the cluster, for tests that reach
/// into SQL tables which Redis replaces there (sessions, codes, denylist).
#[macro_export]
macro_rules! on_sql_backends {
    ($($name:ident),* $(,)?) => {
        $(
            $crate::backend_variants!($name:
                sqlite => Sqlite if true,
                postgres => Postgres if $crate::postgres_admin_url().is_some()
            );
        )*
    };
}

/// The Redis server for tests; required when `CI` is set.
pub fn redis_url() -> Option<String> {
    match std::env::var("LATCHKEY_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!("CI must set LATCHKEY_TEST_REDIS_URL (scripts/test does)"),
        _ => {
            eprintln!("LATCHKEY_TEST_REDIS_URL unset: cluster variant not run (use scripts/test)");
            None
        }
    }
}

/// The nginx binary for the cluster's load balancer.
pub fn nginx() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Whether the cluster variant can run: PostgreSQL, Redis and nginx (all
/// required when `CI` is set).
pub fn cluster_available() -> bool {
    if postgres_admin_url().is_none() || redis_url().is_none() {
        return false;
    }
    if nginx().is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must install nginx");
        eprintln!("nginx not installed: cluster variant not run");
        return false;
    }
    true
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
    /// Redis URL and this test's key prefix (cluster only).
    pub redis: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/db/latchkey.db", dir.path().display());
                Self { url, backend, dir, pg: None, redis: None }
            }
            Backend::Postgres | Backend::Cluster => {
                let admin = postgres_admin_url().expect("PostgreSQL URL");
                let name = format!("lk_e2e_{:016x}", rand::random::<u64>());
                let conn = admin_pool(&admin).await;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&conn)
                    .await
                    .expect("create database");
                conn.close().await;
                let base = admin.rsplit_once('/').expect("URL with a database").0;
                let redis = (backend == Backend::Cluster).then(|| {
                    let url = redis_url().expect("Redis URL");
                    (url, format!("lk-e2e-{:016x}:", rand::random::<u64>()))
                });
                Self { url: format!("{base}/{name}"), backend, dir, pg: Some((admin, name)), redis }
            }
        }
    }

    /// A database with Latchkey's tables, as `latchkey migrate` leaves it, for
    /// tests that run CLI commands before or without a server: only `serve`
    /// and `migrate` create a database.
    pub async fn migrated(backend: Backend) -> Self {
        let db = Self::new(backend).await;
        cli(&db, &["migrate"], &[], None).ok();
        db
    }

    /// A pool on the test database, for assertions about what is stored.
    pub async fn pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new().max_connections(2).connect(&self.url).await.expect("connect to test db")
    }

    /// Every key and value this test's servers wrote to Redis, as text
    /// (empty without Redis); each key must carry a TTL.
    pub async fn redis_dump(&self) -> String {
        let Some((url, prefix)) = &self.redis else {
            return String::new();
        };
        let mut conn = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
        let mut out = String::new();
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.unwrap();
            let value: Vec<String> = match kind.as_str() {
                "string" => vec![redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap_or_default()],
                "hash" => redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await.unwrap_or_default(),
                "set" => redis::cmd("SMEMBERS").arg(&key).query_async(&mut conn).await.unwrap_or_default(),
                "zset" => {
                    redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query_async(&mut conn).await.unwrap_or_default()
                }
                _ => vec![],
            };
            let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await.unwrap();
            assert!(ttl > 0 || ttl == -2, "{key} has no TTL ({ttl})");
            out.push_str(&format!("{key} {}\n", value.join(" ")));
        }
        out
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
        // Servers see CLI writes within one poll; `cli` waits that long.
        .env("LATCHKEY_CACHE_POLL_INTERVAL_MS", CACHE_POLL_MS.to_string())
        .env("NO_COLOR", "1");
    if let Some((url, prefix)) = &db.redis {
        cmd.env("LATCHKEY_REDIS_URL", url).env("LATCHKEY_REDIS_KEY_PREFIX", prefix);
    }
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

/// How often test servers poll the change feed.
pub const CACHE_POLL_MS: u64 = 50;

/// Waits until every running server has read the change feed at least once
/// more: after this, a CLI write is visible to their in-memory caches.
pub fn wait_for_change_feed() {
    std::thread::sleep(Duration::from_millis(3 * CACHE_POLL_MS));
}

/// CLI commands that change what servers cache (clients, users, revocations).
fn changes_cached_rows(args: &[&str]) -> bool {
    matches!(
        args,
        ["client", "update" | "delete" | "rotate-secret", ..]
            | ["user", "update" | "set-password" | "disable" | "enable" | "delete", ..]
            | ["session", "revoke", ..]
    )
}

/// Runs `latchkey ARGS` against the test database, feeding `stdin`. After a
/// command that changes cached rows it waits for the servers to see it.
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
    if changes_cached_rows(args) {
        wait_for_change_feed();
    }
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

/// A running `latchkey serve`, or (cluster backend) two replicas behind nginx.
pub struct Server {
    child: Option<Child>,
    /// Cluster only: the second replica, then nginx.
    others: Vec<Option<Child>>,
    pub issuer: String,
    /// The port clients use (the load balancer's, for a cluster).
    pub port: u16,
    /// Base URLs of the replicas themselves (one for a single server).
    pub replicas: Vec<String>,
    log: Arc<Mutex<String>>,
}

/// Spawns `cmd` with its output appended to `log`.
fn spawn_logged(cmd: &mut Command, log: &Arc<Mutex<String>>) -> Child {
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn process");
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
    child
}

const LISTENING: &str = "listening on http://";

impl Server {
    /// Starts a server on a free port with issuer `http://127.0.0.1:PORT`
    /// (for the cluster backend, the whole topology behind one such URL).
    pub async fn start(db: &TestDb, env: &[(&str, &str)]) -> Self {
        Self::try_start(db, env).await.unwrap_or_else(|log| panic!("server did not start:\n{log}"))
    }

    /// Starts a server; on failure returns what it logged.
    pub async fn try_start(db: &TestDb, env: &[(&str, &str)]) -> Result<Self, String> {
        if db.backend == Backend::Cluster {
            return Self::start_cluster(db, env, "127.0.0.1").await;
        }
        Self::try_start_single(db, env, "127.0.0.1").await
    }

    /// Like [`Server::start`] (listening on 127.0.0.1), with issuer
    /// `http://localhost:PORT`: a host name, as WebAuthn needs (browsers
    /// refuse passkeys on IP-address origins; localhost is a secure context
    /// over plain http).
    pub async fn start_on_localhost(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let started = if db.backend == Backend::Cluster {
            Self::start_cluster(db, env, "localhost").await
        } else {
            Self::try_start_single(db, env, "localhost").await
        };
        started.unwrap_or_else(|log| panic!("server did not start:\n{log}"))
    }

    async fn try_start_single(db: &TestDb, env: &[(&str, &str)], host: &str) -> Result<Self, String> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let issuer = format!("http://{host}:{port}");
            let listen = format!("127.0.0.1:{port}");
            let mut all: Vec<(&str, &str)> = vec![("LATCHKEY_ISSUER", &issuer), ("LATCHKEY_LISTEN", &listen)];
            all.extend_from_slice(env);
            let log = Arc::new(Mutex::new(String::new()));
            let child = spawn_logged(base_command(db, &all).arg("serve"), &log);
            let replicas = vec![issuer.clone()];
            let mut server = Server { child: Some(child), others: Vec::new(), issuer, port, replicas, log };
            match server.wait_listening(1).await {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
            if !last.contains("cannot listen") {
                return Err(last);
            }
        }
        Err(last)
    }

    /// Waits until `n` processes have logged that they listen.
    async fn wait_listening(&mut self, n: usize) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut exited = None;
            for child in std::iter::once(&mut self.child).chain(self.others.iter_mut()).flatten() {
                if let Some(status) = child.try_wait().unwrap() {
                    exited = Some(status);
                }
            }
            if let Some(status) = exited {
                std::thread::sleep(Duration::from_millis(100));
                self.child = None;
                return Err(format!("exited with {status}\n{}", self.log()));
            }
            if self.log().matches(LISTENING).count() >= n {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after 30 s\n{}", self.log()));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Two replicas on the test's PostgreSQL database and Redis prefix, then
    /// nginx in front, configured from `deploy/nginx.conf`.
    async fn start_cluster(db: &TestDb, env: &[(&str, &str)], host: &str) -> Result<Self, String> {
        let lb = free_port();
        let issuer = format!("http://{host}:{lb}");
        let log = Arc::new(Mutex::new(String::new()));
        let mut server =
            Server { child: None, others: Vec::new(), issuer: issuer.clone(), port: lb, replicas: Vec::new(), log };
        let mut ports = Vec::new();
        // One after the other, so that only the first creates the signing keys.
        for i in 0..2 {
            let port = free_port();
            let listen = format!("127.0.0.1:{port}");
            let mut all: Vec<(&str, &str)> = vec![("LATCHKEY_ISSUER", &issuer), ("LATCHKEY_LISTEN", &listen)];
            all.extend_from_slice(env);
            let child = spawn_logged(base_command(db, &all).arg("serve"), &server.log);
            if i == 0 {
                server.child = Some(child);
            } else {
                server.others.push(Some(child));
            }
            server.wait_listening(i + 1).await?;
            server.replicas.push(format!("http://127.0.0.1:{port}"));
            ports.push(port);
        }
        let dir = db.dir.path().join(format!("nginx-{lb}"));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = nginx_conf(&dir, lb, &ports);
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let nginx = spawn_logged(
            Command::new(nginx().expect("nginx"))
                .arg("-p")
                .arg(&dir)
                .arg("-e")
                .arg(dir.join("nginx-error.log"))
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .arg("-g")
                .arg("daemon off;"),
            &server.log,
        );
        server.others.push(Some(nginx));
        let client = http();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(r) = client.get(format!("{issuer}/healthz")).send().await
                && r.status() == 200
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                let errors = std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default();
                return Err(format!("load balancer not ready after 15 s\n{errors}\n{}", server.log()));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// A handle on a server started elsewhere (e.g. by `scripts/cluster`).
    pub fn view_of_url(issuer: &str) -> Server {
        Server {
            child: None,
            others: Vec::new(),
            issuer: issuer.to_string(),
            port: issuer.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0),
            replicas: vec![issuer.to_string()],
            log: Arc::new(Mutex::new(String::new())),
        }
    }

    /// A handle that owns no process, for requests only: to replica
    /// `replica` directly, or (out of range) through the usual URL.
    pub fn view(&self, replica: usize) -> Server {
        Server {
            child: None,
            others: Vec::new(),
            issuer: self.replicas.get(replica).cloned().unwrap_or_else(|| self.issuer.clone()),
            port: self.port,
            replicas: self.replicas.clone(),
            log: self.log.clone(),
        }
    }

    /// The URL of `path` on replica `i` itself, bypassing the load balancer.
    pub fn replica_url(&self, i: usize, path: &str) -> String {
        format!("{}{path}", self.replicas[i])
    }

    /// Everything the process(es) logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// The process of replica `i` (0 is the first).
    fn replica_mut(&mut self, i: usize) -> &mut Option<Child> {
        if i == 0 { &mut self.child } else { &mut self.others[i - 1] }
    }

    /// Kills replica `i` at once (SIGKILL: no draining), as a crash would.
    pub fn kill_replica(&mut self, i: usize) {
        if let Some(mut child) = self.replica_mut(i).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM to every replica and waits for them to exit; returns the
    /// first one's exit code. Then stops the load balancer, if any.
    pub fn terminate(&mut self) -> Option<i32> {
        let n = self.replicas.len();
        let mut codes = Vec::new();
        for i in 0..n {
            codes.push(self.replica_mut(i).take().and_then(terminate_child));
        }
        for child in self.others.iter_mut() {
            if let Some(c) = child.take() {
                stop_gracefully(c);
            }
        }
        codes.into_iter().next().flatten()
    }
}

fn terminate_child(mut child: Child) -> Option<i32> {
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

/// `deploy/nginx.conf` with the lines marked `cluster:` pointed at loopback
/// and at files in `dir` (as `scripts/cluster` does), one worker.
pub fn nginx_conf(dir: &Path, lb_port: u16, replica_ports: &[u16]) -> String {
    let template = std::fs::read_to_string(repo_root().join("deploy/nginx.conf")).expect("deploy/nginx.conf");
    let d = dir.display();
    let mut out = String::new();
    for line in template.lines() {
        let line = if line.starts_with("worker_processes") {
            "worker_processes 1;".to_string()
        } else if line.ends_with("# cluster: error_log") {
            format!("error_log {d}/nginx-error.log notice;")
        } else if line.ends_with("# cluster: pid") {
            format!("pid {d}/nginx.pid;")
        } else if line.ends_with("# cluster: access_log") {
            format!("access_log {d}/nginx-access.log latchkey_json;")
        } else if line.ends_with("# cluster: listen") {
            format!("listen 127.0.0.1:{lb_port};")
        } else if line.ends_with("# cluster: temp paths go here") {
            ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
                .iter()
                .map(|t| format!("{t}_temp_path {d}/tmp-{t};\n"))
                .collect::<String>()
        } else if let Some(i) = ["# cluster: replica 1", "# cluster: replica 2"].iter().position(|m| line.ends_with(m))
        {
            let rest = line.trim_start().strip_prefix("server ").expect("server line");
            let opts = rest.split_once(' ').map(|(_, o)| o).unwrap_or(";");
            let opts = opts.split('#').next().unwrap().trim();
            format!("server 127.0.0.1:{} {opts}", replica_ports[i])
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    for marker in ["listen 127.0.0.1", "pid ", "server 127.0.0.1"] {
        assert!(out.contains(marker), "deploy/nginx.conf lost its cluster: lines ({marker})");
    }
    out
}

/// SIGTERM, then SIGKILL after 2 s. nginx must get SIGTERM: its master
/// stops its workers then, while a killed master leaves them running.
fn stop_gracefully(mut child: Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for child in self.others.iter_mut() {
            if let Some(c) = child.take() {
                stop_gracefully(c);
            }
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

/// A PostgreSQL server of a test's own, so that the test can stop it (outages).
pub struct OwnPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn as_pg(&self, prog: &str) -> Command {
        let exe = self.bin.join(prog);
        // PostgreSQL refuses to run as root.
        if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// Initialises and starts a server in `parent/pg`; None if PostgreSQL is not installed.
    pub fn start(parent: &Path) -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()?;
        let dir = parent.join("pg");
        std::fs::create_dir_all(&dir).unwrap();
        let pg = OwnPostgres { bin, dir, port: free_port() };
        if running_as_root() {
            Command::new("chown").args(["-R", "postgres:"]).arg(parent).status().unwrap();
        }
        let ok = pg
            .as_pg("initdb")
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-D"])
            .arg(pg.dir.join("data"))
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "initdb");
        pg.run();
        Some(pg)
    }

    pub fn run(&self) {
        let opts = format!("-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off", self.port, self.dir.display());
        let ok = self
            .as_pg("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "30", "-o", &opts, "start"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "pg_ctl start");
    }

    pub fn stop(&self) {
        let _ = self
            .as_pg("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// A Python with authlib: Debian's (python3-authlib, which `.ci/run`
/// installs) before any other on the PATH. None when absent outside CI.
pub fn authlib_python() -> Option<&'static str> {
    python_with("authlib, requests")
}

/// A Python that can `import {modules}`: Debian's (whose packages `.ci/run`
/// installs) before any other on the PATH. None when absent outside CI.
pub fn python_with(modules: &str) -> Option<&'static str> {
    let works = |python: &str| {
        std::process::Command::new(python)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    match ["/usr/bin/python3", "python3"].into_iter().find(|p| works(p)) {
        Some(python) => Some(python),
        None if std::env::var_os("CI").is_some() => {
            panic!("CI must install the Python packages of {modules} (.ci/run does)")
        }
        None => {
            eprintln!("python3 with {modules} not found: skipped");
            None
        }
    }
}

/// Runs `tests/python/<script>` with `args` (an independent client library
/// against `server`) and returns the JSON report it prints as its last line;
/// a failed run fails the test with its output and the server's last lines.
pub async fn python_report(python: &str, script: &str, args: &[String], server: &Server) -> serde_json::Value {
    let out = tokio::process::Command::new(python)
        .arg(repo_root().join("tests/python").join(script))
        .args(args)
        .output()
        .await
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let log = server.log();
    let log_tail = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}\nserver log:\n{log_tail}",
        String::from_utf8_lossy(&out.stderr),
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("the script's JSON report")
}
