//! Refresh tokens (docs/token-lifecycle.md, "Refresh tokens"): rotation,
//! reuse detection, the grace window, concurrency, client binding, scope
//! narrowing, the refreshed ID token, lifetimes, over real HTTP.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::collections::BTreeSet;
use std::time::Duration;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    rotation_and_reuse_revoke_the_family,
    concurrent_refreshes_without_grace_rotate_once_then_revoke_the_family,
    concurrent_duplicates_within_the_grace_window_get_the_same_successor,
    a_duplicate_after_the_grace_window_revokes_the_family,
    refresh_tokens_are_bound_to_their_client,
    scope_may_narrow_never_widen,
    refreshed_id_token_keeps_the_authentication,
    refresh_tokens_only_with_offline_access_and_the_grant,
    refresh_without_offline_access_is_for_non_openid_requests,
    disabled_or_deleted_users_cannot_refresh,
    public_clients_refresh_with_none,
    idle_lifetime_moves_with_rotation_absolute_does_not,
);

/// Signs in through `client` with `scope` and returns the token response.
async fn sign_in(server: &Server, client: &TestClient, user: &User, scope: &str) -> Value {
    let b = Browser::new(server);
    tokens_for(server, &b, client, user, scope).await
}

fn rt_of(v: &Value) -> String {
    v["refresh_token"].as_str().unwrap_or_else(|| panic!("a refresh_token in {v}")).to_string()
}

fn at_of(v: &Value) -> String {
    str_of(v, "access_token").to_string()
}

/// Asserts the token endpoint refused a refresh with `invalid_grant`.
fn assert_invalid_grant(page: &Page, what: &str) {
    assert_oauth_error(page, 400, "invalid_grant", what);
}

/// Fires `n` identical refreshes at once; returns (status, body) of each.
async fn concurrent_refreshes(server: &Server, client: &TestClient, rt: &str, n: usize) -> Vec<(u16, Value)> {
    let body = Params::new().set("grant_type", "refresh_token").set("refresh_token", rt).encode();
    let auth = basic_header(&client.id, client.secret());
    concurrent_token_requests(server, &auth, &body, n).await
}

async fn rotation_and_reuse_revoke_the_family(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let t0 = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let (rt0, at0) = (rt_of(&t0), at_of(&t0));

    // Every use returns a new refresh token.
    let res = refresh(&server, auth_of(&client), &rt0, None).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let t1 = res.json();
    assert_eq!(t1["token_type"], "Bearer", "{t1}");
    assert!(t1["expires_in"].as_i64().is_some_and(|e| e > 0), "{t1}");
    assert!(t1["id_token"].is_string(), "openid was granted: {t1}");
    let (rt1, at1) = (rt_of(&t1), at_of(&t1));
    assert_ne!(rt1, rt0, "rotation: a new refresh token");
    assert_ne!(at1, at0);
    assert!(rt1.len() >= 43, "256 random bits: {rt1}");
    // Stored only as a hash.
    for rt in [&rt0, &rt1] {
        assert!(!database_contains(&db, rt).await, "a refresh token is stored only as its hash");
    }

    let t2 = refresh_ok(&server, &client, &rt1).await;
    let (rt2, at2) = (rt_of(&t2), at_of(&t2));
    assert!(rt2 != rt1 && rt2 != rt0);

    // Before any reuse every access token of the family works.
    for (at, what) in [(&at0, "code"), (&at1, "first refresh"), (&at2, "second refresh")] {
        assert_eq!(userinfo_status(&server, at).await, 200, "access token from the {what}");
    }
    assert!(!server.log().contains("refresh_token_reuse"), "no reuse yet:\n{}", tail(&server.log(), 20));

    // The spent token: refused, and the whole family is revoked.
    let res = refresh(&server, auth_of(&client), &rt0, None).await;
    assert_invalid_grant(&res, "a spent refresh token");
    let res = refresh(&server, auth_of(&client), &rt2, None).await;
    assert_invalid_grant(&res, "the live successor after reuse of its ancestor");
    let res = refresh(&server, auth_of(&client), &rt1, None).await;
    assert_invalid_grant(&res, "a spent middle token");

    for (at, what) in [(&at0, "code"), (&at1, "first refresh"), (&at2, "second refresh")] {
        let page = userinfo_get(&server, Some(&format!("Bearer {at}"))).await;
        assert_invalid_token(&page, &format!("UserInfo with the access token from the {what} after reuse"));
        let v = introspect_ok(&server, auth_of(&client), at).await;
        assert_inactive(&v, &format!("introspection of the access token from the {what} after reuse"));
    }
    for rt in [&rt0, &rt1, &rt2] {
        let v = introspect_ok(&server, auth_of(&client), rt).await;
        assert_inactive(&v, "introspection of a refresh token of a revoked family");
    }

    // The event is logged at WARN.
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("refresh_token_reuse"))
        .unwrap_or_else(|| panic!("no refresh_token_reuse in the log:\n{}", tail(&log, 30)));
    assert!(line.to_ascii_uppercase().contains("WARN"), "logged at WARN: {line}");
}

