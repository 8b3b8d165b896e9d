//! Faults without loss (issue 16): a full disk, a store outage, a crash under
//! load, slow and oversized requests, injected commit failures. Each scenario
//! prints its figures (requests, answers by status, lost credentials,
//! recovery time); `bench/faults` runs this file, `--long` for releases.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;
use sqlx::Row;

// ---------------------------------------------------------------------------
// Figures.

/// Answers by phase (in the order phases came) and status, and whatever
/// else a scenario measured.
#[derive(Default, Debug)]
struct Figures {
    name: String,
    statuses: Vec<(&'static str, BTreeMap<u16, u64>)>,
    notes: Vec<(String, String)>,
}

impl Figures {
    fn new(name: &str) -> Self {
        Figures { name: name.into(), ..Default::default() }
    }
    fn add(&mut self, phase: &'static str, status: u16) {
        if self.statuses.last().is_none_or(|(p, _)| *p != phase) {
            if let Some(i) = self.statuses.iter().position(|(p, _)| *p == phase) {
                *self.statuses[i].1.entry(status).or_default() += 1;
                return;
            }
            self.statuses.push((phase, BTreeMap::new()));
        }
        *self.statuses.last_mut().unwrap().1.entry(status).or_default() += 1;
    }
    fn count(&self, phase: &str, status: u16) -> u64 {
        self.statuses.iter().filter(|(p, _)| *p == phase).filter_map(|(_, by)| by.get(&status)).sum()
    }
    fn statuses(&self, phase: &str) -> Vec<u16> {
        self.statuses.iter().filter(|(p, _)| *p == phase).flat_map(|(_, by)| by.keys().copied()).collect()
    }
    fn requests(&self) -> u64 {
        self.statuses.iter().flat_map(|(_, by)| by.values()).sum()
    }
    fn note(&mut self, what: &str, value: impl std::fmt::Display) {
        self.notes.push((what.into(), value.to_string()));
    }
    /// One block per scenario: on standard error, uncaptured, so that a
    /// plain `cargo test` (CI) shows it too; and appended to the file named
    /// by `LATCHKEY_FAULTS_REPORT` (bench/faults).
    fn print(&self) {
        use std::io::Write;
        let mut out = format!("\n== fault scenario: {} ==\n", self.name);
        out.push_str(&format!("requests: {}\n", self.requests()));
        for (phase, by) in &self.statuses {
            let by: Vec<String> = by.iter().map(|(s, n)| format!("{s}: {n}")).collect();
            out.push_str(&format!("  {phase}: {}\n", by.join(", ")));
        }
        for (k, v) in &self.notes {
            out.push_str(&format!("{k}: {v}\n"));
        }
        let _ = std::io::stderr().write_all(out.as_bytes());
        if let Some(path) = std::env::var_os("LATCHKEY_FAULTS_REPORT") {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
            let _ = file.and_then(|mut f| f.write_all(out.as_bytes()));
        }
    }
}

/// Whether the long (release) mode is on: `bench/faults --long`.
fn long_mode() -> bool {
    std::env::var("LATCHKEY_FAULTS_LONG").is_ok_and(|v| v == "1")
}

// ---------------------------------------------------------------------------
// Load: people who refresh their tokens, and people who sign in.

/// Every refresh token a client received with a 200, with the refresh
/// that gave it.
#[derive(Default)]
struct Received(Mutex<Vec<String>>);

impl Received {
    fn push(&self, token: &str) {
        self.0.lock().unwrap().push(token.to_string());
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Load {
    phase: Arc<Mutex<&'static str>>,
    stop: Arc<AtomicBool>,
    figures: Arc<Mutex<Figures>>,
    received: Arc<Received>,
    /// How long each 503 took, by the phase its request was sent in.
    unavailable: Arc<Mutex<Vec<(&'static str, Duration)>>>,
    tasks: Vec<tokio::task::JoinHandle<Option<String>>>,
}

/// A refresh on a kept-alive connection, as a real client sends it; None
/// when there was no HTTP answer (the server was killed, say).
async fn try_refresh(c: &reqwest::Client, server: &str, client: &TestClient, rt: &str) -> Option<Page> {
    let form = Params::new().set("grant_type", "refresh_token").set("refresh_token", rt);
    let res = c
        .post(format!("{server}/token"))
        .header("authorization", basic_header(&client.id, client.secret()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.encode())
        .send()
        .await
        .ok()?;
    Some(Page::of(res).await)
}

impl Load {
    /// `refreshers` people rotating their refresh token in a loop, and
    /// `signers` people signing in again and again (each sign-in writes an
    /// interaction, a session, a code and a refresh token). `tag` keeps
    /// their usernames apart from another load's on the same database.
    async fn start(
        server: &Server,
        db: &TestDb,
        client: &TestClient,
        tag: &str,
        refreshers: usize,
        signers: usize,
    ) -> Load {
        let phase = Arc::new(Mutex::new("before"));
        let stop = Arc::new(AtomicBool::new(false));
        let figures = Arc::new(Mutex::new(Figures::default()));
        let received = Arc::new(Received::default());
        let unavailable: Arc<Mutex<Vec<(&'static str, Duration)>>> = Arc::default();
        let mut tasks = Vec::new();
        for i in 0..refreshers {
            let user = create_user(db, &format!("{tag}-refresher{i}"), PASSWORD, &[]);
            let t = tokens_for(server, &Browser::new(server), client, &user, OFFLINE_SCOPES).await;
            let mut rt = str_of(&t, "refresh_token").to_string();
            received.push(&rt);
            let (url, client) = (server.issuer.clone(), client.clone());
            let (phase, stop, figures, received) = (phase.clone(), stop.clone(), figures.clone(), received.clone());
            let unavailable = unavailable.clone();
            tasks.push(tokio::spawn(async move {
                let http = http();
                while !stop.load(Ordering::SeqCst) {
                    let sent = (*phase.lock().unwrap(), Instant::now());
                    let res = try_refresh(&http, &url, &client, &rt).await;
                    let status = res.as_ref().map_or(0, |r| r.status.as_u16());
                    figures.lock().unwrap().add(*phase.lock().unwrap(), status);
                    match (status, res) {
                        (200, Some(res)) => {
                            rt = str_of(&res.json(), "refresh_token").to_string();
                            received.push(&rt);
                        }
                        (503, Some(res)) => {
                            unavailable.lock().unwrap().push((sent.0, sent.1.elapsed()));
                            assert_eq!(res.json()["error"], "temporarily_unavailable", "{}", res.describe());
                            assert!(res.header("retry-after").is_some(), "503 with Retry-After: {}", res.describe());
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
                Some(rt)
            }));
        }
        for i in 0..signers {
            let user = create_user(db, &format!("{tag}-signer{i}"), PASSWORD, &[]);
            let (server, client) = (server.view(usize::MAX), client.clone());
            let (phase, stop, figures, received) = (phase.clone(), stop.clone(), figures.clone(), received.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let outcome = sign_in(&server, &client, &user).await;
                    let status = match &outcome {
                        Ok(tokens) => {
                            received.push(str_of(tokens, "refresh_token"));
                            200
                        }
                        Err(page) => page.status.as_u16(),
                    };
                    figures.lock().unwrap().add(*phase.lock().unwrap(), status);
                    if status != 200 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                None
            }));
        }
        Load { phase, stop, figures, received, unavailable, tasks }
    }

    fn phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap() = phase;
    }

    /// Answers with `status` in `phase` so far.
    fn count(&self, phase: &str, status: u16) -> u64 {
        self.figures.lock().unwrap().count(phase, status)
    }

    /// The median and slowest 503 of requests sent in `phase`.
    fn unavailable_times(&self, phase: &str) -> Option<(Duration, Duration)> {
        let mut times: Vec<Duration> =
            self.unavailable.lock().unwrap().iter().filter(|(p, _)| *p == phase).map(|(_, t)| *t).collect();
        times.sort();
        Some((*times.get(times.len() / 2)?, *times.last()?))
    }

    /// Stops the load; returns the figures, every refresh token a
    /// refresher holds at the end, and every one received.
    async fn finish(self) -> (Figures, Vec<String>, Arc<Received>) {
        self.stop.store(true, Ordering::SeqCst);
        let mut last = Vec::new();
        for t in self.tasks {
            if let Some(rt) = t.await.unwrap() {
                last.push(rt);
            }
        }
        let figures = std::mem::take(&mut *self.figures.lock().unwrap());
        (figures, last, self.received)
    }
}

/// One whole sign-in: authorize, login, code, token. The first answer that
/// is not a step of the flow ends it (a 503 page, say).
async fn sign_in(server: &Server, client: &TestClient, user: &User) -> Result<Value, Page> {
    let b = Browser::new(server);
    let p = pkce();
    let page = b.authorize(&code_request(&client.id, &p).set("scope", OFFLINE_SCOPES)).await;
    if !(page.status == 200 && page.is_login()) {
        return Err(page);
    }
    let page = b.login(&page, &user.username, &user.password).await;
    let Some(location) = page.location().filter(|_| page.status == 303) else {
        return Err(page);
    };
    let pairs = query_pairs(&location);
    let Some(code) = get(&pairs, "code") else {
        panic!("a sign-in ended without a code and without an error page: {}", page.describe());
    };
    let res = token(server, auth_of(client), &code_grant(&code, Some(&p.verifier))).await;
    if res.status != 200 {
        return Err(res);
    }
    Ok(res.json())
}

/// The refresh tokens among `tokens` that the database does not hold.
async fn missing_refresh_tokens(db: &TestDb, tokens: &[String]) -> Vec<String> {
    let pool = db.pool().await;
    let mut missing = Vec::new();
    for t in tokens {
        let row = sqlx::query("SELECT 1 AS x FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash(t))
            .fetch_optional(&pool)
            .await
            .unwrap();
        if row.is_none() {
            missing.push(t.clone());
        }
    }
    pool.close().await;
    missing
}

fn hash(value: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(value.as_bytes()))
}

async fn integrity(db: &TestDb) -> String {
    let pool = db.pool().await;
    let ok: String = sqlx::query("PRAGMA integrity_check").fetch_one(&pool).await.unwrap().get(0);
    pool.close().await;
    ok
}

// ---------------------------------------------------------------------------
// A full disk.

/// A small loopback filesystem (tmpfs) mounted for one test, and a ballast
/// file that fills it.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size_mb` at `dir`; None where mounting is not allowed.
    fn mount(dir: &Path, size_mb: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk { dir: dir.to_path_buf() })
    }

    fn ballast(&self) -> PathBuf {
        self.dir.join("ballast")
    }

    /// Writes until the filesystem is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.ballast()).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.ballast()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gives_503s_and_recovers_without_restart_or_loss_on_sqlite() {
    let db = TestDb::new(Backend::Sqlite).await;
    let Some(disk) = SmallDisk::mount(&db.dir.path().join("db"), 24) else {
        // Mounting needs root (CAP_SYS_ADMIN). Where it is refused, the
        // store-level test (latchkey-store-sql tests/full_database.rs, on
        // SQLite's max_page_count) still covers the recovery; say so loudly.
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root): end-to-end full-disk scenario not run");
        return;
    };
    full_disk("full disk (SQLite on a 24 MB tmpfs)", &db, &disk).await;
}

/// PostgreSQL's data files in a tablespace on a small tmpfs (its WAL stays
/// on the server's own disk): inserts fail with `could not extend file`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gives_503s_and_recovers_without_restart_or_loss_on_postgres() {
    let Some(admin) = postgres_admin_url() else { return };
    if !admin.contains("@127.0.0.1:") && !admin.contains("@localhost:") {
        eprintln!("PostgreSQL is not on this host: its tablespace cannot be put on a small disk here");
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let Some(disk) = SmallDisk::mount(&db.dir.path().join("tablespace"), 48) else {
        // Mounting needs root (CAP_SYS_ADMIN). Where it is refused, the
        // store-level test (latchkey-store-sql tests/full_database.rs, on
        // SQLite's max_page_count) still covers the recovery; say so loudly.
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root): end-to-end full-disk scenario not run");
        return;
    };
    // The server runs as `postgres`: it must own the folder and reach it.
    let mut parent = Some(disk.dir.as_path());
    while let Some(p) = parent {
        let _ = Command::new("chmod").arg("o+x").arg(p).status();
        parent = p.parent();
    }
    Command::new("chown").arg("postgres:").arg(&disk.dir).status().unwrap();
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let space = format!("{name}_small");
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&admin).await.unwrap();
    let exec = |sql: String| {
        let pool = pool.clone();
        async move { sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.map(|_| ()) }
    };
    exec(format!("CREATE TABLESPACE {space} LOCATION '{}'", disk.dir.display())).await.unwrap();
    exec(format!("ALTER DATABASE {name} SET TABLESPACE {space}")).await.unwrap();
    full_disk("full disk (PostgreSQL, tablespace on a 48 MB tmpfs)", &db, &disk).await;
    db.drop_now().await;
    exec(format!("DROP TABLESPACE IF EXISTS {space}")).await.unwrap();
    pool.close().await;
}

/// Load (refresh rotations and sign-ins), then the disk fills up for 3 s,
/// then space is freed: only 200s and 503s, `/readyz` 503 while full, writes
/// succeed within a second of the space coming back, and after a crash
/// (SIGKILL) every refresh token a client received is in the database.
async fn full_disk(name: &str, db: &TestDb, disk: &SmallDisk) {
    let mut figures = Figures::new(name);
    // People sign in again and again here: no throttling of their attempts.
    let mut server = Server::start(db, &[("LATCHKEY_LOGIN_MAX_ATTEMPTS", "0")]).await;
    let client = offline_client(db, "Loaded RP", &[]);
    let load = Load::start(&server, db, &client, "disk", 4, 1).await;
    // One more person, who refreshes right after space is freed.
    let user = create_user(db, "first-after", PASSWORD, &[]);
    let mut first_after =
        str_of(&tokens_for(&server, &Browser::new(&server), &client, &user, OFFLINE_SCOPES).await, "refresh_token")
            .to_string();
    load.received.push(&first_after);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut baseline = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let res = refresh(&server, auth_of(&client), &first_after, None).await;
        assert_eq!(res.status, 200);
        first_after = str_of(&res.json(), "refresh_token").to_string();
        load.received.push(&first_after);
        baseline.push(t.elapsed().as_millis());
    }
    figures.note("refresh under load before (ms)", format!("{baseline:?}"));

