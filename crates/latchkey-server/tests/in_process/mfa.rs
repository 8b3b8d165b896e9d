//! Two-step sign-in on the login page: a person with an authenticator gives
//! a code (or a recovery code) after the password, each code works once,
//! no session exists before the code, and the ID token says what happened
//! (`amr` `pwd otp mfa`, `acr` `urn:latchkey:acr:mfa`). Enrollment is made
//! through the domain operations here; the `/account` page for it is still
//! to come.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::totp::TotpSecret;
use latchkey_domain::mfa::{Factors, begin_enrollment, confirm_enrollment};
use latchkey_server::testing::{Browser, TestApp, TestClient, TestResponse, TestUser};
use serde_json::Value;

use crate::common::*;

/// Enrolls `user` at the app's current time; returns the secret and the recovery codes.
pub(crate) async fn enroll(app: &TestApp, user: &TestUser) -> (TotpSecret, Vec<String>) {
    let store = app.store();
    let account = store.get_user(&user.id).await.unwrap().unwrap();
    let ctx = Factors { store: &**store, clock: &app.clock, encryption_key: None, issuer_name: "Latchkey" };
    let enrollment = begin_enrollment(&ctx, &account, "cli").await.unwrap();
    let secret = TotpSecret::from_base32(&enrollment.secret).unwrap();
    let codes = confirm_enrollment(&ctx, &user.id, &secret.code_at(app.clock_now()), "cli").await.unwrap();
    (secret, codes)
}

/// A well-formed code valid for none of the steps around `now`.
fn wrong_code(secret: &TotpSecret, now: i64) -> String {
    let valid: Vec<String> = [-30, 0, 30].iter().map(|d| secret.code_at(now + d)).collect();
    (0..).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap()
}

/// Opens the sign-in form and gives the password: the second page.
pub(crate) async fn password_step(
    browser: &Browser<'_>,
    client: &TestClient,
    user: &TestUser,
    p: &Pkce,
) -> TestResponse {
    let page = authorize(browser, &code_request(&client.id, p)).await;
    let (interaction, csrf) = (page.input("interaction").unwrap(), page.input("csrf").unwrap());
    let form = [
        ("interaction", interaction.as_str()),
        ("csrf", csrf.as_str()),
        ("username", user.username.as_str()),
        ("password", user.password.as_str()),
    ];
    browser.post_form("/login", &form).await
}