async fn concurrent_refreshes_without_grace_rotate_once_then_revoke_the_family(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let t0 = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let rt0 = rt_of(&t0);

    let results = concurrent_refreshes(&server, &client, &rt0, 20).await;
    let winners: Vec<&Value> = results.iter().filter(|(s, _)| *s == 200).map(|(_, v)| v).collect();
    let refused = results.iter().filter(|(s, v)| *s == 400 && v["error"] == "invalid_grant").count();
    assert_eq!(
        (winners.len(), refused),
        (1, 19),
        "exactly one 200, the 19 others invalid_grant: {:?}\nserver log:\n{}",
        results.iter().map(|(s, v)| format!("{s} {v}")).collect::<Vec<_>>(),
        tail(&server.log(), 30)
    );

    // Afterwards the whole family is revoked, the winner's successor too.
    let winner = winners[0].clone();
    let res = refresh(&server, auth_of(&client), &rt_of(&winner), None).await;
    assert_invalid_grant(&res, "the winner's new refresh token after concurrent reuse");
    let page = userinfo_get(&server, Some(&format!("Bearer {}", at_of(&winner)))).await;
    assert_invalid_token(&page, "the winner's access token after concurrent reuse");
    let page = userinfo_get(&server, Some(&format!("Bearer {}", at_of(&t0)))).await;
    assert_invalid_token(&page, "the code's access token after concurrent reuse");
    assert!(server.log().contains("refresh_token_reuse"), "{}", tail(&server.log(), 30));
}

async fn concurrent_duplicates_within_the_grace_window_get_the_same_successor(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_TOKENS_REFRESH_GRACE_SECONDS", "30")]).await;
    let client = offline_client(&db, "Offline", &[]);
    let other = offline_client(&db, "Other", &[]);
    let t0 = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let rt0 = rt_of(&t0);

    let results = concurrent_refreshes(&server, &client, &rt0, 20).await;
    for (status, body) in &results {
        assert_eq!(
            *status,
            200,
            "every duplicate within the grace window succeeds: {body}\n{}",
            tail(&server.log(), 30)
        );
    }
    let successors: BTreeSet<String> = results.iter().map(|(_, v)| rt_of(v)).collect();
    assert_eq!(successors.len(), 1, "one successor for all duplicates: {successors:?}");
    let rt1 = successors.into_iter().next().unwrap();
    assert_ne!(rt1, rt0);
    // The successor kept for duplicates is sealed, not stored in the clear.
    assert!(!database_contains(&db, &rt1).await, "the successor is stored sealed");
    assert!(!database_contains(&db, &rt0).await);
    // Each duplicate gets a working access token.
    for (_, v) in &results {
        let at = at_of(v);
        let claims = verify_jwt(&server, &at).await;
        assert_eq!(claims["sub"], alice.id.as_str());
        assert_eq!(userinfo_status(&server, &at).await, 200, "access token of a duplicate");
    }
    // Another client holding the token gets nothing, grace or not.
    let res = refresh(&server, auth_of(&other), &rt0, None).await;
    assert_invalid_grant(&res, "another client's duplicate within the grace window");
    // No reuse was detected: the family lives on.
    assert!(
        !server.log().contains("refresh_token_reuse"),
        "duplicates within the window are not reuse:\n{}",
        tail(&server.log(), 30)
    );
    assert_eq!(userinfo_status(&server, &at_of(&t0)).await, 200);
    let t2 = refresh_ok(&server, &client, &rt1).await;
    assert_ne!(rt_of(&t2), rt1);
}

