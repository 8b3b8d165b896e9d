//! The device authorization grant (RFC 8628) in process, with the clock
//! moved rather than waited for: the endpoint's validation, every poll
//! answer, the wrong-user-code limit on both sides. (The end-to-end
//! `rfc8628_device` tests drive the flow over HTTP on every backend.)

use latchkey_server::testing::{Browser, TestApp, TestClient, TestResponse};
use serde_json::Value;

use crate::common::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public client (a TV app) registered for the device grant only.
pub(crate) async fn tv(app: &TestApp) -> TestClient {
    app.create_client(
        "Living Room TV",
        &[
            "--public",
            "--grant-type",
            DEVICE_GRANT,
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid profile offline_access",
        ],
    )
    .await
}

async fn device_authorization(app: &TestApp, client: &TestClient, scope: &str) -> TestResponse {
    match &client.secret {
        Some(secret) => app.post("/device_authorization").basic(&client.id, secret).form(&[("scope", scope)]).await,
        None => app.post("/device_authorization").form(&[("client_id", &client.id), ("scope", scope)]).await,
    }
}

pub(crate) async fn start(app: &TestApp, client: &TestClient) -> Value {
    let res = device_authorization(app, client, "openid profile offline_access").await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    res.json()
}

pub(crate) async fn poll(app: &TestApp, client: &TestClient, device_code: &str) -> TestResponse {
    token(app, client, &[("grant_type", DEVICE_GRANT), ("device_code", device_code)]).await
}

/// Enters `user_code` at /device (the form as the page serves it).
pub(crate) async fn enter(browser: &Browser<'_>, user_code: &str) -> TestResponse {
    let page = browser.get("/device").await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let csrf = page.input("csrf").expect("csrf field");
    browser.post_form("/device", &[("csrf", &csrf), ("user_code", user_code)]).await
}

/// Signs in on the login page `res` and answers the device's consent page.
pub(crate) async fn sign_in_and_decide(browser: &Browser<'_>, res: TestResponse, decision: &str) -> TestResponse {
    let alice =
        latchkey_server::testing::TestUser { id: String::new(), username: "alice".into(), password: PASSWORD.into() };
    let interaction = res.input("interaction").expect("the login form");
    let csrf = res.input("csrf").unwrap();
    let form = [
        ("interaction", interaction.as_str()),
        ("csrf", csrf.as_str()),
        ("username", alice.username.as_str()),
        ("password", alice.password.as_str()),
    ];
    let consent = browser.post_form("/login", &form).await;
    decide(browser, &consent, decision).await
}

async fn decide(browser: &Browser<'_>, consent: &TestResponse, decision: &str) -> TestResponse {
    assert_eq!(consent.status, 200, "{}", consent.describe());
    let interaction = consent.input("interaction").expect("the consent form");
    let csrf = consent.input("csrf").unwrap();
    browser
        .post_form("/device/consent", &[("interaction", &interaction), ("csrf", &csrf), ("decision", decision)])
        .await
}