async fn code_step(browser: &Browser<'_>, page: &TestResponse, code: &str) -> TestResponse {
    let (interaction, csrf) = (page.input("interaction").unwrap(), page.input("csrf").unwrap());
    let form = [("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("code", code)];
    browser.post_form("/login/code", &form).await
}

fn assert_code_page(res: &TestResponse, status: u16, what: &str) {
    assert_eq!(res.status, status, "{what}: {}", res.describe());
    assert!(res.input("code").is_some() && res.input("password").is_none(), "{what}: {}", res.describe());
}

fn signed_in(browser: &Browser<'_>) -> bool {
    browser.cookie("latchkey_session").is_some() || browser.cookie("__Host-latchkey_session").is_some()
}

/// The ID token's claims after the rest of the flow (consent, code, token).
async fn id_token_claims(
    app: &TestApp,
    browser: &Browser<'_>,
    client: &TestClient,
    user: &TestUser,
    p: &Pkce,
    after_code: TestResponse,
) -> Value {
    let res = browser.drive(after_code, user).await;
    let location = res.location().unwrap_or_else(|| panic!("no redirect: {}", res.describe()));
    assert!(location.starts_with(CB), "{}", res.describe());
    let code = one(&res.location_params(), "code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    let res = token(app, client, &form).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let id_token = res.json()["id_token"].as_str().unwrap().to_string();
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_person_with_an_authenticator_gives_a_code_after_the_password() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let (secret, _) = enroll(&app, &alice).await;
    app.clock.advance(30);
    let browser = app.browser();
    let p = pkce();

    let page = password_step(&browser, &client, &alice, &p).await;
    assert_code_page(&page, 200, "after the password");
    assert!(!signed_in(&browser), "no session before the code");
    // Without the code the person is not signed in: the flow starts over.
    let again = authorize(&browser, &code_request(&client.id, &pkce())).await;
    assert!(again.input("password").is_some(), "{}", again.describe());

    let wrong = code_step(&browser, &page, &wrong_code(&secret, app.clock_now())).await;
    assert_code_page(&wrong, 401, "a wrong code");
    assert!(wrong.text().contains("That code is not right"), "{}", wrong.describe());
    assert!(!signed_in(&browser));

    let right = code_step(&browser, &page, &secret.code_at(app.clock_now())).await;
    assert!(signed_in(&browser), "{}", right.describe());
    let claims = id_token_claims(&app, &browser, &client, &alice, &p, right).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");

    // Someone else holding the password alone does not get past the code page.
    let other = app.browser();
    let page = password_step(&other, &client, &alice, &pkce()).await;
    assert_code_page(&page, 200, "a second browser");
    let replay = code_step(&other, &page, &secret.code_at(app.clock_now())).await;
    assert_code_page(&replay, 401, "the code already used");
    assert!(!signed_in(&other));
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let (_, recovery) = enroll(&app, &alice).await;

    let browser = app.browser();
    let p = pkce();
    let page = password_step(&browser, &client, &alice, &p).await;
    let res = code_step(&browser, &page, &recovery[0].to_uppercase()).await;
    assert!(signed_in(&browser), "{}", res.describe());
    let claims = id_token_claims(&app, &browser, &client, &alice, &p, res).await;
    assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");

    let other = app.browser();
    let page = password_step(&other, &client, &alice, &pkce()).await;
    assert_code_page(&code_step(&other, &page, &recovery[0]).await, 401, "a used recovery code");
    assert!(!signed_in(&other));
    let used = app.store().get_recovery_codes_left(&alice.id).await.unwrap();
    assert_eq!(used, 9);
}

#[tokio::test]
async fn a_person_without_a_factor_signs_in_with_the_password_alone() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    let res = password_step(&browser, &client, &alice, &p).await;
    assert!(res.input("code").is_none(), "{}", res.describe());
    let claims = id_token_claims(&app, &browser, &client, &alice, &p, res).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:latchkey:acr:password");
}

/// `/account`'s own sign-in asks for the code too: a password alone never
/// makes a session for a person with a second factor.
#[tokio::test]
async fn the_account_page_asks_for_the_code_after_the_password() {
    let app = TestApp::start().await;
    let alice = alice(&app).await;
    let (secret, _) = enroll(&app, &alice).await;
    app.clock.advance(30);
    let browser = app.browser();
    let form = browser.get("/account").await;
    let csrf = form.input("csrf").unwrap();
    let login = [("csrf", csrf.as_str()), ("username", "alice"), ("password", PASSWORD)];
    let page = browser.post_form("/account/login", &login).await;
    assert_code_page(&page, 200, "after the password");
    assert!(!signed_in(&browser));
    assert!(browser.get("/account").await.input("password").is_some(), "still the sign-in form");

    // The account's code step is not a step of an authorization request.
    let elsewhere = code_step(&browser, &page, &secret.code_at(app.clock_now())).await;
    assert!(elsewhere.status.is_client_error(), "{}", elsewhere.describe());
    assert!(!signed_in(&browser));

    let (interaction, csrf) = (page.input("interaction").unwrap(), page.input("csrf").unwrap());
    let submit = |code: String| {
        let form = [("interaction", interaction.clone()), ("csrf", csrf.clone()), ("code", code)];
        let browser = &browser;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.post_form("/account/login/code", &pairs).await
        }
    };
    let wrong = submit(wrong_code(&secret, app.clock_now())).await;
    assert_code_page(&wrong, 401, "a wrong code");
    let right = submit(secret.code_at(app.clock_now())).await;
    assert_eq!(right.status, 303, "{}", right.describe());
    assert!(signed_in(&browser));
    let account = browser.get("/account").await;
    assert!(account.input("password").is_none() && account.text().contains("alice"), "{}", account.describe());
    // The record of the step is spent: the same form again signs no one in.
    let other = app.browser();
    let again = other
        .post_form("/account/login/code", &[("interaction", &interaction), ("csrf", &csrf), ("code", "123456")])
        .await;
    assert!(!signed_in(&other), "{}", again.describe());
}

/// The text between `start` and the next `end` in a page.
fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start} in {text}")) + start.len();
    text[from..][..text[from..].find(end).unwrap()].to_string()
}

/// Signs `user` in at `/account` (password only: no factor yet).
async fn account_session(app: &TestApp) -> (Browser<'_>, String) {
    let browser = app.browser();
    let form = browser.get("/account").await;
    let csrf = form.input("csrf").unwrap();
    let login = [("csrf", csrf.as_str()), ("username", "alice"), ("password", PASSWORD)];
    let res = browser.post_form("/account/login", &login).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    let page = browser.get("/account").await;
    let csrf = page.input("csrf").unwrap();
    (browser, csrf)
}