    load.phase("full");
    disk.fill();
    // SQLite reuses the room its log already has, PostgreSQL the room left
    // in its pages: the disk is felt when something must grow.
    let filled = Instant::now();
    while load.count("full", 503) == 0 {
        assert!(filled.elapsed() < Duration::from_secs(60), "writes never failed on the full disk");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    figures.note("first 503 after filling (ms)", filled.elapsed().as_millis());
    let mut readyz_during = Vec::new();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        readyz_during.push(http().get(server.url("/readyz")).send().await.unwrap().status().as_u16());
    }
    load.phase("freed");
    disk.free();
    let freed = Instant::now();
    let mut attempts = Vec::new();
    let first_write = loop {
        let t = Instant::now();
        let res = refresh(&server, auth_of(&client), &first_after, None).await;
        attempts.push((res.status.as_u16(), t.saturating_duration_since(freed).as_millis(), t.elapsed().as_millis()));
        if res.status == 200 {
            first_after = str_of(&res.json(), "refresh_token").to_string();
            load.received.push(&first_after);
            break freed.elapsed();
        }
        assert_eq!(res.status, 503, "{}", res.describe());
        assert!(freed.elapsed() < Duration::from_secs(10), "writes never came back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let ready = eventually(Duration::from_secs(10), || async {
        http().get(server.url("/readyz")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    let ready_after = freed.elapsed();
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(freed.elapsed())).await;
    load.phase("after");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (load_figures, last, received) = load.finish().await;
    figures.statuses = load_figures.statuses;

    // A crash right after: only what was committed survives it.
    server.kill_replica(0);
    let log = server.log();
    let all = received.all();
    let missing = missing_refresh_tokens(db, &all).await;
    figures.note("readyz while full", format!("{readyz_during:?}"));
    figures.note("first committed write after freeing (ms)", first_write.as_millis());
    figures.note("attempts (status, start ms, took ms)", format!("{attempts:?}"));
    figures.note("readyz 200 again after (ms)", ready_after.as_millis());
    figures.note("'disk is full' log lines", log.matches("the database's disk is full").count());
    figures.note("refresh tokens received", all.len());
    figures.note("lost credentials", missing.len());
    if db.backend == Backend::Sqlite {
        figures.note("integrity", integrity(db).await);
    }
    figures.print();
    assert!(missing.is_empty(), "{} refresh tokens a client received are not stored", missing.len());
    for phase in ["full", "freed", "after"] {
        for s in figures.statuses(phase) {
            assert!(s == 200 || s == 503, "{phase}: only 200 and 503, never {s}:\n{}", tail(&log, 30));
        }
    }
    assert!(figures.count("full", 503) > 0, "the full disk was felt");
    // SQLite, once stuck, fails every write until there is room; PostgreSQL
    // still fits some rows into pages with room left, and is ready again
    // when its writes succeed.
    assert_eq!(readyz_during[0], 503, "/readyz fails while writes fail: {readyz_during:?}");
    if db.backend == Backend::Sqlite {
        assert!(readyz_during.iter().all(|s| *s == 503), "/readyz fails while writes fail: {readyz_during:?}");
    }
    assert!(log.contains("disk is full"), "the log says so:\n{}", tail(&log, 30));
    assert!(ready, "/readyz recovers without a restart");
    // The first request sent once there is room succeeds: recovery waits for
    // nothing (its time is one request's under this load, as the baseline shows).
    assert_eq!(attempts[0].0, 200, "the first write after freeing space succeeds: {attempts:?}");
    let slowest = Duration::from_millis(*baseline.iter().max().unwrap() as u64);
    assert!(first_write < 2 * slowest + Duration::from_secs(1), "{first_write:?}, refreshes took {baseline:?}");
    assert_eq!(figures.count("after", 503), 0, "full service after space is freed:\n{}", tail(&log, 30));
    if db.backend == Backend::Sqlite {
        assert_eq!(integrity(db).await, "ok");
    }

    // Restarted, every client's newest refresh token still works.
    let server = Server::start(db, &[]).await;
    for rt in &last {
        let res = refresh(&server, auth_of(&client), rt, None).await;
        assert_eq!(res.status, 200, "a refresh token survived the crash: {}", res.describe());
    }
}

// ---------------------------------------------------------------------------
// A crash under load.

on_sql_backends!(a_crash_under_load_loses_no_credential);

/// SIGKILL under load, then a restart on the same database, twice (five
/// times in the long mode): every refresh token a client received is in the
/// database, and each client's newest one still works. The grace window
/// lets a client whose answer died with the process retry with its old
/// token (docs/deployment.md).
async fn a_crash_under_load_loses_no_credential(backend: Backend) {
    let db = TestDb::new(backend).await;
    let env = [("LATCHKEY_TOKENS_REFRESH_GRACE_SECONDS", "30")];
    let mut figures = Figures::new(&format!("kill -9 under load ({backend:?})"));
    let rounds = if long_mode() { 5 } else { 2 };
    let mut received = Vec::new();
    let mut restarts = Vec::new();
    let mut client = None;
    for round in 0..rounds {
        let mut server = Server::start(&db, &env).await;
        // The CLI needs the database the first server created.
        let client = client.get_or_insert_with(|| offline_client(&db, "Loaded RP", &[]));
        let load = Load::start(&server, &db, client, &format!("crash{round}"), 6, 0).await;
        tokio::time::sleep(Duration::from_secs(if long_mode() { 10 } else { 2 })).await;
        load.phase("killed");
        server.kill_replica(0);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (load_figures, last, got) = load.finish().await;
        for (phase, by) in load_figures.statuses {
            for (status, n) in by {
                for _ in 0..n {
                    figures.add(phase, status);
                }
            }
        }
        received.extend(got.all());
        let started = Instant::now();
        let server = Server::start(&db, &env).await;
        restarts.push(started.elapsed().as_millis());
        for rt in &last {
            let res = refresh(&server, auth_of(client), rt, None).await;
            assert_eq!(res.status, 200, "round {round}: a client's newest refresh token works: {}", res.describe());
        }
    }
    let missing = missing_refresh_tokens(&db, &received).await;
    figures.note("restarts (ms to listening)", format!("{restarts:?}"));
    figures.note("refresh tokens received", received.len());
    figures.note("lost credentials", missing.len());
    if backend == Backend::Sqlite {
        figures.note("integrity", integrity(&db).await);
    }
    figures.print();
    assert!(missing.is_empty(), "{} refresh tokens a client received are not stored", missing.len());
    for s in figures.statuses("before") {
        assert!(s == 200, "only 200 before the crash, not {s}");
    }
    if backend == Backend::Sqlite {
        assert_eq!(integrity(&db).await, "ok");
    }
}

// ---------------------------------------------------------------------------
// A database outage.

/// PostgreSQL stopped under load (5 s; a minute in the long mode): only
/// 503s, each at once once the outage is known, full service again as soon
/// as it is back, no restart, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_fast_and_recovers_without_restart_or_loss() {
    let Some(_) = postgres_admin_url() else { return };
    let mut db = TestDb::new(Backend::Postgres).await;
    let Some(pg) = OwnPostgres::start(db.dir.path()) else {
        assert!(std::env::var_os("CI").is_none(), "CI must install postgresql");
        return;
    };
    db.url = pg.url();
    let mut figures = Figures::new("PostgreSQL outage (default pool timeout, 5 s)");
    let server = Server::start(&db, &[]).await;
    let client = offline_client(&db, "Loaded RP", &[]);
    let load = Load::start(&server, &db, &client, "outage", 6, 0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    load.phase("stopping");
    let stopped = Instant::now();
    pg.stop();
    let ready = |server: &Server| {
        let url = server.url("/readyz");
        async move { http().get(url).send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    let known = eventually(Duration::from_secs(5), || async { ready(&server).await == 503 }).await;
    assert!(known, "/readyz says the database is down");
    figures.note("outage known after (ms)", stopped.elapsed().as_millis());
    load.phase("down");
    tokio::time::sleep(Duration::from_secs(if long_mode() { 60 } else { 5 })).await;
    load.phase("restarting");
    pg.run();
    let back = Instant::now();
    let recovered = eventually(Duration::from_secs(10), || async { ready(&server).await == 200 }).await;
    assert!(recovered, "/readyz recovers without a restart");
    figures.note("ready again after the database (ms)", back.elapsed().as_millis());
    load.phase("after");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let times = load.unavailable_times("down");
    let (load_figures, last, received) = load.finish().await;
    figures.statuses = load_figures.statuses;
    let (median, slowest) = times.expect("503s while the database was known down");
    figures.note("503 while known down: median (ms)", median.as_millis());
    figures.note("503 while known down: slowest (ms)", slowest.as_millis());
    for rt in &last {
        assert_eq!(refresh(&server, auth_of(&client), rt, None).await.status, 200, "a refresh token survived");
    }
    let missing = missing_refresh_tokens(&db, &received.all()).await;
    figures.note("lost credentials", missing.len());
    figures.print();
    assert!(missing.is_empty());
    for phase in ["stopping", "down", "restarting", "after"] {
        for s in figures.statuses(phase) {
            assert!(s == 200 || s == 503, "{phase}: only 200 and 503, never {s}");
        }
    }
    assert_eq!(figures.statuses("down"), vec![503], "nothing but 503 while down");
    assert_eq!(figures.statuses("after"), vec![200], "full service after");
    // Not the 5 s pool timeout: at once (on a loaded machine, well under it).
    assert!(slowest < Duration::from_secs(2), "no request waits for the pool timeout: {slowest:?}");
}

// ---------------------------------------------------------------------------
// A soak.

/// What the kernel says about a process: open descriptors, threads, RSS (kB).
fn process_figures(pid: u32) -> (usize, usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (fds, field("Threads:") as usize, field("VmRSS:"))
}

/// Steady load with sign-ins and slow clients mixed in (15 s; ten minutes
/// in the long mode): descriptors and threads come back to where they were,
/// and memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_leaks_no_descriptor_thread_or_memory() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server =
        Server::start(&db, &[("LATCHKEY_LOGIN_MAX_ATTEMPTS", "0"), ("LATCHKEY_HTTP_HEADER_READ_TIMEOUT_SECONDS", "2")])
            .await;
    let client = offline_client(&db, "Loaded RP", &[]);
    let mut figures = Figures::new("soak");
    let load = Load::start(&server, &db, &client, "soak", 6, 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let start = process_figures(server.pid());
    let seconds = if long_mode() { 600 } else { 15 };
    let started = Instant::now();
    let mut peak = start;
    let mut slow = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        // A few slow clients come and go, cut off by the header timeout.
        for _ in 0..5 {
            tokio::spawn(slowloris(server.port, Duration::from_millis(200), Duration::from_secs(30)));
            slow += 1;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = process_figures(server.pid());
        peak = (peak.0.max(now.0), peak.1.max(now.1), peak.2.max(now.2));
    }
    let (load_figures, _, received) = load.finish().await;
    // Let the last slow clients be cut off.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = process_figures(server.pid());
    figures.statuses = load_figures.statuses;
    figures.note("seconds", seconds);
    figures.note("slow clients", slow);
    figures.note("descriptors (start, peak, end)", format!("{}, {}, {}", start.0, peak.0, end.0));
    figures.note("threads (start, peak, end)", format!("{}, {}, {}", start.1, peak.1, end.1));
    figures.note("RSS kB (start, peak, end)", format!("{}, {}, {}", start.2, peak.2, end.2));
    let missing = missing_refresh_tokens(&db, &received.all()).await;
    figures.note("lost credentials", missing.len());
    figures.print();
    assert!(missing.is_empty());
    assert_eq!(figures.statuses("before"), vec![200], "only 200s");
    assert!(end.0 <= start.0 + 4, "descriptors come back: {start:?} -> {end:?}");
    assert!(end.1 <= start.1 + 4, "threads come back: {start:?} -> {end:?}");
    assert!(end.2 < start.2 * 3 + 100_000, "memory stays bounded: {start:?} -> {end:?}");
}

// ---------------------------------------------------------------------------
// Slow and oversized requests.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one HTTP/1.1 response (head and a Content-Length body); None if the
/// server closed the connection first.
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                data.extend_from_slice(&buf[..n]);
            }
            let status = head.split(' ').nth(1)?.parse().ok()?;
            return Some((status, head));
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

fn get_request(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n").into_bytes()
}

/// Whether the server closed `stream` (a read sees the end) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(within, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

/// A slowloris client: sends a request's headers one byte every `pace`
/// until the server closes the connection; returns how long that took.
async fn slowloris(port: u16, pace: Duration, give_up: Duration) -> Option<Duration> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let started = Instant::now();
    let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await;
    let mut buf = [0u8; 64];
    while started.elapsed() < give_up {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return Some(started.elapsed()),
                Ok(_) => panic!("a response to half a request"),
            },
            _ = tokio::time::sleep(pace) => {
                if stream.write_all(b"a").await.is_err() {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_and_idle_connections_closed_but_not_too_soon() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(
        &db,
        &[("LATCHKEY_HTTP_HEADER_READ_TIMEOUT_SECONDS", "2"), ("LATCHKEY_HTTP_KEEPALIVE_TIMEOUT_SECONDS", "5")],
    )
    .await;
    let mut figures = Figures::new("slow headers (slowloris), idle keep-alive");
    let clients = if long_mode() { 1000 } else { 200 };
    let slow: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(slowloris(server.port, Duration::from_millis(500), Duration::from_secs(20))))
        .collect();
    // Meanwhile, everyone else is served as usual.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let status = http().get(server.url("/healthz")).send().await.unwrap().status().as_u16();
        figures.add("during", status);
        worst = worst.max(started.elapsed());
    }
    let mut cut_off = Vec::new();
    for task in slow {
        cut_off.push(task.await.unwrap().expect("a slow client was never cut off"));
    }
    let latest = cut_off.iter().max().unwrap();
    let earliest = cut_off.iter().min().unwrap();
    figures.note("slow clients", clients);
    figures.note("cut off after (s)", format!("{:.1} to {:.1}", earliest.as_secs_f64(), latest.as_secs_f64()));
    figures.note("slowest other request (ms)", worst.as_millis());

    // A connection that sends nothing owes its headers as well.
    let mut silent = TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(4)).await, "a silent connection is closed");

