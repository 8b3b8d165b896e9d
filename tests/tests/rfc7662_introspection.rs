//! Token introspection (RFC 7662; docs/token-lifecycle.md, "Introspection")
//! over real HTTP.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::Duration;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    the_owner_sees_its_tokens_with_the_listed_fields,
    other_clients_see_nothing_resource_servers_see_everything,
    the_caller_must_be_a_confidential_client,
    the_token_parameter_and_its_hint,
    malformed_foreign_and_unknown_tokens_are_inactive,
    tokens_of_disabled_or_deleted_users_are_inactive,
    expired_access_tokens_are_inactive,
);

/// Checks the JSON answer of an introspection (status, headers) and returns it.
fn answer(page: &Page, what: &str) -> Value {
    assert_eq!(page.status, 200, "{what}: {}", page.describe());
    let cc = page.header("cache-control").unwrap_or_default();
    assert!(
        cc.split(',').any(|d| d.trim().eq_ignore_ascii_case("no-store")),
        "{what}: Cache-Control no-store, got {cc:?}"
    );
    let ct = page.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "{what}: content-type {ct:?}");
    page.json()
}

async fn the_owner_sees_its_tokens_with_the_listed_fields(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token");
    let rt = str_of(&t, "refresh_token");
    let jwt = verify_jwt(&server, at).await;

    // The access token.
    {
        let v = answer(&introspect(&server, auth_of(&client), at, None).await, "access token by its client");
        assert_eq!(v["active"], true, "{v}");
        assert_eq!(v["token_type"], "Bearer", "{v}");
        assert_eq!(scope_words(str_of(&v, "scope")), scope_words(OFFLINE_SCOPES), "{v}");
        assert_eq!(v["client_id"], client.id.as_str(), "{v}");
        assert_eq!(v["sub"], alice.id.as_str(), "{v}");
        assert_eq!(v["iss"], server.issuer.as_str(), "{v}");
        for claim in ["exp", "iat", "aud", "jti", "auth_time", "acr"] {
            assert!(v.get(claim).is_some(), "{claim} is listed: {v}");
            assert_eq!(v[claim], jwt[claim], "{claim} as in the token");
        }
        assert!(v["exp"].is_i64() && v["iat"].is_i64(), "NumericDate integers: {v}");
    }

    // The refresh token.
    let before = now();
    let v = answer(&introspect(&server, auth_of(&client), rt, None).await, "refresh token by its client");
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["token_type"], "refresh_token", "{v}");
    assert_eq!(scope_words(str_of(&v, "scope")), scope_words(OFFLINE_SCOPES), "{v}");
    assert_eq!(v["client_id"], client.id.as_str(), "{v}");
    assert_eq!(v["sub"], alice.id.as_str(), "{v}");
    assert_eq!(v["iss"], server.issuer.as_str(), "{v}");
    assert!(v.get("aud").is_some_and(|a| !a.is_null()), "aud is listed: {v}");
    let (iat, exp) = (v["iat"].as_i64().expect("iat"), v["exp"].as_i64().expect("exp"));
    assert!(iat <= before + 1 && iat >= before - 30, "{v}");
    assert!(exp > before, "{v}");
    // A refresh token is not usable as an access token.
    assert_eq!(userinfo_status(&server, rt).await, 401);
}

