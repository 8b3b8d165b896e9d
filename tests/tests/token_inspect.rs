//! `latchkey token inspect` against real tokens of a running server: its
//! keys read from its database, another server's over HTTP (`--issuer`,
//! `--jwks-uri`), every check named when it fails, the exit code, and opaque
//! refresh and admin tokens looked up without printing them.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::Duration;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

/// `latchkey token inspect ARGS` with the configuration of the server on
/// `db`: its database and its issuer (the tests' servers get theirs from
/// the environment).
fn inspect(db: &TestDb, server: &Server, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> CliOutput {
    let mut all = vec!["token", "inspect"];
    all.extend_from_slice(args);
    let mut env = env.to_vec();
    env.insert(0, ("LATCHKEY_ISSUER", &server.issuer));
    cli(db, &all, &env, stdin)
}

/// The status of one named check in a `--json` report.
fn check(report: &Value, name: &str) -> (String, String) {
    let c = report["checks"].as_array().unwrap().iter().find(|c| c["check"] == name).unwrap();
    (c["status"].as_str().unwrap().to_string(), c["detail"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_this_server_and_of_another() {
    let Env { db, server, alice } = env(Backend::Sqlite, &[]).await;
    let client = offline_client(&db, "Inspected", &[]);
    let tokens = tokens_for(&server, &Browser::new(&server), &client, &alice, OFFLINE_SCOPES).await;
    let (at, id, rt) = (str_of(&tokens, "access_token"), str_of(&tokens, "id_token"), rt_of(&tokens));

    // An access token, checked against this server's keys in its database.
    let out = inspect(&db, &server, &[at], &[], None).ok();
    for needle in [
        "Kind:    access token (RFC 9068 JWT)",
        "pass  signature",
        "published by this server's database (SQLite file",
        &format!("pass  issuer      {}", server.issuer),
        "(expires in 15 min)",
        "skip  audience",
        "Verdict: valid",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?} in:\n{}", out.stdout);
    }
    let report = inspect(&db, &server, &[at, "--json"], &[], None).ok().json();
    assert_eq!((report["kind"].as_str(), report["valid"].as_bool()), (Some("access_token"), Some(true)));
    assert_eq!(report["claims"]["sub"], alice.id.as_str());
    assert_eq!(report["header"]["typ"], "at+jwt");
    assert!(report["times"]["exp"]["utc"].as_str().unwrap().ends_with('Z'));
    assert_eq!(report["times"]["exp"]["relative"], "in 15 min");
    // From standard input, as a pasted header.
    inspect(&db, &server, &["-"], &[], Some(&format!("Bearer {at}\n"))).ok();

    // The ID token, for this client; then for an audience it is not for.
    let report = inspect(&db, &server, &[id, "--audience", &client.id, "--json"], &[], None).ok().json();
    assert_eq!(report["kind"], "id_token");
    assert_eq!(check(&report, "audience").0, "pass");
    let out = inspect(&db, &server, &[id, "--audience", "https://api.elsewhere"], &[], None);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("FAIL  audience") && out.stdout.contains("NOT VALID: audience failed"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("audience failed"), "{}", out.stderr);

    // A changed signature.
    let mut tampered = at.to_string();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let report = inspect(&db, &server, &[&tampered, "--json"], &[], None);
    assert_eq!(report.code, 1);
    assert_eq!(check(&report.json(), "signature").0, "fail");

    // Another server, elsewhere, with short-lived access tokens.
    let other_db = TestDb::new(Backend::Sqlite).await;
    let other = Server::start(&other_db, &[("LATCHKEY_TOKENS_ACCESS_TOKEN_TTL_SECONDS", "1")]).await;
    // Our token checked against its database: unknown key, foreign issuer, with the hint.
    let report = inspect(&other_db, &other, &[at, "--json"], &[], None);
    assert_eq!(report.code, 1);
    let report = report.json();
    assert!(check(&report, "signature").1.contains("does not publish"), "{report}");
    assert!(check(&report, "issuer").1.contains(&format!("--issuer {}", server.issuer)), "{report}");
    // With --issuer: discovery, then the JWKS, over HTTP.
    let out = inspect(&other_db, &other, &[at, "--issuer", &server.issuer], &[], None).ok();
    assert!(out.stdout.contains(&format!("published by {}/jwks", server.issuer)), "{}", out.stdout);
    let report = inspect(&other_db, &other, &[at, "--jwks-uri", &server.url("/jwks"), "--json"], &[], None).ok().json();
    assert_eq!(check(&report, "issuer").0, "skip", "no issuer given: {report}");
    // Against the wrong issuer.
    let report = inspect(&db, &server, &[at, "--issuer", &other.issuer, "--json"], &[], None);
    assert_eq!(report.code, 1);
    let failed: Vec<String> = report.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["check"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed, ["signature", "issuer"]);

    // An expired token.
    let machine = create_client(&other_db, "Machine", &["--grant-type", "client_credentials", "--scope", "api:read"]);
    let cc = token(
        &other,
        Auth::Basic(&machine.id, machine.secret()),
        &Params::new().set("grant_type", "client_credentials"),
    )
    .await
    .json();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let out = inspect(&other_db, &other, &[str_of(&cc, "access_token")], &[], None);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("FAIL  expiry      expired") && out.stdout.contains("ago"), "{}", out.stdout);

    // No database to read the keys from: the check fails and says where it
    // looked; nothing is created there.
    let missing = db.dir.path().join("elsewhere/latchkey.db");
    let url = format!("sqlite://{}", missing.display());
    let out = inspect(&db, &server, &[at], &[("LATCHKEY_DATABASE_URL", &url)], None);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains(&format!("no database at {}", missing.display())), "{}", out.stdout);
    assert!(!missing.parent().unwrap().exists(), "inspect creates no database");

    // A refresh token: looked up by its hash, never printed.
    let out = inspect(&db, &server, &[&rt], &[], None).ok();
    assert!(out.stdout.contains("Kind:    refresh token"), "{}", out.stdout);
    assert!(out.stdout.contains(&client.id) && out.stdout.contains(&alice.id), "{}", out.stdout);
    assert!(out.stdout.contains("Verdict: active"), "{}", out.stdout);
    assert!(!out.stdout.contains(&rt), "the token itself is not printed");
    let next = refresh_ok(&server, &client, &rt).await;
    let report = inspect(&db, &server, &[&rt, "--json"], &[], None);
    assert_eq!(report.code, 1, "a rotated refresh token is no longer active");
    let report = report.json();
    assert_eq!(report["kind"], "refresh token");
    assert!(report["reason"].as_str().unwrap().contains("already used"), "{report}");
    assert_eq!(
        report["token"]["family"],
        inspect(&db, &server, &[&rt_of(&next), "--json"], &[], None).ok().json()["token"]["family"]
    );
    let out = inspect(&db, &server, &["Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9v"], &[], None);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("knows no such token"), "{}", out.stdout);

    // An admin API token.
    let created = cli(&db, &["admin", "token", "create", "--name", "ci", "--scope", "audit:read", "--json"], &[], None)
        .ok()
        .json();
    let value = created["token"].as_str().unwrap();
    let out = inspect(&db, &server, &[value], &[], None).ok();
    assert!(out.stdout.contains("admin API token") && out.stdout.contains("audit:read"), "{}", out.stdout);
    assert!(!out.stdout.contains(value));
}

fn rt_of(v: &Value) -> String {
    v["refresh_token"].as_str().unwrap_or_else(|| panic!("a refresh_token in {v}")).to_string()
}
