//! Sign-up and invitations (docs/self-service.md): each `signup.mode`, the
//! sign-in going on after sign-up, the address to confirm before the first
//! token, the password rules, the limit per source address, and
//! invitations made by the CLI and the admin API (single use, expiring,
//! revocable, with groups). Emails are read from the outbox (delivery over
//! real SMTP is tested end to end in `tests/tests/signup.rs`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use latchkey_server::testing::{Browser, ISSUER, TestApp, TestResponse, TestUser};
use serde_json::json;

use crate::common::*;

const GOOD: &str = "a long passphrase nobody guesses";

fn peer(n: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)), 40000)
}

/// Posts the sign-up form `page` shows, with these fields, from `from`.
async fn sign_up(
    b: &Browser<'_>,
    app: &TestApp,
    page: &TestResponse,
    fields: (&str, &str, &str, &str),
    from: SocketAddr,
) -> TestResponse {
    let (username, email, password, confirm) = fields;
    let csrf = page.input("csrf").expect("a CSRF field");
    let interaction = page.input("interaction").unwrap_or_default();
    let form = [
        ("csrf", csrf.as_str()),
        ("interaction", interaction.as_str()),
        ("username", username),
        ("email", email),
        ("password", password),
        ("confirm_password", confirm),
    ];
    b.send(app.post("/signup").form(&form).from_peer(from)).await
}

/// Accepts an invitation's link with this username and password.
async fn accept(b: &Browser<'_>, token: &str, username: &str, password: &str) -> TestResponse {
    b.get(&format!("/invitation?token={token}")).await;
    let csrf = b.cookie("latchkey_csrf").unwrap_or_default();
    let form = [
        ("csrf", csrf.as_str()),
        ("token", token),
        ("username", username),
        ("password", password),
        ("confirm_password", password),
    ];
    b.post_form("/invitation", &form).await
}