#[tokio::test]
async fn a_device_is_approved_polls_and_gets_tokens_once() {
    let app = TestApp::start().await;
    let (client, _alice) = (tv(&app).await, alice(&app).await);
    let grant = start(&app, &client).await;
    let user_code = grant["user_code"].as_str().unwrap();
    let device_code = grant["device_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "{grant}");
    assert_eq!(grant["verification_uri"], app.url("/device"));
    assert_eq!(grant["verification_uri_complete"], format!("{}?user_code={user_code}", app.url("/device")));
    assert_eq!((grant["expires_in"].as_i64(), grant["interval"].as_i64()), (Some(600), Some(5)));

    assert_oauth_error(&poll(&app, &client, device_code).await, 400, "authorization_pending", "before approval");
    assert_oauth_error(&poll(&app, &client, device_code).await, 400, "slow_down", "at once again");
    app.clock.advance(9);
    assert_oauth_error(&poll(&app, &client, device_code).await, 400, "slow_down", "9 s: the interval was 10 s");
    app.clock.advance(15);
    assert_oauth_error(&poll(&app, &client, device_code).await, 400, "authorization_pending", "after the 15 s");

    // verification_uri_complete pre-fills the field; the code is typed in lower case.
    let browser = app.browser();
    let page = browser.get(&format!("/device?user_code={user_code}")).await;
    assert_eq!(page.input("user_code").as_deref(), Some(user_code));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"), "{csp}");
    let csrf = page.input("csrf").unwrap();
    let login = browser.post_form("/device", &[("csrf", &csrf), ("user_code", &user_code.to_lowercase())]).await;
    assert!(login.input("password").is_some(), "the normal sign-in: {}", login.describe());
    let alice_form = |res: &TestResponse| {
        [
            ("interaction", res.input("interaction").unwrap()),
            ("csrf", res.input("csrf").unwrap()),
            ("username", "alice".to_string()),
            ("password", PASSWORD.to_string()),
        ]
    };
    let form = alice_form(&login);
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let consent = browser.post_form("/login", &pairs).await;
    let text = consent.text();
    assert!(text.contains(user_code), "the consent page shows the code: {}", consent.describe());
    assert!(text.contains("Living Room TV") && text.contains("Continue only if you started this yourself"));
    let done = decide(&browser, &consent, "allow").await;
    assert_eq!(done.status, 200, "{}", done.describe());
    assert!(done.text().contains("You can return to your device"), "{}", done.describe());

    app.clock.advance(15);
    let res = poll(&app, &client, device_code).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let tokens = res.json();
    assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string(), "{tokens}");
    assert_eq!(tokens["scope"], "offline_access openid profile");

    app.clock.advance(15);
    assert_oauth_error(&poll(&app, &client, device_code).await, 400, "invalid_grant", "a replayed device code");
    // The replay revoked what the first redemption got.
    let refreshed = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_oauth_error(&refreshed, 400, "invalid_grant", "the family of a replayed device code");
}

#[tokio::test]
async fn denied_and_expired_devices_are_told_so() {
    let app = TestApp::start().await;
    let (client, _alice) = (tv(&app).await, alice(&app).await);
    let grant = start(&app, &client).await;
    let browser = app.browser();
    let login = enter(&browser, grant["user_code"].as_str().unwrap()).await;
    let done = sign_in_and_decide(&browser, login, "deny").await;
    assert!(done.text().contains("You can return to your device"), "{}", done.describe());
    assert_oauth_error(
        &poll(&app, &client, grant["device_code"].as_str().unwrap()).await,
        400,
        "access_denied",
        "denied",
    );

    // Signed in already: the code leads straight to the consent page.
    let late = start(&app, &client).await;
    app.clock.advance(600);
    let res = enter(&browser, late["user_code"].as_str().unwrap()).await;
    assert_eq!(res.status, 400, "an expired code is a wrong code: {}", res.describe());
    assert_oauth_error(
        &poll(&app, &client, late["device_code"].as_str().unwrap()).await,
        400,
        "expired_token",
        "expired",
    );

    let again = start(&app, &client).await;
    let consent = enter(&browser, again["user_code"].as_str().unwrap()).await;
    assert!(consent.text().contains(again["user_code"].as_str().unwrap()), "{}", consent.describe());
    app.clock.advance(600);
    let res = decide(&browser, &consent, "allow").await;
    assert_eq!(res.status, 400, "approving after expiry: {}", res.describe());
    assert_oauth_error(
        &poll(&app, &client, again["device_code"].as_str().unwrap()).await,
        400,
        "expired_token",
        "expired",
    );
}