async fn other_clients_see_nothing_resource_servers_see_everything(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let other = offline_client(&db, "Other", &[]);
    let rs = resource_server(&db);
    let plain_rs = register(&db, "Plain service", &["--grant-type", "client_credentials", "--scope", "api:read"]);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token");
    let rt = str_of(&t, "refresh_token");

    for (token, what) in [(at, "access token"), (rt, "refresh token")] {
        for (who, auth) in
            [("another ordinary client", auth_of(&other)), ("a service without --introspection", auth_of(&plain_rs))]
        {
            let v = answer(&introspect(&server, auth, token, None).await, what);
            assert_inactive(&v, &format!("{what} introspected by {who}"));
        }
        let v = answer(&introspect(&server, auth_of(&rs), token, None).await, what);
        assert_eq!(v["active"], true, "{what} introspected by a resource server: {v}");
        assert_eq!(v["client_id"], client.id.as_str(), "{v}");
        assert_eq!(v["sub"], alice.id.as_str(), "{v}");
    }

    // A client_credentials token: its own client sees it, the resource server
    // sees it, another client does not.
    let res = token(&server, auth_of(&plain_rs), &Params::new().set("grant_type", "client_credentials")).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let cc_at = str_of(&res.json(), "access_token").to_string();
    let v = introspect_ok(&server, auth_of(&plain_rs), &cc_at).await;
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["sub"], plain_rs.id.as_str(), "{v}");
    assert_eq!(v["token_type"], "Bearer", "{v}");
    assert!(is_active(&server, auth_of(&rs), &cc_at).await);
    let v = introspect_ok(&server, auth_of(&client), &cc_at).await;
    assert_inactive(&v, "another client's client_credentials token");
}

async fn the_caller_must_be_a_confidential_client(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let public = public_offline_client(&db, "Public");
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &public, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token");
    let rt = str_of(&t, "refresh_token");

    let cases = [
        ("no client authentication", Auth::Nothing),
        ("a public client, even for its own token", Auth::None(&public.id)),
        ("a wrong secret", Auth::Basic(&client.id, "wrong-secret")),
        ("an unknown client", Auth::Basic("no-such-client", "secret")),
        ("the wrong method (post for a basic client)", Auth::Post(&client.id, client.secret())),
    ];
    for (what, auth) in cases {
        for token in [at, rt] {
            let page = introspect(&server, auth, token, None).await;
            assert_oauth_error(&page, 401, "invalid_client", what);
        }
    }
    // Basic with a wrong secret carries the challenge.
    let page = introspect(&server, Auth::Basic(&client.id, "wrong-secret"), at, None).await;
    let www = page.header("www-authenticate").unwrap_or_default();
    assert!(www.to_ascii_lowercase().starts_with("basic"), "WWW-Authenticate: {www:?}");
    // GET is not the endpoint's method.
    let res = http()
        .get(format!("{}?token={at}", server.url("/introspect")))
        .header("authorization", basic_header(&client.id, client.secret()))
        .send()
        .await
        .unwrap();
    assert!(matches!(res.status().as_u16(), 404 | 405), "GET /introspect: {}", res.status());
}

async fn the_token_parameter_and_its_hint(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token");
    let rt = str_of(&t, "refresh_token");

    let page = post_with_auth(&server, "/introspect", auth_of(&client), &Params::new()).await;
    assert_oauth_error(&page, 400, "invalid_request", "no token parameter");
    let page =
        post_with_auth(&server, "/introspect", auth_of(&client), &Params::new().add("token", at).add("token", at))
            .await;
    assert_oauth_error(&page, 400, "invalid_request", "token given twice");

    // A hint that matches, and one that does not (RFC 7662 §2.1: the server
    // extends its search): the token is found either way.
    for (token, kind) in [(at, "Bearer"), (rt, "refresh_token")] {
        for hint in ["access_token", "refresh_token", "something_else"] {
            let v = answer(&introspect(&server, auth_of(&client), token, Some(hint)).await, hint);
            assert_eq!(v["active"], true, "token_type_hint={hint} for a {kind} token: {v}");
            assert_eq!(v["token_type"], kind, "{v}");
        }
    }
}