#[tokio::test]
async fn a_person_sets_up_an_authenticator_on_the_account_page() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let (browser, csrf) = account_session(&app).await;
    let page = browser.get("/account").await;
    assert!(page.text().contains("Set up an authenticator app"), "{}", page.describe());

    let setup = browser.post_form("/account/mfa/totp", &[("csrf", &csrf)]).await;
    assert_eq!(setup.status, 200, "{}", setup.describe());
    let text = setup.text();
    let secret = between(&text, "<code class=\"secret\">", "</code>").replace(' ', "");
    let uri = between(&text, "<code class=\"otpauth\">", "</code>").replace("&#38;", "&");
    assert_eq!(
        uri,
        format!("otpauth://totp/Latchkey:alice?secret={secret}&issuer=Latchkey&algorithm=SHA1&digits=6&period=30")
    );
    assert!(text.contains("src=\"data:image/svg+xml;base64,"), "the QR code, rendered here");
    assert!(text.contains("data-otpauth"), "the link that opens the app");
    let secret = TotpSecret::from_base32(&secret).unwrap();
    assert!(browser.get("/account").await.text().contains("Set up an authenticator app"), "pending until confirmed");

    let wrong = browser
        .post_form("/account/mfa/totp/confirm", &[("csrf", &csrf), ("code", &wrong_code(&secret, app.clock_now()))])
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.describe());
    assert!(wrong.text().contains("role=\"alert\""), "{}", wrong.describe());
    assert!(wrong.text().contains(&between(&text, "<code class=\"secret\">", "</code>")), "the same secret again");

    let done = browser
        .post_form("/account/mfa/totp/confirm", &[("csrf", &csrf), ("code", &secret.code_at(app.clock_now()))])
        .await;
    assert_eq!(done.status, 200, "{}", done.describe());
    let codes: Vec<String> =
        done.text().split("<li><code>").skip(1).map(|s| s[..s.find('<').unwrap()].to_string()).collect();
    assert_eq!(codes.len(), 10, "{}", done.describe());
    let account = browser.get("/account").await.text();
    assert!(account.contains("data-factor=\"totp\"") && account.contains("10 recovery codes left"), "{account}");

    // Signing in to an app now takes a code.
    app.clock.advance(30);
    let other = app.browser();
    let p = pkce();
    let page = password_step(&other, &client, &alice, &p).await;
    assert_code_page(&page, 200, "after setup");
    let res = code_step(&other, &page, &secret.code_at(app.clock_now())).await;
    let claims = id_token_claims(&app, &other, &client, &alice, &p, res).await;
    assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");

    // New recovery codes replace the old ones; turning it off removes both.
    let fresh = browser.post_form("/account/mfa/recovery-codes", &[("csrf", &csrf)]).await;
    assert_eq!(fresh.status, 200, "{}", fresh.describe());
    assert!(fresh.text().contains("no longer work") && !fresh.text().contains(&codes[0]));
    let off = browser.post_form("/account/mfa/remove", &[("csrf", &csrf)]).await;
    assert_eq!(off.location(), Some("/account?done=mfa-removed"), "{}", off.describe());
    assert_eq!(app.store().get_totp(&alice.id).await.unwrap(), None);
    assert_eq!(app.store().get_recovery_codes_left(&alice.id).await.unwrap(), 0);
    let third = app.browser();
    let res = password_step(&third, &client, &alice, &pkce()).await;
    assert!(res.input("code").is_none(), "the password alone again: {}", res.describe());

    // A forged form does nothing.
    let forged = browser.post_form("/account/mfa/totp", &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403, "{}", forged.describe());
}

/// An operator helps a person who lost their device: `user mfa list` shows
/// the factor, `user mfa reset` removes it (audited), and the password alone
/// signs them in again.
#[tokio::test]
async fn an_operator_lists_and_resets_a_persons_factors() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let none = app.cli_json(&["user", "mfa", "list", "alice"]).await;
    assert_eq!(none["totp"], Value::Null, "{none}");
    enroll(&app, &alice).await;

    let listed = app.cli_json(&["user", "mfa", "list", "ALICE"]).await;
    assert_eq!(listed["recovery_codes_left"], 10, "{listed}");
    assert_eq!(listed["totp"]["confirmed_at"], app.clock_now(), "{listed}");
    let text = app.cli(&["user", "mfa", "list", "alice"]).await.ok();
    assert!(
        text.stdout.contains("authenticator app added") && text.stdout.contains("10 recovery codes left"),
        "{}",
        text.stdout
    );

    let reset = app.cli_json(&["user", "mfa", "reset", &alice.id]).await;
    assert_eq!(reset["totp_removed"], true, "{reset}");
    assert_eq!(reset["recovery_codes_removed"], 10, "{reset}");
    let again = app.cli_json(&["user", "mfa", "reset", "alice"]).await;
    assert_eq!(again["totp_removed"], false, "{again}");
    assert!(!app.cli(&["user", "mfa", "reset", "nobody"]).await.ok, "an unknown user is an error");

    let audit = app.cli_json(&["audit", "list", "--kind", "mfa.removed"]).await;
    let events = audit.as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(events[0]["actor"], "cli");
    assert_eq!(events[0]["subject"], alice.id.as_str());

    let browser = app.browser();
    let res = password_step(&browser, &client, &alice, &pkce()).await;
    assert!(res.input("code").is_none(), "the password alone again: {}", res.describe());
}