#[tokio::test]
async fn the_endpoints_refuse_what_is_not_allowed() {
    let app = TestApp::start().await;
    let tv = tv(&app).await;
    let web = confidential(&app).await;
    assert_oauth_error(
        &device_authorization(&app, &web, "openid").await,
        400,
        "unauthorized_client",
        "no device grant",
    );
    assert_oauth_error(&device_authorization(&app, &tv, "").await, 400, "invalid_scope", "no scope");
    assert_oauth_error(
        &device_authorization(&app, &tv, "openid email").await,
        400,
        "invalid_scope",
        "unregistered scope",
    );
    let res = app.post("/device_authorization").form(&[("client_id", "nobody"), ("scope", "openid")]).await;
    assert_oauth_error(&res, 401, "invalid_client", "unknown client");

    let grant = start(&app, &tv).await;
    let device_code = grant["device_code"].as_str().unwrap();
    assert_oauth_error(&poll(&app, &web, device_code).await, 400, "unauthorized_client", "a client without the grant");
    let other = app.create_client("Other TV", &["--public", "--grant-type", DEVICE_GRANT, "--scope", "openid"]).await;
    assert_oauth_error(&poll(&app, &other, device_code).await, 400, "invalid_grant", "another client's device code");
    assert_oauth_error(&poll(&app, &tv, "not-a-device-code").await, 400, "invalid_grant", "unknown");
    let res = token(&app, &tv, &[("grant_type", DEVICE_GRANT)]).await;
    assert_oauth_error(&res, 400, "invalid_request", "no device_code");
    // The device code is never an authorization code.
    let res = token(&app, &tv, &[("grant_type", "authorization_code"), ("code", device_code)]).await;
    assert_eq!(res.json()["error"], "unauthorized_client", "{}", res.describe());

    // CSRF: the entry form without the browser's cookie.
    let res = app.post("/device").form(&[("csrf", "x"), ("user_code", grant["user_code"].as_str().unwrap())]).await;
    assert_eq!(res.status, 403, "{}", res.describe());
}

#[tokio::test]
async fn a_person_who_mistypes_gets_in_and_a_guesser_is_stopped() {
    // The defaults: 20 wrong codes per address per 15 minutes.
    let app = TestApp::start().await;
    let (client, _alice) = (tv(&app).await, alice(&app).await);
    let browser = app.browser();
    let grant = start(&app, &client).await;
    for wrong in ["BCDF-GHJK", "XXXX-XXXX", "bcdfghjk"] {
        let res = enter(&browser, wrong).await;
        assert_eq!(res.status, 400, "{}", res.describe());
        assert!(res.text().contains("That code is not valid"), "{}", res.describe());
        assert_eq!(res.input("user_code").as_deref(), Some(wrong), "what was typed is kept");
    }
    for typo in ["BCDF-GHJ", "AEIO-UAEI"] {
        assert_eq!(enter(&browser, typo).await.status, 400, "a malformed code is a typo, not counted");
    }
    let res = enter(&browser, grant["user_code"].as_str().unwrap()).await;
    assert!(res.input("password").is_some(), "the rightful person gets in: {}", res.describe());

    // A guesser: 17 more wrong codes reach the limit of 20.
    for i in 0..17 {
        let res = enter(&browser, "ZZZZ-ZZZZ").await;
        let expected = if i == 16 { 429 } else { 400 };
        assert_eq!(res.status, expected, "wrong code {}: {}", i + 4, res.describe());
    }
    let res = enter(&browser, grant["user_code"].as_str().unwrap()).await;
    assert_eq!(res.status, 429, "refused, even a right code, until the count ends: {}", res.describe());
    assert!(res.header("retry-after").is_some());
    assert!(res.text().contains("Too many wrong codes"), "{}", res.describe());
    // Another address is not affected.
    let elsewhere = app.browser();
    let page = elsewhere.get("/device").await;
    let csrf = page.input("csrf").unwrap();
    let res = elsewhere
        .send(
            app.post("/device")
                .form(&[("csrf", csrf.as_str()), ("user_code", grant["user_code"].as_str().unwrap())])
                .from_peer("198.51.100.7:40000".parse().unwrap()),
        )
        .await;
    assert!(res.input("password").is_some(), "{}", res.describe());
    app.clock.advance(900);
    let fresh = start(&app, &client).await;
    let res = enter(&browser, fresh["user_code"].as_str().unwrap()).await;
    assert!(res.input("password").is_some(), "the count ended: {}", res.describe());
}

