//! Discovery (OIDC Discovery 1.0, RFC 8414) and the JWKS: only what works is
//! advertised; a resource server verifies our RS256 signatures with nothing but
//! the served JWKS (checked with the independent `jsonwebtoken` crate); key
//! rotation reaches every running server within the refresh interval.

use std::time::Duration;

use latchkey_tests::*;
use sqlx::Row;

on_both_backends!(
    metadata_describes_what_is_implemented,
    jwks_is_public_cacheable_and_validated_by_etag,
    independent_verifier_accepts_tokens_of_the_active_key,
    rotation_reaches_a_second_server_within_the_interval,
    keys_are_encrypted_at_rest_when_configured,
);

async fn metadata_describes_what_is_implemented(backend: Backend) {
    let db = TestDb::new(backend).await;
    let closed = Server::start(&db, &[]).await;
    let c = http();
    let res = c.get(closed.url("/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert!(res.headers()["cache-control"].to_str().unwrap().starts_with("public, max-age="));
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["issuer"], closed.issuer.as_str());
    assert_eq!(doc["jwks_uri"], closed.url("/jwks").as_str());
    assert_eq!(doc["subject_types_supported"], json!(["public"]));
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert!(doc.get("registration_endpoint").is_none(), "registration is closed by default");
    assert_eq!(doc["authorization_endpoint"], closed.url("/authorize").as_str());
    assert_eq!(doc["token_endpoint"], closed.url("/token").as_str());
    assert_eq!(doc["userinfo_endpoint"], closed.url("/userinfo").as_str());
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(
        doc["response_modes_supported"],
        json!(["query", "form_post", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt"])
    );
    assert_eq!(doc["authorization_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])
    );
    assert_eq!(doc["token_endpoint_auth_signing_alg_values_supported"], json!(["RS256", "PS256", "ES256", "EdDSA"]));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["request_uri_parameter_supported"], false, "OIDC's default is true, so it must be stated");
    assert_eq!(
        doc["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ])
    );
    assert_eq!(doc["device_authorization_endpoint"], closed.url("/device_authorization").as_str());
    assert_eq!(doc["introspection_endpoint"], closed.url("/introspect").as_str());
    assert_eq!(doc["revocation_endpoint"], closed.url("/revoke").as_str());
    assert_eq!(doc["end_session_endpoint"], closed.url("/logout").as_str());
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(
        doc["scopes_supported"],
        json!(["openid", "profile", "email", "phone", "address", "groups", "offline_access"])
    );
    assert!(doc["claims_supported"].as_array().unwrap().contains(&json!("groups")), "{doc}");
    assert_eq!(doc["request_parameter_supported"], true);
    assert_eq!(doc["request_object_signing_alg_values_supported"], json!(["RS256", "PS256", "ES256", "EdDSA"]));
    // Every advertised endpoint answers (an empty request gets an error, not a 404 or 405).
    assert_eq!(c.get(doc["jwks_uri"].as_str().unwrap()).send().await.unwrap().status(), 200);
    assert_eq!(c.get(doc["authorization_endpoint"].as_str().unwrap()).send().await.unwrap().status(), 400);
    let token = c
        .post(doc["token_endpoint"].as_str().unwrap())
        .form(&[("grant_type", "authorization_code"), ("code", "x"), ("client_id", "nobody")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 401);
    assert_eq!(c.get(doc["userinfo_endpoint"].as_str().unwrap()).send().await.unwrap().status(), 401);
    let device = c.post(doc["device_authorization_endpoint"].as_str().unwrap()).form(&[("client_id", "nobody")]);
    assert_eq!(device.send().await.unwrap().status(), 401);
    assert_eq!(doc["pushed_authorization_request_endpoint"], closed.url("/par").as_str());
    assert_eq!(doc["require_pushed_authorization_requests"], false);
    let par = c.post(doc["pushed_authorization_request_endpoint"].as_str().unwrap()).form(&[("client_id", "nobody")]);
    assert_eq!(par.send().await.unwrap().status(), 401);

    let rfc8414: Value =
        c.get(closed.url("/.well-known/oauth-authorization-server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(rfc8414, doc, "both documents describe the same server");

    let open = Server::start(&db, &[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let doc: Value = c.get(open.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["registration_endpoint"], open.url("/register").as_str());
}

async fn jwks_is_public_cacheable_and_validated_by_etag(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let c = http();
    let res = c.get(server.url("/jwks")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let jwks: Value = res.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "the active key and the next key are published");
    for key in keys {
        let mut members: Vec<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
        members.sort();
        assert_eq!(members, vec!["alg", "e", "kid", "kty", "n", "use"], "only public members: {key}");
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "RS256");
        // 2048-bit modulus: 256 bytes = 342 base64url characters.
        assert_eq!(key["n"].as_str().unwrap().len(), 342);
    }
    // kid is the RFC 7638 thumbprint, recomputed here independently.
    for key in keys {
        use base64::Engine;
        let canonical =
            format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, key["e"].as_str().unwrap(), key["n"].as_str().unwrap());
        let digest = openssl_sha256(canonical.as_bytes());
        assert_eq!(key["kid"], base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest));
    }

    let res = c.get(server.url("/jwks")).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"], etag.as_str());
    assert!(res.bytes().await.unwrap().is_empty());
    let res = c.get(server.url("/jwks")).header("If-None-Match", "\"something-else\"").send().await.unwrap();
    assert_eq!(res.status(), 200);

    let disc = c.get(server.url("/.well-known/openid-configuration")).send().await.unwrap();
    let disc_etag = disc.headers()["etag"].to_str().unwrap().to_string();
    let res =
        c.get(server.url("/.well-known/openid-configuration")).header("If-None-Match", disc_etag).send().await.unwrap();
    assert_eq!(res.status(), 304);
}

fn openssl_sha256(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

/// Signs a token with the key the database marks active, as the token
/// endpoint will; the private key never leaves the test.
async fn sign_with_active_key(db: &TestDb, claims: &Value) -> (String, String) {
    let pool = db.pool().await;
    let row =
        sqlx::query("SELECT kid, private_key FROM signing_keys WHERE state = 'active'").fetch_one(&pool).await.unwrap();
    let kid: String = row.get("kid");
    let pem: String = row.get("private_key");
    pool.close().await;
    let key = latchkey_keys::SigningKey::from_pem(&kid, latchkey_keys::Algorithm::RS256, &pem).unwrap();
    (key.sign_jwt("at+jwt", claims).unwrap(), kid)
}

/// What a resource server does: fetch the JWKS, pick the key by `kid`,
/// verify with an independent JOSE library.
async fn verify_like_a_resource_server(jwks_url: &str, token: &str, issuer: &str) -> Result<Value, String> {
    let jwks: jsonwebtoken::jwk::JwkSet = http().get(jwks_url).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or("kid not in JWKS")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&["https://api.example"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|d| d.claims).map_err(|e| e.to_string())
}

fn claims(issuer: &str) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    json!({"iss": issuer, "sub": "user-1", "aud": "https://api.example", "iat": now, "exp": now + 300, "jti": "t1"})
}

async fn independent_verifier_accepts_tokens_of_the_active_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let (token, kid) = sign_with_active_key(&db, &claims(&server.issuer)).await;
    let verified = verify_like_a_resource_server(&server.url("/jwks"), &token, &server.issuer).await.unwrap();
    assert_eq!(verified["sub"], "user-1");
    let jwks: Value = http().get(server.url("/jwks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str(), "the signing key is listed first");

    // A tampered token and a token from a foreign key are rejected.
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert!(verify_like_a_resource_server(&server.url("/jwks"), &parts.join("."), &server.issuer).await.is_err());
    let foreign = latchkey_keys::generate_rsa(2048).unwrap();
    let forged = latchkey_keys::SigningKey::from_pem(&kid, latchkey_keys::Algorithm::RS256, &foreign.private_pem)
        .unwrap()
        .sign_jwt("at+jwt", &claims(&server.issuer))
        .unwrap();
    let err = verify_like_a_resource_server(&server.url("/jwks"), &forged, &server.issuer).await.unwrap_err();
    assert!(err.contains("Signature"), "{err}");
}

async fn rotation_reaches_a_second_server_within_the_interval(backend: Backend) {
    let db = TestDb::new(backend).await;
    let env = [("LATCHKEY_KEYS_REFRESH_INTERVAL_SECONDS", "1")];
    let a = Server::start(&db, &env).await;
    let b = Server::start(&db, &env).await;
    let c = http();
    let kids = |url: String| {
        let c = c.clone();
        async move {
            let jwks: Value = c.get(url).send().await.unwrap().json().await.unwrap();
            jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    let before = kids(b.url("/jwks")).await;
    assert_eq!(before, kids(a.url("/jwks")).await, "replicas share their keys");
    let (old_active, old_next) = (before[0].clone(), before[1].clone());
    let (token, _) = sign_with_active_key(&db, &claims(&b.issuer)).await;

    // Too young to promote without --force: resource servers may not have it.
    let refused = cli(&db, &["keys", "rotate"], &[], None);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("min_publish_seconds"), "{}", refused.stderr);

    let rotated = cli_json(&db, &["keys", "rotate", "--force"]);
    assert_eq!(rotated["active"], old_next.as_str(), "the published next key becomes the signing key");
    let new_next = rotated["next"].as_str().unwrap().to_string();

    let started = std::time::Instant::now();
    let switched = eventually(Duration::from_secs(5), || {
        let f = kids(b.url("/jwks"));
        let want = vec![old_next.clone(), new_next.clone(), old_active.clone()];
        async move { f.await == want }
    })
    .await;
    assert!(switched, "server B did not serve the rotated keys: {:?}", kids(b.url("/jwks")).await);
    assert!(started.elapsed() < Duration::from_secs(3), "within the 1 s refresh interval (plus polling)");

    // Tokens signed before the rotation still verify (the retired key is still published);
    // new tokens are signed by the new active key and verify too.
    verify_like_a_resource_server(&b.url("/jwks"), &token, &b.issuer).await.unwrap();
    let (new_token, kid) = sign_with_active_key(&db, &claims(&b.issuer)).await;
    assert_eq!(kid, old_next);
    verify_like_a_resource_server(&a.url("/jwks"), &new_token, &b.issuer).await.unwrap();

    let listed = cli_json(&db, &["keys", "list"]);
    let state_of = |kid: &str| listed.as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap()["state"].clone();
    assert_eq!(state_of(&old_active), "retired");
    assert_eq!(state_of(&old_next), "active");
    assert_eq!(state_of(&new_next), "next");

    // The signing key cannot be retired; a retired key can be withdrawn at once.
    let out = cli(&db, &["keys", "retire", &old_next], &[], None);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("rotate"), "{}", out.stderr);
    cli_json(&db, &["keys", "retire", &old_active, "--now"]);
    let withdrawn = eventually(Duration::from_secs(5), || {
        let f = kids(a.url("/jwks"));
        let old = old_active.clone();
        async move { !f.await.contains(&old) }
    })
    .await;
    assert!(withdrawn, "a withdrawn key leaves every JWKS");
    assert!(verify_like_a_resource_server(&a.url("/jwks"), &token, &a.issuer).await.is_err());
    let out = cli(&db, &["keys", "retire", "no-such-kid"], &[], None);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("no key"), "{}", out.stderr);
}

async fn keys_are_encrypted_at_rest_when_configured(backend: Backend) {
    let db = TestDb::new(backend).await;
    let key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let server = Server::start(&db, &[("LATCHKEY_KEYS_ENCRYPTION_KEY", key)]).await;
    let pool = db.pool().await;
    let rows = sqlx::query("SELECT private_key FROM signing_keys").fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(rows.len(), 2);
    for row in rows {
        let stored: String = row.get("private_key");
        assert!(stored.starts_with("enc:v1:") && !stored.contains("PRIVATE KEY"), "{stored}");
    }
    let jwks: Value = http().get(server.url("/jwks")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert!(cli_json(&db, &["keys", "list"]).as_array().unwrap().iter().all(|k| k["encrypted"] == true));
    drop(server);

    // Without the key, or with another one, the server refuses to start and says why.
    let err = Server::try_start(&db, &[]).await.err().expect("must not start without the key");
    assert!(err.contains("keys.encryption_key") && err.contains("no encryption key"), "{err}");
    let other = "ff".repeat(32);
    let err =
        Server::try_start(&db, &[("LATCHKEY_KEYS_ENCRYPTION_KEY", other.as_str())]).await.err().expect("wrong key");
    assert!(err.contains("cannot be decrypted"), "{err}");
}
