//! Self-service by email (docs/self-service.md): password reset and address
//! verification, their links (single use, expiring, replaced by a newer
//! one), the limits on asking, and the pages without email configured. The
//! sender does not run in-process: the tests read what was queued straight
//! from the outbox (delivery over real SMTP is tested end to end in
//! `tests/tests/self_service.rs`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use latchkey_server::testing::{Browser, PEER, TestApp, TestResponse};

use crate::common::*;

/// `POST /forgot-password` from `peer` with the browser's CSRF cookie.
async fn ask_reset(browser: &Browser<'_>, app: &TestApp, identifier: &str, peer: SocketAddr) -> TestResponse {
    let form = browser.get("/forgot-password").await;
    assert_eq!(form.status, 200, "{}", form.describe());
    let csrf = form.input("csrf").unwrap();
    browser
        .send(app.post("/forgot-password").form(&[("csrf", &csrf), ("identifier", identifier)]).from_peer(peer))
        .await
}

fn peer(n: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)), 40000)
}

/// Signs in on `/account`; returns the account page.
async fn account(browser: &Browser<'_>, username: &str, password: &str) -> TestResponse {
    let form = browser.get("/account").await;
    let csrf = form.input("csrf").unwrap();
    let login = [("csrf", csrf.as_str()), ("username", username), ("password", password)];
    let res = browser.post_form("/account/login", &login).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    let page = browser.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.describe());
    page
}

