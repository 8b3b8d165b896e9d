//! `/account` (docs/account.md): a person sees the apps they allowed and cuts
//! them off (the app's refresh tokens fail, its access tokens turn inactive),
//! sees and ends their sessions, and changes their password; every form is
//! bound to the session by a CSRF token. Over real HTTP, on every backend.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    revoking_an_app_ends_its_tokens_and_its_consent,
    the_account_page_needs_its_own_sign_in_and_csrf,
    sessions_can_be_seen_and_ended,
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
);

const SESSION_COOKIE: &str = "latchkey_session";

/// Signs in at `/account` and returns the account page.
async fn account_sign_in(b: &Browser, username: &str, password: &str) -> Page {
    let form = b.get(&format!("{}/account", b.issuer)).await;
    assert_eq!(form.status, 200, "{}", form.describe());
    let csrf = form.input("csrf").expect("the sign-in form has a CSRF field");
    let res = b
        .post_form(
            "/account/login",
            &Params::new().set("csrf", &csrf).set("username", username).set("password", password),
        )
        .await;
    assert_eq!(res.status, 303, "sign-in at /account: {}", res.describe());
    assert_eq!(res.location().as_deref(), Some("/account"));
    account(b).await
}

/// `GET /account` for a signed-in browser.
async fn account(b: &Browser) -> Page {
    account_at(b, "/account").await
}

/// `GET path` (the account page, maybe with a notice) for a signed-in browser.
async fn account_at(b: &Browser, path: &str) -> Page {
    let page = b.get(&format!("{}{path}", b.issuer)).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.input("current_password").is_some(), "the account page, not the sign-in form: {}", page.describe());
    page
}

fn lists_app(page: &Page, client_id: &str) -> bool {
    page.body.contains(&format!("data-client-id=\"{client_id}\""))
}

fn listed_sessions(page: &Page) -> Vec<String> {
    elements(&page.body)
        .iter()
        .filter(|e| e.attr("name") == Some("sid"))
        .filter_map(|e| e.attr("value").map(str::to_string))
        .collect()
}

fn audit_kinds(db: &TestDb, kind: &str) -> Vec<Value> {
    cli_json(db, &["audit", "list", "--kind", kind]).as_array().expect("a JSON array").clone()
}

async fn revoking_an_app_ends_its_tokens_and_its_consent(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let app = offline_client(&db, "Photo Printer", &[]);
    let other = offline_client(&db, "Calendar", &[]);
    let b = Browser::new(&server);

    // Alice allows two apps; the first gets a refresh token, and also an
    // access token from a flow without one (code only).
    let with_refresh = tokens_for(&server, &b, &app, &alice, OFFLINE_SCOPES).await;
    let code_only = tokens_for(&server, &b, &app, &alice, "openid profile").await;
    assert!(code_only.get("refresh_token").is_none(), "no offline_access, no refresh token: {code_only}");
    let kept = tokens_for(&server, &b, &other, &alice, OFFLINE_SCOPES).await;
    let (rt, at, at_code_only) = (
        str_of(&with_refresh, "refresh_token"),
        str_of(&with_refresh, "access_token"),
        str_of(&code_only, "access_token"),
    );
    for token in [at, at_code_only] {
        assert!(is_active(&server, auth_of(&app), token).await, "active before the revocation");
    }

    // The account page lists both apps, with names and what they may do.
    let page = account(&b).await;
    assert!(lists_app(&page, &app.id) && lists_app(&page, &other.id), "{}", page.describe());
    assert!(page.body.contains("Photo Printer") && page.body.contains("Calendar"));
    assert!(page.body.contains("Keep access while you are not using it"), "scopes in plain words");
    assert!(page.body.contains(" UTC"), "dates shown");

    // Without the right CSRF token nothing happens.
    for csrf in ["", "forged"] {
        let res = b.post_form("/account/apps/revoke", &Params::new().set("csrf", csrf).set("client_id", &app.id)).await;
        assert_eq!(res.status, 403, "CSRF {csrf:?}: {}", res.describe());
    }
    assert!(is_active(&server, auth_of(&app), at).await, "a refused form revoked nothing");

    let csrf = page.input("csrf").unwrap();
    let res = b.post_form("/account/apps/revoke", &Params::new().set("csrf", &csrf).set("client_id", &app.id)).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    assert_eq!(res.location().as_deref(), Some("/account?done=app-revoked"));
    let page = account_at(&b, "/account?done=app-revoked").await;
    assert!(!lists_app(&page, &app.id), "the app is gone from the list");
    assert!(lists_app(&page, &other.id), "the other app is untouched");
    assert!(page.body.contains("no longer has access"), "a notice: {}", page.describe());

    // The app's refresh token fails; its access tokens are inactive at once.
    let res = refresh(&server, auth_of(&app), rt, None).await;
    assert_oauth_error(&res, 400, "invalid_grant", "refresh after the person revoked the app");
    for (token, what) in [(at, "with a refresh token"), (at_code_only, "code only")] {
        let v = introspect_ok(&server, auth_of(&app), token).await;
        assert_inactive(&v, &format!("introspection of the access token issued {what}"));
        assert_eq!(userinfo_status(&server, token).await, 401, "UserInfo, access token issued {what}");
    }
    // The other app keeps working.
    assert!(is_active(&server, auth_of(&other), str_of(&kept, "access_token")).await);
    refresh_ok(&server, &other, str_of(&kept, "refresh_token")).await;

    // The consent is gone: the app must ask again.
    let flow = b.drive(b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await, None, "allow").await;
    assert_eq!(flow.saw_consent, 1, "consent asked again after revocation");

    let events = audit_kinds(&db, "consent.revoked");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["client_id"], app.id.as_str(), "{}", events[0]);
    assert_eq!(events[0]["subject"], alice.id.as_str(), "{}", events[0]);
}

