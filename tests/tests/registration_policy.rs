//! What the operator allows self-registered clients (docs/registration.md,
//! "Registration policy"): redirect-URI hosts and schemes, grant types,
//! scopes, and anonymous registrations per source address (whoever holds the
//! initial access token is not limited).

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    registrations_with_the_initial_access_token_are_not_limited,
    open_registrations_are_limited_per_forwarded_address
);

async fn register(server: &Server, metadata: &Value, forwarded_for: Option<&str>) -> Page {
    register_with(&http(), &server.url("/register"), metadata, forwarded_for, None).await
}

/// `POST url` with `metadata`, `X-Forwarded-For` and a bearer token if given.
async fn register_at(url: &str, metadata: &Value, forwarded_for: Option<&str>, token: Option<&str>) -> Page {
    register_with(&http(), url, metadata, forwarded_for, token).await
}

/// The same through `client` (one per worker: building a client is slow).
async fn register_with(
    client: &reqwest::Client,
    url: &str,
    metadata: &Value,
    forwarded_for: Option<&str>,
    token: Option<&str>,
) -> Page {
    let mut req = client.post(url).json(metadata);
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    Page::of(req.send().await.unwrap()).await
}

const INITIAL_TOKEN: &str = "provisioning-token-0123456789";

/// A platform provisioning tenants: 200 registrations with the initial
/// access token within a minute, from one address, on the default limit
/// (20 per hour): all 201. Callers without the right token are still
/// limited per address, and do not lock the operator out.
async fn registrations_with_the_initial_access_token_are_not_limited(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[("LATCHKEY_REGISTRATION_TOKEN", INITIAL_TOKEN)]).await;
    let url = server.url("/register");
    let metadata = json!({"client_name": "Tenant", "redirect_uris": ["https://tenant.example/cb"]});
    let started = std::time::Instant::now();
    let mut workers = Vec::new();
    for w in 0..8 {
        let (url, metadata) = (url.clone(), metadata.clone());
        workers.push(tokio::spawn(async move {
            let client = http();
            for i in 0..25 {
                let page = register_with(&client, &url, &metadata, None, Some(INITIAL_TOKEN)).await;
                assert_eq!(page.status, 201, "worker {w}, registration {i}: {}", page.describe());
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    eprintln!("200 registrations in {:?}", started.elapsed());
    assert_eq!(cli_json(&db, &["client", "list"]).as_array().unwrap().len(), 200);

    for i in 0..20 {
        let page = register_at(&url, &metadata, None, Some("a-guessed-token-0123456789")).await;
        assert_oauth_error(&page, 401, "invalid_token", &format!("wrong token {i}"));
    }
    let page = register_at(&url, &metadata, None, Some("a-guessed-token-0123456789")).await;
    assert_oauth_error(&page, 429, "temporarily_unavailable", "the 21st anonymous attempt");
    assert_oauth_error(&register_at(&url, &metadata, None, None).await, 429, "temporarily_unavailable", "no token");
    let page = register_at(&url, &metadata, None, Some(INITIAL_TOKEN)).await;
    assert_eq!(page.status, 201, "the operator's token still works: {}", page.describe());
}

/// Open registration stays limited per address, counted across replicas;
/// behind a trusted proxy, per forwarded address. (Straight to the
/// replicas: the cluster's nginx replaces X-Forwarded-For.)
async fn open_registrations_are_limited_per_forwarded_address(backend: Backend) {
    let db = TestDb::new(backend).await;
    let env = [
        ("LATCHKEY_REGISTRATION_MODE", "open"),
        ("LATCHKEY_REGISTRATION_MAX_PER_ADDRESS", "3"),
        ("LATCHKEY_HTTP_TRUSTED_PROXIES", "127.0.0.1"),
    ];
    let server = Server::start(&db, &env).await;
    let at = |i: usize| server.replica_url(i % server.replicas.len(), "/register");
    let metadata = json!({"client_name": "App", "redirect_uris": ["https://app.example/cb"]});
    for i in 0..3 {
        assert_eq!(register_at(&at(i), &metadata, Some("203.0.113.1"), None).await.status, 201);
    }
    let page = register_at(&at(3), &metadata, Some("203.0.113.1"), None).await;
    assert_oauth_error(&page, 429, "temporarily_unavailable", "the fourth from one address");
    assert!(page.header("retry-after").is_some());
    assert_eq!(register_at(&at(4), &metadata, Some("203.0.113.2"), None).await.status, 201, "another address");
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