async fn malformed_foreign_and_unknown_tokens_are_inactive(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let rs = resource_server(&db);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    let rt = str_of(&t, "refresh_token").to_string();
    let (_, claims) = jwt_parts(&at);

    let foreign = sign_with_foreign_key(&at, &claims).await;
    let mut parts: Vec<&str> = at.split('.').collect();
    let none_header =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, br#"{"alg":"none","typ":"at+jwt"}"#);
    parts[0] = &none_header;
    let alg_none = format!("{}.{}.", parts[0], parts[1]);
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!("someone-else");
    let tampered = {
        let body = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&tampered_claims).unwrap(),
        );
        let p: Vec<&str> = at.split('.').collect();
        format!("{}.{}.{}", p[0], body, p[2])
    };
    let mut other_issuer = claims.clone();
    other_issuer["iss"] = json!("https://evil.example");
    let wrong_iss = sign_with_active_key(&db, "at+jwt", &other_issuer).await;
    let mut expired = claims.clone();
    expired["exp"] = json!(now() - 120);
    expired["iat"] = json!(now() - 1000);
    let expired = sign_with_active_key(&db, "at+jwt", &expired).await;
    let unknown_rt =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, rand::random::<[u8; 32]>());

    let cases: Vec<(&str, String)> = vec![
        ("garbage", "garbage".into()),
        ("three dots", "a.b.c".into()),
        ("signed with a foreign key under our kid", foreign),
        ("alg none", alg_none),
        ("tampered payload", tampered),
        ("our key but another issuer", wrong_iss),
        ("our key, expired", expired),
        ("an unknown refresh token", unknown_rt),
    ];
    for (what, token) in &cases {
        for (who, auth) in [("owner", auth_of(&client)), ("resource server", auth_of(&rs))] {
            let page = introspect(&server, auth, token, None).await;
            let v = answer(&page, what);
            assert_inactive(&v, &format!("{what}, asked by the {who}"));
        }
    }
    // The genuine tokens are still active (the cases above did not disturb them).
    assert!(is_active(&server, auth_of(&client), &at).await);
    assert!(is_active(&server, auth_of(&client), &rt).await);
}

async fn tokens_of_disabled_or_deleted_users_are_inactive(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = offline_client(&db, "Offline", &[]);
    let rs = resource_server(&db);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    let rt = str_of(&t, "refresh_token").to_string();
    assert!(is_active(&server, auth_of(&client), &at).await);
    assert!(is_active(&server, auth_of(&client), &rt).await);

    // A disabled user's tokens, then (enabled again) a deleted user's.
    let mut problems = Vec::new();
    cli(&db, &["user", "disable", "alice"], &[], None).ok();
    for (token, kind) in [(&at, "access"), (&rt, "refresh")] {
        for (who, auth) in [("owner", auth_of(&client)), ("resource server", auth_of(&rs))] {
            let v = introspect_ok(&server, auth, token).await;
            if v != json!({"active": false}) {
                problems.push(format!("a disabled user's {kind} token, asked by the {who}: {v}"));
            }
        }
    }
    cli(&db, &["user", "enable", "alice"], &[], None).ok();
    assert!(is_active(&server, auth_of(&client), &at).await, "enabled again");
    cli(&db, &["user", "delete", "alice"], &[], None).ok();
    for (token, kind) in [(&at, "access"), (&rt, "refresh")] {
        for (who, auth) in [("owner", auth_of(&client)), ("resource server", auth_of(&rs))] {
            let v = introspect_ok(&server, auth, token).await;
            if v != json!({"active": false}) {
                problems.push(format!("a deleted user's {kind} token, asked by the {who}: {v}"));
            }
        }
    }
    assert!(problems.is_empty(), "must be {{\"active\": false}}:\n{}", problems.join("\n"));
}

async fn expired_access_tokens_are_inactive(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_TOKENS_ACCESS_TOKEN_TTL_SECONDS", "2")]).await;
    let client = offline_client(&db, "Offline", &[]);
    let rs = resource_server(&db);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    let exp = claims(&at)["exp"].as_i64().unwrap();
    let active = is_active(&server, auth_of(&client), &at).await;
    if now() < exp {
        assert!(active, "before exp");
    }
    // Wait until the clock is past exp.
    while now() <= exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let v = introspect_ok(&server, auth_of(&client), &at).await;
    assert_inactive(&v, "an expired access token, asked by its client");
    let v = introspect_ok(&server, auth_of(&rs), &at).await;
    assert_inactive(&v, "an expired access token, asked by a resource server");
    // The refresh token outlives it.
    assert!(is_active(&server, auth_of(&client), str_of(&t, "refresh_token")).await);
}