async fn a_duplicate_after_the_grace_window_revokes_the_family(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_TOKENS_REFRESH_GRACE_SECONDS", "1")]).await;
    let client = offline_client(&db, "Offline", &[]);
    let t0 = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let rt0 = rt_of(&t0);

    let t1 = refresh_ok(&server, &client, &rt0).await;
    let rt1 = rt_of(&t1);
    // Within the window: the same successor.
    let dup = refresh_ok(&server, &client, &rt0).await;
    assert_eq!(rt_of(&dup), rt1, "a duplicate within the window gets the same successor");

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let res = refresh(&server, auth_of(&client), &rt0, None).await;
    assert_invalid_grant(&res, "a duplicate after the grace window");
    let res = refresh(&server, auth_of(&client), &rt1, None).await;
    assert_invalid_grant(&res, "the successor after a duplicate outside the window");
    for at in [at_of(&t0), at_of(&t1), at_of(&dup)] {
        let page = userinfo_get(&server, Some(&format!("Bearer {at}"))).await;
        assert_invalid_token(&page, "an access token of the family after reuse");
    }
    assert!(server.log().contains("refresh_token_reuse"), "{}", tail(&server.log(), 30));
}

async fn refresh_tokens_are_bound_to_their_client(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let other = offline_client(&db, "Other", &[]);
    let public = public_offline_client(&db, "Public");
    let t0 = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let rt0 = rt_of(&t0);

    let res = refresh(&server, auth_of(&other), &rt0, None).await;
    assert_invalid_grant(&res, "another confidential client's refresh token");
    let res = refresh(&server, Auth::None(&public.id), &rt0, None).await;
    assert_invalid_grant(&res, "a public client presenting a confidential client's token");
    // Unknown and malformed tokens: invalid_grant too.
    let res = refresh(&server, auth_of(&client), "not-a-refresh-token", None).await;
    assert_invalid_grant(&res, "an unknown refresh token");
    // Wrong secret: the client is not authenticated.
    let res = refresh(&server, Auth::Basic(&client.id, "wrong"), &rt0, None).await;
    assert_oauth_error(&res, 401, "invalid_client", "a wrong secret");
    // Missing refresh_token parameter.
    let res = token(&server, auth_of(&client), &Params::new().set("grant_type", "refresh_token")).await;
    assert_oauth_error(&res, 400, "invalid_request", "no refresh_token parameter");
}

async fn scope_may_narrow_never_widen(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &["--scope", "openid profile email phone offline_access"]);
    let t0 = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let rt0 = rt_of(&t0);
    assert_eq!(scope_words(str_of(&t0, "scope")), scope_words(OFFLINE_SCOPES));

    // Narrowing: the new access token carries the narrower scope.
    let res = refresh(&server, auth_of(&client), &rt0, Some("openid profile")).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let t1 = res.json();
    let narrowed = scope_words("openid profile");
    assert_eq!(scope_words(str_of(&t1, "scope")), narrowed, "response scope: {t1}");
    let c = verify_jwt(&server, &at_of(&t1)).await;
    assert_eq!(scope_words(str_of(&c, "scope")), narrowed, "access token scope: {c}");
    let ui = userinfo_get(&server, Some(&format!("Bearer {}", at_of(&t1)))).await;
    assert_eq!(ui.status, 200, "{}", ui.describe());
    let ui = ui.json();
    assert!(ui.get("email").is_none(), "email was narrowed away: {ui}");
    assert!(ui.get("name").is_some(), "profile is kept: {ui}");

    // The family keeps the original scope.
    let t2 = refresh_ok(&server, &client, &rt_of(&t1)).await;
    assert_eq!(
        scope_words(str_of(&t2, "scope")),
        scope_words(OFFLINE_SCOPES),
        "without scope the family's original scope: {t2}"
    );
    let c = verify_jwt(&server, &at_of(&t2)).await;
    assert_eq!(scope_words(str_of(&c, "scope")), scope_words(OFFLINE_SCOPES));
    let v = introspect_ok(&server, auth_of(&client), &rt_of(&t2)).await;
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(scope_words(str_of(&v, "scope")), scope_words(OFFLINE_SCOPES), "{v}");

    // Widening, even to a scope the client is registered for: invalid_scope.
    let res = refresh(&server, auth_of(&client), &rt_of(&t2), Some("openid profile email phone")).await;
    assert_oauth_error(&res, 400, "invalid_scope", "widening on refresh");
    let res = refresh(&server, auth_of(&client), &rt_of(&t2), Some("openid admin")).await;
    assert_oauth_error(&res, 400, "invalid_scope", "an unknown scope on refresh");
}

