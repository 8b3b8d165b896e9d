//! The admin API (docs/admin-api.md) over real HTTP: admin tokens from the
//! CLI, scopes, CRUD of clients and users, sessions, keys, the audit log,
//! pagination, validation, the config switch and the separate listener, and
//! a schema-driven fuzzer (schemathesis) against the OpenAPI file.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::Duration;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    tokens_are_checked_for_presence_scope_expiry_and_revocation,
    clients_are_managed_and_paged,
    users_are_managed_and_their_sessions_ended,
    revoking_a_consent_ends_that_apps_tokens_for_that_person,
);
on_both_backends!(keys_and_the_audit_log);
backend_variants!(the_api_is_off_unless_enabled: sqlite => Sqlite if true);
backend_variants!(a_separate_listener_serves_only_the_admin_api: sqlite => Sqlite if true);
backend_variants!(every_documented_route_is_served: sqlite => Sqlite if true);
on_both_backends!(schemathesis_finds_no_failures);
backend_variants!(a_database_outage_answers_503: postgres => Postgres if true);

const ENABLED: &[(&str, &str)] = &[("LATCHKEY_ADMIN_ENABLED", "true")];
const ALL_SCOPES: &[&str] = &[
    "clients:read",
    "clients:write",
    "users:read",
    "users:write",
    "consents:read",
    "consents:write",
    "sessions:read",
    "sessions:write",
    "keys:read",
    "keys:write",
    "audit:read",
];

/// `latchkey admin token create`; returns (id, token).
fn admin_token(db: &TestDb, scopes: &[&str], extra: &[&str]) -> (String, String) {
    let mut args = vec!["admin", "token", "create", "--name", "test tool"];
    for s in scopes {
        args.extend_from_slice(&["--scope", s]);
    }
    args.extend_from_slice(extra);
    let out = cli_json(db, &args);
    (str_of(&out, "id").to_string(), str_of(&out, "token").to_string())
}

/// An admin API caller.
struct Admin {
    base: String,
    token: Option<String>,
}

impl Admin {
    fn new(base: &str, token: &str) -> Self {
        Self { base: format!("{base}/admin/api/v1"), token: Some(token.to_string()) }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Page {
        let mut req = http().request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Page::of(req.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> Page {
        self.call(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: &Value) -> Page {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: &Value) -> Page {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: &Value) -> Page {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> Page {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Every item of a paginated listing, walked `limit` at a time.
    async fn walk(&self, path: &str, limit: u32) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let mut url = format!("{path}{sep}limit={limit}");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&url).await;
            assert_eq!(page.status, 200, "{}", page.describe());
            let v = page.json();
            let batch = v["items"].as_array().unwrap().clone();
            assert!(batch.len() <= limit as usize);
            items.extend(batch);
            pages += 1;
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
            assert!(pages < 100, "pagination does not end");
        }
        (items, pages)
    }
}

fn assert_error(page: &Page, status: u16, error: &str, what: &str) {
    assert_eq!(page.status, status, "{what}: {}", page.describe());
    assert_eq!(page.json()["error"], error, "{what}");
    assert!(page.json()["error_description"].is_string(), "{what}");
    assert!(page.header("cache-control").unwrap_or_default().contains("no-store"), "{what}");
}

fn audit_events(db: &TestDb, kind: &str) -> Vec<Value> {
    cli_json(db, &["audit", "list", "--limit", "1000", "--kind", kind]).as_array().unwrap().clone()
}

async fn tokens_are_checked_for_presence_scope_expiry_and_revocation(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, ENABLED).await;
    let (reader_id, reader) = admin_token(&db, &["clients:read"], &[]);
    assert!(reader.starts_with("lka_") && reader.len() > 40);

    let anonymous = Admin { base: server.url("/admin/api/v1"), token: None };
    for (who, caller) in [
        ("no token", &anonymous),
        ("an unknown token", &Admin::new(&server.issuer, "lka_not-a-real-token")),
        ("a malformed header", &Admin::new(&server.issuer, "two words")),
    ] {
        let page = caller.get("/clients").await;
        assert_error(&page, 401, "invalid_token", who);
        let challenge = page.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer realm=\"latchkey-admin\""), "{who}: a Bearer challenge: {challenge}");
        assert_eq!(challenge.contains("error=\"invalid_token\""), who != "no token", "{who}: {challenge}");
    }