async fn reset_with(browser: &Browser<'_>, token: &str, new: &str, confirm: &str) -> TestResponse {
    let form = browser.get(&format!("/reset-password?token={token}")).await;
    let csrf = browser.cookie("latchkey_csrf").or_else(|| form.input("csrf")).unwrap_or_default();
    browser
        .post_form(
            "/reset-password",
            &[("csrf", &csrf), ("token", token), ("new_password", new), ("confirm_password", confirm)],
        )
        .await
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_a_single_use_link() {
    let app = TestApp::with_env(&EMAIL_ENV).await;
    let alice = alice(&app).await;
    let signed_in = app.browser();
    account(&signed_in, "alice", PASSWORD).await;

    // The sign-in forms lead to the reset page.
    let b = app.browser();
    let login = b.get("/account").await;
    assert!(login.text().contains("Forgot your password?"), "{}", login.describe());
    assert!(login.text().contains("href=\"/forgot-password\""));

    // The form is CSRF-protected like the other sign-in forms.
    let res = b.post_form("/forgot-password", &[("csrf", "forged"), ("identifier", "alice")]).await;
    assert_eq!(res.status, 403, "{}", res.describe());
    assert!(sent(&app).await.is_empty());

    // An unknown account and a known one get the same page; only the known
    // one gets an email, whose link is on the configured issuer whatever
    // Host the request named.
    let unknown = ask_reset(&b, &app, "nobody", PEER).await;
    let form = b.get("/forgot-password").await;
    let csrf = form.input("csrf").unwrap();
    let known = b
        .send(
            app.post("/forgot-password")
                .header("host", "evil.example")
                .form(&[("csrf", &csrf), ("identifier", "alice")]),
        )
        .await;
    assert_eq!((unknown.status.as_u16(), known.status.as_u16()), (200, 200), "{}", known.describe());
    assert_eq!(unknown.text(), known.text(), "the same answer, account or not");
    assert!(known.text().contains("Check your email"), "{}", known.describe());
    let emails = sent_and_decoys(&app).await;
    assert_eq!(emails.len(), 2, "the same writes for both: {emails:?}");
    assert_eq!(emails[0].recipient, "", "a decoy for the unknown name, which the sender drops");
    let emails: Vec<_> = emails.into_iter().filter(|e| !e.recipient.is_empty()).collect();
    assert_eq!(emails.len(), 1, "only the known account gets an email: {emails:?}");
    let first = &emails[0];
    assert_eq!(first.recipient, "alice@example.com");
    assert!(first.subject.starts_with("Reset your ") && first.subject.ends_with(" password"), "{}", first.subject);
    assert!(first.text_body.contains("30 minutes") && first.html_body.contains("Choose a new password"));
    assert!(!first.text_body.contains("evil.example") && !first.html_body.contains("evil.example"));
    let first_token = token_in(first, "/reset-password");

    // By address too; the newer link replaces the older.
    assert_eq!(ask_reset(&b, &app, "Alice@Example.com", PEER).await.status, 200);
    let emails = sent(&app).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let token = token_in(&emails[0], "/reset-password");
    assert_ne!(token, first_token);
    let res = b.get(&format!("/reset-password?token={first_token}")).await;
    assert_eq!(res.status, 400, "the replaced link: {}", res.describe());
    assert!(res.text().contains("expired or was already used"));

    // Opening the link shows the form without spending it; a mismatch or a
    // weak password keeps it usable.
    let form = b.get(&format!("/reset-password?token={token}")).await;
    assert_eq!(form.status, 200, "{}", form.describe());
    assert!(form.text().contains("for alice") && form.input("new_password").is_some());
    let res = reset_with(&b, &token, "a new long password", "another one").await;
    assert_eq!(res.status, 400, "{}", res.describe());
    assert!(res.text().contains("do not match"));
    let res = reset_with(&b, &token, "short", "short").await;
    assert_eq!(res.status, 400, "{}", res.describe());
    assert!(res.text().contains("not accepted"));
    // Without the browser's CSRF cookie nothing happens.
    let res = app
        .post("/reset-password")
        .form(&[("csrf", "x"), ("token", &token), ("new_password", "x"), ("confirm_password", "x")])
        .send()
        .await;
    assert_eq!(res.status, 403);

    let res = reset_with(&b, &token, "a brand new password", "a brand new password").await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert!(res.text().contains("Your password has been changed"), "{}", res.describe());

    // Every session ended; the old password no longer works, the new one does.
    let page = signed_in.get("/account").await;
    assert!(page.input("current_password").is_none() && page.input("username").is_some(), "{}", page.describe());
    let form = b.get("/account").await;
    let csrf = form.input("csrf").unwrap();
    let old = b.post_form("/account/login", &[("csrf", &csrf), ("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(old.status, 401, "{}", old.describe());
    account(&b, "alice", "a brand new password").await;

    // She is told by email; the link works once.
    let emails = sent(&app).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0].recipient, "alice@example.com");
    assert!(emails[0].subject.contains("password was changed"), "{}", emails[0].subject);
    assert!(emails[0].text_body.contains("signed out everywhere"));
    let again = reset_with(&b, &token, "yet another password", "yet another password").await;
    assert_eq!(again.status, 400, "a used link: {}", again.describe());
    account(&app.browser(), "alice", "a brand new password").await;

    // Everything is in the audit log.
    let requested = app.cli_json(&["audit", "list", "--kind", "password.reset_requested"]).await;
    let requested = requested.as_array().unwrap();
    assert_eq!(requested.iter().filter(|e| e["subject"] == alice.id.as_str()).count(), 2, "{requested:?}");
    assert_eq!(requested.iter().filter(|e| e["subject"].is_null()).count(), 1, "the unknown name: {requested:?}");
    let reset = app.cli_json(&["audit", "list", "--kind", "password.reset"]).await;
    let reset = reset.as_array().unwrap();
    assert_eq!(reset.len(), 1, "{reset:?}");
    assert_eq!(reset[0]["subject"], alice.id.as_str());
    assert_eq!(reset[0]["details"]["sessions_ended"], 1, "{reset:?}");

    // A link past its lifetime is refused.
    assert_eq!(ask_reset(&b, &app, "alice", PEER).await.status, 200);
    let token = token_in(&sent(&app).await[0], "/reset-password");
    app.clock.advance(30 * 60 + 1);
    assert_eq!(b.get(&format!("/reset-password?token={token}")).await.status, 400, "expired");
    let res = reset_with(&b, &token, "an expired attempt", "an expired attempt").await;
    assert_eq!(res.status, 400, "{}", res.describe());
    account(&app.browser(), "alice", "a brand new password").await;
}

#[tokio::test]
async fn reset_requests_are_limited_per_address_and_per_account() {
    let app = TestApp::with_env(&EMAIL_ENV).await;
    alice(&app).await;
    let b = app.browser();
    // The limits count in fixed windows of an hour: start at one's beginning.
    app.clock.advance(3_600 - app.clock_now().rem_euclid(3_600));

    // A person who asks twice in a few minutes gets both emails.
    for _ in 0..2 {
        assert_eq!(ask_reset(&b, &app, "alice", PEER).await.status, 200);
        app.clock.advance(120);
    }
    assert_eq!(sent(&app).await.len(), 2, "the defaults serve a person who asks again");

    // A flood at one account from many addresses: the same answer, but no
    // more than email.max_per_account (5) emails per window.
    for n in 1..=10 {
        let res = ask_reset(&b, &app, "alice", peer(n)).await;
        assert_eq!(res.status, 200, "{}", res.describe());
        assert!(res.text().contains("Check your email"));
    }
    let emails = sent(&app).await;
    assert_eq!(emails.len(), 3, "5 per account per hour in all");
    let latest = token_in(emails.last().unwrap(), "/reset-password");
    let res = b.get(&format!("/reset-password?token={latest}")).await;
    assert_eq!(res.status, 200, "requests past the limit leave the last link working: {}", res.describe());

    // A flood from one address, whatever it names: 429 past
    // email.max_per_address (30), with Retry-After; other addresses go on.
    let mut refused = None;
    for i in 0..40 {
        let res = ask_reset(&b, &app, &format!("someone-{i}"), peer(200)).await;
        if res.status == 429 {
            refused = Some((i, res));
            break;
        }
        assert_eq!(res.status, 200);
    }
    let (i, res) = refused.expect("the address is stopped");
    assert_eq!(i, 30, "30 requests served first");
    assert!(res.header("retry-after").is_some_and(|v| v.parse::<u64>().unwrap() > 0));
    assert!(res.text().contains("Too many password reset requests"), "{}", res.describe());
    assert_eq!(ask_reset(&b, &app, "someone", peer(201)).await.status, 200, "another address is served");

    // After the window, alice is served again.
    app.clock.advance(3_600);
    assert_eq!(ask_reset(&b, &app, "alice", peer(200)).await.status, 200);
    assert_eq!(sent(&app).await.len(), 1);
}

#[tokio::test]
async fn addresses_are_verified_by_link_and_changes_tell_the_old_address() {
    let app = TestApp::with_env(&EMAIL_ENV).await;
    let bob = app.create_user("bob", PASSWORD, &["--email", "bob@example.com"]).await;
    let b = app.browser();
    let page = account(&b, "bob", PASSWORD).await;
    assert!(page.text().contains("not confirmed yet"), "{}", page.describe());
    assert!(!page.text().contains("id=\"email_password\""), "a fresh sign-in stands for the password");
    let csrf = page.input("csrf").unwrap();

    // He asks for a link; opening it changes nothing, the button confirms.
    let res = b.post_form("/account/email/verify", &[("csrf", &csrf)]).await;
    assert_eq!(res.location(), Some("/account?done=verification-sent"), "{}", res.describe());
    let emails = sent(&app).await;
    assert_eq!((emails.len(), emails[0].recipient.as_str()), (1, "bob@example.com"), "{emails:?}");
    assert!(emails[0].html_body.contains("Confirm my address"));
    let token = token_in(&emails[0], "/verify-email");
    let show = b.get(&format!("/verify-email?token={token}")).await;
    assert_eq!(show.status, 200, "{}", show.describe());
    assert!(!app.store().get_user(&bob.id).await.unwrap().unwrap().claims.email_verified, "a GET verifies nothing");
    let csrf_cookie = b.cookie("latchkey_csrf").unwrap();
    let confirm = |token: String| {
        let (b, csrf) = (&b, csrf_cookie.clone());
        async move { b.post_form("/verify-email", &[("csrf", &csrf), ("token", &token)]).await }
    };
    let res = confirm(token.clone()).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert!(res.text().contains("Your email address is confirmed"));
    assert!(app.store().get_user(&bob.id).await.unwrap().unwrap().claims.email_verified);
    let res = confirm(token).await;
    assert_eq!(res.status, 400, "a used link: {}", res.describe());

    // Changing the address after the sign-in is no longer recent needs the
    // password; the old address is told, the new one gets a link.
    app.clock.advance(601);
    let page = b.get("/account").await;
    let csrf = page.input("csrf").unwrap();
    assert!(page.text().contains("id=\"email_password\""), "{}", page.describe());
    let res = b.post_form("/account/email", &[("csrf", &csrf), ("email", "robert@example.org")]).await;
    assert_eq!(res.status, 400, "no password: {}", res.describe());
    let res = b
        .post_form("/account/email", &[("csrf", &csrf), ("email", "robert@example.org"), ("current_password", "wrong")])
        .await;
    assert_eq!(res.status, 400, "{}", res.describe());
    assert!(res.text().contains("current password is not correct"));
    assert!(sent(&app).await.is_empty());
    let res = b
        .post_form(
            "/account/email",
            &[("csrf", &csrf), ("email", "robert@example.org"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(res.location(), Some("/account?done=email-changed"), "{}", res.describe());
    let stored = app.store().get_user(&bob.id).await.unwrap().unwrap().claims;
    assert_eq!((stored.email.as_deref(), stored.email_verified), (Some("robert@example.org"), false));
    let emails = sent(&app).await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert_eq!(emails[0].recipient, "bob@example.com");
    assert!(emails[0].text_body.contains("robert@example.org"), "{}", emails[0].text_body);
    assert_eq!(emails[1].recipient, "robert@example.org");
    let token = token_in(&emails[1], "/verify-email");

    // A link past its lifetime verifies nothing; a fresh one does.
    app.clock.advance(86_401);
    assert_eq!(confirm(token).await.status, 400, "expired");
    assert!(!app.store().get_user(&bob.id).await.unwrap().unwrap().claims.email_verified);
    let page = account(&b, "bob", PASSWORD).await;
    let csrf = page.input("csrf").unwrap();
    assert_eq!(b.post_form("/account/email/verify", &[("csrf", &csrf)]).await.status, 303);
    let token = token_in(&sent(&app).await[0], "/verify-email");
    assert_eq!(confirm(token).await.status, 200);
    assert!(app.store().get_user(&bob.id).await.unwrap().unwrap().claims.email_verified);
    for kind in ["email.changed", "email.verified", "email.verification_sent"] {
        let events = app.cli_json(&["audit", "list", "--kind", kind]).await;
        assert!(!events.as_array().unwrap().is_empty(), "{kind}");
    }
}

#[tokio::test]
async fn without_smtp_the_email_features_are_off_and_say_so() {
    let app = TestApp::start().await;
    alice(&app).await;
    let b = app.browser();
    let login = b.get("/account").await;
    assert!(!login.text().contains("Forgot your password?"), "{}", login.describe());
    let page = b.get("/forgot-password").await;
    assert_eq!(page.status, 404, "{}", page.describe());
    assert!(page.text().contains("Password reset is not available"));
    let res = b.post_form("/forgot-password", &[("csrf", "x"), ("identifier", "alice")]).await;
    assert_eq!(res.status, 404);
    assert_eq!(b.get("/reset-password?token=abc").await.status, 404);
    assert_eq!(b.get("/verify-email?token=abc").await.status, 404);
    let page = account(&b, "alice", PASSWORD).await;
    assert!(page.text().contains("does not send email"), "{}", page.describe());
    assert!(page.input("email").is_none(), "no change form");
    let csrf = page.input("csrf").unwrap();
    let res = b.post_form("/account/email", &[("csrf", &csrf), ("email", "new@example.com")]).await;
    assert_eq!(res.status, 404, "{}", res.describe());
    assert_eq!(app.store().count_outbox().await.unwrap(), 0);
}
