//! Introspection (RFC 7662) answers as time passes and records change: an
//! access token is active until its `exp`, a refresh token until it is used,
//! revoked or expires, and the answer for a refresh token has its own fields.

use latchkey_server::testing::{TestApp, TestClient, TestResponse};
use serde_json::Value;

use crate::common::*;

const OFFLINE: &str = "openid profile offline_access";

async fn introspect(app: &TestApp, caller: &TestClient, token: &str, hint: Option<&str>) -> TestResponse {
    let mut form = vec![("token", token)];
    form.extend(hint.map(|h| ("token_type_hint", h)));
    app.post("/introspect").basic(&caller.id, caller.secret()).form(&form).await
}

async fn answer(app: &TestApp, caller: &TestClient, token: &str) -> Value {
    let res = introspect(app, caller, token, None).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    res.json()
}

async fn offline_client(app: &TestApp) -> TestClient {
    app.create_client(
        "Offline",
        &["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", "refresh_token"],
    )
    .await
}

#[tokio::test]
async fn an_access_token_is_active_until_its_exp() {
    let app = TestApp::with_env(&[("LATCHKEY_TOKENS_ACCESS_TOKEN_TTL_SECONDS", "300")]).await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let issued_at = app.clock_now();
    let at = tokens(&app, &client, &alice, SCOPES).await["access_token"].as_str().unwrap().to_string();
    let v = answer(&app, &client, &at).await;
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["exp"], issued_at + 300, "{v}");
    assert_eq!(v["iat"], issued_at, "{v}");
    app.clock.advance(299);
    assert_eq!(answer(&app, &client, &at).await["active"], true, "a second before exp");
    app.clock.advance(1);
    assert_eq!(answer(&app, &client, &at).await, serde_json::json!({"active": false}), "at exp");
    // UserInfo agrees.
    let res = app.get("/userinfo").bearer(&at).await;
    assert_eq!(res.status, 401, "{}", res.describe());
}

#[tokio::test]
async fn a_refresh_token_answers_with_its_own_fields_until_used() {
    let app = TestApp::start().await;
    let (client, alice) = (offline_client(&app).await, alice(&app).await);
    let created = app.clock_now();
    let t = tokens(&app, &client, &alice, OFFLINE).await;
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    for hint in [None, Some("refresh_token"), Some("access_token"), Some("bogus")] {
        let res = introspect(&app, &client, &rt, hint).await;
        let v = res.json();
        assert_eq!(v["active"], true, "hint {hint:?}: only an order of look-ups: {v}");
        assert_eq!(v["token_type"], "refresh_token", "{v}");
        assert_eq!(v["client_id"], client.id.as_str(), "{v}");
        assert_eq!(v["aud"], client.id.as_str(), "{v}");
        assert_eq!(v["sub"], alice.id.as_str(), "{v}");
        assert_eq!(v["iss"], latchkey_server::testing::ISSUER, "{v}");
        assert_eq!(v["iat"], created, "{v}");
        assert_eq!(v["exp"], created + 30 * 86400, "the default lifetime: {v}");
        let scope: Vec<&str> = v["scope"].as_str().unwrap().split(' ').collect();
        for s in ["openid", "profile", "offline_access"] {
            assert!(scope.contains(&s), "{s} in {v}");
        }
    }
    // The access token, under either hint.
    let at = t["access_token"].as_str().unwrap();
    for hint in [None, Some("refresh_token")] {
        let v = introspect(&app, &client, at, hint).await.json();
        assert_eq!(v["token_type"], "Bearer", "{v}");
        assert_eq!(v["sub"], alice.id.as_str(), "{v}");
    }
    // Rotated: the old one is inactive, its successor active.
    let res = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await;
    let successor = res.json()["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(answer(&app, &client, &rt).await, serde_json::json!({"active": false}), "a used refresh token");
    assert_eq!(answer(&app, &client, &successor).await["active"], true);
}

#[tokio::test]
async fn tokens_of_a_deleted_client_are_inactive() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let resource_server =
        app.create_client("Resource server", &["--grant-type", "client_credentials", "--introspection", "true"]).await;
    let at = tokens(&app, &client, &alice, SCOPES).await["access_token"].as_str().unwrap().to_string();
    assert_eq!(answer(&app, &resource_server, &at).await["active"], true);
    app.cli(&["client", "delete", &client.id]).await.ok();
    assert_eq!(answer(&app, &resource_server, &at).await, serde_json::json!({"active": false}));
    assert_eq!(app.get("/userinfo").bearer(&at).await.status, 401);
}

#[tokio::test]
async fn the_request_must_name_a_token_in_a_form() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let res = app.post("/introspect").basic(&client.id, client.secret()).form(&[("token_type_hint", "x")]).await;
    assert_oauth_error(&res, 400, "invalid_request", "no token");
    let res = app
        .post("/introspect")
        .basic(&client.id, client.secret())
        .header("content-type", "application/json")
        .json(&serde_json::json!({"token": "x"}))
        .await;
    assert_oauth_error(&res, 400, "invalid_request", "a JSON body");
    let res = app.post("/introspect").basic(&client.id, client.secret()).form(&[("token", "x"), ("token", "y")]).await;
    assert_oauth_error(&res, 400, "invalid_request", "token twice");
}
