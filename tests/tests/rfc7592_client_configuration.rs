//! The client configuration endpoint (RFC 7592; docs/registration.md,
//! "Managing a registration") over real HTTP: read, replace and delete a
//! dynamically registered client with its registration access token.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    a_client_reads_and_replaces_its_registration,
    deleting_a_registration_ends_its_tokens_and_consents,
    an_operator_edit_keeps_the_registration_access_token,
);

const OPEN: &[(&str, &str)] = &[("LATCHKEY_REGISTRATION_MODE", "open")];

async fn register(server: &Server, metadata: Value) -> Value {
    let res = http().post(server.url("/register")).json(&metadata).send().await.unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// A request to the configuration endpoint with `token` as bearer.
async fn configure(method: reqwest::Method, uri: &str, token: Option<&str>, body: Option<&Value>) -> Page {
    let mut req = http().request(method, uri);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    Page::of(req.send().await.unwrap()).await
}

fn assert_unauthorized(page: &Page, what: &str) {
    assert_eq!(page.status, 401, "{what}: {}", page.describe());
    assert_eq!(page.json()["error"], "invalid_token", "{what}");
    assert!(page.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")), "{what}: a Bearer challenge");
}

async fn a_client_reads_and_replaces_its_registration(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, OPEN).await;
    let reg = register(
        &server,
        json!({"client_name": "App", "redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code"]}),
    )
    .await;
    let id = str_of(&reg, "client_id").to_string();
    let uri = str_of(&reg, "registration_client_uri").to_string();
    let token = str_of(&reg, "registration_access_token").to_string();
    assert_eq!(uri, server.url(&format!("/register/{id}")));

    // Read: the registration as returned at first, without secrets.
    let page = configure(reqwest::Method::GET, &uri, Some(&token), None).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.header("cache-control").unwrap_or_default().contains("no-store"));
    let read = page.json();
    for member in ["client_id", "client_name", "redirect_uris", "token_endpoint_auth_method", "registration_client_uri"]
    {
        assert_eq!(read[member], reg[member], "{member}");
    }
    assert!(read.get("client_secret").is_none() && read.get("registration_access_token").is_none(), "{read}");

    // Wrong, missing, or another client's token: the same 401.
    let other = register(&server, json!({"client_name": "Other", "redirect_uris": ["https://other.example/cb"]})).await;
    let other_token = str_of(&other, "registration_access_token");
    assert_unauthorized(&configure(reqwest::Method::GET, &uri, Some("wrong"), None).await, "wrong token");
    assert_unauthorized(&configure(reqwest::Method::GET, &uri, None, None).await, "no token");
    assert_unauthorized(
        &configure(reqwest::Method::GET, &uri, Some(other_token), None).await,
        "another client's token",
    );
    let nobody = server.url("/register/no-such-client");
    assert_unauthorized(&configure(reqwest::Method::GET, &nobody, Some(&token), None).await, "unknown client");
    // An operator's client has no registration access token at all.
    let cli_client = confidential(&db);
    let cli_uri = server.url(&format!("/register/{}", cli_client.id));
    assert_unauthorized(&configure(reqwest::Method::GET, &cli_uri, Some(&token), None).await, "CLI client");

    // Replace: every value comes from the body, checked like a registration.
    let replacement = json!({
        "client_id": id,
        "client_secret": reg["client_secret"],
        "client_name": "App 2",
        "redirect_uris": ["https://app.example/cb2"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid offline_access",
    });
    let page = configure(reqwest::Method::PUT, &uri, Some(&token), Some(&replacement)).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let updated = page.json();
    assert_eq!(updated["client_name"], "App 2");
    assert_eq!(updated["redirect_uris"], json!(["https://app.example/cb2"]));
    assert!(updated.get("client_secret").is_none(), "the secret stays, unshown");
    let read = configure(reqwest::Method::GET, &uri, Some(&token), None).await.json();
    assert_eq!(read["grant_types"], json!(["authorization_code", "refresh_token"]));
    // The old redirect URI is gone at once.
    let client = TestClient { id: id.clone(), secret: reg["client_secret"].as_str().map(str::to_string) };
    let b = Browser::new(&server);
    let page = b.authorize(&code_request(&client.id, &pkce()).set("redirect_uri", "https://app.example/cb")).await;
    assert_eq!(page.status, 400, "the replaced redirect URI is refused: {}", page.describe());

    let bad: Vec<(Value, u16, &str)> = vec![
        (json!({"client_name": "No id", "redirect_uris": ["https://app.example/cb"]}), 400, "invalid_request"),
        (json!({"client_id": "someone-else", "redirect_uris": ["https://app.example/cb"]}), 400, "invalid_request"),
        (
            json!({"client_id": id, "registration_access_token": token, "redirect_uris": ["https://a.example/cb"]}),
            400,
            "invalid_request",
        ),
        (
            json!({"client_id": id, "client_secret": "guessed", "redirect_uris": ["https://a.example/cb"]}),
            400,
            "invalid_request",
        ),
        (json!({"client_id": id, "redirect_uris": ["http://evil.example/cb"]}), 400, "invalid_redirect_uri"),
        (json!(["not", "an", "object"]), 400, "invalid_client_metadata"),
    ];
    for (body, status, error) in bad {
        let page = configure(reqwest::Method::PUT, &uri, Some(&token), Some(&body)).await;
        assert_oauth_error(&page, status, error, &body.to_string());
    }
    let read = configure(reqwest::Method::GET, &uri, Some(&token), None).await.json();
    assert_eq!(read["client_name"], "App 2", "refused replacements changed nothing");

    // Becoming a public client drops the secret; becoming confidential again issues one.
    let public =
        json!({"client_id": id, "redirect_uris": ["https://app.example/cb2"], "token_endpoint_auth_method": "none"});
    let page = configure(reqwest::Method::PUT, &uri, Some(&token), Some(&public)).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let confidential_again = json!({"client_id": id, "redirect_uris": ["https://app.example/cb2"], "token_endpoint_auth_method": "client_secret_post"});
    let page = configure(reqwest::Method::PUT, &uri, Some(&token), Some(&confidential_again)).await;
    let body = page.json();
    let secret = str_of(&body, "client_secret");
    assert_ne!(Some(secret), reg["client_secret"].as_str(), "a new secret");
    assert_eq!(body["client_secret_expires_at"], 0);
}

