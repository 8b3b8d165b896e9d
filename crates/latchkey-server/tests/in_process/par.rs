//! Pushed authorization requests (RFC 9126): what `/par` accepts and
//! refuses, and how `/authorize` uses a `request_uri` (once, by its client,
//! before it expires), with the clock moved rather than waited for.

use latchkey_server::testing::{Browser, TestApp, TestClient, TestResponse};

use crate::common::*;

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// `POST /par` with `client`'s credentials (Basic, or `client_id` for a public client).
async fn push(app: &TestApp, client: &TestClient, params: &Params) -> TestResponse {
    let pairs = params.clone().without("client_id");
    match &client.secret {
        Some(secret) => app.post("/par").basic(&client.id, secret).form(&pairs.pairs()).await,
        None => app.post("/par").form(&pairs.set("client_id", &client.id).pairs()).await,
    }
}

/// Pushes `params` and returns the `request_uri`.
async fn pushed(app: &TestApp, client: &TestClient, params: &Params) -> String {
    let res = push(app, client, params).await;
    assert_eq!(res.status, 201, "{}", res.describe());
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let body = res.json();
    assert_eq!(body["expires_in"], 60, "{body}");
    let uri = body["request_uri"].as_str().expect("a request_uri").to_string();
    assert!(uri.starts_with(PREFIX) && uri.len() == PREFIX.len() + 43, "{uri}");
    uri
}

/// The browser at `/authorize` with only `client_id` and `request_uri`.
async fn authorize_pushed(browser: &Browser<'_>, client_id: &str, request_uri: &str) -> TestResponse {
    authorize(browser, &Params::default().set("client_id", client_id).set("request_uri", request_uri)).await
}

fn assert_refused_page(res: &TestResponse, what: &str) {
    assert_eq!(res.status, 400, "{what}: {}", res.describe());
    assert!(res.location().is_none(), "{what}: never a redirect");
    assert!(res.text().contains("expired or was already used"), "{what}: {}", res.text());
}

#[tokio::test]
async fn a_pushed_request_signs_in_once_and_its_parameters_are_the_only_ones_used() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let p = pkce();
    let uri = pushed(&app, &client, &code_request(&client.id, &p).set("state", "pushed-state")).await;

    let browser = app.browser();
    // Parameters beside request_uri are ignored (RFC 9126 §4), not merged.
    let res = authorize(
        &browser,
        &Params::default()
            .set("client_id", &client.id)
            .set("request_uri", &uri)
            .set("state", "injected")
            .set("scope", "openid phone")
            .set("redirect_uri", "https://evil.example/cb"),
    )
    .await;
    assert_eq!(res.status, 200, "the login page: {}", res.describe());
    let res = browser.drive(res, &alice).await;
    let pairs = res.location_params();
    assert!(res.location().unwrap().starts_with(CB), "{}", res.describe());
    assert_eq!(one(&pairs, "state"), "pushed-state");
    let code = one(&pairs, "code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    let res = token(&app, &client, &form).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.json()["scope"], "email openid profile", "the pushed scope, not the one added at /authorize");

    // Used once: the same request_uri again (a reload, a replay) is refused.
    assert_refused_page(&authorize_pushed(&browser, &client.id, &uri).await, "a replayed request_uri");
}

#[tokio::test]
async fn a_request_uri_expires_and_belongs_to_its_client() {
    let app = TestApp::start().await;
    let (a, b) = (confidential(&app).await, confidential(&app).await);
    let browser = app.browser();
    let p = pkce();

    let uri = pushed(&app, &a, &code_request(&a.id, &p)).await;
    // Another client cannot use it, and trying does not use it up.
    assert_refused_page(&authorize_pushed(&browser, &b.id, &uri).await, "another client's request_uri");
    app.clock.advance(59);
    let res = authorize_pushed(&browser, &a.id, &uri).await;
    assert_eq!(res.status, 200, "within 60 s, by its client: {}", res.describe());

    let uri = pushed(&app, &a, &code_request(&a.id, &p)).await;
    app.clock.advance(60);
    assert_refused_page(&authorize_pushed(&browser, &a.id, &uri).await, "an expired request_uri");

    for bogus in
        [&format!("{PREFIX}short"), &format!("{PREFIX}{}", "A".repeat(43)), &format!("{PREFIX}{}", "é".repeat(43))]
    {
        assert_refused_page(&authorize_pushed(&browser, &a.id, bogus).await, bogus);
    }
    // A reference to the client's own URL (RFC 9101) is not supported, which
    // goes back to the client once its redirect URI is known.
    let by_url = code_request(&a.id, &p).set("request_uri", "https://app.example/request.jwt");
    let res = authorize(&browser, &by_url).await;
    assert_eq!(one(&res.location_params(), "error"), "request_uri_not_supported", "{}", res.describe());
    // A repeated request_uri is refused, never guessed between.
    let twice = Params::default().set("client_id", &a.id).set("request_uri", &uri).add("request_uri", &uri);
    assert_refused_page(&authorize(&browser, &twice).await, "two request_uris");
}

