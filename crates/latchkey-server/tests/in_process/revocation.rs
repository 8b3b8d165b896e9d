//! Revocation (RFC 7009): the answer is the same 200 whatever the token,
//! an access token stays denied for the rest of its life, and a refresh
//! token takes its family's access tokens with it.

use latchkey_server::testing::{TestApp, TestClient, TestResponse};

use crate::common::*;

async fn revoke(app: &TestApp, client: &TestClient, token: &str) -> TestResponse {
    app.post("/revoke").basic(&client.id, client.secret()).form(&[("token", token)]).await
}

async fn active(app: &TestApp, client: &TestClient, token: &str) -> bool {
    let res = app.post("/introspect").basic(&client.id, client.secret()).form(&[("token", token)]).await;
    res.json()["active"] == true
}

#[tokio::test]
async fn every_answer_is_an_empty_uncached_200() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let other = app.create_client("Other", &["--redirect-uri", CB]).await;
    let at = tokens(&app, &client, &alice, SCOPES).await["access_token"].as_str().unwrap().to_string();
    for (what, by, token) in [
        ("garbage", &client, "garbage"),
        ("a JWT-shaped string", &client, "a.b.c"),
        ("another client's token", &other, at.as_str()),
        ("its own token", &client, at.as_str()),
        ("its own token again", &client, at.as_str()),
    ] {
        let res = revoke(&app, by, token).await;
        assert_eq!(res.status, 200, "{what}: {}", res.describe());
        assert!(res.body.is_empty(), "{what}");
        assert_eq!(res.header("cache-control"), Some("no-store"), "{what}");
        assert_eq!(res.header("content-length"), Some("0"), "{what}");
    }
    let res = app.post("/revoke").basic(&client.id, client.secret()).form(&[("token_type_hint", "access_token")]).await;
    assert_oauth_error(&res, 400, "invalid_request", "no token");
}

#[tokio::test]
async fn a_revoked_access_token_stays_dead_until_it_expires() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let at = tokens(&app, &client, &alice, SCOPES).await["access_token"].as_str().unwrap().to_string();
    assert!(active(&app, &client, &at).await);
    assert_eq!(revoke(&app, &client, &at).await.status, 200);
    for step in [0, 450, 449] {
        app.clock.advance(step);
        assert!(!active(&app, &client, &at).await, "denied {step} s later");
        let res = app.get("/userinfo").bearer(&at).await;
        assert_eq!(res.status, 401, "{}", res.describe());
    }
}

#[tokio::test]
async fn another_clients_revocation_changes_nothing() {
    let app = TestApp::start().await;
    let (client, alice) = (
        app.create_client(
            "Offline",
            &["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", "refresh_token"],
        )
        .await,
        alice(&app).await,
    );
    let other = app.create_client("Other", &["--redirect-uri", CB]).await;
    let t = tokens(&app, &client, &alice, "openid offline_access").await;
    let (at, rt) = (t["access_token"].as_str().unwrap(), t["refresh_token"].as_str().unwrap());
    assert_eq!(revoke(&app, &other, at).await.status, 200);
    assert_eq!(revoke(&app, &other, rt).await.status, 200);
    assert!(active(&app, &client, at).await, "the access token lives");
    assert!(active(&app, &client, rt).await, "the refresh token lives");

    // The owner's revocation of the refresh token ends the family.
    assert_eq!(revoke(&app, &client, rt).await.status, 200);
    assert!(!active(&app, &client, rt).await);
    assert!(!active(&app, &client, at).await, "the family's access token goes with it");
    let res = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await;
    assert_oauth_error(&res, 400, "invalid_grant", "a revoked refresh token");
}