    // Keep-alive: idle longer than the header timeout is fine, longer than
    // the idle timeout is not.
    let mut conn = TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    conn.write_all(&get_request("/healthz", "")).await.unwrap();
    assert_eq!(read_response(&mut conn).await.map(|r| r.0), Some(200));
    tokio::time::sleep(Duration::from_secs(3)).await;
    conn.write_all(&get_request("/healthz", "")).await.unwrap();
    assert_eq!(read_response(&mut conn).await.map(|r| r.0), Some(200), "idle 3 s: still open");
    let idle = Instant::now();
    assert!(closed_within(&mut conn, Duration::from_secs(8)).await, "an idle connection is closed");
    figures.note("idle keep-alive closed after (s)", format!("{:.1}", idle.elapsed().as_secs_f64()));
    figures.print();
    assert!(*earliest >= Duration::from_millis(1900), "not before the header timeout: {earliest:?}");
    assert!(*latest < Duration::from_secs(5), "soon after the header timeout: {latest:?}");
    assert!(idle.elapsed() >= Duration::from_millis(4900), "not before the idle timeout: {:?}", idle.elapsed());
    assert_eq!(figures.count("during", 200), 20);
    assert!(worst < Duration::from_secs(2), "slow clients do not slow others: {worst:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431_and_large_but_fair_ones_pass() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(&db, &[]).await;
    let mut figures = Figures::new("oversized headers");
    for (size, expected) in [(16 * 1024, 200), (30 * 1024, 200), (40 * 1024, 431), (500 * 1024, 431)] {
        let mut conn = TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
        let started = Instant::now();
        let header = format!("Cookie: big={}\r\n", "a".repeat(size));
        // A server that answers early may close before all of it is sent.
        let _ = conn.write_all(&get_request("/healthz", &header)).await;
        let status = read_response(&mut conn).await.map(|r| r.0).unwrap_or(0);
        figures.add("answers", status);
        figures
            .note(&format!("{} KiB header", size / 1024), format!("{status} in {} ms", started.elapsed().as_millis()));
        assert_eq!(status, expected, "a {size}-byte header");
    }
    figures.print();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_wait_for_a_free_one() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(&db, &[("LATCHKEY_HTTP_MAX_CONNECTIONS", "3")]).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut conn = TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
        conn.write_all(&get_request("/healthz", "")).await.unwrap();
        assert_eq!(read_response(&mut conn).await.map(|r| r.0), Some(200));
        open.push(conn);
    }
    let mut fourth = TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    fourth.write_all(&get_request("/healthz", "")).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(800), read_response(&mut fourth)).await;
    assert!(early.is_err(), "the fourth connection waits while three are open");
    drop(open.pop());
    let served = tokio::time::timeout(Duration::from_secs(3), read_response(&mut fourth)).await;
    assert_eq!(served.ok().flatten().map(|r| r.0), Some(200), "served once one closed");
    assert!(server.log().contains("connection limit reached"), "the operator is told");
}