#[tokio::test]
async fn the_lifetime_is_configurable() {
    let app = TestApp::with_env(&[("LATCHKEY_PAR_REQUEST_URI_TTL_SECONDS", "10")]).await;
    let client = confidential(&app).await;
    let res = push(&app, &client, &code_request(&client.id, &pkce())).await;
    assert_eq!(res.json()["expires_in"], 10, "{}", res.describe());
    let uri = res.json()["request_uri"].as_str().unwrap().to_string();
    app.clock.advance(10);
    assert_refused_page(&authorize_pushed(&app.browser(), &client.id, &uri).await, "after 10 s");
}

#[tokio::test]
async fn pushed_parameters_are_validated_as_at_the_authorization_endpoint_and_refused_in_json() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let p = pkce();
    let ok = code_request(&client.id, &p);
    for (params, error, what) in [
        (ok.clone().set("redirect_uri", "https://evil.example/cb"), "invalid_request", "an unregistered redirect_uri"),
        (ok.clone().set("response_type", "token"), "unsupported_response_type", "response_type token"),
        (ok.clone().without("scope"), "invalid_scope", "no scope"),
        (ok.clone().set("scope", "openid admin"), "invalid_scope", "a scope the client may not ask for"),
        (ok.clone().without("code_challenge"), "invalid_request", "no PKCE challenge"),
        (ok.clone().set("code_challenge_method", "plain"), "invalid_request", "plain PKCE"),
        (ok.clone().set("prompt", "none login"), "invalid_request", "prompt none with login"),
        (ok.clone().set("state", &"s".repeat(4097)), "invalid_request", "a state over 4096 bytes"),
        (ok.clone().set("request_uri", &format!("{PREFIX}x")), "invalid_request", "request_uri inside a push"),
        (ok.clone().set("request", "eyJhbGciOiJub25lIn0.e30."), "invalid_request_object", "an unsigned request object"),
        (ok.clone().set("id_token_hint", "not-a-token"), "invalid_request", "a bad id_token_hint"),
        (ok.clone().add("scope", "openid"), "invalid_request", "a repeated parameter"),
    ] {
        let res = push(&app, &client, &params).await;
        assert_oauth_error(&res, 400, error, what);
        assert!(res.location().is_none(), "{what}: never a redirect");
    }
    // At the limit of a parameter's size, accepted.
    let res = push(&app, &client, &ok.clone().set("state", &"s".repeat(4096))).await;
    assert_eq!(res.status, 201, "{}", res.describe());
}

#[tokio::test]
async fn clients_authenticate_as_at_the_token_endpoint() {
    let app = TestApp::start().await;
    let (client, public_client) = (confidential(&app).await, public(&app).await);
    let p = pkce();
    let params = code_request(&client.id, &p);
    let pairs = params.clone().without("client_id");

    // client_secret_basic and a public client's client_id: accepted.
    pushed(&app, &client, &params).await;
    pushed(&app, &public_client, &code_request(&public_client.id, &p)).await;
    // client_secret_post is not this client's method; wrong secrets, unknown
    // clients and none at all: 401 with a challenge.
    let secret = client.secret.clone().unwrap();
    let post = pairs.clone().set("client_id", &client.id).set("client_secret", &secret);
    for (res, what) in [
        (app.post("/par").basic(&client.id, "wrong").form(&pairs.pairs()).await, "a wrong secret"),
        (app.post("/par").basic("nobody", &secret).form(&pairs.pairs()).await, "an unknown client"),
        (app.post("/par").form(&pairs.pairs()).await, "no client at all"),
        (app.post("/par").form(&post.pairs()).await, "client_secret_post for a Basic client"),
        (
            app.post("/par").form(&pairs.clone().set("client_id", &client.id).pairs()).await,
            "a confidential client without its secret",
        ),
    ] {
        assert_oauth_error(&res, 401, "invalid_client", what);
        assert!(res.header("www-authenticate").is_some(), "{what}");
    }
    // A body client_id naming another client than the credentials: 400.
    let other = pairs.clone().set("client_id", &public_client.id);
    let res = app.post("/par").basic(&client.id, &secret).form(&other.pairs()).await;
    assert_oauth_error(&res, 400, "invalid_request", "two clients named");
}

