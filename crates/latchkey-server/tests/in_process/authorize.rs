//! The authorization endpoint's rules that depend on time or on limits:
//! parameter sizes on both sides of the limit, session lifetimes (idle and
//! absolute), `max_age`, the lifetime of a sign-in form, and `auth_time`
//! across single sign-on, with the clock moved rather than waited for.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_server::testing::{Browser, TestApp, TestResponse};
use serde_json::Value;

use crate::common::*;

fn is_login(res: &TestResponse) -> bool {
    res.status == 200 && res.input("password").is_some()
}

/// A phase-2 error: a redirect to [`CB`] with `error`, `state` and `iss`.
fn assert_error_redirect(res: &TestResponse, error: &str, what: &str) -> Vec<(String, String)> {
    assert!(res.status.is_redirection(), "{what}: {}", res.describe());
    assert!(res.location().unwrap_or_default().starts_with(&format!("{CB}?")), "{what}: {}", res.describe());
    let pairs = res.location_params();
    assert_eq!(one(&pairs, "error"), error, "{what}: {pairs:?}");
    assert_eq!(one(&pairs, "iss"), latchkey_server::testing::ISSUER, "{what}");
    assert!(get(&pairs, "code").is_none(), "{what}");
    pairs
}

/// The claims of a JWT, unverified (the tests that verify signatures are end to end).
fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

/// Runs the flow for `params` in `browser` (signing in only when asked) and
/// exchanges the code.
async fn id_token_of(app: &TestApp, browser: &Browser<'_>, params: &Params, p: &Pkce) -> Value {
    let alice =
        latchkey_server::testing::TestUser { id: String::new(), username: "alice".into(), password: PASSWORD.into() };
    let code = code_for(browser, &alice, params).await;
    let client_id = get(&params.0, "client_id").unwrap();
    let client = app.cli_json(&["client", "show", &client_id]).await;
    assert_eq!(client["token_endpoint_auth_method"], "none", "a public client keeps this helper simple");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
        ("client_id", client_id.as_str()),
    ];
    let res = app.post("/token").form(&form).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    claims_of(res.json()["id_token"].as_str().expect("an ID token"))
}

#[tokio::test]
async fn parameters_are_limited_to_4096_bytes() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let browser = app.browser();
    let p = pkce();
    let good = code_request(&client.id, &p);
    for name in ["state", "nonce", "login_hint", "acr_values", "ui_locales", "claims_locales"] {
        let res = authorize(&browser, &good.clone().set(name, &"a".repeat(4096))).await;
        assert!(is_login(&res), "{name} of 4096 bytes is fine: {}", res.describe());
        let res = authorize(&browser, &good.clone().set(name, &"a".repeat(4097))).await;
        let pairs = assert_error_redirect(&res, "invalid_request", &format!("{name} of 4097 bytes"));
        assert!(one(&pairs, "error_description").contains(name), "{name}: {pairs:?}");
    }
}

#[tokio::test]
async fn a_challenge_method_needs_a_challenge() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let browser = app.browser();
    let p = pkce();
    let res = authorize(&browser, &code_request(&client.id, &p).without("code_challenge")).await;
    let pairs = assert_error_redirect(&res, "invalid_request", "code_challenge_method alone");
    assert_eq!(one(&pairs, "state"), "s-1");
}