// ---------------------------------------------------------------------------
// Injected commit failures: no credential without its record.

on_sql_backends!(every_failed_write_is_a_503_and_no_credential_comes_without_its_record);

/// Checks that every credential `page` hands out is stored: a session
/// cookie, an interaction in a form, a code in a redirect, a refresh token,
/// a registered client. Returns how many it found.
async fn only_stored_credentials(pool: &sqlx::AnyPool, page: &Page, what: &str) -> usize {
    let mut found = Vec::new();
    if let Some(c) = page.set_cookie("latchkey_session").filter(|c| !c.deletes()) {
        found.push(("sessions", "id_hash", hash(&c.value)));
    }
    if page.status == 200 && (page.is_login() || page.is_consent()) {
        found.push(("interactions", "id_hash", hash(&page.input("interaction").unwrap())));
    }
    if let Some(code) = page.location().and_then(|l| get(&query_pairs(&l), "code")) {
        found.push(("authorization_codes", "code_hash", hash(&code)));
    }
    if page.header("content-type").is_some_and(|t| t.starts_with("application/json")) {
        let body = page.json();
        if let Some(rt) = body["refresh_token"].as_str() {
            found.push(("refresh_tokens", "token_hash", hash(rt)));
        }
        if let (Some(id), true) = (body["client_id"].as_str(), body["registration_access_token"].is_string()) {
            found.push(("clients", "client_id", id.to_string()));
        }
    }
    for (table, column, key) in &found {
        let sql = format!("SELECT 1 AS x FROM {table} WHERE {column} = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key).fetch_optional(pool).await.unwrap();
        assert!(row.is_some(), "{what}: {table} lacks the record of what the response handed out: {}", page.describe());
    }
    if page.status == 503 {
        assert!(page.header("retry-after").is_some(), "{what}: a 503 says when to retry: {}", page.describe());
        if page.header("content-type").is_some_and(|t| t.starts_with("application/json")) {
            assert_eq!(page.json()["error"], "temporarily_unavailable", "{what}");
        } else {
            assert!(page.body.contains("Temporarily unavailable"), "{what}: the page says so: {}", page.describe());
        }
    }
    found.len()
}

/// What a client that meets a 503 does: sends the same request again (at
/// most `tries` times). Every answer is checked.
async fn with_retries<F, Fut>(pool: &sqlx::AnyPool, what: &str, tries: usize, send: F) -> (Page, usize)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Page>,
{
    for unavailable in 0..tries {
        let page = send().await;
        only_stored_credentials(pool, &page, what).await;
        if page.status != 503 {
            return (page, unavailable);
        }
    }
    panic!("{what}: still 503 after {tries} tries");
}

/// Registration, sign-in (authorize, login, consent), code exchange and a
/// refresh, as a persistent client does it: a 503 is retried, and a step
/// that cannot be retried (a spent interaction or code) starts over from
/// `/authorize`. Returns the 503s met.
async fn whole_flow(server: &Server, pool: &sqlx::AnyPool, alice: &User) -> usize {
    let c = http();
    let meta = json!({"redirect_uris": [CB], "grant_types": ["authorization_code", "refresh_token"],
        "scope": OFFLINE_SCOPES, "client_name": "Fault-tolerant RP"});
    let (reg, mut unavailable) = with_retries(pool, "register", 3, || async {
        Page::of(c.post(server.url("/register")).json(&meta).send().await.unwrap()).await
    })
    .await;
    assert_eq!(reg.status, 201, "{}", reg.describe());
    let reg = reg.json();
    let client =
        TestClient { id: str_of(&reg, "client_id").into(), secret: Some(str_of(&reg, "client_secret").into()) };
    let b = Browser::new(server);
    for _attempt in 0..4 {
        let p = pkce();
        let params = code_request(&client.id, &p).set("scope", OFFLINE_SCOPES);
        let (mut page, n) = with_retries(pool, "authorize", 3, || b.authorize(&params)).await;
        unavailable += n;
        if page.is_login() {
            let form = page;
            let (next, n) = with_retries(pool, "login", 3, || b.login(&form, &alice.username, &alice.password)).await;
            unavailable += n;
            page = next;
        }
        if page.status == 200 && page.is_consent() {
            let form = page;
            let (next, n) = with_retries(pool, "consent", 3, || b.consent(&form, "allow")).await;
            unavailable += n;
            page = next;
        }
        let Some(code) = page.location().and_then(|l| get(&query_pairs(&l), "code")) else {
            // A spent interaction: start over (the session, if any, is kept).
            assert_eq!(page.status, 400, "{}", page.describe());
            continue;
        };
        let grant = code_grant(&code, Some(&p.verifier));
        let (res, n) = with_retries(pool, "code exchange", 3, || token(server, auth_of(&client), &grant)).await;
        unavailable += n;
        if res.status != 200 {
            // Spent by the attempt that failed after redeeming it.
            assert_eq!(res.json()["error"], "invalid_grant", "{}", res.describe());
            continue;
        }
        let rt = str_of(&res.json(), "refresh_token").to_string();
        let (res, n) = with_retries(pool, "refresh", 3, || refresh(server, auth_of(&client), &rt, None)).await;
        unavailable += n;
        assert_eq!(res.status, 200, "{}", res.describe());
        // What the client ends with works.
        let newest = str_of(&res.json(), "refresh_token").to_string();
        let (res, n) = with_retries(pool, "refresh", 3, || refresh(server, auth_of(&client), &newest, None)).await;
        assert_eq!(res.status, 200, "{}", res.describe());
        return unavailable + n;
    }
    panic!("the flow never completed");
}

async fn every_failed_write_is_a_503_and_no_credential_comes_without_its_record(backend: Backend) {
    let db = TestDb::new(backend).await;
    let faults = db.dir.path().join("faults");
    std::fs::write(&faults, "").unwrap();
    let faults_env = faults.display().to_string();
    let server = Server::start(
        &db,
        &[
            ("LATCHKEY_TEST_FAULTS", faults_env.as_str()),
            ("LATCHKEY_REGISTRATION_MODE", "open"),
            ("LATCHKEY_REGISTRATION_MAX_PER_ADDRESS", "0"),
            ("LATCHKEY_LOGIN_MAX_ATTEMPTS", "0"),
            // A refresh whose answer was lost is retried with the same token
            // and gets the successor that was committed (docs/deployment.md).
            ("LATCHKEY_TOKENS_REFRESH_GRACE_SECONDS", "30"),
        ],
    )
    .await;
    let alice = create_alice(&db);
    let pool = db.pool().await;
    let clean = whole_flow(&server, &pool, &alice).await;
    assert_eq!(clean, 0, "without faults, no 503");
    let mut figures = Figures::new(&format!("injected commit failures ({backend:?})"));
    let injected = |log: &str| log.matches("injected store failure").count();
    // Fail the first write of the flow, then the second, and so on, until
    // the flow has no Nth write.
    for n in 1.. {
        assert!(n < 60, "the flow has a bounded number of writes");
        std::fs::write(&faults, format!("{n}\n")).unwrap();
        let before = injected(&server.log());
        let unavailable = whole_flow(&server, &pool, &alice).await;
        let log = server.log();
        if injected(&log) == before {
            figures.note("writes in the flow", n - 1);
            break;
        }
        let line = log.lines().rev().find(|l| l.contains("injected store failure")).unwrap();
        let op = line
            .split("op=")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or("?")
            .trim_matches('"')
            .to_string();
        figures.add("write failed", if unavailable > 0 { 503 } else { 200 });
        figures.note(&format!("write {n}: {op}"), format!("{unavailable} × 503"));
        if op != "append_audit" {
            assert!(unavailable > 0, "the failed {op} (write {n}) was answered with a 503");
        }
    }
    // A write that committed but whose answer was lost: the client hears
    // 503, holds nothing new, and its retry finds the work done or refused.
    std::fs::write(&faults, "1 rotate_refresh_token after\n").unwrap();
    let unavailable = whole_flow(&server, &pool, &alice).await;
    assert!(unavailable > 0, "the lost answer was a 503");
    figures.note("a rotation committed but its answer lost", format!("{unavailable} × 503, then its successor"));
    figures.print();
    pool.close().await;
}