async fn admin_token(app: &TestApp) -> String {
    let args = ["admin", "token", "create", "--name", "ops", "--scope", "users:read", "--scope", "users:write"];
    app.cli_json(&args).await["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn sign_up_is_closed_by_default() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let b = app.browser();
    let login = authorize(&b, &code_request(&client.id, &pkce())).await;
    assert!(!login.text().contains("Create an account"), "{}", login.describe());
    let account = b.get("/account").await;
    assert!(!account.text().contains("Create an account"), "{}", account.describe());
    let page = b.get("/signup").await;
    assert_eq!(page.status, 404, "{}", page.describe());
    assert!(page.text().contains("Sign-up is closed"), "{}", page.describe());
    let csrf = b.cookie("latchkey_csrf").unwrap_or_else(|| "x".repeat(43));
    b.set_cookie("latchkey_csrf", &csrf);
    let form = [("csrf", csrf.as_str()), ("username", "mallory"), ("email", "m@example.com"), ("password", GOOD)];
    let res = b.post_form("/signup", &form).await;
    assert_eq!(res.status, 404, "{}", res.describe());
    assert!(app.store().find_user_by_username("mallory").await.unwrap().is_none());
    assert_eq!(b.get("/invitation?token=abc").await.status, 404);
}

#[tokio::test]
async fn invitations_make_accounts_once_with_their_address_and_groups() {
    let mut env = EMAIL_ENV.to_vec();
    env.extend([("LATCHKEY_SIGNUP_MODE", "invite"), ("LATCHKEY_ADMIN_ENABLED", "true")]);
    let app = TestApp::with_env(&env).await;
    let b = app.browser();

    // Invite-only: no open sign-up, and the page says how to get in.
    let page = b.get("/signup").await;
    assert_eq!(page.status, 404, "{}", page.describe());
    assert!(page.text().contains("by invitation"), "{}", page.describe());

    // The admin API invites Ann into two groups; the link is emailed.
    let admin = admin_token(&app).await;
    let body = json!({"email": "ann@example.com", "groups": ["staff", "beta"]});
    let res = app.post("/admin/api/v1/invitations").bearer(&admin).json(&body).await;
    assert_eq!(res.status, 201, "{}", res.describe());
    let created = res.json();
    assert_eq!(created["emailed"], true);
    let link = created["link"].as_str().unwrap();
    let mails = sent(&app).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].recipient, "ann@example.com");
    assert!(mails[0].subject.contains("invited"), "{}", mails[0].subject);
    let token = token_in(&mails[0], "/invitation");
    assert_eq!(link, format!("{ISSUER}/invitation?token={token}"));
    let bad = app.post("/admin/api/v1/invitations").bearer(&admin).json(&json!({"email": "not an address"})).await;
    assert_eq!(bad.status, 400, "{}", bad.describe());

    // The page shows the address; the password rules hold.
    let form = b.get(&format!("/invitation?token={token}")).await;
    assert_eq!(form.status, 200, "{}", form.describe());
    assert!(form.text().contains("ann@example.com") && form.text().contains("readonly"), "{}", form.describe());
    for (password, says) in [("password1", "commonly used"), ("123456789", "commonly used"), ("short", "at least 8")] {
        let res = accept(&b, &token, "ann", password).await;
        assert_eq!(res.status, 400, "{password}: {}", res.describe());
        assert!(res.text().contains(says), "{password}: {}", res.describe());
    }
    let res = accept(&b, &token, "ann", GOOD).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    assert_eq!(res.location(), Some("/account?done=welcome"));
    let welcome = b.get("/account?done=welcome").await;
    assert!(welcome.text().contains("Welcome"), "signed in: {}", welcome.describe());
    let ann = app.store().find_user_by_username("ann").await.unwrap().unwrap();
    assert_eq!(ann.claims.email.as_deref(), Some("ann@example.com"));
    assert!(ann.claims.email_verified, "the link proved the address");
    assert_eq!(ann.claims.groups, ["staff", "beta"]);

    // Used once only.
    let shown = app.browser().get(&format!("/invitation?token={token}")).await;
    assert_eq!(shown.status, 400, "{}", shown.describe());
    let again = accept(&b, &token, "ann2", GOOD).await;
    assert_eq!(again.status, 400, "{}", again.describe());
    assert!(again.text().contains("no longer works"), "{}", again.describe());

    // The CLI invites; the admin API revokes; the link then fails.
    let out = app.cli_json(&["invite", "create", "--email", "bo@example.com", "--no-email"]).await;
    assert_eq!(out["emailed"], false);
    assert!(sent(&app).await.is_empty(), "--no-email");
    let bo = out["link"].as_str().unwrap().rsplit_once("token=").unwrap().1.to_string();
    let listed = app.get("/admin/api/v1/invitations").bearer(&admin).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert!(listed.to_string().find("token").is_none(), "no token listed: {listed}");
    let id = out["id"].as_str().unwrap();
    let res = app.request(axum::http::Method::DELETE, &format!("/admin/api/v1/invitations/{id}")).bearer(&admin).await;
    assert_eq!(res.status, 204, "{}", res.describe());
    let res = app.request(axum::http::Method::DELETE, &format!("/admin/api/v1/invitations/{id}")).bearer(&admin).await;
    assert_eq!(res.status, 404, "{}", res.describe());
    let shown = app.browser().get(&format!("/invitation?token={bo}")).await;
    assert_eq!(shown.status, 400, "revoked: {}", shown.describe());
    assert!(shown.text().contains("no longer works"), "{}", shown.describe());
    let res = accept(&b, &bo, "bo", GOOD).await;
    assert_eq!(res.status, 400, "revoked: {}", res.describe());

    // An expired invitation fails; the CLI revokes and lists.
    let out = app.cli_json(&["invite", "create", "--email", "cy@example.com", "--expires-in", "2m"]).await;
    let cy = out["link"].as_str().unwrap().rsplit_once("token=").unwrap().1.to_string();
    app.clock.advance(121);
    let res = accept(&b, &cy, "cy", GOOD).await;
    assert_eq!(res.status, 400, "expired: {}", res.describe());
    assert!(res.text().contains("no longer works"), "{}", res.describe());
    let listed = app.cli_json(&["invite", "list"]).await;
    assert_eq!(listed[0]["expired"], true, "{listed}");
    app.cli(&["invite", "revoke", out["id"].as_str().unwrap()]).await.ok();
    assert!(app.cli_json(&["invite", "list"]).await.as_array().unwrap().is_empty());
    assert!(app.store().find_user_by_username("bo").await.unwrap().is_none());
    assert!(app.store().find_user_by_username("cy").await.unwrap().is_none());

    for kind in ["invitation.created", "invitation.accepted", "invitation.revoked"] {
        let events = app.cli_json(&["audit", "list", "--kind", kind]).await;
        assert!(!events.as_array().unwrap().is_empty(), "{kind}");
    }
}