#[tokio::test]
async fn a_session_ends_when_idle_for_its_idle_lifetime() {
    let app =
        TestApp::with_env(&[("LATCHKEY_SESSIONS_IDLE_TTL_SECONDS", "600"), ("LATCHKEY_SESSIONS_TTL_SECONDS", "86400")])
            .await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    let params = code_request(&client.id, &p);
    code_for(&browser, &alice, &params).await;

    // Each use moves the idle deadline.
    for _ in 0..3 {
        app.clock.advance(599);
        let res = authorize(&browser, &params).await;
        assert!(res.status.is_redirection(), "used within 600 s: straight to the app: {}", res.describe());
        assert!(get(&res.location_params(), "code").is_some(), "{}", res.describe());
    }
    app.clock.advance(601);
    let res = authorize(&browser, &params).await;
    assert!(is_login(&res), "idle for 601 s: sign in again: {}", res.describe());
    let res = authorize(&browser, &params.clone().set("prompt", "none")).await;
    assert_error_redirect(&res, "login_required", "prompt=none after the idle lifetime");
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_busy() {
    let app =
        TestApp::with_env(&[("LATCHKEY_SESSIONS_IDLE_TTL_SECONDS", "600"), ("LATCHKEY_SESSIONS_TTL_SECONDS", "1000")])
            .await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    let params = code_request(&client.id, &p);
    code_for(&browser, &alice, &params).await;
    app.clock.advance(500);
    assert!(authorize(&browser, &params).await.status.is_redirection(), "at 500 s");
    app.clock.advance(499);
    assert!(authorize(&browser, &params).await.status.is_redirection(), "at 999 s");
    app.clock.advance(2);
    let res = authorize(&browser, &params).await;
    assert!(is_login(&res), "at 1001 s, used a second ago: {}", res.describe());
}

#[tokio::test]
async fn max_age_counts_from_the_sign_in() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    let params = code_request(&client.id, &p);
    code_for(&browser, &alice, &params).await;
    app.clock.advance(100);
    let res = authorize(&browser, &params.clone().set("max_age", "100")).await;
    assert!(res.status.is_redirection(), "signed in 100 s ago, max_age=100: {}", res.describe());
    app.clock.advance(1);
    let res = authorize(&browser, &params.clone().set("max_age", "100")).await;
    assert!(is_login(&res), "signed in 101 s ago, max_age=100: {}", res.describe());
    let res = authorize(&browser, &params.clone().set("max_age", "100").set("prompt", "none")).await;
    assert_error_redirect(&res, "login_required", "prompt=none with max_age exceeded");
    let res = authorize(&browser, &params.clone().set("max_age", "101")).await;
    assert!(res.status.is_redirection(), "max_age=101: {}", res.describe());
}

#[tokio::test]
async fn a_sign_in_form_expires_with_its_interaction() {
    let app = TestApp::with_env(&[("LATCHKEY_LOGIN_INTERACTION_TTL_SECONDS", "120")]).await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let p = pkce();
    for (advance, works) in [(119, true), (121, false)] {
        let browser = app.browser();
        let page = authorize(&browser, &code_request(&client.id, &p)).await;
        assert!(is_login(&page), "{}", page.describe());
        app.clock.advance(advance);
        let interaction = page.input("interaction").unwrap();
        let csrf = page.input("csrf").unwrap();
        let form = [
            ("interaction", interaction.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", alice.password.as_str()),
        ];
        let res = browser.post_form("/login", &form).await;
        if works {
            assert!(res.status.is_redirection() || res.input("decision").is_some(), "{advance} s: {}", res.describe());
        } else {
            assert_eq!(res.status, 400, "{advance} s: {}", res.describe());
            assert!(res.text().contains("expired"), "{}", res.describe());
            assert!(res.location().is_none(), "an expired form redirects nowhere");
        }
    }
}

#[tokio::test]
async fn auth_time_stays_the_time_of_the_sign_in() {
    let app = TestApp::start().await;
    let client = public(&app).await;
    alice(&app).await;
    let browser = app.browser();
    let p = pkce();
    let params = code_request(&client.id, &p).set("nonce", "n-1");
    let signed_in_at = app.clock_now();
    let first = id_token_of(&app, &browser, &params, &p).await;
    assert_eq!(first["auth_time"], signed_in_at, "{first}");
    assert_eq!(first["iat"], signed_in_at, "{first}");
    assert_eq!(first["nonce"], "n-1", "{first}");

    app.clock.advance(300);
    let second = id_token_of(&app, &browser, &params.clone().set("nonce", "n-2"), &p).await;
    assert_eq!(second["auth_time"], signed_in_at, "single sign-on keeps the sign-in time: {second}");
    assert_eq!(second["iat"], signed_in_at + 300, "{second}");
    assert_eq!(second["nonce"], "n-2", "{second}");
    assert_eq!(second["sid"], first["sid"], "the same session: {second}");

    // prompt=login signs in again: a new auth_time, the same person.
    app.clock.advance(60);
    let third = id_token_of(&app, &browser, &params.clone().set("prompt", "login"), &p).await;
    assert_eq!(third["auth_time"], signed_in_at + 360, "{third}");
    assert_eq!(third["sub"], first["sub"]);
}
