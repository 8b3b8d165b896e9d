//! The admin console's Clients and Users pages (docs/admin-console.md) in a
//! real browser, on every backend: one headless Chromium session per backend.
//!
//! - A read-only admin sees the pages (never a secret) and every change is
//!   refused on the server: the forms are posted with a valid CSRF token.
//! - A full admin registers a client (a bad redirect URI shown beside its
//!   field, what was entered kept; the secret shown once), edits it, rotates
//!   its secret, is refused deleting the console's own client, deletes one
//!   after the confirmation page, and sees who granted an app access and is
//!   signed in to it.
//! - Users: search, create (bad claims shown as field errors), edit claims and
//!   groups (an invalid email and phone number shown beside their fields),
//!   disable and enable, set a password, unlock, remove second factors, end a
//!   session, revoke a consent, delete.
//! - POSTs without the session's CSRF token change nothing; every change is in
//!   the audit log with the admin as actor.
//! - axe-core: no violation of serious or critical impact on these pages.
//!
//! Screenshots go to `LATCHKEY_TEST_SCREENSHOT_DIR` when set (the docs'
//! images/admin-console/), else to the test's temporary folder.

mod common;

use std::path::PathBuf;

use common::flow::{Browser as HttpBrowser, User, code_request, create_user, pkce, public};
use latchkey_tests::console::{self, axe_source, check_accessibility};
use latchkey_tests::webdriver::{Browser, browser_available};
use latchkey_tests::*;

const PASSWORD: &str = "correct horse battery";
const GROUPS: &str = "it-admins=full,auditors=read-only";

async fn sign_in(browser: &Browser, server: &Server, user: &User) {
    console::sign_in(browser, server, &user.username, &user.password).await;
    browser.wait_for_source("id=\"count-users\"", "the dashboard").await;
}

/// Posts a form from the page with this page's CSRF token.
async fn post_from_page(browser: &Browser, action: &str, fields: &[(&str, &str)]) {
    console::post_from_page(browser, action, fields, None).await;
}

/// Replaces the text of a field.
async fn set(browser: &Browser, css: &str, text: &str) {
    browser.clear(css).await;
    browser.type_into(css, text).await;
}

fn audit(db: &TestDb, kind: &str) -> Vec<Value> {
    let out = cli_json(db, &["audit", "list", "--kind", kind]);
    out.as_array().cloned().or_else(|| out["items"].as_array().cloned()).unwrap_or_default()
}

/// Whether `actor` recorded an event of `kind` about `subject`.
fn audited(db: &TestDb, kind: &str, actor: &str, subject: &str) -> bool {
    audit(db, kind).iter().any(|e| e["actor"] == json!(actor) && e["subject"] == json!(subject))
}