#[tokio::test]
async fn open_sign_up_continues_the_sign_in_once_the_address_is_confirmed() {
    let mut env = EMAIL_ENV.to_vec();
    env.extend([("LATCHKEY_SIGNUP_MODE", "open"), ("LATCHKEY_SIGNUP_ALLOWED_EMAIL_DOMAINS", "example.com")]);
    let app = TestApp::with_env(&env).await;
    alice(&app).await;
    let client = confidential(&app).await;
    let b = app.browser();
    let p = pkce();
    let login = authorize(&b, &code_request(&client.id, &p)).await;
    let interaction = login.input("interaction").unwrap();
    let link = format!("/signup?interaction={interaction}");
    assert!(login.text().contains(&link.replace('&', "&amp;")), "{}", login.describe());
    let page = b.get(&link).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(page.input("interaction").as_deref(), Some(interaction.as_str()));
    assert!(page.text().contains("Test App") && page.text().contains("example.com only"), "{}", page.describe());

    // Refusals say what to change and keep what was typed.
    let refused = [
        (("dan", "dan@elsewhere.org", GOOD, GOOD), 403, "example.com only"),
        (("dan", "dan@example.com", "password1", "password1"), 400, "commonly used"),
        (("dan", "dan@example.com", GOOD, "something else entirely"), 400, "do not match"),
        (("alice", "dan@example.com", GOOD, GOOD), 409, "username is taken"),
        (("dan", "not an address", GOOD, GOOD), 400, "email address is not accepted"),
    ];
    for (fields, status, says) in refused {
        let res = sign_up(&b, &app, &page, fields, peer(1)).await;
        assert_eq!(res.status, status, "{fields:?}: {}", res.describe());
        assert!(res.text().contains(says), "{fields:?}: {}", res.describe());
        assert_eq!(res.input("username").as_deref(), Some(fields.0));
    }
    assert!(sent(&app).await.is_empty());

    // Dan signs up; before any token, his address is to be confirmed.
    let res = sign_up(&b, &app, &page, ("dan", "dan@example.com", GOOD, GOOD), peer(1)).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert!(res.text().contains("Confirm your email address"), "{}", res.describe());
    let (interaction, csrf) = (res.input("interaction").unwrap(), res.input("csrf").unwrap());
    let form = [("interaction", interaction.as_str()), ("csrf", csrf.as_str())];
    let held = b.post_form("/login/continue", &form).await;
    assert!(held.text().contains("Confirm your email address"), "still held: {}", held.describe());
    let dan = app.store().find_user_by_username("dan").await.unwrap().unwrap();
    assert!(!dan.claims.email_verified);
    assert_eq!(b.cookie("latchkey_session"), None, "no session before the address is confirmed");

    let resent = b.post_form("/signup/resend", &form).await;
    assert!(resent.text().contains("We have sent a new link"), "{}", resent.describe());
    let mails = sent(&app).await;
    assert_eq!(mails.len(), 2, "the first link and the resent one");
    assert!(mails.iter().all(|m| m.recipient == "dan@example.com"));
    let token = token_in(&mails[1], "/verify-email");
    let verify = b.get(&format!("/verify-email?token={token}")).await;
    let confirm = [("csrf", verify.input("csrf").unwrap()), ("token", token.clone())];
    let confirm: Vec<(&str, &str)> = confirm.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(b.post_form("/verify-email", &confirm).await.status, 200);

    // Confirmed: the sign-in goes on to consent and a code.
    let res = b.post_form("/login/continue", &form).await;
    assert!(res.input("decision").is_some(), "the consent page: {}", res.describe());
    assert!(b.cookie("latchkey_session").is_some(), "signed in once confirmed");
    let user = latchkey_server::testing::TestUser { username: "dan".into(), password: GOOD.into(), id: dan.id.clone() };
    let done = b.drive(res, &user).await;
    let tokens = redeem(&app, &client, &p, &done).await;
    assert!(tokens["id_token"].is_string(), "{tokens}");
    let events = app.cli_json(&["audit", "list", "--kind", "signup.created"]).await;
    assert_eq!(events[0]["subject"], dan.id.as_str());
    let amr = app.cli_json(&["session", "list", "--user", "dan"]).await;
    assert!(amr.to_string().contains("pwd"), "a password sign-in: {amr}");
}