#[tokio::test]
async fn discovery_and_registration_know_the_grant() {
    let app = TestApp::start().await;
    let meta = app.get("/.well-known/openid-configuration").await.json();
    assert_eq!(meta["device_authorization_endpoint"], app.url("/device_authorization"));
    assert!(meta["grant_types_supported"].as_array().unwrap().iter().any(|g| g == DEVICE_GRANT), "{meta}");
    let shown =
        app.cli_json(&["client", "create", "--name", "CLI tool", "--public", "--grant-type", DEVICE_GRANT]).await;
    assert_eq!(shown["grant_types"], serde_json::json!([DEVICE_GRANT]), "{shown}");
    assert!(shown["scope"].as_str().unwrap().contains("openid"), "a device signs people in: {shown}");
}

#[tokio::test]
async fn removing_the_app_at_the_account_page_cuts_the_device_off() {
    let app = TestApp::start().await;
    let (client, _alice) = (tv(&app).await, alice(&app).await);
    let grant = start(&app, &client).await;
    let browser = app.browser();
    let login = enter(&browser, grant["user_code"].as_str().unwrap()).await;
    assert_eq!(sign_in_and_decide(&browser, login, "allow").await.status, 200);
    let res = poll(&app, &client, grant["device_code"].as_str().unwrap()).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let tokens = res.json();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.get("/userinfo").bearer(access).await.status, 200);

    let page = browser.get("/account").await;
    assert!(page.text().contains("Living Room TV"), "the device's app is listed: {}", page.describe());
    let csrf = page.input("csrf").unwrap();
    let res = browser.post_form("/account/apps/revoke", &[("csrf", &csrf), ("client_id", &client.id)]).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    assert_eq!(app.get("/userinfo").bearer(access).await.status, 401, "the access token is revoked");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let res = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_oauth_error(&res, 400, "invalid_grant", "the refresh token is revoked");
}

