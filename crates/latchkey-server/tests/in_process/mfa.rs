//! Two-step sign-in on the login page: a person with an authenticator gives
//! a code (or a recovery code) after the password, each code works once,
//! no session exists before the code, and the ID token says what happened
//! (`amr` `pwd otp mfa`, `acr` `urn:latchkey:acr:mfa`). Then what a request
//! or a policy needs: `acr_values` and step-up, `prompt=none`, the
//! operator's and the client's requirements, a factor set up right after the
//! password, and the code `/account` asks before the factors change.

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
    give_password(browser, &page, user).await
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
    claims_of(app, client, p, &res).await
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
    // The person is told how many are left before going on.
    assert!(res.text().contains("9 are left") && res.text().contains("data-step=\"continue\""), "{}", res.describe());
    assert!(!res.text().contains("your account page"), "enough left: not asked to make new ones");
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
    let account = browser.get("/account").await;
    let text = account.text();
    assert!(text.contains("data-factor=\"totp\"") && text.contains("10 recovery codes left"), "{text}");
    // The code just given upgraded this session (a new cookie, so a new form token).
    assert!(account.input("code").is_none(), "a fresh session changes factors without a code: {text}");
    let csrf = account.input("csrf").unwrap();
    let sessions = app.cli_json(&["session", "list", "--user", "alice"]).await;
    assert_eq!(sessions[0]["acr"], "urn:latchkey:acr:mfa", "{sessions}");
    assert_eq!(sessions[0]["amr"], serde_json::json!(["pwd", "otp", "mfa"]), "{sessions}");

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