async fn refreshed_id_token_keeps_the_authentication(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let b = Browser::new(&server);
    let p = pkce();
    let params = code_request(&client.id, &p).set("scope", OFFLINE_SCOPES).set("nonce", "nonce-of-the-sign-in");
    let code = code_for(&b, &params, &alice).await;
    let res = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let t0 = res.json();
    let first = verify_jwt(&server, str_of(&t0, "id_token")).await;
    assert_eq!(first["nonce"], "nonce-of-the-sign-in");

    // A second apart, so that a new iat is visible.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t1 = refresh_ok(&server, &client, &rt_of(&t0)).await;
    let id1 = str_of(&t1, "id_token");
    let (header, _) = jwt_parts(id1);
    assert_ne!(header["typ"], "at+jwt", "an ID token, not an access token: {header}");
    let second = verify_jwt(&server, id1).await;
    for claim in ["sub", "auth_time", "acr", "amr", "sid"] {
        assert!(first.get(claim).is_some(), "the first ID token has {claim}: {first}");
        assert_eq!(second[claim], first[claim], "the refreshed ID token keeps {claim}");
    }
    assert_eq!(second["sub"], alice.id.as_str());
    assert!(aud_contains(&second["aud"], &client.id), "{second}");
    let (iat0, iat1) = (first["iat"].as_i64().unwrap(), second["iat"].as_i64().unwrap());
    assert!(iat1 > iat0, "a new iat: {iat1} after {iat0}");
    assert!(second["exp"].as_i64().unwrap() > iat1);
    assert!(second.get("nonce").is_none(), "no nonce in a refreshed ID token: {second}");

    // Without openid in the narrowed scope: no ID token.
    let t2 = refresh(&server, auth_of(&client), &rt_of(&t1), Some("profile")).await;
    assert_eq!(t2.status, 200, "{}", t2.describe());
    assert!(t2.json().get("id_token").is_none(), "no openid, no ID token: {}", t2.body);
}

async fn refresh_tokens_only_with_offline_access_and_the_grant(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let no_grant = register(&db, "No grant", &["--redirect-uri", CB, "--scope", OFFLINE_SCOPES]);

    let t = sign_in(&server, &client, &alice, "openid profile").await;
    assert!(t.get("refresh_token").is_none(), "no offline_access, no refresh token: {t}");
    let t = sign_in(&server, &no_grant, &alice, OFFLINE_SCOPES).await;
    assert!(t.get("refresh_token").is_none(), "no refresh_token grant, no refresh token: {t}");
    // The client without the grant cannot use it either.
    let t = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let res = refresh(&server, auth_of(&no_grant), &rt_of(&t), None).await;
    assert_oauth_error(&res, 400, "unauthorized_client", "a client without the refresh_token grant");
    // Refresh tokens are opaque: not a JWT.
    assert_ne!(rt_of(&t).split('.').count(), 3, "opaque, not a JWS");
}

async fn refresh_without_offline_access_is_for_non_openid_requests(backend: Backend) {
    // Off by default: no offline_access, no refresh token, OpenID or not.
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let t = sign_in(&server, &client, &alice, "profile email").await;
    assert!(t.get("refresh_token").is_none(), "default: {t}");
    drop(server);

    let server = Server::start(&db, &[("LATCHKEY_TOKENS_REFRESH_WITHOUT_OFFLINE_ACCESS", "true")]).await;
    let t = sign_in(&server, &client, &alice, "profile email").await;
    let rt = rt_of(&t);
    assert!(t.get("id_token").is_none(), "{t}");
    let t1 = refresh_ok(&server, &client, &rt).await;
    assert_ne!(rt_of(&t1), rt, "rotated like any other");
    let t = sign_in(&server, &client, &alice, "openid profile").await;
    assert!(t.get("refresh_token").is_none(), "an OpenID request still needs offline_access: {t}");
}

