//! Discovery and the JWKS as the configuration shapes them: only what is
//! configured is advertised, an issuer with a path moves every route under
//! it, and the documents are validated by their ETags.

use latchkey_server::testing::TestApp;
use serde_json::{Value, json};

async fn metadata(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    res.json()
}

#[tokio::test]
async fn client_secret_jwt_is_advertised_only_with_an_encryption_key() {
    let app = TestApp::start().await;
    let doc = metadata(&app, "/.well-known/openid-configuration").await;
    for endpoint in ["token", "introspection", "revocation"] {
        let methods = &doc[format!("{endpoint}_endpoint_auth_methods_supported")];
        assert!(!methods.as_array().unwrap().contains(&json!("client_secret_jwt")), "{endpoint}: {methods}");
        let algs = &doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")];
        assert_eq!(algs, &json!(["RS256", "PS256", "ES256", "EdDSA"]), "{endpoint}");
    }
    // Introspection has no public callers.
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "private_key_jwt"])
    );
    assert_eq!(
        doc["revocation_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])
    );
    assert_eq!(
        doc["acr_values_supported"],
        json!(["urn:latchkey:acr:password", "urn:latchkey:acr:mfa", "phr"]),
        "no upstream provider; passkeys on a host name"
    );
    // Browsers refuse WebAuthn on an IP address: no passkeys, no phr.
    let at_ip = TestApp::with_env(&[("LATCHKEY_ISSUER", "http://127.0.0.1:8080")]).await;
    let doc_at_ip = metadata(&at_ip, "/.well-known/openid-configuration").await;
    assert_eq!(doc_at_ip["acr_values_supported"], json!(["urn:latchkey:acr:password", "urn:latchkey:acr:mfa"]));

    let key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let app = TestApp::with_env(&[("LATCHKEY_KEYS_ENCRYPTION_KEY", key)]).await;
    let doc = metadata(&app, "/.well-known/openid-configuration").await;
    for endpoint in ["token", "introspection", "revocation"] {
        let methods = doc[format!("{endpoint}_endpoint_auth_methods_supported")].as_array().unwrap().clone();
        assert!(methods.contains(&json!("client_secret_jwt")), "{endpoint}: {methods:?}");
        let algs = &doc[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")];
        assert_eq!(algs, &json!(["RS256", "PS256", "ES256", "EdDSA", "HS256", "HS384", "HS512"]), "{endpoint}");
    }
}

#[tokio::test]
async fn registration_is_advertised_and_routed_only_when_open() {
    let closed = TestApp::start().await;
    let doc = metadata(&closed, "/.well-known/openid-configuration").await;
    assert!(doc.get("registration_endpoint").is_none(), "{doc}");
    let res = closed.post("/register").json(&json!({"redirect_uris": ["https://app.example/cb"]})).await;
    assert_eq!(res.status, 404, "closed registration has no route: {}", res.describe());

    for mode in ["open", "token"] {
        let mut env = vec![("LATCHKEY_REGISTRATION_MODE", mode)];
        if mode == "token" {
            env.push(("LATCHKEY_REGISTRATION_INITIAL_ACCESS_TOKEN", "a-long-enough-initial-access-token-0123"));
        }
        let app = TestApp::with_env(&env).await;
        let doc = metadata(&app, "/.well-known/openid-configuration").await;
        assert_eq!(doc["registration_endpoint"], "http://localhost:8080/register", "{mode}");
        let res = app.post("/register").json(&json!({"redirect_uris": ["https://app.example/cb"]})).await;
        assert_ne!(res.status, 404, "{mode}: {}", res.describe());
    }
}

#[tokio::test]
async fn an_issuer_with_a_path_serves_everything_under_it() {
    let app = TestApp::with_env(&[("LATCHKEY_ISSUER", "http://localhost:8080/tenant")]).await;
    let doc = metadata(&app, "/tenant/.well-known/openid-configuration").await;
    assert_eq!(doc["issuer"], "http://localhost:8080/tenant");
    assert_eq!(doc["token_endpoint"], "http://localhost:8080/tenant/token");
    assert_eq!(doc["jwks_uri"], "http://localhost:8080/tenant/jwks");
    // RFC 8414 §3.1: the path goes after the well-known part, at the host root.
    assert_eq!(metadata(&app, "/.well-known/oauth-authorization-server/tenant").await, doc);
    assert_eq!(metadata(&app, "/tenant/.well-known/oauth-authorization-server").await, doc);
    let jwks = metadata(&app, "/tenant/jwks").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    // Nothing at the root but health probes (where load balancers look).
    for path in ["/.well-known/openid-configuration", "/jwks", "/token", "/authorize"] {
        let res = app.get(path).await;
        assert_eq!(res.status, 404, "{path}: {}", res.describe());
    }
    for path in ["/healthz", "/tenant/healthz", "/readyz", "/tenant/readyz"] {
        let res = app.get(path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.describe());
    }
    let res = app.post("/tenant/token").form(&[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status, 401, "the token endpoint answers under the path: {}", res.describe());
}

#[tokio::test]
async fn cache_lifetimes_follow_the_configuration() {
    let app = TestApp::with_env(&[
        ("LATCHKEY_DISCOVERY_MAX_AGE_SECONDS", "120"),
        ("LATCHKEY_KEYS_JWKS_MAX_AGE_SECONDS", "60"),
    ])
    .await;
    let res = app.get("/.well-known/openid-configuration").await;
    assert_eq!(res.header("cache-control"), Some("public, max-age=120"));
    let res = app.get("/jwks").await;
    assert_eq!(res.header("cache-control"), Some("public, max-age=60"));
}

#[tokio::test]
async fn documents_are_validated_by_their_etags() {
    let app = TestApp::start().await;
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks"] {
        let first = app.get(path).await;
        let etag = first.header("etag").unwrap_or_else(|| panic!("{path}: no ETag")).to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{path}: a strong, quoted ETag: {etag}");
        let res = app.get(path).header("if-none-match", &etag).await;
        assert_eq!(res.status, 304, "{path}");
        assert!(res.body.is_empty(), "{path}");
        assert_eq!(res.header("etag"), Some(etag.as_str()), "{path}");
        // Any of a list matches, and so does `*`; weak comparison (RFC 9110 §13.1.2).
        let res = app.get(path).header("if-none-match", &format!("\"other\", W/{etag}")).await;
        assert_eq!(res.status, 304, "{path}: a list with the weak form of the tag");
        let res = app.get(path).header("if-none-match", "*").await;
        assert_eq!(res.status, 304, "{path}: *");
        let res = app.get(path).header("if-none-match", "\"other\"").await;
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.body, first.body, "{path}");
    }
}

#[tokio::test]
async fn unknown_paths_answer_a_page_to_browsers_and_json_to_programs() {
    let app = TestApp::start().await;
    let res = app.get("/no/such/path").await;
    assert_eq!(res.status, 404);
    assert!(res.header("content-type").unwrap_or_default().starts_with("application/json"), "{}", res.describe());
    let res = app.get("/no/such/path").header("accept", "text/html,application/xhtml+xml").await;
    assert_eq!(res.status, 404);
    assert!(res.header("content-type").unwrap_or_default().starts_with("text/html"), "{}", res.describe());
    assert!(!res.text().contains("/no/such/path<"), "the path is not reflected unescaped");
    let res = app.get("/favicon.ico").await;
    assert_eq!(res.status, 204);
}