async fn console_accounts(backend: Backend) {
    if !browser_available() {
        return;
    }
    let db = TestDb::new(backend).await;
    let server =
        Server::start(&db, &[("LATCHKEY_ADMIN_CONSOLE", "true"), ("LATCHKEY_ADMIN_CONSOLE_GROUPS", GROUPS)]).await;
    let ada = create_user(&db, "ada", PASSWORD, &["--group", "it-admins"]);
    let rita = create_user(&db, "rita", PASSWORD, &["--group", "auditors"]);
    let bob = create_user(&db, "bob", PASSWORD, &["--email", "bob@example.com"]);
    // Bob granted an app access and is signed in to it.
    let app = public(&db);
    let flow = HttpBrowser::new(&server).follow_to_code(&code_request(&app.id, &pkce()), &bob).await;
    assert!(flow.params.iter().any(|(k, _)| k == "code"), "bob signed in: {flow:?}");
    let shots = match std::env::var_os("LATCHKEY_TEST_SCREENSHOT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => db.dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&shots).unwrap();
    let shot = |name: &str| shots.join(format!("{name}.png"));
    let axe = axe_source();
    let browser = Browser::start(db.dir.path()).await;
    let bob_page = server.url(&format!("/admin/users/{}", bob.id));
    let app_page = server.url(&format!("/admin/clients/{}", app.id));

    // Read-only: sees the pages, no secret, no form; the server refuses the POSTs.
    sign_in(&browser, &server, &rita).await;
    browser.navigate(&app_page).await;
    let page = browser.wait_for_source("id=\"client-id\"", "the app's page").await;
    assert!(page.contains("your role may not change them") && !page.contains("id=\"save-client\""), "{page}");
    assert!(!page.contains("client-secret") && !page.contains("rotate-secret"));
    post_from_page(
        &browser,
        "/admin/clients/new",
        &[("client_name", "Sneaky"), ("redirect_uris", "https://x.example/cb")],
    )
    .await;
    assert!(browser.source().await.contains("may not create, change or delete clients"));
    browser.navigate(&bob_page).await;
    browser.wait_for_source("id=\"user-id\"", "bob's page").await;
    assert!(!browser.source().await.contains("id=\"disable-user\""));
    for action in ["disable", "password", "unlock", "factors/reset", "sessions/end", "delete"] {
        post_from_page(&browser, &format!("/admin/users/{}/{action}", bob.id), &[("password", "x y z w v u")]).await;
        let refused = browser.source().await;
        assert!(refused.contains("may not"), "{action}: {refused}");
    }
    post_from_page(&browser, &format!("/admin/users/{}", bob.id), &[("username", "robert")]).await;
    assert!(browser.source().await.contains("may not create, edit or delete users"));
    let shown = cli_json(&db, &["user", "show", "bob"]);
    assert_eq!((&shown["username"], &shown["disabled"]), (&json!("bob"), &json!(false)), "nothing changed");
    assert_eq!(cli_json(&db, &["client", "list"]).as_array().map(Vec::len), Some(2), "nothing registered");
    browser.call("DELETE", "/cookie", None).await;

    // A full admin: clients.
    let actor = format!("console:{}", ada.id);
    sign_in(&browser, &server, &ada).await;
    browser.navigate(&server.url("/admin/clients")).await;
    browser.wait_for_source("id=\"clients\"", "the client list").await;
    assert_eq!(browser.texts("#clients tbody tr").await.len(), 2, "the app and the console's client");
    check_accessibility(&browser, &axe, "the client list").await;
    browser.screenshot(&shot("clients")).await;
    browser.type_into("#client-search", "public").await;
    browser.click("form.filters button[type=submit]").await;
    // The list showed "Public App" already: wait for the answer to the search.
    browser.wait_for_source("value=\"public\"", "the search").await;
    assert_eq!(browser.texts("#clients tbody tr").await.len(), 1);

    // Register: a redirect URI with a fragment is refused beside its field, the values kept.
    browser.navigate(&server.url("/admin/clients/new")).await;
    browser.wait_for_source("id=\"save-client\"", "the new-client form").await;
    check_accessibility(&browser, &axe, "the new-client form").await;
    set(&browser, "#f-client_name", "Payroll").await;
    set(&browser, "#f-redirect_uris", "https://payroll.example/cb#frag").await;
    browser.click("#save-client").await;
    let page = browser.wait_for_source("id=\"f-redirect_uris-error\"", "the field error").await;
    assert_eq!(browser.attribute("#f-redirect_uris", "aria-invalid").await, "true");
    assert!(page.contains("https://payroll.example/cb#frag") && page.contains("value=\"Payroll\""), "kept");
    check_accessibility(&browser, &axe, "the form with errors").await;
    set(&browser, "#f-redirect_uris", "https://payroll.example/cb").await;
    browser.click("#save-client").await;
    browser.wait_for_source("id=\"client-secret\"", "the secret, once").await;
    let client_id = browser.text("#client-id").await;
    let secret = browser.text("#client-secret").await;
    assert!(secret.len() >= 40, "{secret}");
    assert!(audited(&db, "client.created", &actor, &client_id));

    // Edit: a new name and PAR; the secret is on no page but the one after.
    let payroll = server.url(&format!("/admin/clients/{client_id}"));
    browser.navigate(&payroll).await;
    let page = browser.wait_for_source("id=\"save-client\"", "the client's page").await;
    assert!(!page.contains(&secret), "the secret is shown once only");
    set(&browser, "#f-client_name", "Payroll EU").await;
    browser.click("#f-require_pushed_authorization_requests").await;
    browser.click("#f-dpop_bound_access_tokens").await;
    browser.click("#save-client").await;
    browser.wait_for_source("Saved Payroll EU.", "the flash").await;
    check_accessibility(&browser, &axe, "a client's page").await;
    browser.screenshot(&shot("client-edit")).await;
    let shown = cli_json(&db, &["client", "show", &client_id]);
    assert_eq!(shown["client_name"], "Payroll EU");
    assert_eq!(shown["require_pushed_authorization_requests"], true, "{shown}");
    assert_eq!(shown["dpop_bound_access_tokens"], true, "{shown}");
    assert_eq!(shown["redirect_uris"], json!(["https://payroll.example/cb"]), "the rest kept");
    assert!(audited(&db, "client.updated", &actor, &client_id));

    // Rotate: a new secret, shown once.
    browser.click("#rotate-secret").await;
    browser.wait_for_source("the old secret no longer works", "the new secret").await;
    let rotated = browser.text("#client-secret").await;
    assert_ne!(rotated, secret);
    assert!(audited(&db, "client.secret_rotated", &actor, &client_id));

    // The console's own client: the refusal is shown. Payroll: deleted after the confirmation.
    browser.navigate(&server.url("/admin/clients/latchkey-admin-console/delete")).await;
    browser.wait_for_source("id=\"confirm\"", "the confirmation").await;
    check_accessibility(&browser, &axe, "the confirmation page").await;
    browser.click("#confirm").await;
    let refused = browser.wait_for_source("Not deleted:", "the refusal").await;
    assert!(refused.contains("admin console"), "{refused}");
    browser.navigate(&format!("{payroll}/delete")).await;
    browser.wait_for_source("id=\"confirm\"", "the confirmation").await;
    browser.click("#confirm").await;
    browser.wait_for_source(&format!("Deleted client {client_id}."), "the deletion").await;
    assert_ne!(cli(&db, &["client", "show", &client_id], &[], None).code, 0, "gone");
    assert!(audited(&db, "client.deleted", &actor, &client_id));

    // The app: who granted it access and is signed in to it.
    browser.navigate(&app_page).await;
    browser.wait_for_source("id=\"grants\"", "the app's grants").await;
    assert!(browser.text("#grants").await.contains("bob"));
    assert!(browser.text("#client-sessions").await.contains("bob"));

    // Users: search, then bob's page.
    browser.navigate(&server.url("/admin/users?q=BOB@example")).await;
    browser.wait_for_source("id=\"users\"", "the search").await;
    assert_eq!(browser.texts("#users tbody tr").await.len(), 1);
    check_accessibility(&browser, &axe, "the user list").await;
    browser.click("#users tbody a").await;
    browser.wait_for_source("id=\"user-id\"", "bob's page").await;
    check_accessibility(&browser, &axe, "a user's page").await;

    // Claims: an invalid email address and phone number, each beside its field, nothing saved.
    set(&browser, "#f-email", "not-an-email").await;
    set(&browser, "#f-phone_number", "call me maybe").await;
    browser.click("#save-user").await;
    let page = browser.wait_for_source("id=\"f-email-error\"", "the field errors").await;
    assert!(page.contains("id=\"f-phone_number-error\""), "every field's error at once");
    assert!(page.contains("value=\"not-an-email\"") && page.contains("value=\"call me maybe\""), "kept");
    assert_eq!(browser.attribute("#f-email", "aria-invalid").await, "true");
    check_accessibility(&browser, &axe, "a user's page with errors").await;
    assert_eq!(cli_json(&db, &["user", "show", "bob"])["claims"]["email"], "bob@example.com");
    set(&browser, "#f-email", "bob@example.org").await;
    set(&browser, "#f-phone_number", "+49 30 123456").await;
    set(&browser, "#f-given_name", "Robert").await;
    set(&browser, "#f-groups", "staff\npayroll").await;
    browser.click("#save-user").await;
    browser.wait_for_source("Saved bob.", "the flash").await;
    let shown = cli_json(&db, &["user", "show", "bob"]);
    assert_eq!(shown["claims"]["email"], "bob@example.org");
    assert_eq!(shown["claims"]["phone_number"], "+4930123456", "normalised to E.164");
    assert_eq!(shown["claims"]["given_name"], "Robert");
    assert_eq!(shown["groups"], json!(["staff", "payroll"]));
    assert!(audited(&db, "user.updated", &actor, &bob.id));
    browser.screenshot(&shot("user")).await;

    // Support actions.
    browser.click("#disable-user").await;
    browser.wait_for_source("Disabled bob.", "the flash").await;
    assert_eq!(cli_json(&db, &["user", "show", "bob"])["disabled"], true);
    browser.click("#enable-user").await;
    browser.wait_for_source("Enabled bob.", "the flash").await;
    assert_eq!(cli_json(&db, &["user", "show", "bob"])["disabled"], false);
    set(&browser, "#new-password", "short").await;
    browser.click("#set-password").await;
    browser.wait_for_source("Password not set", "the policy's refusal").await;
    set(&browser, "#new-password", "another horse battery staple").await;
    browser.click("#set-password").await;
    browser.wait_for_source("Set a new password for bob.", "the flash").await;
    browser.click("#unlock-user").await;
    browser.wait_for_source("bob was not locked.", "the flash").await;
    assert!(audited(&db, "user.unlocked", &actor, &bob.id));
    post_from_page(&browser, &format!("/admin/users/{}/factors/reset", bob.id), &[]).await;
    browser.wait_for_source("bob had no second factor.", "the flash").await;
    assert_eq!(browser.texts("#user-sessions tbody tr").await.len(), 1, "bob's session");
    browser.click("#user-sessions td form button").await;
    browser.wait_for_source("Ended 1 session.", "the flash").await;
    assert!(audited(&db, "session.revoked", &actor, &bob.id));
    browser.click("#user-consents td form button").await;
    browser.wait_for_source("Revoked the access of", "the flash").await;
    assert!(audited(&db, "consent.revoked", &actor, &bob.id));
    assert!(browser.source().await.contains("bob has granted no app access."));

    // CSRF: without the session's token, nothing happens.
    let cookies = browser.cookies().await;
    let c = cookies.iter().find(|c| c["name"] == "latchkey_console").expect("the console cookie");
    let cookie = format!("latchkey_console={}", c["value"].as_str().unwrap());
    for body in ["", "csrf=forged-token"] {
        let res = http()
            .post(server.url(&format!("/admin/users/{}/disable", bob.id)))
            .header("Cookie", &cookie)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{body:?}");
    }
    assert_eq!(cli_json(&db, &["user", "show", "bob"])["disabled"], false, "not disabled");

    // Create a user: a bad address is shown beside its field; then created.
    browser.navigate(&server.url("/admin/users/new")).await;
    browser.wait_for_source("id=\"create-user\"", "the new-user form").await;
    check_accessibility(&browser, &axe, "the new-user form").await;
    set(&browser, "#f-username", "carol").await;
    set(&browser, "#f-email", "carol.example.com").await;
    browser.click("#create-user").await;
    browser.wait_for_source("id=\"f-email-error\"", "the field error").await;
    assert_eq!(browser.attribute("#f-username", "value").await, "carol", "kept");
    set(&browser, "#f-email", "carol@example.com").await;
    set(&browser, "#f-password", PASSWORD).await;
    browser.click("#create-user").await;
    browser.wait_for_source("Created carol.", "the flash").await;
    let carol = cli_json(&db, &["user", "show", "carol"]);
    assert_eq!(
        (carol["claims"]["email"].clone(), carol["has_password"].clone()),
        (json!("carol@example.com"), json!(true))
    );
    let carol_id = carol["id"].as_str().unwrap().to_string();
    assert!(audited(&db, "user.created", &actor, &carol_id));
    browser.click("#delete-user").await;
    browser.wait_for_source("id=\"confirm\"", "the confirmation").await;
    browser.click("#confirm").await;
    browser.wait_for_source(&format!("Deleted user {carol_id}."), "the deletion").await;
    assert!(audited(&db, "user.deleted", &actor, &carol_id));
    // Every change names the console.
    let event = audit(&db, "user.updated").into_iter().find(|e| e["actor"] == json!(actor)).unwrap();
    assert_eq!(event["details"]["via"], "admin console", "{event}");
    browser.quit().await;
}

on_both_backends!(console_accounts);