    let admin = Admin::new(&server.issuer, &reader);
    let page = admin.get("/clients").await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(page.json(), json!({"items": [], "next_cursor": null}));
    let page = admin.post("/clients", &json!({"client_name": "X", "redirect_uris": [CB]})).await;
    assert_error(&page, 403, "insufficient_scope", "clients:write missing");
    assert!(page.header("www-authenticate").unwrap().contains("scope=\"clients:write\""));
    assert_error(&admin.get("/users").await, 403, "insufficient_scope", "users:read missing");

    // Listed without its value; its use is recorded.
    let list = cli_json(&db, &["admin", "token", "list"]);
    let listed = list.as_array().unwrap().iter().find(|t| t["id"] == reader_id.as_str()).unwrap().clone();
    assert_eq!(listed["scopes"], json!(["clients:read"]));
    assert!(listed["last_used_at"].is_i64(), "use recorded: {listed}");
    assert!(!list.to_string().contains(&reader), "the token is never shown again");
    let bad = cli(&db, &["admin", "token", "create", "--name", "x", "--scope", "everything"], &[], None);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("possible values: clients:read, clients:write"), "{}", bad.stderr);

    // Revoked: refused at once.
    cli(&db, &["admin", "token", "revoke", &reader_id], &[], None).ok();
    assert_error(&admin.get("/clients").await, 401, "invalid_token", "revoked token");
    assert_ne!(cli(&db, &["admin", "token", "revoke", &reader_id], &[], None).code, 0, "revoking twice fails");

    // Expiry: a token works until its expiry, and is refused after it.
    let (_, hour) = admin_token(&db, &["clients:read"], &["--expires-in", "3600"]);
    assert_eq!(Admin::new(&server.issuer, &hour).get("/clients").await.status, 200, "not yet expired");
    let (_, short) = admin_token(&db, &["clients:read"], &["--expires-in", "1"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(&Admin::new(&server.issuer, &short).get("/clients").await, 401, "invalid_token", "expired token");

    let created = audit_events(&db, "admin_token.created");
    assert_eq!(created.len(), 3);
    assert_eq!(created[0]["actor"], "cli");
    assert_eq!(created[0]["subject"], reader_id.as_str());
    let revoked = audit_events(&db, "admin_token.revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["subject"], reader_id.as_str());
}

async fn clients_are_managed_and_paged(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, ENABLED).await;
    let (token_id, bearer) = admin_token(&db, ALL_SCOPES, &[]);
    let admin = Admin::new(&server.issuer, &bearer);

    // Create: a confidential client gets its secret once; it works at the token endpoint.
    let page = admin
        .post(
            "/clients",
            &json!({
                "client_name": "Service",
                "grant_types": ["client_credentials"],
                "scope": "api:read",
                "audiences": ["https://api.example"],
            }),
        )
        .await;
    assert_eq!(page.status, 201, "{}", page.describe());
    let created = page.json();
    let service = TestClient {
        id: str_of(&created, "client_id").to_string(),
        secret: Some(str_of(&created, "client_secret").to_string()),
    };
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(created["audiences"], json!(["https://api.example"]));
    let read = admin.get(&format!("/clients/{}", service.id)).await;
    assert_eq!(read.status, 200);
    assert!(read.json().get("client_secret").is_none(), "the secret is shown once");
    assert!(!read.body.contains("hmac-sha256"), "no hash on the wire");
    let rs = resource_server(&db);
    let issued = token(&server, auth_of(&service), &Params::new().set("grant_type", "client_credentials")).await;
    assert_eq!(issued.status, 200, "{}", issued.describe());
    let access = str_of(&issued.json(), "access_token").to_string();
    assert!(is_active(&server, auth_of(&rs), &access).await);

    // Validation: 400, never 500.
    let bad_bodies = [
        json!({"client_name": "X", "redirect_uris": ["not a uri"]}),
        json!({"client_name": "X", "redirect_uris": [CB], "grant_types": ["password"]}),
        json!({"client_name": "X", "redirect_uris": [CB], "unknown": 1}),
        json!({"client_name": "", "redirect_uris": [CB]}),
        json!({"client_name": "X", "redirect_uris": [CB], "audiences": ["relative"]}),
        json!({"client_name": "X", "redirect_uris": [CB], "skip_consent": "yes"}),
        json!(["not", "an", "object"]),
    ];
    for body in &bad_bodies {
        assert_error(&admin.post("/clients", body).await, 400, "invalid_request", &body.to_string());
    }
    let raw = http()
        .post(format!("{}/clients", admin.base))
        .bearer_auth(&bearer)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(&Page::of(raw).await, 400, "invalid_request", "malformed JSON");
    let raw = http()
        .post(format!("{}/clients", admin.base))
        .bearer_auth(&bearer)
        .header("content-type", "application/json")
        .body(format!("{{\"client_name\": \"{}\"}}", "x".repeat(70_000)))
        .send()
        .await
        .unwrap();
    assert_error(&Page::of(raw).await, 413, "invalid_request", "oversized body");
    for query in ["limit=0", "limit=501", "limit=abc", "cursor=%21%21", "surprise=1"] {
        assert_error(&admin.get(&format!("/clients?{query}")).await, 400, "invalid_request", query);
    }
    assert_error(&admin.get("/clients/nope").await, 404, "not_found", "unknown client");
    assert_error(&admin.delete("/clients/nope").await, 404, "not_found", "unknown client");

    // Pagination: seven more clients, walked three at a time.
    let mut ids = vec![service.id.clone()];
    for i in 0..7 {
        let page = admin
            .post("/clients", &json!({"client_name": format!("App {i}"), "redirect_uris": [CB], "token_endpoint_auth_method": "none"}))
            .await;
        assert_eq!(page.status, 201, "{}", page.describe());
        assert!(page.json().get("client_secret").is_none(), "a public client has no secret");
        ids.push(str_of(&page.json(), "client_id").to_string());
    }
    let app = ids[1].clone(); // a public client created above
    let public = ids[2].clone(); // another, which stays public
    ids.push(rs.id.clone());
    let (items, pages) = admin.walk("/clients", 3).await;
    let mut seen: Vec<String> = items.iter().map(|c| str_of(c, "client_id").to_string()).collect();
    assert_eq!(pages, 4, "9 clients in pages of 3: a full last page still has a next_cursor, and an empty page ends");
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "every client exactly once");

    // Replace: becomes public, the secret goes; back to a secret method issues a new one.
    let page = admin
        .put(
            &format!("/clients/{app}"),
            &json!({"client_name": "Renamed", "redirect_uris": [CB], "token_endpoint_auth_method": "none"}),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(page.json()["client_name"], "Renamed");
    let page = admin
        .put(
            &format!("/clients/{app}"),
            &json!({"client_name": "Renamed", "redirect_uris": [CB], "token_endpoint_auth_method": "client_secret_post"}),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.json()["client_secret"].is_string(), "moving to a secret method issues one");
    assert_error(
        &admin.put("/clients/nope", &json!({"client_name": "X", "redirect_uris": [CB]})).await,
        404,
        "not_found",
        "replace unknown",
    );

    // Rotate the secret: the new one works, the old one no longer does.
    let page = admin.post(&format!("/clients/{}/secret", service.id), &json!({})).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let rotated = page.json();
    assert_eq!(rotated["client_id"], service.id.as_str());
    let fresh = TestClient { id: service.id.clone(), secret: Some(str_of(&rotated, "client_secret").to_string()) };
    assert_ne!(fresh.secret, service.secret);
    let old = token(&server, auth_of(&service), &Params::new().set("grant_type", "client_credentials")).await;
    assert_eq!(old.status, 401, "the old secret stops working: {}", old.describe());
    let new = token(&server, auth_of(&fresh), &Params::new().set("grant_type", "client_credentials")).await;
    assert_eq!(new.status, 200, "the new secret works: {}", new.describe());
    let read = admin.get(&format!("/clients/{}", service.id)).await;
    assert!(read.json().get("client_secret").is_none(), "the rotated secret is shown once");
    assert_error(&admin.post(&format!("/clients/{public}/secret"), &json!({})).await, 409, "conflict", "public client");
    assert_error(&admin.post("/clients/nope/secret", &json!({})).await, 404, "not_found", "rotate unknown");
    let rotations = audit_events(&db, "client.secret_rotated");
    assert_eq!(rotations.len(), 1, "only the rotation that happened is audited");
    assert_eq!(rotations[0]["actor"], format!("admin:{token_id}").as_str());
    assert_eq!(rotations[0]["subject"], service.id.as_str());

    // Delete: the client's access token stops working, everywhere.
    let page = admin.delete(&format!("/clients/{}", service.id)).await;
    assert_eq!(page.status, 204, "{}", page.describe());
    assert_error(&admin.get(&format!("/clients/{}", service.id)).await, 404, "not_found", "deleted");
    let inactive =
        eventually(Duration::from_secs(5), || async { !is_active(&server, auth_of(&rs), &access).await }).await;
    assert!(inactive, "a deleted client's access token is inactive");
    let again = token(&server, auth_of(&service), &Params::new().set("grant_type", "client_credentials")).await;
    assert_eq!(again.status, 401, "a deleted client cannot get tokens: {}", again.describe());

    // Audited with the token's id.
    let actor = format!("admin:{token_id}");
    let created = audit_events(&db, "client.created");
    assert_eq!(created.iter().filter(|e| e["actor"] == actor.as_str()).count(), 8);
    let deleted = audit_events(&db, "client.deleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["actor"], actor.as_str());
    assert_eq!(deleted[0]["subject"], service.id.as_str());
    assert_eq!(deleted[0]["ip"], "127.0.0.1");
    assert_eq!(audit_events(&db, "client.updated").iter().filter(|e| e["actor"] == actor.as_str()).count(), 2);
}

async fn users_are_managed_and_their_sessions_ended(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, ENABLED).await;
    let (_, token) = admin_token(&db, ALL_SCOPES, &[]);
    let admin = Admin::new(&server.issuer, &token);

    let page = admin
        .post(
            "/users",
            &json!({"username": "bob", "password": PASSWORD, "claims": {"email": "bob@example.com", "email_verified": true, "name": "Bob"}}),
        )
        .await;
    assert_eq!(page.status, 201, "{}", page.describe());
    let bob = page.json();
    let bob_id = str_of(&bob, "id").to_string();
    assert_eq!(bob["has_password"], true);
    assert_eq!(bob["claims"]["email_verified"], true);
    assert!(!page.body.contains("argon2"), "no password hash on the wire");
    assert_error(&admin.post("/users", &json!({"username": "BOB"})).await, 409, "conflict", "username taken");
    for body in [
        json!({"username": "has space"}),
        json!({"username": "carol", "password": "short"}),
        json!({"username": "carol", "claims": {"email": "nope"}}),
        json!({"username": "carol", "claims": {"shoe_size": 9}}),
        json!({"username": "carol", "is_admin": true}),
        json!({"username": 5}),
        json!({}),
    ] {
        assert_error(&admin.post("/users", &body).await, 400, "invalid_request", &body.to_string());
    }

    // Bob signs in with the password set through the API.
    let client = offline_client(&db, "RP", &[]);
    let bob_user = User { id: bob_id.clone(), username: "bob".into(), password: PASSWORD.into() };
    let browser = Browser::new(&server);
    let tokens = tokens_for(&server, &browser, &client, &bob_user, OFFLINE_SCOPES).await;
    let rt = str_of(&tokens, "refresh_token").to_string();

    // Sessions: listed, then ended (its session-bound refresh token… is offline, so it survives by default).
    let page = admin.get(&format!("/users/{bob_id}/sessions")).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let sessions = page.json()["items"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let sid = str_of(&sessions[0], "sid").to_string();
    assert_eq!(sessions[0]["clients"], json!([client.id]));
    assert_error(&admin.delete(&format!("/users/{bob_id}/sessions/not-a-sid")).await, 404, "not_found", "unknown sid");
    assert_error(&admin.delete(&format!("/users/nobody/sessions/{sid}")).await, 404, "not_found", "another user's sid");
    assert_eq!(admin.delete(&format!("/users/{bob_id}/sessions/{sid}")).await.status, 204);
    let page = admin.get(&format!("/users/{bob_id}/sessions")).await;
    assert_eq!(page.json()["items"], json!([]));
    let page = browser.authorize(&code_request(&client.id, &pkce()).set("scope", "openid")).await;
    assert!(page.is_login(), "the ended session no longer signs Bob in: {}", page.describe());

    // Update: disabled, renamed, claims replaced; the username clash is a 409.
    let page = admin.patch(&format!("/users/{bob_id}"), &json!({"disabled": true, "claims": {"name": "Robert"}})).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(page.json()["disabled"], true);
    assert_eq!(page.json()["claims"]["name"], "Robert");
    assert_eq!(page.json()["claims"]["email"], Value::Null, "claims are replaced as a whole");
    let alice = create_alice(&db);
    assert_error(
        &admin.patch(&format!("/users/{bob_id}"), &json!({"username": "Alice"})).await,
        409,
        "conflict",
        "clash",
    );
    assert_error(
        &admin.patch(&format!("/users/{bob_id}"), &json!({"disabled": "no"})).await,
        400,
        "invalid_request",
        "type",
    );
    assert_error(&admin.patch("/users/nobody", &json!({"disabled": true})).await, 404, "not_found", "unknown user");
    let page = admin.get(&format!("/users/{}", alice.id)).await;
    assert_eq!(page.json()["username"], "alice");
    wait_for_change_feed(); // every replica's cache has seen the change
    let refused = refresh(&server, auth_of(&client), &rt, None).await;
    assert_eq!(refused.status, 400, "a disabled user's refresh token fails: {}", refused.describe());

    // Groups: their own member, set on creation, replaced by PATCH, kept
    // when the claims are replaced.
    let page = admin.post("/users", &json!({"username": "gus", "groups": ["staff", "ops", "staff"]})).await;
    assert_eq!(page.status, 201, "{}", page.describe());
    let gus = page.json();
    assert_eq!(gus["groups"], json!(["staff", "ops"]), "duplicates removed");
    let gus_path = format!("/users/{}", str_of(&gus, "id"));
    assert_eq!(admin.get(&format!("/users/{bob_id}")).await.json()["groups"], json!([]));
    let page = admin.patch(&gus_path, &json!({"claims": {"name": "Gus"}})).await;
    assert_eq!(
        (page.json()["groups"].clone(), page.json()["claims"]["name"].clone()),
        (json!(["staff", "ops"]), json!("Gus"))
    );
    let page = admin.patch(&gus_path, &json!({"groups": ["admins"]})).await;
    assert_eq!(page.json()["groups"], json!(["admins"]));
    assert_eq!(page.json()["claims"]["name"], "Gus", "groups leave the claims alone");
    for groups in [json!(["two words"]), json!([""]), json!(["x".repeat(129)]), json!([1]), json!("admins")] {
        let body = json!({"groups": groups});
        assert_error(&admin.patch(&gus_path, &body).await, 400, "invalid_request", &body.to_string());
    }
    let many: Vec<String> = (0..=100).map(|i| format!("g{i}")).collect();
    assert_error(&admin.patch(&gus_path, &json!({"groups": many})).await, 400, "invalid_request", "101 groups");
    assert_eq!(admin.get(&gus_path).await.json()["groups"], json!(["admins"]), "refusals change nothing");
    assert_eq!(admin.delete(&gus_path).await.status, 204);

    // Paging over users, then delete.
    for i in 0..4 {
        assert_eq!(admin.post("/users", &json!({"username": format!("user{i}")})).await.status, 201);
    }
    let (users, _) = admin.walk("/users", 2).await;
    assert_eq!(users.len(), 6);
    assert!(users.iter().all(|u| u.get("password_hash").is_none()));
    assert_eq!(admin.delete(&format!("/users/{bob_id}")).await.status, 204);
    assert_error(&admin.get(&format!("/users/{bob_id}")).await, 404, "not_found", "deleted user");
    assert_eq!(
        audit_events(&db, "user.created").iter().filter(|e| str_of(e, "actor").starts_with("admin:")).count(),
        6,
        "bob, gus and four more"
    );
    assert_eq!(audit_events(&db, "user.deleted").len(), 2, "gus and bob");
    let revoked = audit_events(&db, "session.revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["details"]["sid"], sid.as_str());
}

async fn revoking_a_consent_ends_that_apps_tokens_for_that_person(backend: Backend) {
    let Env { db, server, alice } = env(backend, ENABLED).await;
    let (token_id, bearer) = admin_token(&db, &["consents:read", "consents:write"], &[]);
    let admin = Admin::new(&server.issuer, &bearer);
    let cut = offline_client(&db, "Cut off", &[]);
    let kept = offline_client(&db, "Kept", &[]);
    let rs = resource_server(&db);
    let cut_tokens = tokens_for(&server, &Browser::new(&server), &cut, &alice, OFFLINE_SCOPES).await;
    let kept_tokens = tokens_for(&server, &Browser::new(&server), &kept, &alice, OFFLINE_SCOPES).await;
    let access = str_of(&cut_tokens, "access_token").to_string();
    assert!(is_active(&server, auth_of(&rs), &access).await);

    let page = admin.get(&format!("/users/{}/consents", alice.id)).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let mut granted: Vec<String> =
        page.json()["items"].as_array().unwrap().iter().map(|c| str_of(c, "client_id").to_string()).collect();
    granted.sort();
    let mut expected = vec![cut.id.clone(), kept.id.clone()];
    expected.sort();
    assert_eq!(granted, expected);
    assert!(page.json()["items"][0]["scope"].as_str().unwrap().contains("offline_access"));
    assert_error(&admin.get("/users/nobody/consents").await, 404, "not_found", "unknown user");

    let page = admin.delete(&format!("/users/{}/consents/{}", alice.id, cut.id)).await;
    assert_eq!(page.status, 204, "{}", page.describe());
    let refused = refresh(&server, auth_of(&cut), str_of(&cut_tokens, "refresh_token"), None).await;
    assert_eq!(refused.status, 400, "the cut-off app's refresh token fails: {}", refused.describe());
    let inactive =
        eventually(Duration::from_secs(5), || async { !is_active(&server, auth_of(&rs), &access).await }).await;
    assert!(inactive, "its access token is inactive at introspection");
    refresh_ok(&server, &kept, str_of(&kept_tokens, "refresh_token")).await;
    let page = admin.get(&format!("/users/{}/consents", alice.id)).await;
    assert_eq!(page.json()["items"].as_array().unwrap().len(), 1);
    assert_error(
        &admin.delete(&format!("/users/{}/consents/{}", alice.id, cut.id)).await,
        404,
        "not_found",
        "nothing left to revoke",
    );
    let revoked = audit_events(&db, "consent.revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["actor"], format!("admin:{token_id}"));
    assert_eq!(revoked[0]["client_id"], cut.id.as_str());
    assert_error(&admin.get(&format!("/users/{}/sessions", alice.id)).await, 403, "insufficient_scope", "scope");
}

async fn keys_and_the_audit_log(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, ENABLED).await;
    let (token_id, token) = admin_token(&db, &["keys:read", "keys:write", "audit:read"], &[]);
    let admin = Admin::new(&server.issuer, &token);

    let page = admin.get("/keys").await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let keys = page.json()["items"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2, "active and next: {keys:?}");
    assert!(!page.body.contains("PRIVATE") && !page.body.contains("\"d\""), "no private key material");
    let active = keys.iter().find(|k| k["state"] == "active").unwrap()["kid"].as_str().unwrap().to_string();
    let next = keys.iter().find(|k| k["state"] == "next").unwrap()["kid"].as_str().unwrap().to_string();
    assert_eq!(keys[0]["public_jwk"]["kty"], "RSA");

    assert_error(&admin.post("/keys/rotate", &json!({})).await, 409, "conflict", "next key too young");
    assert_error(&admin.post("/keys/rotate", &json!({"force": "yes"})).await, 400, "invalid_request", "bad force");
    let page = admin.post("/keys/rotate", &json!({"force": true})).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(page.json()["active"], next.as_str());
    let new_next = str_of(&page.json(), "next").to_string();
    assert_error(&admin.post(&format!("/keys/{next}/retire"), &json!({})).await, 409, "conflict", "retire active");
    assert_error(&admin.post("/keys/nope/retire", &json!({})).await, 404, "not_found", "unknown kid");
    let page = admin.post(&format!("/keys/{active}/retire"), &json!({"now": true})).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let states: Vec<(String, String)> = admin.get("/keys").await.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (str_of(k, "kid").to_string(), str_of(k, "state").to_string()))
        .collect();
    assert!(!states.iter().any(|(k, _)| *k == active), "withdrawn at once: {states:?}");
    assert!(states.contains(&(next.clone(), "active".into())) && states.contains(&(new_next, "next".into())));

    // The audit log: the same events the CLI shows, paged.
    let (events, _) = admin.walk("/audit-events", 1).await;
    let cli_events = cli_json(&db, &["audit", "list", "--limit", "1000"]);
    assert_eq!(events.len(), cli_events.as_array().unwrap().len());
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["admin_token.created", "key.rotated", "key.retired"]);
    assert_eq!(events[1]["actor"], format!("admin:{token_id}"));
    let page = admin.get("/audit-events?kind=key.retired").await;
    assert_eq!(page.json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(page.json()["items"][0]["subject"], active.as_str());
    let first = events[0]["id"].as_i64().unwrap();
    let page = admin.get(&format!("/audit-events?after={first}&subject={next}")).await;
    assert_eq!(page.json()["items"].as_array().unwrap().len(), 1, "{}", page.describe());
    for query in ["after=-1", "after=x", "cursor=1&after=1", "cursor=zz", "limit=0"] {
        assert_error(&admin.get(&format!("/audit-events?{query}")).await, 400, "invalid_request", query);
    }
    assert_error(&admin.get("/clients").await, 403, "insufficient_scope", "clients:read missing");
}

async fn the_api_is_off_unless_enabled(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let (_, token) = admin_token(&db, ALL_SCOPES, &[]);
    let admin = Admin::new(&server.issuer, &token);
    for path in ["/openapi.json", "/clients", "/users"] {
        assert_eq!(admin.get(path).await.status, 404, "{path}");
    }
    // A token made for a server whose admin API is off: said, not silent.
    let out = cli(&db, &["admin", "token", "create", "--name", "early", "--scope", "audit:read", "--json"], &[], None);
    assert!(out.stderr.contains("warning: the admin API is off"), "{}", out.stderr);
    let out = out.ok();
    assert!(out.json()["token"].is_string(), "--json output stays clean");
    let on = [("LATCHKEY_ADMIN_ENABLED", "true")];
    let out = cli(&db, &["admin", "token", "create", "--name", "on", "--scope", "audit:read"], &on, None).ok();
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

async fn a_separate_listener_serves_only_the_admin_api(backend: Backend) {
    let db = TestDb::new(backend).await;
    let admin_port = free_port();
    let listen = format!("127.0.0.1:{admin_port}");
    let server =
        Server::start(&db, &[("LATCHKEY_ADMIN_ENABLED", "true"), ("LATCHKEY_ADMIN_LISTEN", listen.as_str())]).await;
    let (_, token) = admin_token(&db, ALL_SCOPES, &[]);
    let base = format!("http://{listen}");
    let ready = eventually(Duration::from_secs(5), || async {
        http().get(format!("{base}/admin/api/v1/openapi.json")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(ready, "the admin listener answers:\n{}", server.log());
    let admin = Admin::new(&base, &token);
    assert_eq!(admin.get("/clients").await.status, 200);
    assert_eq!(Admin::new(&server.issuer, &token).get("/clients").await.status, 404, "not on the public listener");
    assert_eq!(http().get(format!("{base}/jwks")).send().await.unwrap().status(), 404, "only the admin API there");
    assert_eq!(http().get(server.url("/jwks")).send().await.unwrap().status(), 200);
}

/// Every path and method in the OpenAPI file reaches a handler (401 without
/// a token, not the 404 fallback or a 405).
async fn every_documented_route_is_served(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, ENABLED).await;
    let page = Page::of(http().get(server.url("/admin/api/v1/openapi.json")).send().await.unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("application/json"));
    let doc = page.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap().iter().filter(|(k, _)| *k != "parameters") {
            let url = server.url(&format!("/admin/api/v1{}", path.replace('{', "x").replace('}', "")));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = http().request(method.clone(), &url).send().await.unwrap();
            let expected = if path == "/openapi.json" { 200 } else { 401 };
            assert_eq!(res.status().as_u16(), expected, "{method} {path}");
            checked += 1;
        }
    }
    assert_eq!(checked, 27);
}

/// While the database is down the API answers 503 in its JSON shape (never
/// 500), and it recovers without a restart.
async fn a_database_outage_answers_503(_backend: Backend) {
    // A PostgreSQL server of the test's own, so that it can be stopped.
    let mut db = TestDb::new(Backend::Sqlite).await;
    let Some(pg) = OwnPostgres::start(db.dir.path()) else {
        assert!(std::env::var_os("CI").is_none(), "CI must install postgresql");
        eprintln!("PostgreSQL is not installed: outage test not run");
        return;
    };
    db.url = pg.url();
    let mut env = ENABLED.to_vec();
    env.push(("LATCHKEY_DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1"));
    let server = Server::start(&db, &env).await;
    let (_, bearer) = admin_token(&db, ALL_SCOPES, &[]);
    let admin = Admin::new(&server.issuer, &bearer);
    assert_eq!(admin.get("/clients").await.status, 200);

    pg.stop();
    for page in [
        admin.get("/clients").await,
        admin.post("/users", &json!({"username": "during"})).await,
        admin.get("/audit-events").await,
    ] {
        assert_error(&page, 503, "temporarily_unavailable", "database down");
    }
    pg.run();
    let back = eventually(Duration::from_secs(20), || async { admin.get("/clients").await.status == 200 }).await;
    assert!(back, "the API recovers:\n{}", tail(&server.log(), 30));
    assert_eq!(admin.post("/users", &json!({"username": "after"})).await.status, 201);
    assert!(!server.log().contains("panicked"));
}

/// The schemathesis executable: `LATCHKEY_TEST_SCHEMATHESIS`, else on PATH.
fn schemathesis() -> Option<String> {
    if let Ok(path) = std::env::var("LATCHKEY_TEST_SCHEMATHESIS")
        && !path.is_empty()
    {
        return Some(path);
    }
    let on_path =
        std::process::Command::new("schemathesis").arg("--version").output().is_ok_and(|o| o.status.success());
    if on_path {
        return Some("schemathesis".into());
    }
    assert!(std::env::var_os("CI").is_none(), "CI must install schemathesis (LATCHKEY_TEST_SCHEMATHESIS, see .ci/run)");
    eprintln!("schemathesis not installed (set LATCHKEY_TEST_SCHEMATHESIS): fuzzing the admin API skipped");
    None
}

/// The OpenAPI file is valid, and schemathesis, driven by it with a token
/// holding every scope, finds no server error and no response that breaks
/// the schema (status codes, content types, headers, bodies).
async fn schemathesis_finds_no_failures(backend: Backend) {
    let Some(st) = schemathesis() else { return };
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, ENABLED).await;
    let (_, token) = admin_token(&db, ALL_SCOPES, &[]);
    // Something to find: a client, a user with a session-less account.
    let admin = Admin::new(&server.issuer, &token);
    assert_eq!(admin.post("/clients", &json!({"client_name": "Seed", "redirect_uris": [CB]})).await.status, 201);
    assert_eq!(admin.post("/users", &json!({"username": "seed"})).await.status, 201);
    // The file is a valid OpenAPI 3.1 document (the validator installed beside schemathesis, if any).
    let validator = std::path::Path::new(&st).with_file_name("openapi-spec-validator");
    if validator.is_file() {
        let file = repo_root().join("crates/latchkey-admin/openapi.json");
        let out = std::process::Command::new(&validator).arg(&file).output().expect("run openapi-spec-validator");
        assert!(out.status.success(), "invalid OpenAPI file: {}", String::from_utf8_lossy(&out.stdout));
    } else {
        assert!(std::env::var_os("CI").is_none(), "CI installs openapi-spec-validator beside schemathesis");
    }
    let schema = server.url("/admin/api/v1/openapi.json");
    let report = db.dir.path().join("schemathesis");
    let report_cwd = db.dir.path().to_path_buf();
    let st_for_run = st.clone();
    let token_for_run = token.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(st_for_run)
            .args(["run", &schema, "--checks", "all"])
            // Valid JSON is not always a valid registration (redirect-URI
            // rules, unique usernames): schema-valid requests may get 400/409.
            .args(["--exclude-checks", "positive_data_acceptance"])
            .args(["--header", &format!("Authorization: Bearer {token_for_run}")])
            // Every phase: examples, coverage, fuzzing, and stateful (following the file's links).
            .args(["--max-examples", "40", "--seed", "7", "--request-timeout", "10"])
            .args(["--generation-database", "none"])
            .arg("--report-dir")
            .arg(&report)
            .current_dir(&report_cwd)
            .env("NO_COLOR", "1")
            .output()
            .expect("run schemathesis")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}\n--- server log (tail) ---\n{}",
        tail(&server.log(), 60)
    );
    assert!(!server.log().contains("panicked"), "the server panicked");
    assert!(stdout.contains("passed") || stdout.contains("No issues found"), "{stdout}");
}
