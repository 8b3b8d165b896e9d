//! Token revocation (RFC 7009; docs/token-lifecycle.md, "Revocation") over
//! real HTTP.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::{Duration, Instant};

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    a_revoked_access_token_is_refused_within_a_second,
    a_refresh_token_revokes_its_family,
    public_clients_revoke_with_none,
    unknown_and_other_clients_tokens_answer_200_and_stay_untouched,
    revocation_requires_client_authentication,
);

async fn a_revoked_access_token_is_refused_within_a_second(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let rs = resource_server(&db);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    assert_eq!(userinfo_status(&server, &at).await, 200);
    assert!(is_active(&server, auth_of(&client), &at).await);

    let page = revoke(&server, auth_of(&client), &at, Some("access_token")).await;
    assert_revoke_ok(&page, "revoking an access token");
    let revoked = Instant::now();
    // Within one second: refused by UserInfo, inactive at introspection (for
    // the owner and for a resource server). What counts is when the first
    // check that saw the revocation was sent, not how long the answers took
    // (the whole suite runs in parallel and loads the machine).
    let mut seen_at = None;
    while revoked.elapsed() < Duration::from_secs(3) {
        let sent = revoked.elapsed();
        let ui = userinfo_get(&server, Some(&format!("Bearer {at}"))).await;
        let own = introspect_ok(&server, auth_of(&client), &at).await;
        let rs_view = introspect_ok(&server, auth_of(&rs), &at).await;
        if ui.status == 401 && own == json!({"active": false}) && rs_view == json!({"active": false}) {
            seen_at = Some(sent);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        seen_at.is_some_and(|t| t <= Duration::from_secs(1)),
        "a revoked access token must be refused within one second (first seen by a check sent at {seen_at:?})"
    );
    let ui = userinfo_get(&server, Some(&format!("Bearer {at}"))).await;
    assert_invalid_token(&ui, "UserInfo with a revoked access token");

    // Revoking it again, or with the other hint, is still 200.
    assert_revoke_ok(&revoke(&server, auth_of(&client), &at, None).await, "again");
    assert_revoke_ok(
        &revoke(&server, auth_of(&client), &at, Some("refresh_token")).await,
        "again with the refresh_token hint",
    );
    // The refresh token of the grant still works and gives a working token.
    let t1 = refresh_ok(&server, &client, str_of(&t, "refresh_token")).await;
    assert_eq!(userinfo_status(&server, str_of(&t1, "access_token")).await, 200);

    // A wrong hint does not stop the revocation.
    let at1 = str_of(&t1, "access_token").to_string();
    let page = revoke(&server, auth_of(&client), &at1, Some("refresh_token")).await;
    assert_revoke_ok(&page, "an access token with hint refresh_token");
    let (server_ref, at_ref) = (&server, &at1);
    assert!(
        eventually(Duration::from_secs(1), || async move { userinfo_status(server_ref, at_ref).await == 401 }).await,
        "revoked with a wrong hint"
    );
}

async fn a_refresh_token_revokes_its_family(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let b = Browser::new(&server);

    // Revoking the live token.
    let t0 = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let rt0 = str_of(&t0, "refresh_token").to_string();
    let page = revoke(&server, auth_of(&client), &rt0, Some("refresh_token")).await;
    assert_revoke_ok(&page, "revoking a refresh token");
    let res = refresh(&server, auth_of(&client), &rt0, None).await;
    assert_oauth_error(&res, 400, "invalid_grant", "a revoked refresh token");
    let v = introspect_ok(&server, auth_of(&client), &rt0).await;
    assert_inactive(&v, "a revoked refresh token");

    // Revoking a spent ancestor revokes the live successor: the family.
    let t0 = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let rt0 = str_of(&t0, "refresh_token").to_string();
    let t1 = refresh_ok(&server, &client, &rt0).await;
    let rt1 = str_of(&t1, "refresh_token").to_string();
    let t2 = refresh_ok(&server, &client, &rt1).await;
    let rt2 = str_of(&t2, "refresh_token").to_string();
    let page = revoke(&server, auth_of(&client), &rt0, None).await;
    assert_revoke_ok(&page, "revoking a spent refresh token (no hint)");
    let res = refresh(&server, auth_of(&client), &rt2, None).await;
    assert_oauth_error(&res, 400, "invalid_grant", "the live successor of a revoked family");
    for rt in [&rt0, &rt1, &rt2] {
        let v = introspect_ok(&server, auth_of(&client), rt).await;
        assert_inactive(&v, "a refresh token of a revoked family");
    }

    // Another family of the same user and client is left alone.
    let other = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let t3 = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let page = revoke(&server, auth_of(&client), str_of(&t3, "refresh_token"), Some("access_token")).await;
    assert_revoke_ok(&page, "a refresh token with the access_token hint");
    let res = refresh(&server, auth_of(&client), str_of(&t3, "refresh_token"), None).await;
    assert_oauth_error(&res, 400, "invalid_grant", "revoked despite the wrong hint");
    refresh_ok(&server, &client, str_of(&other, "refresh_token")).await;
}

async fn public_clients_revoke_with_none(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let public = public_offline_client(&db, "Public");
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &public, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    let rt = str_of(&t, "refresh_token").to_string();

    let page = revoke(&server, Auth::None(&public.id), &rt, None).await;
    assert_revoke_ok(&page, "a public client revoking its refresh token");
    let res = refresh(&server, Auth::None(&public.id), &rt, None).await;
    assert_oauth_error(&res, 400, "invalid_grant", "a refresh token its public client revoked");

    let page = revoke(&server, Auth::None(&public.id), &at, None).await;
    assert_revoke_ok(&page, "a public client revoking its access token");
    let (server_ref, at_ref) = (&server, &at);
    assert!(
        eventually(Duration::from_secs(1), || async move { userinfo_status(server_ref, at_ref).await == 401 }).await,
        "the access token a public client revoked"
    );
}

async fn unknown_and_other_clients_tokens_answer_200_and_stay_untouched(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let other = offline_client(&db, "Other", &[]);
    let public = public_offline_client(&db, "Public");
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    let rt = str_of(&t, "refresh_token").to_string();

    // Unknown tokens, of every shape.
    let unknown_rt =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, rand::random::<[u8; 32]>());
    let (_, claims) = jwt_parts(&at);
    let foreign = sign_with_foreign_key(&at, &claims).await;
    for (what, token) in
        [("garbage", "garbage".to_string()), ("an unknown opaque token", unknown_rt), ("a foreign-signed JWT", foreign)]
    {
        for hint in [None, Some("access_token"), Some("refresh_token")] {
            let page = revoke(&server, auth_of(&client), &token, hint).await;
            assert_revoke_ok(&page, &format!("{what} (hint {hint:?})"));
        }
    }

    // Other clients' tokens: the same answer, and the tokens are left alone.
    for (who, auth) in [("another confidential client", auth_of(&other)), ("a public client", Auth::None(&public.id))] {
        for (kind, token) in [("access", &at), ("refresh", &rt)] {
            let page = revoke(&server, auth, token, None).await;
            assert_revoke_ok(&page, &format!("{who} revoking someone else's {kind} token"));
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(is_active(&server, auth_of(&client), &at).await, "the access token is left alone");
    assert!(is_active(&server, auth_of(&client), &rt).await, "the refresh token is left alone");
    assert_eq!(userinfo_status(&server, &at).await, 200, "UserInfo still accepts the access token");
    let t1 = refresh_ok(&server, &client, &rt).await;
    assert!(t1["refresh_token"].is_string());
    assert!(!server.log().contains("refresh_token_reuse"), "no reuse was caused:\n{}", tail(&server.log(), 20));
}

async fn revocation_requires_client_authentication(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    let rt = str_of(&t, "refresh_token").to_string();

    for (what, auth) in [
        ("no client authentication", Auth::Nothing),
        ("a wrong secret", Auth::Basic(&client.id, "wrong")),
        ("a confidential client sending only its id", Auth::None(&client.id)),
        ("an unknown client", Auth::Basic("nobody", "secret")),
    ] {
        for token in [&at, &rt] {
            let page = revoke(&server, auth, token, None).await;
            assert_oauth_error(&page, 401, "invalid_client", what);
        }
    }
    let page = post_with_auth(&server, "/revoke", auth_of(&client), &Params::new()).await;
    assert_oauth_error(&page, 400, "invalid_request", "no token parameter");
    // Nothing was revoked by the refused requests.
    assert!(is_active(&server, auth_of(&client), &at).await);
    assert!(is_active(&server, auth_of(&client), &rt).await);
}