async fn the_account_page_needs_its_own_sign_in_and_csrf(backend: Backend) {
    let Env { db: _db, server, alice } = env(backend, &[]).await;
    let b = Browser::new(&server);

    // Signed out: the sign-in form, with a CSRF cookie, and no account data.
    let form = b.get(&format!("{}/account", server.issuer)).await;
    assert_eq!(form.status, 200);
    assert!(form.input("password").is_some() && form.input("current_password").is_none(), "{}", form.describe());
    assert!(form.set_cookie("latchkey_csrf").is_some(), "a CSRF cookie for the sign-in form");
    assert_page_headers(&form, "the account sign-in form");
    let csrf = form.input("csrf").unwrap();

    // Wrong password, missing or forged CSRF.
    let wrong = b
        .post_form("/account/login", &Params::new().set("csrf", &csrf).set("username", "alice").set("password", "nope"))
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.describe());
    assert!(wrong.body.contains("Incorrect username or password"));
    assert!(wrong.set_cookie(SESSION_COOKIE).is_none());
    let forged = b
        .post_form(
            "/account/login",
            &Params::new().set("csrf", "forged").set("username", "alice").set("password", &alice.password),
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.describe());
    assert!(forged.set_cookie(SESSION_COOKIE).is_none(), "no session from a forged form");

    // Forms of a signed-in person refuse a browser that is not signed in.
    let res = b.post_form("/account/apps/revoke", &Params::new().set("csrf", &csrf).set("client_id", "x")).await;
    assert_eq!((res.status.as_u16(), res.location().as_deref()), (303, Some("/account")), "{}", res.describe());

    // Signing in gives an HttpOnly session cookie and the account page.
    let page = account_sign_in(&b, "alice", &alice.password).await;
    assert!(page.body.contains("alice"));
    assert_page_headers(&page, "the account page");
    let cookie = b.cookie(SESSION_COOKIE).expect("a session cookie");
    // The account page's CSRF token is not the login form's, and changes with the session.
    let account_csrf = page.input("csrf").unwrap();
    assert_ne!(account_csrf, csrf);
    assert!(!page.body.contains(&cookie), "the session id is never in the page");

    // The session from /account also serves the authorization flow (one sign-in).
    let db_client = create_client(&_db, "RP", &["--redirect-uri", CB]);
    let flow =
        b.drive(b.authorize(&code_request(&db_client.id, &pkce()).set("scope", "openid")).await, None, "allow").await;
    assert_eq!(flow.saw_login, 0, "already signed in");

    // Bad input gets a page, not a 500.
    let res = b.post_form("/account/apps/revoke", &Params::new().set("csrf", &account_csrf)).await;
    assert_eq!(res.status, 400, "{}", res.describe());
    let long = "x".repeat(5000);
    let res = b.post_form("/account/sessions/end", &Params::new().set("csrf", &account_csrf).set("sid", &long)).await;
    assert_eq!(res.status, 400, "{}", res.describe());
    let res = b.get(&format!("{}/account?done=%3Cscript%3E", server.issuer)).await;
    assert_eq!(res.status, 200);
    assert!(!res.body.contains("<script>"), "the query is never echoed");
}