/// The ID token's claims for a code the flow redirected with.
async fn claims_of(app: &TestApp, client: &TestClient, p: &Pkce, res: &TestResponse) -> Value {
    let tokens = redeem(app, client, p, res).await;
    let payload = tokens["id_token"].as_str().unwrap().split('.').nth(1).unwrap().to_string();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A first-party client (no consent page), so that a signed-in request
/// goes straight to its code.
async fn first_party(app: &TestApp, extra: &[&str]) -> TestClient {
    let mut args = vec!["--redirect-uri", CB, "--skip-consent"];
    args.extend_from_slice(extra);
    app.create_client("Payroll", &args).await
}

/// Signs `user` in with the password alone (no factor yet) and returns the
/// ID token's claims.
async fn password_sign_in(app: &TestApp, browser: &Browser<'_>, client: &TestClient, user: &TestUser) -> Value {
    let p = pkce();
    let res = password_step(browser, client, user, &p).await;
    let res = browser.drive(res, user).await;
    claims_of(app, client, &p, &res).await
}

const MFA: &str = "urn:latchkey:acr:mfa";

/// A session from a password alone, then an app asks for two factors with
/// `acr_values`: only the code is asked (no password), the same session is
/// upgraded (same `sid`, new cookie, `auth_time` now), and the ID token
/// says so. `prompt=none` gets `interaction_required` until then, and a
/// code once the session has it.
#[tokio::test]
async fn acr_values_step_a_session_up_with_only_the_missing_factor() {
    let app = TestApp::start().await;
    let (client, alice) = (first_party(&app, &[]).await, alice(&app).await);
    let browser = app.browser();
    let before = password_sign_in(&app, &browser, &client, &alice).await;
    assert_eq!(before["acr"], "urn:latchkey:acr:password");
    // The factor is set up elsewhere (here: by the domain operation), so
    // this session still has one factor.
    let (secret, _) = enroll(&app, &alice).await;
    app.clock.advance(60);
    let old_cookie = browser.cookie("latchkey_session").unwrap();

    // Without acr_values the session is enough, as before.
    let p = pkce();
    let res = authorize(&browser, &code_request(&client.id, &p)).await;
    assert_eq!(claims_of(&app, &client, &p, &res).await["acr"], "urn:latchkey:acr:password");

    let silent =
        authorize(&browser, &code_request(&client.id, &pkce()).set("acr_values", MFA).set("prompt", "none")).await;
    assert_eq!(one(&silent.location_params(), "error"), "interaction_required", "{}", silent.describe());

    let p = pkce();
    let page = authorize(&browser, &code_request(&client.id, &p).set("acr_values", &format!("phr {MFA}"))).await;
    assert_code_page(&page, 200, "a step-up");
    assert!(page.input("password").is_none(), "no password again");
    let wrong = code_step(&browser, &page, &wrong_code(&secret, app.clock_now())).await;
    assert_code_page(&wrong, 401, "a wrong code");
    let done = code_step(&browser, &page, &secret.code_at(app.clock_now())).await;
    let claims = claims_of(&app, &client, &p, &done).await;
    assert_eq!(claims["acr"], MFA, "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]), "{claims}");
    assert_eq!(claims["sid"], before["sid"], "the same session, upgraded");
    assert_eq!(claims["auth_time"], app.clock_now(), "the person just authenticated");
    assert_ne!(browser.cookie("latchkey_session").unwrap(), old_cookie, "a new session id for the stronger session");
    let stolen = app.browser();
    stolen.set_cookie("latchkey_session", &old_cookie);
    let res = authorize(&stolen, &code_request(&client.id, &pkce())).await;
    assert!(res.input("password").is_some(), "the old cookie is gone: {}", res.describe());

    // Now prompt=none is answered with a code, and max_age still counts from the step-up.
    let p = pkce();
    let silent = authorize(&browser, &code_request(&client.id, &p).set("acr_values", MFA).set("prompt", "none")).await;
    assert_eq!(claims_of(&app, &client, &p, &silent).await["acr"], MFA);
    app.clock.advance(120);
    let stale = authorize(&browser, &code_request(&client.id, &pkce()).set("max_age", "60")).await;
    assert!(stale.input("password").is_some(), "max_age: {}", stale.describe());
    let audit = app.cli_json(&["audit", "list", "--kind", "login.step_up"]).await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
}

/// acr_values are voluntary: a person without a second factor signs in with
/// what they have, and the token says so; values we do not know are ignored.
#[tokio::test]
async fn acr_values_a_person_cannot_give_are_answered_with_what_they_have() {
    let app = TestApp::start().await;
    let (client, alice) = (first_party(&app, &[]).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    let page =
        authorize(&browser, &code_request(&client.id, &p).set("acr_values", &format!("phr {MFA} urn:x:gold"))).await;
    let form = [
        ("interaction", page.input("interaction").unwrap()),
        ("csrf", page.input("csrf").unwrap()),
        ("username", "alice".into()),
        ("password", PASSWORD.into()),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = browser.post_form("/login", &pairs).await;
    assert!(res.input("code").is_none(), "no factor to ask for: {}", res.describe());
    assert_eq!(claims_of(&app, &client, &p, &res).await["acr"], "urn:latchkey:acr:password");
    assert!(app.store().get_totp(&alice.id).await.unwrap().is_none_or(|f| f.confirmed_at.is_none()), "nothing set up");
}

/// `mfa.required`: a person without a factor sets one up right after the
/// password (QR code, a code to confirm, the recovery codes once), then the
/// flow goes on, with two factors in the token. Not locked out, and the
/// second time it is the ordinary code page.
#[tokio::test]
async fn when_everyone_must_have_a_factor_a_person_without_one_sets_it_up_after_the_password() {
    let app = TestApp::with_env(&[("LATCHKEY_MFA_REQUIRED", "true")]).await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    let page = password_step(&browser, &client, &alice, &p).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let text = page.text();
    assert!(text.contains("Two-step verification is required") && text.contains("data:image/svg+xml"), "{text}");
    assert!(!signed_in(&browser), "no session before the factor is set up");
    let secret = between(&text, "<code class=\"secret\">", "</code>").replace(' ', "");
    let secret = TotpSecret::from_base32(&secret).unwrap();
    let (interaction, csrf) = (page.input("interaction").unwrap(), page.input("csrf").unwrap());
    let enroll_with = |code: String| {
        let form = [("interaction", interaction.clone()), ("csrf", csrf.clone()), ("code", code)];
        let browser = &browser;
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.post_form("/login/enroll", &pairs).await
        }
    };
    let wrong = enroll_with(wrong_code(&secret, app.clock_now())).await;
    assert_eq!(wrong.status, 400, "{}", wrong.describe());
    assert!(wrong.text().contains("role=\"alert\"") && !signed_in(&browser), "{}", wrong.describe());
    let done = enroll_with(secret.code_at(app.clock_now())).await;
    assert_eq!(done.status, 200, "{}", done.describe());
    assert!(signed_in(&browser));
    let codes = done.text().split("<li><code>").count() - 1;
    assert_eq!(codes, 10, "the recovery codes, once: {}", done.describe());
    let claims = id_token_claims(&app, &browser, &client, &alice, &p, done).await;
    assert_eq!(claims["acr"], MFA, "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // The next sign-in asks for a code, as for anyone with a factor.
    app.clock.advance(30);
    let other = app.browser();
    assert_code_page(&password_step(&other, &client, &alice, &pkce()).await, 200, "second sign-in");
}

/// `mfa.required_groups`: members give a second factor, others do not.
#[tokio::test]
async fn a_group_policy_applies_to_its_members_only() {
    let app = TestApp::with_env(&[("LATCHKEY_MFA_REQUIRED_GROUPS", "admins")]).await;
    let client = confidential(&app).await;
    let alice = alice(&app).await;
    let root = app.create_user("root", PASSWORD, &["--group", "admins"]).await;
    let other = app.browser();
    let res = password_step(&other, &client, &alice, &pkce()).await;
    assert!(res.input("decision").is_some(), "alice is not an admin: {}", res.describe());
    let browser = app.browser();
    let page = password_step(&browser, &client, &root, &pkce()).await;
    assert!(page.text().contains("Two-step verification is required"), "{}", page.describe());
    assert!(page.input("code").is_some() && !signed_in(&browser));
}

/// A client's `require_mfa` steps up a password-only session (the person
/// has a factor) or sets one up (they have none); `prompt=none` gets
/// `interaction_required`. Other clients are not affected.
#[tokio::test]
async fn a_client_that_requires_mfa_steps_up_or_enrolls() {
    let app = TestApp::start().await;
    let (plain, alice) = (first_party(&app, &[]).await, alice(&app).await);
    let strict = first_party(&app, &["--require-mfa"]).await;
    let shown = app.cli_json(&["client", "show", &strict.id]).await;
    assert_eq!(shown["require_mfa"], true, "{shown}");
    let browser = app.browser();
    password_sign_in(&app, &browser, &plain, &alice).await;

    let silent = authorize(&browser, &code_request(&strict.id, &pkce()).set("prompt", "none")).await;
    assert_eq!(one(&silent.location_params(), "error"), "interaction_required", "{}", silent.describe());
    // No factor yet: the setup, in the signed-in session.
    let p = pkce();
    let page = authorize(&browser, &code_request(&strict.id, &p)).await;
    assert!(page.text().contains("Two-step verification is required to continue to Payroll"), "{}", page.describe());
    let secret =
        TotpSecret::from_base32(&between(&page.text(), "<code class=\"secret\">", "</code>").replace(' ', "")).unwrap();
    let form = [
        ("interaction", page.input("interaction").unwrap()),
        ("csrf", page.input("csrf").unwrap()),
        ("code", secret.code_at(app.clock_now())),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = browser.post_form("/login/enroll", &pairs).await;
    let res = browser.drive(done, &alice).await;
    let claims = claims_of(&app, &strict, &p, &res).await;
    assert_eq!(claims["acr"], MFA, "{claims}");
    // The other client keeps working with the same (now stronger) session.
    let p = pkce();
    let res = authorize(&browser, &code_request(&plain.id, &p)).await;
    assert_eq!(claims_of(&app, &plain, &p, &res).await["acr"], MFA);

    // Turned off by the operator: a password-only session is enough again.
    app.cli(&["client", "update", &strict.id, "--require-mfa", "false"]).await.ok();
    let shown = app.cli_json(&["client", "show", &strict.id]).await;
    assert_eq!(shown["require_mfa"], false, "{shown}");
}

/// A client that registered `default_acr_values` of `phr` (a passkey) gets
/// `unmet_authentication_requirements` for a person who has none; one that
/// registered `urn:latchkey:acr:mfa` is stepped up; `acr_values` in the
/// request replace the defaults. Unknown values are refused at registration.
#[tokio::test]
async fn default_acr_values_are_required_and_an_impossible_one_is_unmet() {
    let app = TestApp::start().await;
    let alice = alice(&app).await;
    let passkeys = first_party(&app, &["--default-acr", "phr"]).await;
    let browser = app.browser();
    let page = authorize(&browser, &code_request(&passkeys.id, &pkce())).await;
    let form = [
        ("interaction", page.input("interaction").unwrap()),
        ("csrf", page.input("csrf").unwrap()),
        ("username", "alice".into()),
        ("password", PASSWORD.into()),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = browser.post_form("/login", &pairs).await;
    assert_eq!(one(&res.location_params(), "error"), "unmet_authentication_requirements", "{}", res.describe());
    assert!(!signed_in(&browser), "no session for a sign-in that cannot be completed");

    let two = first_party(&app, &["--default-acr", MFA]).await;
    let (secret, _) = enroll(&app, &alice).await;
    app.clock.advance(30);
    let p = pkce();
    let page = password_step(&browser, &two, &alice, &p).await;
    let done = code_step(&browser, &page, &secret.code_at(app.clock_now())).await;
    assert_eq!(claims_of(&app, &two, &p, &done).await["acr"], MFA);
    // Signed in with two factors: the phr client is still unmet, even silently.
    let unmet = authorize(&browser, &code_request(&passkeys.id, &pkce()).set("prompt", "none")).await;
    assert_eq!(one(&unmet.location_params(), "error"), "unmet_authentication_requirements");
    // The request's acr_values replace the registered ones (voluntary): the best there is.
    let p = pkce();
    let res = authorize(&browser, &code_request(&passkeys.id, &p).set("acr_values", "phr")).await;
    assert_eq!(claims_of(&app, &passkeys, &p, &res).await["acr"], MFA);

    let refused = app.cli(&["client", "create", "--name", "X", "--redirect-uri", CB, "--default-acr", "gold"]).await;
    assert!(!refused.ok && refused.error.contains("default_acr_values"), "{}", refused.error);
}

/// On `/account`, a session that gave no second factor recently proves it
/// again before the factors change; a wrong code counts as a failure.
#[tokio::test]
async fn changing_factors_on_the_account_page_needs_a_fresh_code() {
    let app = TestApp::start().await;
    let alice = alice(&app).await;
    let (browser, _) = account_session(&app).await;
    // Set up elsewhere: this session has the password only.
    let (secret, _) = enroll(&app, &alice).await;
    app.clock.advance(30);
    let page = browser.get("/account").await;
    assert!(page.input("code").is_some(), "a code field: {}", page.describe());
    let csrf = page.input("csrf").unwrap();
    for path in ["/account/mfa/recovery-codes", "/account/mfa/remove"] {
        let res = browser.post_form(path, &[("csrf", &csrf)]).await;
        assert_eq!(res.status, 401, "{path}: {}", res.describe());
        assert!(res.text().contains("role=\"alert\""), "{}", res.describe());
        let wrong = browser.post_form(path, &[("csrf", &csrf), ("code", &wrong_code(&secret, app.clock_now()))]).await;
        assert_eq!(wrong.status, 401, "{path}: {}", wrong.describe());
    }
    assert!(app.store().get_totp(&alice.id).await.unwrap().is_some(), "nothing changed");
    let failures = app.cli_json(&["audit", "list", "--kind", "mfa.failure"]).await;
    assert_eq!(failures.as_array().unwrap().len(), 2, "the wrong codes, not the empty fields: {failures}");

    let res = browser
        .post_form("/account/mfa/recovery-codes", &[("csrf", &csrf), ("code", &secret.code_at(app.clock_now()))])
        .await;
    assert_eq!(res.status, 200, "{}", res.describe());
    app.clock.advance(30);
    let off =
        browser.post_form("/account/mfa/remove", &[("csrf", &csrf), ("code", &secret.code_at(app.clock_now()))]).await;
    assert_eq!(off.location(), Some("/account?done=mfa-removed"), "{}", off.describe());
    assert_eq!(app.store().get_totp(&alice.id).await.unwrap(), None);
}

/// A session that gave a second factor recently changes factors without
/// another code; after `mfa.fresh_seconds` it asks again.
#[tokio::test]
async fn a_fresh_two_factor_session_changes_factors_without_another_code() {
    let app = TestApp::start().await;
    let alice = alice(&app).await;
    let (secret, _) = enroll(&app, &alice).await;
    app.clock.advance(30);
    let browser = app.browser();
    let form = browser.get("/account").await;
    let csrf = form.input("csrf").unwrap();
    let login = [("csrf", csrf.as_str()), ("username", "alice"), ("password", PASSWORD)];
    let page = browser.post_form("/account/login", &login).await;
    let form = [
        ("interaction", page.input("interaction").unwrap()),
        ("csrf", page.input("csrf").unwrap()),
        ("code", secret.code_at(app.clock_now())),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(browser.post_form("/account/login/code", &pairs).await.status, 303);
    let page = browser.get("/account").await;
    assert!(page.input("code").is_none(), "fresh: {}", page.describe());
    let csrf = page.input("csrf").unwrap();
    let res = browser.post_form("/account/mfa/recovery-codes", &[("csrf", &csrf)]).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    app.clock.advance(301);
    let res = browser.post_form("/account/mfa/recovery-codes", &[("csrf", &csrf)]).await;
    assert_eq!(res.status, 401, "no longer fresh: {}", res.describe());
}

/// Signing in to `/account` with a recovery code says so there.
#[tokio::test]
async fn a_recovery_code_at_the_account_sign_in_is_noticed() {
    let app = TestApp::start().await;
    let alice = alice(&app).await;
    let (_, codes) = enroll(&app, &alice).await;
    let browser = app.browser();
    let form = browser.get("/account").await;
    let csrf = form.input("csrf").unwrap();
    let login = [("csrf", csrf.as_str()), ("username", "alice"), ("password", PASSWORD)];
    let page = browser.post_form("/account/login", &login).await;
    let form = [
        ("interaction", page.input("interaction").unwrap()),
        ("csrf", page.input("csrf").unwrap()),
        ("code", codes[3].clone()),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = browser.post_form("/account/login/code", &pairs).await;
    assert_eq!(res.location(), Some("/account?done=recovery-code-used"), "{}", res.describe());
    let page = browser.get(res.location().unwrap()).await;
    assert!(
        page.text().contains("You signed in with a recovery code") && page.text().contains("9 recovery codes left")
    );
}