#[tokio::test]
async fn hostile_bodies_get_rfc_errors_never_500() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let secret = client.secret.clone().unwrap();
    let res = app.post("/par").basic(&client.id, &secret).form_raw(&format!("state={}", "a".repeat(40 * 1024))).await;
    assert_eq!(res.status, 413, "{}", res.describe());
    assert_eq!(res.json()["error"], "invalid_request");
    let res = app.post("/par").basic(&client.id, &secret).json(&serde_json::json!({"scope": "openid"})).await;
    assert_oauth_error(&res, 400, "invalid_request", "a JSON body");
    let res = app.post("/par").basic(&client.id, &secret).form_raw("%ff%fe=%00&scope=%C3").await;
    assert!(res.status.is_client_error(), "{}", res.describe());
    let res = app.get("/par").send().await;
    assert_eq!(res.status, 405, "{}", res.describe());
}

#[tokio::test]
async fn a_client_that_requires_pushed_requests_is_refused_without_one() {
    let app = TestApp::start().await;
    let strict = app.create_client("Strict", &["--redirect-uri", CB, "--require-par"]).await;
    let shown = app.cli_json(&["client", "show", &strict.id]).await;
    assert_eq!(shown["require_pushed_authorization_requests"], true, "{shown}");
    let relaxed = confidential(&app).await;
    let browser = app.browser();
    let p = pkce();

    let res = authorize(&browser, &code_request(&strict.id, &p)).await;
    assert!(res.status.is_redirection(), "{}", res.describe());
    let pairs = res.location_params();
    assert_eq!(one(&pairs, "error"), "invalid_request", "{pairs:?}");
    assert!(one(&pairs, "error_description").contains("pushed authorization requests are required"));
    let uri = pushed(&app, &strict, &code_request(&strict.id, &p)).await;
    assert_eq!(authorize_pushed(&browser, &strict.id, &uri).await.status, 200, "pushed: the login page");
    // Other clients are not affected.
    assert_eq!(authorize(&browser, &code_request(&relaxed.id, &p)).await.status, 200);
    // And the requirement can be lifted.
    app.cli(&["client", "update", &strict.id, "--require-par", "false"]).await;
    assert_eq!(authorize(&browser, &code_request(&strict.id, &p)).await.status, 200);
}

#[tokio::test]
async fn the_server_can_require_pushed_requests_of_every_client() {
    let app = TestApp::with_env(&[("LATCHKEY_PAR_REQUIRED", "true")]).await;
    let client = confidential(&app).await;
    let browser = app.browser();
    let p = pkce();
    let res = authorize(&browser, &code_request(&client.id, &p)).await;
    assert_eq!(one(&res.location_params(), "error"), "invalid_request", "{}", res.describe());
    let uri = pushed(&app, &client, &code_request(&client.id, &p)).await;
    assert_eq!(authorize_pushed(&browser, &client.id, &uri).await.status, 200);
    let meta = app.get("/.well-known/openid-configuration").send().await.json();
    assert_eq!(meta["require_pushed_authorization_requests"], true, "{meta}");
}

#[tokio::test]
async fn discovery_names_the_endpoint() {
    let app = TestApp::start().await;
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let meta = app.get(path).send().await.json();
        assert_eq!(
            meta["pushed_authorization_request_endpoint"],
            format!("{}/par", latchkey_server::testing::ISSUER),
            "{path}: {meta}"
        );
        assert_eq!(meta["require_pushed_authorization_requests"], false, "{path}");
    }
}
