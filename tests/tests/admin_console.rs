//! The admin console (`/admin`, docs/admin-console.md) in a real browser, on
//! every backend: one headless Chromium session per backend walks through
//! everything, to keep the suite's time low.
//!
//! - Sign-in goes through the real Latchkey login (the console is an OpenID
//!   Connect client of its own server); someone in none of
//!   `admin.console_groups` gets a 403 page (audited).
//! - A read-only admin sees the pages but every change is refused on the
//!   server (a form posted with a valid CSRF token, not only a hidden button).
//! - A full admin ends sessions, rotates keys (first refused by
//!   `keys.min_publish_seconds`, with the reason shown), retires one, filters
//!   and exports the audit log; the audit entries name the admin as actor.
//! - POSTs without or with a wrong CSRF token are refused and change nothing.
//! - Signing out ends the Latchkey session, and with it the console cookie.
//! - axe-core (tests/node/node_modules/axe-core) runs on each page: no
//!   violation of serious or critical impact.
//!
//! Screenshots go to `LATCHKEY_TEST_SCREENSHOT_DIR` when set, else to the
//! test's temporary folder.

mod common;

use std::path::PathBuf;

use common::flow::{Browser as HttpBrowser, code_request, create_user, pkce, public};
use latchkey_tests::console::{
    CONSOLE_ENV, axe_source, check_accessibility, console_cookie, post_from_page, shot, sign_in,
};
use latchkey_tests::webdriver::{Browser, browser_available};
use latchkey_tests::*;

const PASSWORD: &str = "correct horse battery";

fn audit(db: &TestDb, kind: &str) -> Vec<Value> {
    let out = cli_json(db, &["audit", "list", "--kind", kind]);
    out.as_array().cloned().or_else(|| out["items"].as_array().cloned()).unwrap_or_default()
}