/// The page with its per-request values (the interaction, the CSRF token) blanked.
fn page_shape(res: &TestResponse) -> String {
    let mut body = res.text();
    for name in ["interaction", "csrf"] {
        if let Some(value) = res.input(name) {
            body = body.replace(&value, "…");
        }
    }
    body
}

/// Signing up with an address that already has an account answers exactly
/// as a new account does where accounts must confirm their address, in a
/// sign-in and outside one: the same page, no session, the same answers
/// to "continue" and "send the link again"; only the owner's inbox learns
/// of it. A new account that signs in before confirming is held too.
#[tokio::test]
async fn a_taken_address_looks_like_a_new_account() {
    let mut env = EMAIL_ENV.to_vec();
    env.push(("LATCHKEY_SIGNUP_MODE", "open"));
    let app = TestApp::with_env(&env).await;
    alice(&app).await;
    let client = confidential(&app).await;
    let in_flow = |username: &'static str, email: &'static str| {
        let app = &app;
        let client = &client;
        async move {
            let b = app.browser();
            let login = authorize(&b, &code_request(&client.id, &pkce())).await;
            let page = b.get(&format!("/signup?interaction={}", login.input("interaction").unwrap())).await;
            let res = sign_up(&b, app, &page, (username, email, GOOD, GOOD), peer(3)).await;
            (b, res)
        }
    };
    let (new_b, new) = in_flow("ned", "ned@example.com").await;
    let (taken_b, taken) = in_flow("mallory", "alice@example.com").await;
    for res in [&new, &taken] {
        assert_eq!(res.status, 200, "{}", res.describe());
        assert!(res.text().contains("Confirm your email address"), "{}", res.describe());
        assert_eq!(res.header("set-cookie"), None, "no session either way: {}", res.describe());
    }
    assert_eq!(page_shape(&new).replace("ned@example.com", "x"), page_shape(&taken).replace("alice@example.com", "x"));
    assert!(app.store().find_user_by_username("mallory").await.unwrap().is_none());
    let mails = sent(&app).await;
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails.iter().any(|m| m.recipient == "alice@example.com" && m.text_body.contains("already exists")));
    // "Continue" and "send the link again" answer alike too.
    let form =
        |res: &TestResponse| [("interaction", res.input("interaction").unwrap()), ("csrf", res.input("csrf").unwrap())];
    for path in ["/login/continue", "/signup/resend", "/signup/resend"] {
        let (f1, f2) = (form(&new), form(&taken));
        let a = new_b.post_form(path, &[("interaction", f1[0].1.as_str()), ("csrf", f1[1].1.as_str())]).await;
        let b = taken_b.post_form(path, &[("interaction", f2[0].1.as_str()), ("csrf", f2[1].1.as_str())]).await;
        assert_eq!(a.status, b.status, "{path}");
        assert_eq!(
            page_shape(&a).replace("ned@example.com", "x"),
            page_shape(&b).replace("alice@example.com", "x"),
            "{path}"
        );
        assert!(a.text().contains("Confirm your email address"), "{path}: {}", a.describe());
    }
    let mails = sent(&app).await;
    assert_eq!(mails.len(), 2, "only the new account's links were sent again: {mails:?}");
    assert!(mails.iter().all(|m| m.recipient == "ned@example.com"));

    // Outside a sign-in: "Check your email", no session, either way.
    let outside = |username: &'static str, email: &'static str| {
        let app = &app;
        async move {
            let b = app.browser();
            let page = b.get("/signup").await;
            sign_up(&b, app, &page, (username, email, GOOD, GOOD), peer(4)).await
        }
    };
    let (new, taken) = (outside("olga", "olga@example.com").await, outside("trudy", "ALICE@example.com").await);
    for res in [&new, &taken] {
        assert!(res.text().contains("Check your email"), "{}", res.describe());
        assert_eq!(res.header("set-cookie"), None, "{}", res.describe());
    }
    assert_eq!(page_shape(&new).replace("olga@example.com", "x"), page_shape(&taken).replace("ALICE@example.com", "x"));

    // Olga signs in before confirming: held, with her session; prompt=none is told so.
    let b = app.browser();
    let olga = TestUser { username: "olga".into(), password: GOOD.into(), id: String::new() };
    let login = authorize(&b, &code_request(&client.id, &pkce())).await;
    let held = give_password(&b, &login, &olga).await;
    assert!(held.text().contains("Confirm your email address"), "{}", held.describe());
    assert!(b.cookie("latchkey_session").is_some());
    let silent = authorize(&b, &code_request(&client.id, &pkce()).set("prompt", "none")).await;
    assert_eq!(
        get(&silent.location_params(), "error").as_deref(),
        Some("interaction_required"),
        "{}",
        silent.describe()
    );
}

