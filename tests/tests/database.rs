//! Where the data lives, and keeping it: one database, found or refused by
//! the CLI (only `serve` and `migrate` create one); backups taken while the
//! server runs (docs/backup.md: `sqlite3 .backup`, `VACUUM INTO`,
//! `pg_dump`) restored into a new server that people then sign in to.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::flow::*;
use latchkey_tests::*;

on_sql_backends!(backups_taken_while_serving_restore_into_a_working_server);

/// `latchkey ARGS` in `dir` with only the given `LATCHKEY_*` environment.
fn latchkey_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(&*BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("LATCHKEY_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.current_dir(dir).args(args).envs(env.iter().copied()).stdin(Stdio::null()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_finds_the_servers_database_or_says_where_it_looked() {
    let here = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();

    // The default database is relative: from a directory without one, every
    // command but serve and migrate refuses, says where it looked and how
    // to point at the right one, and creates nothing.
    for args in [&["user", "list"][..], &["client", "create", "--name", "x", "--grant-type", "client_credentials"]] {
        let (code, _, stderr) = latchkey_in(elsewhere.path(), args, &[]);
        assert_ne!(code, 0, "{args:?}");
        let looked = std::path::absolute(elsewhere.path().join("data/latchkey.db")).unwrap();
        for needle in [
            &format!("no database at {}", looked.display())[..],
            "relative",
            "latchkey serve",
            "--database-url",
            "LATCHKEY_DATABASE_URL",
            "--config",
        ] {
            assert!(stderr.contains(needle), "{needle:?} in: {stderr}");
        }
        assert!(!stderr.contains("panicked"));
    }
    assert!(!elsewhere.path().join("data").exists(), "no second, empty database");

    // The server, started in `here` with the defaults, creates its database
    // and logs its absolute path.
    let port = free_port();
    let mut serve = Command::new(&*BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("LATCHKEY_") {
            serve.env_remove(k);
        }
    }
    let log = here.path().join("serve.log");
    let mut child = serve
        .current_dir(here.path())
        .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let up = eventually(std::time::Duration::from_secs(30), || {
        let url = format!("http://127.0.0.1:{port}/readyz");
        async move { http().get(url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    let file = std::path::absolute(here.path().join("data/latchkey.db")).unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "{logged}");
    assert!(logged.contains(&format!("database=SQLite file {}", file.display())), "{logged}");

    // The CLI finds it from the same directory, and from elsewhere when told.
    let (code, stdout, stderr) = latchkey_in(here.path(), &["client", "list"], &[]);
    assert_eq!((code, stdout.trim()), (0, "no clients"), "{stderr}");
    let url = format!("sqlite://{}", file.display());
    let (code, _, stderr) = latchkey_in(
        elsewhere.path(),
        &["--database-url", &url, "client", "create", "--name", "x", "--grant-type", "client_credentials"],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = latchkey_in(elsewhere.path(), &["client", "list"], &[("LATCHKEY_DATABASE_URL", &url)]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("CLIENT_ID") && stdout.contains(" x"), "{stdout}");
    assert!(!elsewhere.path().join("data").exists());

    // A file that is not a Latchkey database is not turned into one.
    std::fs::create_dir_all(elsewhere.path().join("data")).unwrap();
    let stray = elsewhere.path().join("data/latchkey.db");
    std::fs::write(&stray, b"").unwrap();
    let (code, _, stderr) = latchkey_in(elsewhere.path(), &["user", "list"], &[]);
    assert_ne!(code, 0);
    assert!(stderr.contains("is not a Latchkey database"), "{stderr}");
    assert_eq!(std::fs::metadata(&stray).unwrap().len(), 0, "left as it was");
    // `migrate` is how automation prepares one before any server runs.
    let (code, _, stderr) = latchkey_in(elsewhere.path(), &["migrate"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(latchkey_in(elsewhere.path(), &["user", "list"], &[]).0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_postgres_database_is_refused_until_migrated() {
    if postgres_admin_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let out = cli(&db, &["user", "list"], &[], None);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("is not a Latchkey database") && out.stderr.contains("--database-url"),
        "{}",
        out.stderr
    );
    cli(&db, &["migrate"], &[], None).ok();
    cli(&db, &["user", "list"], &[], None).ok();
}

/// The first program of `names` found on the PATH or in PostgreSQL's folder.
fn program(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Ok(versions) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut bins: Vec<PathBuf> = versions.filter_map(|e| e.ok().map(|e| e.path().join("bin"))).collect();
        bins.sort();
        dirs.extend(bins.into_iter().rev());
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn run(program: &Path, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{} {args:?}: {}", program.display(), String::from_utf8_lossy(&out.stderr));
}

const KEY: &str = "2v0Kq1gq6n3cQ5i4H9sYp1m7r8t0u2w4y6A8C0E2G4I=";

async fn backups_taken_while_serving_restore_into_a_working_server(backend: Backend) {
    let tools: &[&str] = if backend == Backend::Sqlite { &["sqlite3"] } else { &["pg_dump", "pg_restore"] };
    let found: Vec<Option<PathBuf>> = tools.iter().map(|t| program(t)).collect();
    if found.iter().any(Option::is_none) {
        assert!(std::env::var_os("CI").is_none(), "CI must install {tools:?} (.ci/run)");
        eprintln!("{tools:?} not installed: backup test not run");
        return;
    }
    // Private keys are encrypted at rest: the key is backed up beside the database.
    let env = [("LATCHKEY_KEYS_ENCRYPTION_KEY", KEY)];
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &env).await;
    let alice = create_alice(&db);
    let client = confidential(&db);
    let before = tokens_for(&server, &Browser::new(&server), &client, &alice, "openid").await;

    // Back up while people keep signing in.
    let busy = Arc::new(AtomicBool::new(true));
    let signed_in = Arc::new(AtomicUsize::new(0));
    let load = {
        let (busy, signed_in) = (busy.clone(), signed_in.clone());
        let (view, client, alice) = (server.view(usize::MAX), client.clone(), alice.clone());
        tokio::spawn(async move {
            while busy.load(Ordering::Relaxed) {
                tokens_for(&view, &Browser::new(&view), &client, &alice, "openid").await;
                signed_in.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while signed_in.load(Ordering::Relaxed) < 1 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().display().to_string();
    let restored: Vec<TestDb> = match backend {
        Backend::Sqlite => {
            let live = db.url.strip_prefix("sqlite://").unwrap();
            let sqlite3 = found[0].as_deref().unwrap();
            run(sqlite3, &[live, &format!(".backup '{dir}/backup.db'")]);
            run(sqlite3, &[live, &format!("VACUUM INTO '{dir}/vacuumed.db'")]);
            let mut out = Vec::new();
            for file in ["backup.db", "vacuumed.db"] {
                let target = TestDb::new(Backend::Sqlite).await;
                let path = target.url.strip_prefix("sqlite://").unwrap();
                std::fs::create_dir_all(Path::new(path).parent().unwrap()).unwrap();
                std::fs::copy(backups.path().join(file), path).unwrap();
                out.push(target);
            }
            out
        }
        _ => {
            let dump = format!("{dir}/latchkey.dump");
            run(found[0].as_deref().unwrap(), &["--format=custom", "--file", &dump, &db.url]);
            let target = TestDb::new(Backend::Postgres).await;
            run(found[1].as_deref().unwrap(), &["--no-owner", "--dbname", &target.url, &dump]);
            vec![target]
        }
    };
    busy.store(false, Ordering::Relaxed);
    load.await.unwrap();
    // Written after the backup: not in it.
    create_user(&db, "bob", PASSWORD, &[]);
    drop(server);

    for target in &restored {
        // Without the encryption key the keys in the backup cannot be used.
        let refused = Server::try_start(target, &[]).await.err().expect("no start without the key");
        assert!(refused.contains("keys.encryption_key"), "{refused}");
        let server = Server::start(target, &env).await;
        let users = cli_json(target, &["user", "list"]);
        let names: Vec<&str> = users.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
        assert_eq!(names, ["alice"], "the backup's users, not later ones");
        // People sign in as before, and tokens issued before the backup still verify.
        let after = tokens_for(&server, &Browser::new(&server), &client, &alice, "openid").await;
        assert_eq!(userinfo_status(&server, after["access_token"].as_str().unwrap()).await, 200);
        let old = before["access_token"].as_str().unwrap();
        let report = cli(target, &["token", "inspect", old, "--jwks-uri", &server.url("/jwks")], &[], None).ok();
        assert!(report.stdout.contains("pass  signature"), "the same keys: {}", report.stdout);
    }
}

async fn userinfo_status(server: &Server, token: &str) -> u16 {
    http().get(server.url("/userinfo")).bearer_auth(token).send().await.unwrap().status().as_u16()
}
