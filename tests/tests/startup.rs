//! `latchkey serve`: the zero-setup default, config validated before the
//! port opens, graceful shutdown, health endpoints.

use std::process::{Command, Stdio};
use std::time::Duration;

use latchkey_tests::*;

on_both_backends!(health_and_readiness, sigterm_stops_cleanly);

/// Runs `latchkey serve` with only `env` (no inherited LATCHKEY_*) and returns
/// its exit code and stderr; it must exit by itself.
fn serve_expecting_failure(env: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&*BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("LATCHKEY_") {
            cmd.env_remove(k);
        }
    }
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    cmd.current_dir(dir.path())
        .env("LATCHKEY_LISTEN", &listen)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve with {env:?} did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    // Nothing may have listened: the port is still free.
    assert!(std::net::TcpListener::bind(&listen).is_ok());
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn invalid_config_stops_startup_with_a_message_naming_the_key() {
    let key_dir = tempfile::tempdir().unwrap();
    let unreadable = key_dir.path().join("missing.key");
    let unreadable = unreadable.to_str().unwrap();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (&[("LATCHKEY_ISSUER", "https://id.example.com/?tenant=1")], "issuer", "query"),
        (&[("LATCHKEY_ISSUER", "https://id.example.com#top")], "issuer", "fragment"),
        (&[("LATCHKEY_ISSUER", "http://id.example.com")], "issuer", "plain http"),
        (&[("LATCHKEY_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")], "database_url", "cannot open"),
        (&[("LATCHKEY_DATABASE_URL", "mysql://x@y/z")], "database_url", "not supported"),
        (&[("LATCHKEY_KEYS_ENCRYPTION_KEY_FILE", unreadable)], "keys.encryption_key_file", "cannot read"),
        (&[("LATCHKEY_LISTEN", "not-an-address")], "listen", "not an address"),
        (&[("LATCHKEY_KEYS_RSA_BITS", "512")], "keys.rsa_bits", "not supported"),
        (&[("LATCHKEY_REGISTRATION_MODE", "token")], "registration.mode", "initial_access_token"),
        (&[("LATCHKEY_REDIS_URL", "redis://127.0.0.1:1/0")], "redis_url", "cannot reach Redis"),
        (&[("LATCHKEY_REDIS_URL", "memcached://127.0.0.1:11211")], "redis_url", "not supported"),
        (
            &[("LATCHKEY_REDIS_URL", "redis://127.0.0.1:1/0"), ("LATCHKEY_REDIS_KEY_PREFIX", "has space")],
            "redis.key_prefix",
            "without spaces",
        ),
        (&[("LATCHKEY_CONFIG", "/nonexistent/latchkey.toml")], "config", "cannot read"),
    ];
    for (env, key, needle) in cases {
        let (code, stderr) = serve_expecting_failure(env);
        assert_ne!(code, 0, "{env:?}");
        assert!(stderr.contains(&format!("`{key}`")), "{env:?} must name {key}: {stderr}");
        assert!(stderr.contains(needle), "{env:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn config_file_with_a_typo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latchkey.toml");
    std::fs::write(&file, "issuer = \"http://localhost:9\"\n[keys]\nrsa_bitz = 2048\n").unwrap();
    let (code, stderr) = serve_expecting_failure(&[("LATCHKEY_CONFIG", file.to_str().unwrap())]);
    assert_ne!(code, 0);
    assert!(stderr.contains("rsa_bitz"), "{stderr}");
    // Where it is, and what was meant.
    assert!(stderr.contains(&format!("{}:3:1:", file.display())), "{stderr}");
    assert!(stderr.contains("did you mean `keys.rsa_bits`?"), "{stderr}");
}

#[tokio::test]
async fn zero_setup_default_runs_on_embedded_sqlite() {
    // The README's first command: no config, no environment but the port
    // (the suite uses free ports only; the default 127.0.0.1:8080 is
    // checked by the configuration's unit tests).
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&*BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("LATCHKEY_") {
            cmd.env_remove(k);
        }
    }
    let base = format!("http://127.0.0.1:{}", free_port());
    let child = cmd
        .current_dir(dir.path())
        .env("LATCHKEY_LISTEN", base.trim_start_matches("http://"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = http();
    let up = eventually(Duration::from_secs(30), || {
        let client = client.clone();
        let url = format!("{base}/readyz");
        async move { client.get(url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    let doc: Value = if up {
        let url = format!("{base}/.well-known/openid-configuration");
        client.get(url).send().await.unwrap().json().await.unwrap()
    } else {
        Value::Null
    };
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(up, "the default server did not answer on {base}: {log}");
    assert_eq!(doc["issuer"], "http://localhost:8080");
    let file = dir.path().join("data/latchkey.db");
    assert!(file.exists(), "SQLite file created under ./data");
    // The log names the absolute path (the CLI run elsewhere would not find it).
    let absolute = std::fs::canonicalize(dir.path()).unwrap().join("data/latchkey.db");
    assert!(
        log.contains(&file.display().to_string()) || log.contains(&absolute.display().to_string()),
        "serve logs the absolute database path: {log}"
    );
    assert!(output.status.success(), "SIGTERM exits cleanly: {}", output.status);
}

async fn health_and_readiness(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let c = http();
    let res = c.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ok");
    let res = c.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ready");

    let res = c.get(server.url("/no/such/thing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request");

    // A person who opens the server, or a wrong address, in a browser.
    let browser = |path: &str| c.get(server.url(path)).header("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    let res = browser("/").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let page = res.text().await.unwrap();
    assert!(page.contains("<h1 id=\"heading\">Latchkey</h1>"), "{page}");
    assert!(
        page.contains("href=\"/account\"") && page.contains("href=\"/.well-known/openid-configuration\""),
        "{page}"
    );
    assert!(page.contains("/assets/latchkey.css"), "the same look as the other pages: {page}");
    let res = browser("/no/such/thing").send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("Page not found"));
    let res = c.get(server.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(res.status(), 204, "no icon, and no 404 in the logs");
    let json = c.get(server.url("/")).header("accept", "application/json").send().await.unwrap();
    assert_eq!(json.status(), 200, "the landing page is a page for anyone");

    if backend == Backend::Postgres {
        // The database goes away: readiness fails, liveness does not, nothing panics.
        db.drop_now().await;
        let ready = eventually(Duration::from_secs(10), || {
            let c = c.clone();
            let url = server.url("/readyz");
            async move { c.get(url).send().await.is_ok_and(|r| r.status() == 503) }
        })
        .await;
        assert!(ready, "readyz must fail without the database");
        assert_eq!(c.get(server.url("/healthz")).send().await.unwrap().status(), 200);
        assert!(!server.log().contains("panicked"));
    }
}

async fn sigterm_stops_cleanly(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut server = Server::start(&db, &[]).await;
    assert_eq!(http().get(server.url("/healthz")).send().await.unwrap().status(), 200);
    let code = server.terminate();
    assert_eq!(code, Some(0), "log:\n{}", server.log());
    assert!(server.log().contains("shutdown requested"));
    assert!(server.log().contains("stopped"));
}
