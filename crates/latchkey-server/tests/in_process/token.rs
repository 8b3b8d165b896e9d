//! The token endpoint's grants and their error codes (RFC 6749 §5.2), with
//! time moved by the mock clock rather than waited for: codes and refresh
//! tokens expire exactly when their lifetimes say, and the grace window for
//! duplicate refreshes ends where configured.

use latchkey_server::testing::{TestApp, TestClient};
use serde_json::Value;

use crate::common::*;

const OFFLINE: &str = "openid profile offline_access";

async fn offline_client(app: &TestApp) -> TestClient {
    app.create_client(
        "Offline",
        &["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", "refresh_token"],
    )
    .await
}

async fn refresh(app: &TestApp, client: &TestClient, rt: &str) -> latchkey_server::testing::TestResponse {
    token(app, client, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
}

fn rt_of(v: &Value) -> String {
    v["refresh_token"].as_str().unwrap_or_else(|| panic!("a refresh_token in {v}")).to_string()
}

#[tokio::test]
async fn each_grant_names_its_missing_parameter() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("no grant_type", &[("code", "x")]),
        ("authorization_code without code", &[("grant_type", "authorization_code"), ("redirect_uri", CB)]),
        ("refresh_token without refresh_token", &[("grant_type", "refresh_token")]),
        (
            "client_credentials with resource and audience",
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://a.example"),
                ("audience", "https://a.example"),
            ],
        ),
    ];
    for (what, form) in cases {
        let res = token(&app, &client, form).await;
        assert_oauth_error(&res, 400, "invalid_request", what);
        let desc = res.json()["error_description"].as_str().unwrap_or_default().to_string();
        let named = ["grant_type", "code", "refresh_token", "resource"].iter().any(|p| desc.contains(p));
        assert!(named, "{what}: the description names the parameter: {desc:?}");
    }
    for grant in ["password", "implicit", "AUTHORIZATION_CODE"] {
        let res = token(&app, &client, &[("grant_type", grant), ("code", "x")]).await;
        assert_oauth_error(&res, 400, "unsupported_grant_type", grant);
    }
    // An empty parameter is an omitted one (RFC 6749 §3.1).
    let res = token(&app, &client, &[("grant_type", ""), ("code", "x")]).await;
    assert_oauth_error(&res, 400, "invalid_request", "an empty grant_type");
}

#[tokio::test]
async fn a_code_works_until_its_lifetime_ends() {
    let app = TestApp::with_env(&[("LATCHKEY_TOKENS_CODE_TTL_SECONDS", "30")]).await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    let params = code_request(&client.id, &p);
    let grant = |code: &str| {
        [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("code_verifier", p.verifier.as_str()),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    };
    let send = |code: String| {
        let form = grant(&code);
        let (app, client) = (&app, &client);
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            token(app, client, &pairs).await
        }
    };

    let code = code_for(&browser, &alice, &params).await;
    app.clock.advance(29);
    let res = send(code).await;
    assert_eq!(res.status, 200, "one second before the end: {}", res.describe());

    let code = code_for(&browser, &alice, &params).await;
    app.clock.advance(31);
    let res = send(code.clone()).await;
    assert_oauth_error(&res, 400, "invalid_grant", "one second after the end");
    // Expired is expired: it does not come back.
    assert_oauth_error(&send(code).await, 400, "invalid_grant", "again");
}

#[tokio::test]
async fn a_failed_binding_check_leaves_the_code_redeemable() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    let code = code_for(&browser, &alice, &code_request(&client.id, &p)).await;
    let good = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    let short = "a".repeat(42);
    let long = "a".repeat(129);
    let other = pkce();
    let reserved = format!("{}+", &p.verifier[1..]);
    let mistakes: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no redirect_uri", good.iter().copied().filter(|(k, _)| *k != "redirect_uri").collect()),
        ("another redirect_uri", swap(&good, "redirect_uri", "https://app.example/other")),
        ("the redirect_uri with a trailing slash", swap(&good, "redirect_uri", "https://app.example/cb/")),
        ("no code_verifier", good.iter().copied().filter(|(k, _)| *k != "code_verifier").collect()),
        ("a verifier of 42 characters", swap(&good, "code_verifier", &short)),
        ("a verifier of 129 characters", swap(&good, "code_verifier", &long)),
        ("a verifier with a reserved character", swap(&good, "code_verifier", &reserved)),
        ("another pair's verifier", swap(&good, "code_verifier", &other.verifier)),
    ];
    for (what, form) in &mistakes {
        assert_oauth_error(&token(&app, &client, form).await, 400, "invalid_grant", what);
    }
    let res = token(&app, &client, &good).await;
    assert_eq!(res.status, 200, "the corrected request: {}", res.describe());
    assert_oauth_error(&token(&app, &client, &good).await, 400, "invalid_grant", "a second redemption");
}

