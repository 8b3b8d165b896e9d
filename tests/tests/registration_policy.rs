//! What the operator allows self-registered clients (docs/registration.md,
//! "Registration policy"): redirect-URI hosts and schemes, grant types,
//! scopes, and registrations per source address.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

async fn register(server: &Server, metadata: &Value, forwarded_for: Option<&str>) -> Page {
    let mut req = http().post(server.url("/register")).json(metadata);
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    Page::of(req.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_limit_what_self_registered_clients_may_ask_for() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(
        &db,
        &[
            ("LATCHKEY_REGISTRATION_MODE", "open"),
            ("LATCHKEY_REGISTRATION_ALLOWED_REDIRECT_HOSTS", "app.example, *.apps.example"),
            ("LATCHKEY_REGISTRATION_ALLOWED_REDIRECT_SCHEMES", "https,com.example.app"),
            ("LATCHKEY_REGISTRATION_ALLOWED_GRANT_TYPES", "authorization_code,refresh_token"),
            ("LATCHKEY_REGISTRATION_ALLOWED_SCOPES", "openid,profile,offline_access"),
        ],
    )
    .await;
    let with_redirect = |uri: &str| json!({"client_name": "App", "redirect_uris": [uri], "scope": "openid"});

    for ok in
        ["https://app.example/cb", "https://a.apps.example/cb", "https://x.y.apps.example/cb", "com.example.app:/cb"]
    {
        let page = register(&server, &with_redirect(ok), None).await;
        assert_eq!(page.status, 201, "{ok}: {}", page.describe());
    }
    for refused in [
        "https://evil.example/cb",
        "https://apps.example/cb",
        "https://xapps.example/cb",
        "https://app.example.evil/cb",
        "http://127.0.0.1:9000/cb",
        "org.other.app:/cb",
    ] {
        let page = register(&server, &with_redirect(refused), None).await;
        assert_oauth_error(&page, 400, "invalid_redirect_uri", refused);
    }
    let logout =
        json!({"redirect_uris": ["https://app.example/cb"], "post_logout_redirect_uris": ["https://evil.example/"]});
    assert_oauth_error(&register(&server, &logout, None).await, 400, "invalid_redirect_uri", "post-logout URI");

    let machine = json!({"grant_types": ["client_credentials"], "scope": "openid"});
    assert_oauth_error(&register(&server, &machine, None).await, 400, "invalid_client_metadata", "grant type");
    let greedy = json!({"redirect_uris": ["https://app.example/cb"], "scope": "openid email"});
    let body = assert_oauth_error(&register(&server, &greedy, None).await, 400, "invalid_client_metadata", "scope");
    assert!(body["error_description"].as_str().unwrap().contains("email"), "{body}");
    // No scope asked: the default, narrowed to what is allowed.
    let modest =
        json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code", "refresh_token"]});
    let page = register(&server, &modest, None).await;
    assert_eq!(page.status, 201, "{}", page.describe());
    let registered = page.json();
    assert_eq!(scope_words(str_of(&registered, "scope")), scope_words("openid profile offline_access"));

    // The same rules for a replacement through RFC 7592.
    let uri = str_of(&registered, "registration_client_uri");
    let token = str_of(&registered, "registration_access_token");
    let evil = json!({"client_id": registered["client_id"], "redirect_uris": ["https://evil.example/cb"]});
    let res = http().put(uri).bearer_auth(token).json(&evil).send().await.unwrap();
    assert_oauth_error(&Page::of(res).await, 400, "invalid_redirect_uri", "replacement");

    // Operators are not limited by it.
    let created = cli_json(&db, &["client", "create", "--name", "Ops", "--redirect-uri", "https://evil.example/cb"]);
    assert!(created["client_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_limited_per_source_address() {
    let db = TestDb::new(Backend::Sqlite).await;
    let limit = [("LATCHKEY_REGISTRATION_MODE", "open"), ("LATCHKEY_REGISTRATION_MAX_PER_ADDRESS", "3")];
    let metadata = json!({"client_name": "App", "redirect_uris": ["https://app.example/cb"]});

    // Without trusted proxies, X-Forwarded-For is a client's say-so: ignored.
    let server = Server::start(&db, &limit).await;
    for i in 0..3 {
        let page = register(&server, &metadata, Some(&format!("198.51.100.{i}"))).await;
        assert_eq!(page.status, 201, "{}", page.describe());
    }
    let page = register(&server, &metadata, Some("198.51.100.99")).await;
    assert_eq!(page.status, 429, "{}", page.describe());
    assert_eq!(page.json()["error"], "temporarily_unavailable");
    let retry: u64 = page.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    drop(server);

    // Behind a trusted proxy, each forwarded address has its own count.
    let mut env = limit.to_vec();
    env.push(("LATCHKEY_HTTP_TRUSTED_PROXIES", "127.0.0.1"));
    let server = Server::start(&db, &env).await;
    for _ in 0..3 {
        assert_eq!(register(&server, &metadata, Some("203.0.113.1")).await.status, 201);
    }
    assert_eq!(register(&server, &metadata, Some("203.0.113.1")).await.status, 429);
    assert_eq!(register(&server, &metadata, Some("203.0.113.2")).await.status, 201, "another address");
    // A forged entry left of a real one does not help.
    assert_eq!(register(&server, &metadata, Some("10.9.9.9, 203.0.113.1")).await.status, 429);
    // The proxy's own address (no header) was counted 3 times before: limited.
    assert_eq!(register(&server, &metadata, None).await.status, 429);
}
