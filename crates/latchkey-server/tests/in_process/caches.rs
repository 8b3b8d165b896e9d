//! The caches of clients, users and denylist answers (`cached.rs`) in the
//! server as `serve` assembles it: a write through the server applies at
//! once, a write elsewhere once the change feed has been read, a write that
//! never reached the feed not before `cache.max_age_seconds`; and with the
//! caches off, every read goes to the store.

use latchkey_server::testing::{TestApp, TestClient};
use latchkey_store::ChangeKind;
use latchkey_store::cascade::Revocations;

use crate::common::*;

async fn active(app: &TestApp, caller: &TestClient, token: &str) -> bool {
    let res = app.post("/introspect").basic(&caller.id, caller.secret()).form(&[("token", token)]).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    res.json()["active"] == true
}

/// Disables `username` in the backend alone: no cache and no change feed hears of it.
async fn disable_behind_the_caches(app: &TestApp, username: &str) -> String {
    let mut user = app.backend().find_user_by_username(username).await.unwrap().expect("the user");
    user.disabled = true;
    assert!(app.backend().update_user(&user).await.unwrap());
    user.id
}

#[tokio::test]
async fn a_write_that_skipped_the_feed_is_not_seen_until_the_feed_names_it() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let at = tokens(&app, &client, &alice, SCOPES).await["access_token"].as_str().unwrap().to_string();
    assert!(active(&app, &client, &at).await, "reads the user into the cache");

    let id = disable_behind_the_caches(&app, "alice").await;
    app.wait_for_change_feed().await;
    assert!(active(&app, &client, &at).await, "the cached user is served: nothing told the server");

    app.backend().record_change(ChangeKind::User, &id, app.clock_now()).await.unwrap();
    app.wait_for_change_feed().await;
    assert!(!active(&app, &client, &at).await, "the feed named the user: read again, disabled");
}

#[tokio::test]
async fn the_cli_reaches_the_server_through_the_feed() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let at = tokens(&app, &client, &alice, SCOPES).await["access_token"].as_str().unwrap().to_string();
    assert!(active(&app, &client, &at).await);
    // `cli` waits for the feed after commands that change cached rows.
    app.cli(&["user", "disable", "alice"]).await.ok();
    assert!(!active(&app, &client, &at).await, "disabled");
    app.cli(&["user", "enable", "alice"]).await.ok();
    assert!(active(&app, &client, &at).await, "enabled again");

    // A client's changed method applies to the next authentication.
    app.cli(&["client", "update", &client.id, "--auth-method", "client_secret_post"]).await.ok();
    let res = app.post("/introspect").basic(&client.id, client.secret()).form(&[("token", &at)]).await;
    assert_oauth_error(&res, 401, "invalid_client", "Basic after the switch to post");
    let form = [("token", at.as_str()), ("client_id", client.id.as_str()), ("client_secret", client.secret())];
    let res = app.post("/introspect").form(&form).await;
    assert_eq!(res.json()["active"], true, "{}", res.describe());
}

#[tokio::test]
async fn writes_through_the_server_apply_at_once() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let at = tokens(&app, &client, &alice, SCOPES).await["access_token"].as_str().unwrap().to_string();
    assert!(active(&app, &client, &at).await, "caches the user and a 'not denied' answer");
    // Through the server's own store: dropped here before the call returns.
    let mut user = app.store().get_user(&alice.id).await.unwrap().unwrap();
    user.disabled = true;
    app.store().update_user(&user).await.unwrap();
    assert!(!active(&app, &client, &at).await, "no wait for the feed");
    user.disabled = false;
    app.store().update_user(&user).await.unwrap();
    assert!(active(&app, &client, &at).await);
    // The denylist answer "not denied" was cached; a revocation drops it.
    let res = app.post("/revoke").basic(&client.id, client.secret()).form(&[("token", &at)]).await;
    assert_eq!(res.status, 200);
    assert!(!active(&app, &client, &at).await, "revoked at once");
}

#[tokio::test]
async fn a_revoked_family_clears_every_denylist_answer() {
    let app = TestApp::start().await;
    let client = app
        .create_client(
            "Offline",
            &["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", "refresh_token"],
        )
        .await;
    let alice = alice(&app).await;
    let t = tokens(&app, &client, &alice, "openid offline_access").await;
    let at = t["access_token"].as_str().unwrap();
    assert!(active(&app, &client, at).await, "caches 'not denied'");
    // Another process revokes the family; its access tokens are known to the store only.
    let rt_hash = latchkey_core::secret::hash_token(t["refresh_token"].as_str().unwrap());
    let record = app.backend().get_refresh_token(&rt_hash).await.unwrap().expect("the refresh token");
    let grant_id = record.token.grant_id;
    app.backend().revoke_family(&grant_id, app.clock_now()).await.unwrap();
    assert!(active(&app, &client, at).await, "nothing told this server yet");
    app.backend().record_change(ChangeKind::AccessTokens, "", app.clock_now()).await.unwrap();
    app.wait_for_change_feed().await;
    assert!(!active(&app, &client, at).await, "every denylist answer was dropped");
}

#[tokio::test]
async fn without_caches_every_read_goes_to_the_store() {
    let app = TestApp::with_env(&[("LATCHKEY_CACHE_MODE", "off")]).await;
    assert!(app.app.caches.is_none());
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let at = tokens(&app, &client, &alice, SCOPES).await["access_token"].as_str().unwrap().to_string();
    assert!(active(&app, &client, &at).await);
    disable_behind_the_caches(&app, "alice").await;
    assert!(!active(&app, &client, &at).await, "seen at once");
}
