//! The `claims` request parameter (OpenID Connect Core §5.5): claims asked
//! for one by one reach the ID token or UserInfo as asked, only with the
//! consent their scope needs and only where the client may ask for that
//! scope, and they survive refresh. `acr` asked with `values` is wanted, or
//! required when essential (§5.5.1.1), and the ID token names a requested
//! class. Malformed parameters are `invalid_request`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_server::testing::{Browser, TestApp, TestClient, TestResponse, TestUser};
use serde_json::{Value, json};

use crate::common::*;
use crate::mfa::enroll;

const MFA: &str = "urn:latchkey:acr:mfa";

fn payload(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn userinfo(app: &TestApp, access_token: &str) -> Value {
    let res = app.get("/userinfo").bearer(access_token).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    res.json()
}

fn request(client: &TestClient, p: &Pkce, scope: &str, claims: &Value) -> Params {
    code_request(&client.id, p).set("scope", scope).set("claims", &claims.to_string())
}

async fn alice_with_everything(app: &TestApp) -> TestUser {
    app.create_user(
        "alice",
        PASSWORD,
        &[
            "--email",
            "alice@example.com",
            "--email-verified",
            "--name",
            "Alice Liddell",
            "--claim",
            "phone_number=+442079460000",
            "--claim",
            "nickname=Al",
            "--group",
            "staff",
        ],
    )
    .await
}

#[tokio::test]
async fn claims_asked_one_by_one_are_released_where_asked_with_consent_and_after_refresh() {
    let app = TestApp::start().await;
    let alice = alice_with_everything(&app).await;
    // May ask for email and phone, not profile or groups.
    let args =
        ["--redirect-uri", CB, "--scope", "openid email phone offline_access", "--grant-type", "authorization_code"];
    let client = app.create_client("Shop", &[&args[..], &["--grant-type", "refresh_token"]].concat()).await;
    let discovery = app.get("/.well-known/openid-configuration").await.json();
    assert_eq!(discovery["claims_parameter_supported"], true);

    let claims = json!({
        "id_token": {"email": {"essential": true}, "auth_time": null, "shoe_size": null},
        "userinfo": {"phone_number": null, "phone_number_verified": null, "nickname": null, "groups": null},
    });
    let browser = app.browser();
    let p = pkce();
    let page = authorize(&browser, &request(&client, &p, "openid offline_access", &claims)).await;
    let page = give_password(&browser, &page, &alice).await;
    assert!(page.input("decision").is_some(), "the consent page: {}", page.describe());
    let text = page.text();
    assert!(text.contains("See your email address") && text.contains("See your phone number"), "{text}");
    assert!(!text.contains("groups you belong to") && !text.contains("your name"), "not allowed, not asked: {text}");
    let done = browser.drive(page, &alice).await;
    let tokens = redeem(&app, &client, &p, &done).await;
    assert_eq!(tokens["scope"], "offline_access openid", "the scope is what was asked");

    let id = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["email"], "alice@example.com", "{id}");
    assert!(id.get("email_verified").is_none() && id.get("phone_number").is_none(), "only what was asked: {id}");
    assert!(id.get("auth_time").is_some() && id.get("shoe_size").is_none(), "{id}");
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (info["phone_number"].as_str(), info["phone_number_verified"].as_bool()),
        (Some("+442079460000"), Some(false))
    );
    for absent in ["nickname", "groups", "email", "name"] {
        assert!(info.get(absent).is_none(), "{absent}: {info}");
    }

    // The tokens a refresh gives release the same.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let res = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let refreshed = res.json();
    assert_eq!(payload(refreshed["id_token"].as_str().unwrap())["email"], "alice@example.com");
    let info = userinfo(&app, refreshed["access_token"].as_str().unwrap()).await;
    assert_eq!(info["phone_number"], "+442079460000");

    // The consent is remembered, also for asking by scope.
    for (scope, claims) in [("openid", claims.clone()), ("openid email phone", json!({}))] {
        let p = pkce();
        let res = authorize(&browser, &request(&client, &p, scope, &claims)).await;
        assert!(res.status.is_redirection(), "{scope}: no consent page again: {}", res.describe());
        redeem(&app, &client, &p, &res).await;
    }
    // A claim whose scope was not consented asks first: consent to the
    // identity alone, then the email by claim.
    let other = app.create_client("Other", &["--redirect-uri", CB, "--scope", "openid email"]).await;
    let p = pkce();
    let res = browser.drive(authorize(&browser, &request(&other, &p, "openid", &json!({}))).await, &alice).await;
    redeem(&app, &other, &p, &res).await;
    let res = authorize(&browser, &request(&other, &pkce(), "openid", &json!({"userinfo": {"email": null}}))).await;
    assert!(res.input("decision").is_some() && res.text().contains("See your email address"), "{}", res.describe());
}