fn swap<'a>(form: &[(&'a str, &'a str)], name: &str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    form.iter().map(|&(k, v)| if k == name { (k, value) } else { (k, v) }).collect()
}

#[tokio::test]
async fn a_code_without_redirect_uri_needs_none_at_the_token_endpoint() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    // One registered URI: the request may leave it out (RFC 6749 §4.1.1).
    let params = code_request(&client.id, &p).without("redirect_uri");
    for (what, redirect_uri, ok) in [
        ("omitted", None, true),
        ("the registered one", Some(CB), true),
        ("another", Some("https://x.example/cb"), false),
    ] {
        let code = code_for(&browser, &alice, &params).await;
        let mut form = vec![("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &p.verifier)];
        form.extend(redirect_uri.map(|uri| ("redirect_uri", uri)));
        let res = token(&app, &client, &form).await;
        if ok {
            assert_eq!(res.status, 200, "{what}: {}", res.describe());
        } else {
            assert_oauth_error(&res, 400, "invalid_grant", what);
        }
    }
}

#[tokio::test]
async fn a_disabled_account_gets_no_tokens_from_its_code_or_refresh_token() {
    let app = TestApp::start().await;
    let (client, alice) = (offline_client(&app).await, alice(&app).await);
    let t = tokens(&app, &client, &alice, OFFLINE).await;
    let browser = app.browser();
    let p = pkce();
    let code = code_for(&browser, &alice, &code_request(&client.id, &p)).await;

    app.cli(&["user", "disable", "alice"]).await.ok();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    assert_oauth_error(&token(&app, &client, &form).await, 400, "invalid_grant", "code of a disabled account");
    assert_oauth_error(
        &refresh(&app, &client, &rt_of(&t)).await,
        400,
        "invalid_grant",
        "refresh of a disabled account",
    );
}

#[tokio::test]
async fn refresh_tokens_expire_idle_and_at_the_family_limit() {
    let app = TestApp::with_env(&[
        ("LATCHKEY_TOKENS_REFRESH_IDLE_TTL_SECONDS", "100"),
        ("LATCHKEY_TOKENS_REFRESH_TOKEN_TTL_SECONDS", "250"),
    ])
    .await;
    let (client, alice) = (offline_client(&app).await, alice(&app).await);

    // Idle: unused for its idle lifetime, a refresh token is dead.
    let rt = rt_of(&tokens(&app, &client, &alice, OFFLINE).await);
    app.clock.advance(99);
    let res = refresh(&app, &client, &rt).await;
    assert_eq!(res.status, 200, "used within the idle lifetime: {}", res.describe());
    let rt = rt_of(&res.json());
    app.clock.advance(101);
    assert_oauth_error(&refresh(&app, &client, &rt).await, 400, "invalid_grant", "idle for longer than 100 s");

    // Absolute: rotation moves the idle deadline, never the family's.
    let mut rt = rt_of(&tokens(&app, &client, &alice, OFFLINE).await);
    for step in 1..=2 {
        app.clock.advance(90);
        let res = refresh(&app, &client, &rt).await;
        assert_eq!(res.status, 200, "refresh {step} at {} s: {}", step * 90, res.describe());
        rt = rt_of(&res.json());
    }
    app.clock.advance(69); // 249 s into the family
    let res = refresh(&app, &client, &rt).await;
    assert_eq!(res.status, 200, "just inside the family's 250 s: {}", res.describe());
    rt = rt_of(&res.json());
    app.clock.advance(2); // 251 s
    assert_oauth_error(&refresh(&app, &client, &rt).await, 400, "invalid_grant", "past the family's lifetime");
}

#[tokio::test]
async fn the_grace_window_ends_where_configured() {
    let app = TestApp::with_env(&[("LATCHKEY_TOKENS_REFRESH_GRACE_SECONDS", "10")]).await;
    let (client, alice) = (offline_client(&app).await, alice(&app).await);
    let rt0 = rt_of(&tokens(&app, &client, &alice, OFFLINE).await);
    let res = refresh(&app, &client, &rt0).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let rt1 = rt_of(&res.json());

    app.clock.advance(10);
    let res = refresh(&app, &client, &rt0).await;
    assert_eq!(res.status, 200, "a duplicate at the window's last second: {}", res.describe());
    assert_eq!(rt_of(&res.json()), rt1, "the same successor");

    app.clock.advance(1);
    assert_oauth_error(&refresh(&app, &client, &rt0).await, 400, "invalid_grant", "a duplicate after the window");
    assert_oauth_error(&refresh(&app, &client, &rt1).await, 400, "invalid_grant", "the family is revoked");
}

#[tokio::test]
async fn without_grace_a_duplicate_revokes_at_once() {
    let app = TestApp::start().await;
    let (client, alice) = (offline_client(&app).await, alice(&app).await);
    let rt0 = rt_of(&tokens(&app, &client, &alice, OFFLINE).await);
    let rt1 = rt_of(&refresh(&app, &client, &rt0).await.json());
    assert_oauth_error(&refresh(&app, &client, &rt0).await, 400, "invalid_grant", "a duplicate, no grace");
    assert_oauth_error(&refresh(&app, &client, &rt1).await, 400, "invalid_grant", "the successor after reuse");
    let events = app.cli_json(&["audit", "list"]).await;
    let reuse = events.as_array().unwrap().iter().find(|e| e["kind"] == "token_family.revoked");
    let reuse = reuse.unwrap_or_else(|| panic!("an audit event for the reuse: {events}"));
    assert_eq!(reuse["details"]["reason"], "refresh_token_reuse", "{reuse}");
}

#[tokio::test]
async fn a_refresh_narrows_the_scope_and_never_widens_it() {
    let app = TestApp::start().await;
    let (client, alice) = (offline_client(&app).await, alice(&app).await);
    let mut rt = rt_of(&tokens(&app, &client, &alice, OFFLINE).await);
    for (what, scope) in [
        ("a scope not granted", "openid profile offline_access email"),
        ("a scope unknown to the client", "openid admin"),
        ("a scope with a bad character", "openid \"profile\""),
    ] {
        let res =
            token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", &rt), ("scope", scope)]).await;
        assert_oauth_error(&res, 400, "invalid_scope", what);
    }
    // Refused requests spent nothing; an empty scope is an omitted one
    // (RFC 6749 §3.1): the whole grant.
    let res = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", &rt), ("scope", "")]).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.json()["scope"], "offline_access openid profile");
    rt = rt_of(&res.json());
    let res =
        token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", &rt), ("scope", "openid")]).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let narrowed = res.json();
    assert_eq!(narrowed["scope"], "openid", "{narrowed}");
    rt = rt_of(&narrowed);
    // The family keeps the original grant: the next refresh may ask for all of it again.
    let res = refresh(&app, &client, &rt).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let full: Vec<String> = res.json()["scope"].as_str().unwrap().split(' ').map(String::from).collect();
    for s in ["openid", "profile", "offline_access"] {
        assert!(full.iter().any(|f| f == s), "{s} in {full:?}");
    }
}

#[tokio::test]
async fn client_credentials_checks_scope_and_resource() {
    let app = TestApp::start().await;
    let machine = app
        .create_client(
            "Machine",
            &[
                "--grant-type",
                "client_credentials",
                "--scope",
                "openid profile reports.read reports.write",
                "--audience",
                "https://api.example",
            ],
        )
        .await;
    let cc = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        form
    };
    // Scopes that need a person are never granted to a client alone.
    let res = token(&app, &machine, &cc(&[])).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let granted = res.json();
    assert_eq!(granted["scope"], "reports.read reports.write", "{granted}");
    assert!(granted.get("refresh_token").is_none() && granted.get("id_token").is_none(), "{granted}");
    for (what, form) in [
        ("a personal scope", cc(&[("scope", "openid")])),
        ("an unregistered scope", cc(&[("scope", "reports.delete")])),
    ] {
        assert_oauth_error(&token(&app, &machine, &form).await, 400, "invalid_scope", what);
    }
    for (what, form) in [
        ("a relative resource", cc(&[("resource", "/api")])),
        ("a resource with a fragment", cc(&[("resource", "https://api.example#x")])),
        ("an unregistered resource", cc(&[("resource", "https://other.example")])),
        ("an unregistered audience", cc(&[("audience", "https://other.example")])),
    ] {
        assert_oauth_error(&token(&app, &machine, &form).await, 400, "invalid_target", what);
    }
    for name in ["resource", "audience"] {
        let res = token(&app, &machine, &cc(&[(name, "https://api.example")])).await;
        assert_eq!(res.status, 200, "{name}: {}", res.describe());
    }
    // Only a confidential client registered for the grant.
    let web = confidential(&app).await;
    assert_oauth_error(&token(&app, &web, &cc(&[])).await, 400, "unauthorized_client", "a web app");
    let public = public(&app).await;
    let res = token(&app, &public, &cc(&[])).await;
    assert_eq!(res.json()["error"], "unauthorized_client", "a public client: {}", res.describe());
}

#[tokio::test]
async fn token_responses_are_never_cached() {
    let app = TestApp::start().await;
    let (client, alice) = (offline_client(&app).await, alice(&app).await);
    let browser = app.browser();
    let p = pkce();
    let code = code_for(&browser, &alice, &code_request(&client.id, &p).set("scope", OFFLINE)).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    let res = token(&app, &client, &form).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert!(res.header("content-type").unwrap_or_default().starts_with("application/json"));
    let t = res.json();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 900, "the default access-token lifetime: {t}");
    let res = refresh(&app, &client, &rt_of(&t)).await;
    assert_eq!(res.header("cache-control"), Some("no-store"));
}
