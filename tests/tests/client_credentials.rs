//! The client credentials grant (docs/token-lifecycle.md, "Client
//! credentials"; RFC 6749 §4.4, RFC 8707, RFC 9068) over real HTTP.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    client_create_registers_the_lifecycle_flags,
    access_token_for_the_client_itself,
    audience_from_resource_or_audience,
    scope_subset_default_and_personal_scopes,
    only_confidential_clients_with_the_grant,
);

const API: &str = "https://api.example";

fn cc() -> Params {
    Params::new().set("grant_type", "client_credentials")
}

/// A client for the grant with `--audience API` and `scope`.
fn service(db: &TestDb, scope: &str) -> TestClient {
    register(db, "Service", &["--grant-type", "client_credentials", "--scope", scope, "--audience", API])
}

async fn client_create_registers_the_lifecycle_flags(backend: Backend) {
    // The contract names these `client create` flags; the stored client must
    // carry them (as `client show` reports it).
    let db = TestDb::migrated(backend).await;
    cli(&db, &["migrate"], &[], None).ok();
    let created = cli_json(
        &db,
        &[
            "client",
            "create",
            "--name",
            "RS",
            "--grant-type",
            "client_credentials",
            "--scope",
            "api:read api:write",
            "--audience",
            API,
            "--audience",
            "https://other-api.example",
            "--introspection",
        ],
    );
    let mut problems = Vec::new();
    let id = str_of(&created, "client_id").to_string();
    let shown = cli_json(&db, &["client", "show", &id]);
    if shown["audiences"] != json!([API, "https://other-api.example"]) {
        problems.push(format!("client create --audience must register the audiences: {shown}"));
    }
    if shown["introspection"] != true {
        problems.push(format!("client create --introspection must register a resource server: {shown}"));
    }

    let created = cli_json(
        &db,
        &[
            "client",
            "create",
            "--name",
            "RP",
            "--redirect-uri",
            CB,
            "--backchannel-logout-uri",
            "https://app.example/backchannel",
        ],
    );
    let id = str_of(&created, "client_id").to_string();
    let shown = cli_json(&db, &["client", "show", &id]);
    if shown["backchannel_logout_uri"] != "https://app.example/backchannel" {
        problems.push(format!("client create --backchannel-logout-uri must register it: {shown}"));
    }

    // Public clients cannot be registered for the grant.
    let out = cli(
        &db,
        &["client", "create", "--name", "P", "--public", "--grant-type", "client_credentials", "--json"],
        &[],
        None,
    );
    if out.code == 0 {
        problems.push(format!("a public client_credentials client was registered: {out:?}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

async fn access_token_for_the_client_itself(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let rs = service(&db, "api:read api:write");

    let before = now();
    let res = token(&server, auth_of(&rs), &cc()).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let body = res.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_i64().is_some_and(|e| e > 0), "{body}");
    assert!(body.get("id_token").is_none(), "no ID token: {body}");
    assert!(body.get("refresh_token").is_none(), "no refresh token: {body}");
    let at = str_of(&body, "access_token");
    let (header, _) = jwt_parts(at);
    assert_eq!(header["typ"], "at+jwt", "RFC 9068 header: {header}");
    let c = verify_jwt(&server, at).await;
    assert_eq!(c["sub"], rs.id.as_str(), "sub = client_id: {c}");
    assert_eq!(c["client_id"], rs.id.as_str(), "{c}");
    assert_eq!(c["iss"], server.issuer.as_str());
    for claim in ["exp", "iat", "jti"] {
        assert!(c.get(claim).is_some(), "RFC 9068 requires {claim}: {c}");
    }
    let iat = c["iat"].as_i64().unwrap();
    assert!((before - 5..=now() + 1).contains(&iat), "{c}");
    assert_eq!(c["exp"].as_i64().unwrap() - iat, body["expires_in"].as_i64().unwrap(), "{c} {body}");

    // The client may introspect its own token.
    let v = introspect_ok(&server, auth_of(&rs), at).await;
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["client_id"], rs.id.as_str());
    assert_eq!(v["sub"], rs.id.as_str());
    // The registered method only (client_secret_basic).
    let res = token(&server, Auth::Post(&rs.id, rs.secret()), &cc()).await;
    assert_oauth_error(&res, 401, "invalid_client", "client_secret_post for a basic client");
    let res = token(&server, Auth::Basic(&rs.id, "wrong"), &cc()).await;
    assert_oauth_error(&res, 401, "invalid_client", "a wrong secret");
}

async fn audience_from_resource_or_audience(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let rs = service(&db, "api:read api:write");

    let aud = |body: &Value| claims(str_of(body, "access_token"))["aud"].clone();
    let single = |v: &Value, want: &str| match v {
        Value::String(s) => s == want,
        Value::Array(a) => a.len() == 1 && a[0] == want,
        _ => false,
    };

    // resource (RFC 8707).
    let res = token(&server, auth_of(&rs), &cc().set("resource", API)).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let a = aud(&res.json());
    assert!(single(&a, API), "aud = the resource: {a}");
    // audience.
    let res = token(&server, auth_of(&rs), &cc().set("audience", API)).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let a = aud(&res.json());
    assert!(single(&a, API), "aud = the audience: {a}");
    // Without: the default audience, the issuer.
    let res = token(&server, auth_of(&rs), &cc()).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let a = aud(&res.json());
    assert!(single(&a, &server.issuer), "default aud = issuer: {a}");

    // Not registered, relative, or with a fragment: invalid_target.
    for (name, value) in [
        ("resource", "https://other.example"),
        ("resource", "/api"),
        ("resource", "api.example"),
        ("resource", "https://api.example#frag"),
        ("audience", "https://other.example"),
    ] {
        let res = token(&server, auth_of(&rs), &cc().set(name, value)).await;
        assert_oauth_error(&res, 400, "invalid_target", &format!("{name}={value}"));
    }
    // One value only.
    let res = token(&server, auth_of(&rs), &cc().add("resource", API).add("resource", "https://other.example")).await;
    assert_eq!(res.status, 400, "two resources: {}", res.describe());
    assert!(matches!(res.json()["error"].as_str(), Some("invalid_target" | "invalid_request")), "{}", res.body);
    drop(server);

    // tokens.default_audience.
    let server = Server::start(&db, &[("LATCHKEY_TOKENS_DEFAULT_AUDIENCE", "https://default.example")]).await;
    let res = token(&server, auth_of(&rs), &cc()).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let a = aud(&res.json());
    assert!(single(&a, "https://default.example"), "configured default aud: {a}");
    let res = token(&server, auth_of(&rs), &cc().set("resource", API)).await;
    let a = aud(&res.json());
    assert!(single(&a, API), "resource wins over the default: {a}");
}

async fn scope_subset_default_and_personal_scopes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let rs = service(&db, "api:read api:write");
    let mixed = service(&db, "openid profile email offline_access api:read");

    let scope_of = |page: &Page| {
        assert_eq!(page.status, 200, "{}", page.describe());
        let body = page.json();
        let s = scope_words(str_of(&body, "scope"));
        let c = scope_words(str_of(&claims(str_of(&body, "access_token")), "scope"));
        assert_eq!(s, c, "the response's scope is the token's: {body}");
        s
    };

    let s = scope_of(&token(&server, auth_of(&rs), &cc()).await);
    assert_eq!(s, scope_words("api:read api:write"), "omitted: every registered scope");
    let s = scope_of(&token(&server, auth_of(&rs), &cc().set("scope", "api:read")).await);
    assert_eq!(s, scope_words("api:read"), "a subset");
    let s = scope_of(&token(&server, auth_of(&rs), &cc().set("scope", "api:write api:read")).await);
    assert_eq!(s, scope_words("api:read api:write"));

    for bad in ["api:admin", "api:read api:admin", "openid"] {
        let res = token(&server, auth_of(&rs), &cc().set("scope", bad)).await;
        assert_oauth_error(&res, 400, "invalid_scope", &format!("scope={bad}"));
    }

    // Personal scopes are never granted to a client acting for itself.
    let s = scope_of(&token(&server, auth_of(&mixed), &cc()).await);
    assert_eq!(s, scope_words("api:read"), "personal scopes excluded from the default");
    for personal in ["openid", "profile", "email", "offline_access", "openid api:read"] {
        let res = token(&server, auth_of(&mixed), &cc().set("scope", personal)).await;
        assert_oauth_error(&res, 400, "invalid_scope", &format!("personal scope={personal}"));
    }
}

async fn only_confidential_clients_with_the_grant(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    // A public client (registered for the code flow only: public clients
    // cannot register client_credentials).
    let public = public(&db);
    let res = token(&server, Auth::None(&public.id), &cc()).await;
    assert_oauth_error(&res, 400, "unauthorized_client", "a public client");
    // A confidential client without the grant.
    let rp = confidential(&db);
    let res = token(&server, auth_of(&rp), &cc()).await;
    assert_oauth_error(&res, 400, "unauthorized_client", "a client without the grant");
    // A client with both the code flow and client_credentials may use it.
    let both = register(
        &db,
        "Both",
        &[
            "--redirect-uri",
            CB,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "client_credentials",
            "--scope",
            "openid api:read",
        ],
    );
    let res = token(&server, auth_of(&both), &cc()).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(scope_words(str_of(&res.json(), "scope")), scope_words("api:read"));
}