#[tokio::test]
async fn a_malformed_claims_parameter_is_invalid_request() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let browser = app.browser();
    let long = json!({"userinfo": {"x".repeat(5000): null}}).to_string();
    for (scope, claims, what) in [
        ("openid", "not json", "not JSON"),
        ("openid", "[]", "not an object"),
        ("openid", r#"{"userinfo":{"email":true}}"#, "an entry neither null nor an object"),
        ("openid", r#"{"id_token":{"acr":{"values":"phr"}}}"#, "values not an array"),
        ("openid", r#"{"id_token":{"acr":{"value":2}}}"#, "an acr value not a string"),
        ("openid", long.as_str(), "too long"),
        ("profile", r#"{"userinfo":{"email":null}}"#, "without openid"),
    ] {
        let res =
            authorize(&browser, &code_request(&client.id, &pkce()).set("scope", scope).set("claims", claims)).await;
        assert!(res.status.is_redirection(), "{what}: {}", res.describe());
        assert_eq!(one(&res.location_params(), "error"), "invalid_request", "{what}");
    }
}

/// Opens `params` and signs in with the password; the page after it.
async fn after_password(browser: &Browser<'_>, user: &TestUser, params: &Params) -> TestResponse {
    let page = authorize(browser, params).await;
    assert!(page.input("password").is_some(), "{}", page.describe());
    give_password(browser, &page, user).await
}

#[tokio::test]
async fn an_essential_acr_is_required_and_named_in_the_id_token() {
    let app = TestApp::start().await;
    let alice = alice(&app).await;
    let client = app.create_client("Payroll", &["--redirect-uri", CB, "--skip-consent"]).await;
    let (secret, _) = enroll(&app, &alice).await;
    app.clock.advance(30);
    let essential = |values: &[&str]| json!({"id_token": {"acr": {"essential": true, "values": values}}});

    // Essential mfa: the code is asked, and the ID token says mfa.
    let browser = app.browser();
    let p = pkce();
    let page = after_password(&browser, &alice, &request(&client, &p, "openid", &essential(&[MFA]))).await;
    assert!(page.input("code").is_some(), "the second step: {}", page.describe());
    let form = [
        ("interaction", page.input("interaction").unwrap()),
        ("csrf", page.input("csrf").unwrap()),
        ("code", secret.code_at(app.clock_now())),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = browser.post_form("/login/code", &form).await;
    let id = payload(redeem(&app, &client, &p, &done).await["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], MFA, "{id}");

    // The session (mfa) satisfies a weaker class: the ID token names the
    // first requested class it meets, as §5.5.1.1 requires.
    let p = pkce();
    let res =
        authorize(&browser, &request(&client, &p, "openid", &essential(&["urn:x:gold", "urn:latchkey:acr:password"])))
            .await;
    let id = payload(redeem(&app, &client, &p, &res).await["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "urn:latchkey:acr:password", "{id}");
    // Not essential: the session's own class.
    let p = pkce();
    let voluntary = json!({"id_token": {"acr": {"values": ["urn:latchkey:acr:password"]}}});
    let res = authorize(&browser, &request(&client, &p, "openid", &voluntary)).await;
    let id = payload(redeem(&app, &client, &p, &res).await["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], MFA, "{id}");

    // What cannot be met fails for the client: a passkey she does not have,
    // a class we do not issue.
    for values in [&["phr"][..], &["urn:x:gold"][..]] {
        let res = authorize(&browser, &request(&client, &pkce(), "openid", &essential(values))).await;
        assert_eq!(one(&res.location_params(), "error"), "unmet_authentication_requirements", "{values:?}");
    }

    // A session from a password alone, for a person without a factor:
    // without interaction, `interaction_required`; with it, she sets one up.
    let carol = app.create_user("carol", PASSWORD, &[]).await;
    let browser = app.browser();
    let p = pkce();
    let page = after_password(&browser, &carol, &code_request(&client.id, &p)).await;
    redeem(&app, &client, &p, &page).await;
    let silent = request(&client, &pkce(), "openid", &essential(&[MFA])).set("prompt", "none");
    let res = authorize(&browser, &silent).await;
    assert_eq!(one(&res.location_params(), "error"), "interaction_required", "{}", res.describe());
    let res = authorize(&browser, &request(&client, &pkce(), "openid", &essential(&[MFA]))).await;
    assert!(res.status == 200 && res.text().contains("otpauth://"), "set up an app: {}", res.describe());
}