#[tokio::test]
async fn sign_up_attempts_are_limited_per_source_address() {
    let env = [
        ("LATCHKEY_SIGNUP_MODE", "open"),
        ("LATCHKEY_SIGNUP_REQUIRE_VERIFIED_EMAIL", "false"),
        ("LATCHKEY_SIGNUP_MAX_PER_ADDRESS", "3"),
    ];
    let app = TestApp::with_env(&env).await;
    let b = app.browser();
    let page = b.get("/signup").await;
    assert_eq!(page.status, 200, "{}", page.describe());
    for _ in 0..3 {
        let res = sign_up(&b, &app, &page, ("eve", "eve@example.com", "short", "short"), peer(1)).await;
        assert_eq!(res.status, 400, "{}", res.describe());
    }
    let res = sign_up(&b, &app, &page, ("eve", "eve@example.com", GOOD, GOOD), peer(1)).await;
    assert_eq!(res.status, 429, "{}", res.describe());
    assert!(res.header("retry-after").is_some());
    assert!(app.store().find_user_by_username("eve").await.unwrap().is_none());
    // Another address signs up; without email there is no address to
    // confirm, so the new account is signed in at once.
    let res = sign_up(&b, &app, &page, ("eve", "eve@example.com", GOOD, GOOD), peer(2)).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    assert_eq!(res.location(), Some("/account"));
    let account = b.get("/account").await;
    assert!(account.text().contains("eve"), "{}", account.describe());
    // Without email, a taken address must be said on the page.
    let other = app.browser();
    let page = other.get("/signup").await;
    let res = sign_up(&other, &app, &page, ("eve2", "EVE@example.com", GOOD, GOOD), peer(3)).await;
    assert_eq!(res.status, 409, "{}", res.describe());
}