async fn deleting_a_registration_ends_its_tokens_and_consents(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, OPEN).await;
    let alice = create_alice(&db);
    let rs = resource_server(&db);
    let reg = register(
        &server,
        json!({
            "client_name": "App", "redirect_uris": ["https://app.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"], "scope": OFFLINE_SCOPES,
        }),
    )
    .await;
    let client =
        TestClient { id: str_of(&reg, "client_id").into(), secret: reg["client_secret"].as_str().map(Into::into) };
    let t = tokens_for(&server, &Browser::new(&server), &client, &alice, OFFLINE_SCOPES).await;
    let (at, rt) = (str_of(&t, "access_token").to_string(), str_of(&t, "refresh_token").to_string());
    assert_eq!(userinfo_status(&server, &at).await, 200);
    assert!(is_active(&server, auth_of(&rs), &at).await);

    let uri = str_of(&reg, "registration_client_uri");
    let token = str_of(&reg, "registration_access_token");
    let page = configure(reqwest::Method::DELETE, uri, Some(token), None).await;
    assert_eq!(page.status, 204, "{}", page.describe());
    assert!(page.body.is_empty());

    assert_unauthorized(&configure(reqwest::Method::GET, uri, Some(token), None).await, "deleted");
    assert_unauthorized(&configure(reqwest::Method::DELETE, uri, Some(token), None).await, "deleted twice");
    assert_oauth_error(&refresh(&server, auth_of(&client), &rt, None).await, 401, "invalid_client", "refresh");
    assert_eq!(userinfo_status(&server, &at).await, 401, "its access token stopped working");
    assert!(!is_active(&server, auth_of(&rs), &at).await, "inactive at introspection");

    let pool = db.pool().await;
    for table in ["consents", "refresh_tokens"] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE client_id = $1")))
                .bind(&client.id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(n, 0, "{table} of the deleted client");
    }
    pool.close().await;
}

async fn an_operator_edit_keeps_the_registration_access_token(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, OPEN).await;
    let reg = register(&server, json!({"client_name": "Self", "redirect_uris": ["https://app.example/cb"]})).await;
    let (id, uri, token) =
        (str_of(&reg, "client_id"), str_of(&reg, "registration_client_uri"), str_of(&reg, "registration_access_token"));
    cli(&db, &["client", "update", id, "--name", "Renamed by the operator"], &[], None).ok();
    let page = configure(reqwest::Method::GET, uri, Some(token), None).await;
    assert_eq!(page.status, 200, "the client still reads its registration: {}", page.describe());
    assert_eq!(page.json()["client_name"], "Renamed by the operator");
}