#[tokio::test]
async fn clients_register_for_the_grant_with_rfc_7591() {
    let app = TestApp::with_env(&[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let body = serde_json::json!({
        "client_name": "Registered TV",
        "grant_types": [DEVICE_GRANT, "refresh_token"],
        "token_endpoint_auth_method": "none",
        "scope": "openid offline_access",
    });
    let res = app.post("/register").json(&body).await;
    assert_eq!(res.status, 201, "{}", res.describe());
    let registered = res.json();
    assert_eq!(registered["grant_types"], serde_json::json!([DEVICE_GRANT, "refresh_token"]), "{registered}");
    let client = TestClient { id: registered["client_id"].as_str().unwrap().to_string(), secret: None };
    let res = device_authorization(&app, &client, "openid offline_access").await;
    assert_eq!(res.status, 200, "{}", res.describe());
}

#[tokio::test]
async fn an_approved_device_code_is_never_an_authorization_code() {
    let app = TestApp::start().await;
    let _alice = alice(&app).await;
    let client = app
        .create_client(
            "Hybrid",
            &["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", DEVICE_GRANT],
        )
        .await;
    let res = device_authorization(&app, &client, "openid").await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let grant = res.json();
    let device_code = grant["device_code"].as_str().unwrap();
    let browser = app.browser();
    let login = enter(&browser, grant["user_code"].as_str().unwrap()).await;
    assert_eq!(sign_in_and_decide(&browser, login, "allow").await.status, 200);
    let form = [("grant_type", "authorization_code"), ("code", device_code), ("redirect_uri", CB)];
    assert_oauth_error(&token(&app, &client, &form).await, 400, "invalid_grant", "the device code as a code");
    let res = poll(&app, &client, device_code).await;
    assert_eq!(res.status, 200, "still redeemable by the device: {}", res.describe());
}

#[tokio::test]
async fn the_admin_api_allows_the_grant_per_client() {
    let app = TestApp::with_env(&[("LATCHKEY_ADMIN_ENABLED", "true")]).await;
    let admin = app
        .cli_json(&["admin", "token", "create", "--name", "ops", "--scope", "clients:write", "--scope", "clients:read"])
        .await;
    let bearer = admin["token"].as_str().unwrap();
    let body = serde_json::json!({
        "client_name": "Kiosk",
        "grant_types": [DEVICE_GRANT],
        "token_endpoint_auth_method": "none",
        "scope": "openid",
    });
    let res = app.post("/admin/api/v1/clients").bearer(bearer).json(&body).await;
    assert!(res.status.is_success(), "{}", res.describe());
    let created = res.json();
    assert_eq!(created["grant_types"], serde_json::json!([DEVICE_GRANT]), "{created}");
    let client = TestClient { id: created["client_id"].as_str().unwrap().to_string(), secret: None };
    assert_eq!(device_authorization(&app, &client, "openid").await.status, 200);
}

#[tokio::test]
async fn device_authorizations_are_limited_per_address_per_minute() {
    // The default, 60 a minute: an office of devices passes, a flood stops.
    let app = TestApp::start().await;
    let client = tv(&app).await;
    // Start at the beginning of a minute, so that all 61 fall into one.
    app.clock.advance(60 - app.clock_now().rem_euclid(60));
    for i in 0..60 {
        let res = device_authorization(&app, &client, "openid").await;
        assert_eq!(res.status, 200, "request {}: {}", i + 1, res.describe());
    }
    let res = device_authorization(&app, &client, "openid").await;
    assert_oauth_error(&res, 429, "temporarily_unavailable", "the 61st in a minute");
    assert!(res.header("retry-after").is_some());
    let other = app
        .post("/device_authorization")
        .form(&[("client_id", client.id.as_str()), ("scope", "openid")])
        .from_peer("198.51.100.7:40000".parse().unwrap())
        .await;
    assert_eq!(other.status, 200, "another address: {}", other.describe());
    app.clock.advance(60);
    assert_eq!(device_authorization(&app, &client, "openid").await.status, 200, "the next minute");
}

/// A device client that requires two factors: a person signed in with a
/// password alone signs in again at `/device` (then sets a factor up),
/// while a client without the requirement goes straight to the consent.
#[tokio::test]
async fn a_device_client_that_requires_mfa_asks_a_password_only_session_again() {
    let app = TestApp::start().await;
    let (plain, _alice) = (tv(&app).await, alice(&app).await);
    let strict = app
        .create_client(
            "Office Display",
            &["--public", "--grant-type", DEVICE_GRANT, "--scope", "openid profile", "--require-mfa"],
        )
        .await;
    let browser = app.browser();
    // Signed in with the password through the plain device.
    let grant = start(&app, &plain).await;
    let login = enter(&browser, grant["user_code"].as_str().unwrap()).await;
    assert_eq!(sign_in_and_decide(&browser, login, "allow").await.status, 200);
    let again = start(&app, &plain).await;
    let consent = enter(&browser, again["user_code"].as_str().unwrap()).await;
    assert!(consent.input("decision").is_some(), "the session is enough here: {}", consent.describe());

    let res = device_authorization(&app, &strict, "openid profile").await;
    let login = enter(&browser, res.json()["user_code"].as_str().unwrap()).await;
    assert!(login.input("password").is_some(), "signed in again: {}", login.describe());
    let form = [
        ("interaction", login.input("interaction").unwrap()),
        ("csrf", login.input("csrf").unwrap()),
        ("username", "alice".to_string()),
        ("password", PASSWORD.to_string()),
    ];
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let setup = browser.post_form("/login", &pairs).await;
    assert!(setup.text().contains("Two-step verification is required"), "{}", setup.describe());
}