#[tokio::test]
async fn sign_up_and_invitations_speak_the_readers_language() {
    let mut env = EMAIL_ENV.to_vec();
    env.extend([("LATCHKEY_SIGNUP_MODE", "open"), ("LATCHKEY_ADMIN_ENABLED", "true")]);
    let app = TestApp::with_env(&env).await;
    let b = app.browser();

    // The sign-up page and its refusals speak the browser's language,
    // the password policy's reason included.
    let page = b.send(app.get("/signup").header("accept-language", "de-CH, en;q=0.5")).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let text = page.text();
    assert!(text.contains(r#"<html lang="de">"#) && text.contains("<h1 id=\"heading\">Konto erstellen</h1>"), "{text}");
    assert!(text.contains("Mindestens 8 Zeichen.") && text.contains("Passwort wiederholen"), "{text}");
    let csrf = page.input("csrf").unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("username", "dora"),
        ("email", "dora@example.com"),
        ("password", "short"),
        ("confirm_password", "short"),
    ];
    let res = b.send(app.post("/signup").form(&form).header("accept-language", "de").from_peer(peer(1))).await;
    assert_eq!(res.status, 400, "{}", res.describe());
    let says = "Das Passwort wird nicht akzeptiert: das Passwort muss mindestens 8 Zeichen lang sein.";
    assert!(res.text().contains(says), "{}", res.describe());
    // English stays the default.
    let res = b.send(app.post("/signup").form(&form).from_peer(peer(1))).await;
    let says = "The password is not accepted: the password must be at least 8 characters long.";
    assert!(res.text().contains(says), "{}", res.describe());
    // So does why an address is refused, in French and English alike.
    let mut form = form;
    form[2] = ("email", "dora at example");
    let res = b.send(app.post("/signup").form(&form).header("accept-language", "fr").from_peer(peer(1))).await;
    let says = "L’adresse e-mail n’est pas acceptée\u{a0}: saisissez une adresse comme nom@example.com.";
    assert!(res.text().contains(says), "{}", res.describe());
    let res = b.send(app.post("/signup").form(&form).from_peer(peer(1))).await;
    let says = "The email address is not accepted: enter an address such as name@example.com.";
    assert!(res.text().contains(says), "{}", res.describe());

    // An invitation's email speaks the language the operator chose (CLI
    // and admin API); English without one. So do its page and the new
    // account; without a choice, the page speaks the browser's.
    let out = app.cli_json(&["invite", "create", "--email", "flo@example.com", "--locale", "fr"]).await;
    assert_eq!(out["emailed"], true, "{out}");
    let admin = admin_token(&app).await;
    let body = json!({"email": "gus@example.com", "locale": "de"});
    let res = app.post("/admin/api/v1/invitations").bearer(&admin).json(&body).await;
    assert_eq!(res.status, 201, "{}", res.describe());
    let res = app.post("/admin/api/v1/invitations").bearer(&admin).json(&json!({"email": "hal@example.com"})).await;
    assert_eq!(res.status, 201, "{}", res.describe());
    let bad = json!({"email": "ivy@example.com", "locale": "xx"});
    let res = app.post("/admin/api/v1/invitations").bearer(&admin).json(&bad).await;
    assert_eq!(res.status, 400, "{}", res.describe());
    let mails = sent(&app).await;
    let to = |who: &str| mails.iter().find(|m| m.recipient == who).unwrap_or_else(|| panic!("no email to {who}"));
    let fr = to("flo@example.com");
    assert!(fr.subject.starts_with("Vous êtes invité sur"), "{}", fr.subject);
    assert!(fr.text_body.starts_with("Bonjour,") && fr.html_body.contains("Créer mon compte"), "{}", fr.text_body);
    assert!(to("gus@example.com").subject.starts_with("Sie sind zu"), "{}", to("gus@example.com").subject);
    assert!(to("hal@example.com").subject.starts_with("You are invited to"), "{}", to("hal@example.com").subject);
    assert!(mails.iter().all(|m| m.recipient != "ivy@example.com"));
    let token = token_in(fr, "/invitation");
    let page = b.send(app.get(&format!("/invitation?token={token}")).header("accept-language", "de")).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.text().contains("Créez votre compte") && page.text().contains("<strong>flo@example.com</strong>"));
    let listed = app.get("/admin/api/v1/invitations").bearer(&admin).await.json()["items"].clone();
    let locale_of =
        |who: &str| listed.as_array().unwrap().iter().find(|i| i["email"] == who).map(|i| i["locale"].clone()).unwrap();
    assert_eq!((locale_of("flo@example.com"), locale_of("gus@example.com")), (json!("fr"), json!("de")));
    assert_eq!(locale_of("hal@example.com"), serde_json::Value::Null);
    // Gus's page speaks German whatever the browser asks; a refusal too; his account's locale is German.
    let gus = token_in(to("gus@example.com"), "/invitation");
    let g = app.browser();
    let page = g.send(app.get(&format!("/invitation?token={gus}")).header("accept-language", "fr")).await;
    assert!(page.text().contains(r#"<html lang="de">"#), "{}", page.describe());
    let csrf = g.cookie("latchkey_csrf").unwrap();
    let mut form = [
        ("csrf", csrf.as_str()),
        ("token", &gus),
        ("username", "gus"),
        ("password", "short"),
        ("confirm_password", "short"),
    ];
    let res = g.send(app.post("/invitation").form(&form).header("accept-language", "fr")).await;
    assert!(res.text().contains("Das Passwort wird nicht akzeptiert"), "{}", res.describe());
    (form[3], form[4]) = (("password", GOOD), ("confirm_password", GOOD));
    assert_eq!(g.send(app.post("/invitation").form(&form)).await.status, 303);
    let gus = app.store().find_user_by_username("gus").await.unwrap().unwrap();
    assert_eq!(gus.claims.locale.as_deref(), Some("de"));
    // Hal's page, with no language chosen, speaks the browser's; his account has no locale.
    let hal = token_in(to("hal@example.com"), "/invitation");
    let page = b.send(app.get(&format!("/invitation?token={hal}")).header("accept-language", "fr")).await;
    assert!(page.text().contains(r#"<html lang="fr">"#), "{}", page.describe());
}

/// `prompt=create` (Initiating User Registration via OpenID Connect 1.0):
/// where sign-up is open, the sign-up form comes first (signed in or not),
/// links to the login page of the same sign-in, and the new account goes on
/// to the app; elsewhere it is an `invalid_request`, and discovery lists
/// `create` only where it works.
#[tokio::test]
async fn prompt_create_starts_with_the_sign_up_form_where_sign_up_is_open() {
    let env = [("LATCHKEY_SIGNUP_MODE", "open"), ("LATCHKEY_SIGNUP_REQUIRE_VERIFIED_EMAIL", "false")];
    let app = TestApp::with_env(&env).await;
    let prompts = app.get("/.well-known/openid-configuration").send().await.json()["prompt_values_supported"].clone();
    assert_eq!(prompts, serde_json::json!(["none", "login", "consent", "select_account", "create"]));
    let user = alice(&app).await;
    let client = confidential(&app).await;
    let b = app.browser();
    let p = pkce();
    let page = authorize(&b, &code_request(&client.id, &p).set("prompt", "create")).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(
        page.text().contains("Create an account") && page.input("confirm_password").is_some(),
        "{}",
        page.describe()
    );
    let interaction = page.input("interaction").expect("the sign-in's interaction");
    // "Already have an account?" leads to the same sign-in's login page, which signs in as usual.
    let link = format!("/login?interaction={interaction}");
    assert!(page.text().contains(&format!("href=\"{link}\"")), "{}", page.describe());
    let login = b.get(&link).await;
    assert_eq!(login.status, 200, "{}", login.describe());
    assert_eq!(login.input("interaction"), Some(interaction.clone()));
    let done = b.drive(give_password(&b, &login, &user).await, &user).await;
    assert!(redeem(&app, &client, &p, &done).await["id_token"].is_string());
    // Another browser, or no interaction, gets no login page.
    assert_eq!(app.browser().get(&link).await.status, 400);
    assert_eq!(b.get("/login?interaction=nope").await.status, 400);

    // Signed in, prompt=create still offers a new account, and the new
    // account goes on to the app (consent, then a code).
    let p = pkce();
    let page = authorize(&b, &code_request(&client.id, &p).set("prompt", "create")).await;
    assert!(page.input("confirm_password").is_some(), "{}", page.describe());
    let res = sign_up(&b, &app, &page, ("erin", "erin@example.com", GOOD, GOOD), peer(7)).await;
    let done = b.drive(res, &TestUser { username: "erin".into(), password: GOOD.into(), id: String::new() }).await;
    let tokens = redeem(&app, &client, &p, &done).await;
    let erin = app.store().find_user_by_username("erin").await.unwrap().unwrap();
    let userinfo = app.get("/userinfo").bearer(tokens["access_token"].as_str().unwrap()).await.json();
    assert_eq!(userinfo["sub"], erin.id.as_str(), "{userinfo}");

    // prompt=create with prompt=none is refused by the request's rules.
    let res = authorize(&b, &code_request(&client.id, &pkce()).set("prompt", "create none")).await;
    assert_eq!(get(&res.location_params(), "error").as_deref(), Some("invalid_request"), "{}", res.describe());

    // Where sign-up is not open: not listed, and an error back to the app.
    for mode in ["closed", "invite"] {
        let app = TestApp::with_env(&[("LATCHKEY_SIGNUP_MODE", mode)]).await;
        let prompts =
            app.get("/.well-known/openid-configuration").send().await.json()["prompt_values_supported"].clone();
        assert_eq!(prompts, serde_json::json!(["none", "login", "consent", "select_account"]), "{mode}");
        let client = confidential(&app).await;
        let res = authorize(&app.browser(), &code_request(&client.id, &pkce()).set("prompt", "create")).await;
        let params = res.location_params();
        assert_eq!(get(&params, "error").as_deref(), Some("invalid_request"), "{mode}: {}", res.describe());
        assert!(get(&params, "error_description").unwrap().contains("sign-up is not open"), "{mode}");
        assert_eq!(get(&params, "state").as_deref(), Some("s-1"), "{mode}");
    }
}