async fn admin_console(backend: Backend) {
    if !browser_available() {
        return;
    }
    let db = TestDb::new(backend).await;
    let mut env = CONSOLE_ENV.to_vec();
    env.push(("LATCHKEY_ADMIN_ENABLED", "true"));
    let server = Server::start(&db, &env).await;
    let ada = create_user(&db, "ada", PASSWORD, &["--group", "it-admins"]);
    let rita = create_user(&db, "rita", PASSWORD, &["--group", "auditors"]);
    let nick = create_user(&db, "nick", PASSWORD, &["--group", "staff"]);
    let bob = create_user(&db, "bob", PASSWORD, &[]);
    // The console's client was registered at start, and no door deletes it.
    let shown = cli_json(&db, &["client", "show", "latchkey-admin-console"]);
    assert_eq!(shown["redirect_uris"], json!([server.url("/admin/callback")]), "{shown}");
    let refused = cli(&db, &["client", "delete", "latchkey-admin-console"], &[], None);
    assert_ne!(refused.code, 0, "the CLI refuses to delete the console's client");
    assert!(refused.stderr.contains("admin console"), "{}", refused.stderr);
    let token = cli_json(&db, &["admin", "token", "create", "--name", "t", "--scope", "clients:write"]);
    let res = http()
        .delete(server.url("/admin/api/v1/clients/latchkey-admin-console"))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409, "the admin API refuses too");
    assert!(cli_json(&db, &["client", "show", "latchkey-admin-console"])["client_id"] == "latchkey-admin-console");

    // Bob is signed in twice (two browsers) in an ordinary app.
    let app = public(&db);
    for _ in 0..2 {
        let flow = HttpBrowser::new(&server).follow_to_code(&code_request(&app.id, &pkce()), &bob).await;
        assert!(flow.params.iter().any(|(k, _)| k == "code"), "bob signed in: {flow:?}");
    }

    let shots = match std::env::var_os("LATCHKEY_TEST_SCREENSHOT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => db.dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&shots).unwrap();
    let axe = axe_source();
    let browser = Browser::start(db.dir.path()).await;

    // Someone without a console role: the Latchkey login works, the console refuses.
    sign_in(&browser, &server, &nick.username, &nick.password).await;
    let page = browser.wait_for_source("not in a group that may use the admin console", "the refusal").await;
    assert!(page.contains("nick"), "{page}");
    assert!(!page.contains("/admin/keys"), "no navigation for a stranger");
    check_accessibility(&browser, &axe, "the refusal page").await;
    let refusals = audit(&db, "console.refused");
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(
        (refusals[0]["actor"].clone(), refusals[0]["subject"].clone()),
        (json!(format!("user:{}", nick.id)), json!(nick.id))
    );
    browser.call("DELETE", "/cookie", None).await;

    // A read-only admin sees everything and can change nothing.
    sign_in(&browser, &server, &rita.username, &rita.password).await;
    browser.wait_for_source("id=\"count-users\"", "the dashboard").await;
    assert!(browser.text(".who").await.contains("read-only"));
    browser.navigate(&server.url("/admin/keys")).await;
    let keys_page = browser.wait_for_source("Signing keys", "the keys page").await;
    assert!(!keys_page.contains("id=\"rotate\""), "no rotate button for read-only");
    let keys_before = cli_json(&db, &["keys", "list"]);
    post_from_page(&browser, "/admin/keys/rotate", &[("force", "on")], None).await;
    let refused = browser.source().await;
    assert!(refused.contains("may not rotate or retire signing keys"), "{refused}");
    assert_eq!(cli_json(&db, &["keys", "list"]), keys_before, "nothing rotated");
    shot(&browser, &shots, "read-only-refused").await;
    browser.navigate(&server.url(&format!("/admin/sessions?user={}", bob.username))).await;
    browser.wait_for_source("Active sessions of bob", "bob's sessions").await;
    post_from_page(&browser, "/admin/sessions/end-all", &[("user_id", &bob.id)], None).await;
    assert!(browser.source().await.contains("may not change accounts"), "support actions refused");
    browser.call("DELETE", "/cookie", None).await;

    // A full admin.
    sign_in(&browser, &server, &ada.username, &ada.password).await;
    browser.wait_for_source("id=\"count-users\"", "the dashboard").await;
    assert_eq!(browser.text("#count-users").await, "4");
    assert_eq!(browser.text("#count-clients").await, "2", "the app and the console's client");
    let sessions: u32 = browser.text("#count-sessions").await.parse().unwrap();
    assert!(sessions >= 3, "bob's two sessions and ada's own: {sessions}");
    let sign_ins: u32 = browser.text("#count-sign-ins").await.parse().unwrap();
    assert!(sign_ins >= 5, "every sign-in of the last 24 h: {sign_ins}");
    check_accessibility(&browser, &axe, "the dashboard").await;
    shot(&browser, &shots, "dashboard").await;

    // Sessions: bob's two, end one, then all.
    browser.navigate(&server.url("/admin/sessions")).await;
    browser.wait_for_source("People with active sessions", "the sessions overview").await;
    check_accessibility(&browser, &axe, "the sessions overview").await;
    browser.type_into("#session-user", "bob").await;
    browser.click("form.filters button[type=submit]").await;
    browser.wait_for_source("Active sessions of bob", "bob's sessions").await;
    let ends = browser.texts("td form button").await;
    assert_eq!(ends.len(), 2, "{ends:?}");
    check_accessibility(&browser, &axe, "a person's sessions").await;
    shot(&browser, &shots, "sessions").await;
    browser.click("td form button").await;
    browser.wait_for_source("Ended session", "the flash after ending one").await;
    assert_eq!(browser.texts("td form button").await.len(), 1);

    // CSRF: the same forms without the token, or with another, change nothing.
    let cookie = console_cookie(&browser).await;
    let http = http();
    for body in [format!("user_id={}", bob.id), format!("user_id={}&csrf=forged-token", bob.id)] {
        let res = http
            .post(server.url("/admin/sessions/end-all"))
            .header("Cookie", &cookie)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{body}");
        assert!(res.text().await.unwrap().contains("security token"));
    }
    post_from_page(&browser, "/admin/sessions/end-all", &[("user_id", &bob.id)], Some("wrong")).await;
    assert!(browser.source().await.contains("security token"), "the browser sees the refusal too");
    browser.navigate(&server.url("/admin/sessions?user=bob")).await;
    browser.wait_for_source("Active sessions of bob", "bob's sessions").await;
    assert_eq!(browser.texts("td form button").await.len(), 1, "CSRF-less posts ended nothing");
    browser.click("#end-all").await;
    browser.wait_for_source("Ended 1 session.", "the flash after ending all").await;
    assert!(browser.source().await.contains("bob has no active session"));

    // Keys: a rotation too soon is refused with the reason; forced, it happens; a next key is retired.
    browser.navigate(&server.url("/admin/keys")).await;
    browser.wait_for_source("id=\"rotate\"", "the rotate button").await;
    check_accessibility(&browser, &axe, "the keys page").await;
    browser.click("#rotate").await;
    let refused = browser.wait_for_source("Refused:", "the refusal").await;
    assert!(refused.contains("keys.min_publish_seconds"), "the reason is shown: {refused}");
    shot(&browser, &shots, "keys-refused").await;
    browser.click("#rotate-force").await;
    browser.click("#rotate").await;
    browser.wait_for_source("Rotated. Now signing with", "the rotation").await;
    let keys = cli_json(&db, &["keys", "list"]);
    let next = keys
        .as_array()
        .or_else(|| keys["items"].as_array())
        .unwrap()
        .iter()
        .find(|k| k["state"] == "next")
        .and_then(|k| k["kid"].as_str())
        .expect("a next key")
        .to_string();
    browser.click(&format!("button[aria-label='Retire key {next}']")).await;
    browser.wait_for_source("a new next key was created", "the retirement").await;
    shot(&browser, &shots, "keys").await;

    // The audit log: filtered by actor, the admin's own changes.
    let actor = format!("console:{}", ada.id);
    browser.navigate(&server.url(&format!("/admin/audit?actor={actor}"))).await;
    browser.wait_for_source("id=\"events\"", "the filtered audit log").await;
    let kinds = browser.texts("#events tbody td:nth-child(3)").await;
    for kind in ["console.signed_in", "session.revoked", "key.rotated", "key.retired"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} by {actor}: {kinds:?}");
    }
    check_accessibility(&browser, &axe, "the audit log").await;
    shot(&browser, &shots, "audit").await;
    let export = http
        .get(server.url(&format!("/admin/audit/export?actor={actor}&kind=session.revoked")))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 200);
    assert!(export.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let lines: Vec<Value> = export
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), 2, "one session ended alone, one with end-all: {lines:?}");
    for line in &lines {
        assert_eq!((&line["actor"], &line["subject"]), (&json!(actor), &json!(bob.id)));
        assert_eq!(line["details"]["via"], "admin console");
    }
    // The same in the CLI's view of the log.
    assert!(audit(&db, "key.rotated").iter().any(|e| e["actor"] == json!(actor)));

    // Signing out ends the Latchkey session: the console cookie stops working.
    browser.navigate(&server.url("/admin")).await;
    browser.click(".who button[type=submit]").await;
    browser.wait_for_source("You are signed out of the admin console", "the signed-out page").await;
    let after = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url("/admin/keys"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(after.status().is_redirection(), "{}", after.status());
    assert!(after.headers()["location"].to_str().unwrap().starts_with("/admin/sign-in"));
    browser.navigate(&server.url("/admin")).await;
    browser.wait_for_source("id=\"password\"", "the login page again").await;
    assert_eq!(audit(&db, "console.signed_out").len(), 1);
    browser.quit().await;
}

on_both_backends!(admin_console);