async fn sessions_can_be_seen_and_ended(backend: Backend) {
    let Env { db: _db, server, alice } = env(backend, &[]).await;
    let (b1, b2) = (Browser::new(&server), Browser::new(&server));
    account_sign_in(&b2, "alice", &alice.password).await;
    let page = account_sign_in(&b1, "alice", &alice.password).await;
    let sids = listed_sessions(&page);
    assert_eq!(sids.len(), 2, "both sessions listed: {}", page.describe());
    assert!(page.body.contains("This browser"));

    // b2's session is the one b2's page marks as its own.
    let b2_page = account(&b2).await;
    let b2_sid = {
        let body = &b2_page.body;
        let at = body.find("<strong>This browser</strong>").expect("current session marked");
        let start = body[..at].rfind("data-sid=\"").expect("data-sid") + "data-sid=\"".len();
        body[start..start + body[start..].find('"').unwrap()].to_string()
    };
    assert!(sids.contains(&b2_sid));

    // Another person's (or an unknown) session cannot be ended from here.
    let csrf = page.input("csrf").unwrap();
    let res = b1.post_form("/account/sessions/end", &Params::new().set("csrf", &csrf).set("sid", "unknown")).await;
    assert_eq!(res.status, 400, "{}", res.describe());

    // b1 ends b2's session: b2 is signed out, b1 is not.
    let res = b1.post_form("/account/sessions/end", &Params::new().set("csrf", &csrf).set("sid", &b2_sid)).await;
    assert_eq!(res.location().as_deref(), Some("/account?done=session-ended"), "{}", res.describe());
    let b2_after = b2.get(&format!("{}/account", server.issuer)).await;
    assert!(b2_after.input("current_password").is_none(), "b2 is signed out: {}", b2_after.describe());
    let page = account(&b1).await;
    assert_eq!(listed_sessions(&page).len(), 1);

    // Ending one's own session signs out and clears the cookie.
    let own = listed_sessions(&page).remove(0);
    let res = b1.post_form("/account/sessions/end", &Params::new().set("csrf", &csrf).set("sid", &own)).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    assert!(res.set_cookie(SESSION_COOKIE).is_some_and(|c| c.deletes()), "the session cookie is cleared");
    let after = b1.get(&format!("{}/account", server.issuer)).await;
    assert!(after.input("current_password").is_none(), "signed out");
}

async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let (b1, b2) = (Browser::new(&server), Browser::new(&server));
    account_sign_in(&b2, "alice", &alice.password).await;
    let page = account_sign_in(&b1, "alice", &alice.password).await;
    let csrf = page.input("csrf").unwrap();
    let change = |current: &str, new: &str, confirm: &str| {
        Params::new()
            .set("csrf", &csrf)
            .set("current_password", current)
            .set("new_password", new)
            .set("confirm_password", confirm)
    };
    let new_password = "a much better passphrase";

    for (form, message, what) in [
        (change("wrong password", new_password, new_password), "current password is not correct", "wrong current"),
        (change(&alice.password, new_password, "something else"), "do not match", "mismatch"),
        (change(&alice.password, "short", "short"), "not accepted", "too short"),
    ] {
        let res = b1.post_form("/account/password", &form).await;
        assert_eq!(res.status, 400, "{what}: {}", res.describe());
        assert!(res.body.contains(message), "{what}: {}", res.describe());
        assert!(!res.body.contains(new_password), "{what}: passwords are never echoed");
    }
    // Still the old password.
    account_sign_in(&Browser::new(&server), "alice", &alice.password).await;

    let res = b1.post_form("/account/password", &change(&alice.password, new_password, new_password)).await;
    assert_eq!(res.location().as_deref(), Some("/account?done=password-changed"), "{}", res.describe());
    let page = account_at(&b1, "/account?done=password-changed").await;
    assert!(page.body.contains("password has been changed"), "{}", page.describe());
    assert_eq!(listed_sessions(&page).len(), 1, "every other session ended");
    let b2_after = b2.get(&format!("{}/account", server.issuer)).await;
    assert!(b2_after.input("current_password").is_none(), "b2 signed out");

    // The old password no longer works, the new one does.
    let fresh = Browser::new(&server);
    let form = fresh.get(&format!("{}/account", server.issuer)).await;
    let res = fresh
        .post_form(
            "/account/login",
            &Params::new()
                .set("csrf", &form.input("csrf").unwrap())
                .set("username", "alice")
                .set("password", &alice.password),
        )
        .await;
    assert_eq!(res.status, 401, "the old password: {}", res.describe());
    account_sign_in(&fresh, "alice", new_password).await;

    let changed = audit_kinds(&db, "password.changed");
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["subject"], alice.id.as_str());
    assert_eq!(audit_kinds(&db, "password.change_failed").len(), 1);
    let all = cli_json(&db, &["audit", "list", "--limit", "1000"]).to_string();
    assert!(!all.contains(new_password) && !all.contains(&alice.password), "no password in the audit log");
    assert!(!server.log().contains(new_password), "no password in the server log");
}
