//! Dynamic client registration (RFC 7591): access modes, the response shape,
//! validation identical to the CLI, RFC error codes, nothing written on error.

use latchkey_tests::*;

const TOKEN: &str = "initial-access-token-0123456789";

on_both_backends!(
    token_mode_requires_the_initial_access_token,
    registers_confidential_and_public_clients,
    invalid_metadata_gets_rfc_errors
);

async fn token_mode_requires_the_initial_access_token(backend: Backend) {
    let db = TestDb::new(backend).await;
    let closed = Server::start(&db, &[]).await;
    let c = http();
    let meta = json!({"redirect_uris": ["https://app.example/cb"], "client_name": "App"});
    let res = c.post(closed.url("/register")).json(&meta).send().await.unwrap();
    assert_eq!(res.status(), 404, "closed: the endpoint does not exist");

    let server = Server::start(&db, &[("LATCHKEY_REGISTRATION_TOKEN", TOKEN)]).await;
    let doc: Value = c.get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        doc["registration_endpoint"],
        server.url("/register").as_str(),
        "token mode is the default with a token"
    );

    for auth in [
        None,
        Some("Bearer wrong-token-wrong-token"),
        Some("Basic Zm9vOmJhcg=="),
        Some(&format!("Bearer {TOKEN}x") as &str),
    ] {
        let mut req = c.post(server.url("/register")).json(&meta);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_token");
    }
    assert_eq!(cli_json(&db, &["client", "list"]), json!([]));

    let res = c.post(server.url("/register")).bearer_auth(TOKEN).json(&meta).send().await.unwrap();
    assert_eq!(res.status(), 201);
    // The scheme is case-insensitive.
    let res = c
        .post(server.url("/register"))
        .header("Authorization", format!("bEaReR {TOKEN}"))
        .json(&meta)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

async fn registers_confidential_and_public_clients(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let c = http();
    let meta = json!({
        "redirect_uris": ["https://app.example/cb", "https://app.example/cb2"],
        "client_name": "Example App",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "openid email offline_access",
        "contacts": ["dev@app.example"],
        "logo_uri": "https://app.example/logo.png",
        "policy_uri": "https://app.example/privacy",
        "post_logout_redirect_uris": ["https://app.example/bye"],
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "an_unknown_member": {"is": "ignored"},
    });
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let res = c.post(server.url("/register")).json(&meta).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
    let body: Value = res.json().await.unwrap();
    let id = body["client_id"].as_str().unwrap();
    assert_eq!(body["client_secret"].as_str().unwrap().len(), 43);
    assert_eq!(body["client_secret_expires_at"], 0);
    assert!(body["client_id_issued_at"].as_i64().unwrap() >= before);
    for field in [
        "redirect_uris",
        "client_name",
        "grant_types",
        "response_types",
        "token_endpoint_auth_method",
        "contacts",
        "logo_uri",
        "policy_uri",
        "post_logout_redirect_uris",
        "software_id",
    ] {
        assert_eq!(body[field], meta[field], "{field} echoed as registered");
    }
    assert_eq!(body["scope"], "email offline_access openid");
    assert!(body.get("an_unknown_member").is_none());

    // The CLI sees exactly the same client, marked as self-registered.
    let shown = cli_json(&db, &["client", "show", id]);
    assert_eq!(shown["client_name"], "Example App");
    assert_eq!(shown["dynamically_registered"], true);

    let public = json!({"redirect_uris": ["com.example.app:/oauth2redirect"], "token_endpoint_auth_method": "none", "client_name": "Native"});
    let body: Value = c.post(server.url("/register")).json(&public).send().await.unwrap().json().await.unwrap();
    assert!(body.get("client_secret").is_none(), "public clients get no secret: {body}");
    assert!(body.get("client_secret_expires_at").is_none());
    assert_eq!(body["token_endpoint_auth_method"], "none");

    // Minimal metadata gets the RFC 7591 defaults.
    let body: Value = c
        .post(server.url("/register"))
        .json(&json!({"redirect_uris": ["https://min.example/cb"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["grant_types"], json!(["authorization_code"]));
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
}

async fn invalid_metadata_gets_rfc_errors(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let c = http();
    let cases = [
        (json!({"redirect_uris": ["https://app.example/cb#frag"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["http://app.example/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["/relative"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["javascript:alert(document.cookie)"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://u:p@app.example/cb"]}), "invalid_redirect_uri"),
        (json!({}), "invalid_redirect_uri"),
        (json!({"redirect_uris": "https://app.example/cb"}), "invalid_client_metadata"),
        (json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["implicit"]}), "invalid_client_metadata"),
        (json!({"redirect_uris": ["https://app.example/cb"], "response_types": ["token"]}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "logo_uri": "data:image/png;base64,AAAA"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "client_name": "x".repeat(500)}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": ["https://app.example/cb"], "scope": 42}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "jwks_uri": "https://app.example/jwks", "jwks": {"keys": []}}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ];
    for (meta, code) in cases {
        let res = c.post(server.url("/register")).json(&meta).send().await.unwrap();
        assert_eq!(res.status(), 400, "{meta}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], code, "{meta}: {body}");
        assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Malformed, wrongly typed and oversized bodies.
    let res = c
        .post(server.url("/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client_metadata");
    let res = c.post(server.url("/register")).header("content-type", "text/plain").body("{}").send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request");
    let huge = json!({"redirect_uris": ["https://app.example/cb"], "client_name": "x".repeat(80_000)});
    let res = c.post(server.url("/register")).json(&huge).send().await.unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request");
    let res = c.get(server.url("/register")).send().await.unwrap();
    assert_eq!(res.status(), 405);

    assert_eq!(cli_json(&db, &["client", "list"]), json!([]), "nothing was written");
    assert!(!server.log().contains("panicked"));
}