async fn disabled_or_deleted_users_cannot_refresh(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let bob = create_user(&db, "bob", "bob's password 123", &[]);
    let ta = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let tb = sign_in(&server, &client, &bob, OFFLINE_SCOPES).await;

    cli(&db, &["user", "disable", "alice"], &[], None).ok();
    let res = refresh(&server, auth_of(&client), &rt_of(&ta), None).await;
    assert_invalid_grant(&res, "a disabled user's refresh token");
    let v = introspect_ok(&server, auth_of(&client), &at_of(&ta)).await;
    assert_inactive(&v, "a disabled user's access token");

    cli(&db, &["user", "delete", "bob"], &[], None).ok();
    let res = refresh(&server, auth_of(&client), &rt_of(&tb), None).await;
    assert_invalid_grant(&res, "a deleted user's refresh token");
}

async fn public_clients_refresh_with_none(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let public = public_offline_client(&db, "Public");
    let t0 = sign_in(&server, &public, &alice, OFFLINE_SCOPES).await;
    let res = refresh(&server, Auth::None(&public.id), &rt_of(&t0), None).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let t1 = res.json();
    assert_ne!(rt_of(&t1), rt_of(&t0));
    assert_eq!(userinfo_status(&server, &at_of(&t1)).await, 200);
    // Rotation and reuse apply to public clients as well.
    let res = refresh(&server, Auth::None(&public.id), &rt_of(&t0), None).await;
    assert_invalid_grant(&res, "a public client's spent token");
    let res = refresh(&server, Auth::None(&public.id), &rt_of(&t1), None).await;
    assert_invalid_grant(&res, "a public client's successor after reuse");
    // Without any client identification: not authenticated.
    let res = refresh(&server, Auth::Nothing, &rt_of(&t1), None).await;
    assert_oauth_error(&res, 401, "invalid_client", "no client at all");
}

async fn idle_lifetime_moves_with_rotation_absolute_does_not(backend: Backend) {
    // Idle 120 s, absolute a day: each successor expires 120 s after its issue.
    let Env { db, server, alice } = env(
        backend,
        &[("LATCHKEY_TOKENS_REFRESH_IDLE_TTL_SECONDS", "120"), ("LATCHKEY_TOKENS_REFRESH_TOKEN_TTL_SECONDS", "86400")],
    )
    .await;
    let client = offline_client(&db, "Offline", &[]);
    let t0 = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let before = now();
    let v0 = introspect_ok(&server, auth_of(&client), &rt_of(&t0)).await;
    assert_eq!(v0["active"], true, "{v0}");
    let (iat0, exp0) = (v0["iat"].as_i64().unwrap(), v0["exp"].as_i64().unwrap());
    assert_eq!(exp0 - iat0, 120, "idle lifetime from issue: {v0}");
    assert!((before - 5..=before + 1).contains(&iat0), "{v0}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t1 = refresh_ok(&server, &client, &rt_of(&t0)).await;
    let v1 = introspect_ok(&server, auth_of(&client), &rt_of(&t1)).await;
    let (iat1, exp1) = (v1["iat"].as_i64().unwrap(), v1["exp"].as_i64().unwrap());
    assert!(iat1 > iat0, "the successor's own issue time: {v1}");
    assert_eq!(exp1 - iat1, 120, "the successor expires idle-TTL after its issue: {v1}");
    drop(server);

    // Absolute 60 s, idle a day: rotation never extends the absolute lifetime.
    let server = Server::start(
        &db,
        &[("LATCHKEY_TOKENS_REFRESH_IDLE_TTL_SECONDS", "86400"), ("LATCHKEY_TOKENS_REFRESH_TOKEN_TTL_SECONDS", "60")],
    )
    .await;
    let t0 = sign_in(&server, &client, &alice, OFFLINE_SCOPES).await;
    let v0 = introspect_ok(&server, auth_of(&client), &rt_of(&t0)).await;
    let (iat0, exp0) = (v0["iat"].as_i64().unwrap(), v0["exp"].as_i64().unwrap());
    assert_eq!(exp0 - iat0, 60, "absolute lifetime: {v0}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let t1 = refresh_ok(&server, &client, &rt_of(&t0)).await;
    let v1 = introspect_ok(&server, auth_of(&client), &rt_of(&t1)).await;
    assert_eq!(v1["active"], true, "{v1}");
    assert_eq!(v1["exp"].as_i64().unwrap(), exp0, "rotation does not extend the absolute lifetime: {v1}");
}
