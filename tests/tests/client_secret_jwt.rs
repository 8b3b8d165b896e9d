//! `client_secret_jwt` client authentication (OIDC Core §9, RFC 7523; see
//! docs/token-lifecycle.md, "Client authentication") over real HTTP: HMAC
//! assertions keyed by a secret the server derives rather than stores (only
//! with `keys.encryption_key`). Assertions are signed here, and by Python's
//! authlib in `an_independent_library_authenticates_with_client_secret_jwt`.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use common::flow::*;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{HS256, HS384, HS512, JwsSigner, RS256};
use latchkey_tests::*;
use lifecycle::*;
use sqlx::Row as _;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The server's root key (`keys.encryption_key`).
const ROOT_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const WITH_KEY: &[(&str, &str)] = &[("LATCHKEY_KEYS_ENCRYPTION_KEY", ROOT_KEY)];

on_both_backends!(
    a_derived_secret_signs_assertions_that_work_once_at_every_endpoint,
    hmac_assertions_are_refused_wherever_they_do_not_belong,
);

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS of `claims` with HMAC `alg` keyed by `secret`'s octets.
fn hs(secret: &str, alg: &str, claims: &Value) -> String {
    let header = json!({"alg": alg, "typ": "JWT"});
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let signer: Box<dyn JwsSigner> = match alg {
        "HS256" => Box::new(HS256.signer_from_bytes(secret.as_bytes()).unwrap()),
        "HS384" => Box::new(HS384.signer_from_bytes(secret.as_bytes()).unwrap()),
        "HS512" => Box::new(HS512.signer_from_bytes(secret.as_bytes()).unwrap()),
        other => panic!("no signer for {other}"),
    };
    format!("{input}.{}", b64url(&signer.sign(input.as_bytes()).unwrap()))
}

fn good_claims(client_id: &str, aud: &str) -> Value {
    let now = now();
    json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60, "jti": random_state()})
}

fn assertion_form(form: Params, assertion: &str) -> Params {
    form.set("client_assertion_type", JWT_BEARER).set("client_assertion", assertion)
}

fn cc_form() -> Params {
    Params::new().set("grant_type", "client_credentials").set("scope", "api:read")
}

async fn token_with(server: &Server, assertion: &str) -> Page {
    token(server, Auth::Nothing, &assertion_form(cc_form(), assertion)).await
}

/// Registers a client_credentials client with `client_secret_jwt` through
/// the CLI (which needs the same root key as the servers); (id, secret).
fn register_secret_jwt(db: &TestDb, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "client",
        "create",
        "--name",
        "HMAC",
        "--grant-type",
        "client_credentials",
        "--scope",
        "api:read",
        "--auth-method",
        "client_secret_jwt",
        "--introspection",
        "--json",
    ];
    args.extend_from_slice(extra);
    let created = cli(db, &args, WITH_KEY, None).ok().json();
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_jwt", "{created}");
    (str_of(&created, "client_id").to_string(), str_of(&created, "client_secret").to_string())
}

/// The client's row as stored: (secret_hash, settings).
async fn stored_row(db: &TestDb, client_id: &str) -> (String, String) {
    let pool = db.pool().await;
    let row = sqlx::query("SELECT secret_hash, settings FROM clients WHERE client_id = $1")
        .bind(client_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let out = (row.get::<String, _>("secret_hash"), row.get::<String, _>("settings"));
    pool.close().await;
    out
}

async fn a_derived_secret_signs_assertions_that_work_once_at_every_endpoint(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, WITH_KEY).await;
    let (id, secret) = register_secret_jwt(&db, &[]);
    assert_eq!(secret.len(), 86, "a 512-bit secret, base64url, long enough for HS512: {secret}");

    // Only a salt is stored; the secret is nowhere in the database.
    let (stored, settings) = stored_row(&db, &id).await;
    assert!(stored.starts_with("derived:v1:"), "{stored}");
    assert!(!stored.contains(&secret) && !settings.contains(&secret), "the secret itself is never stored");

    let token_url = server.url("/token");
    for alg in ["HS256", "HS384", "HS512"] {
        let assertion = hs(&secret, alg, &good_claims(&id, &token_url));
        let page = token_with(&server, &assertion).await;
        assert_eq!(page.status, 200, "{alg}: {}", page.describe());
        let at = str_of(&page.json(), "access_token").to_string();
        assert_eq!(verify_jwt(&server, &at).await["client_id"], id.as_str(), "{alg}");
        let replay = token_with(&server, &assertion).await;
        assert_oauth_error(&replay, 401, "invalid_client", &format!("{alg} replay"));
    }

    // The same assertion sent by many at once succeeds at most once.
    let assertion = hs(&secret, "HS256", &good_claims(&id, &token_url));
    let body = assertion_form(cc_form(), &assertion).encode();
    let results = concurrent_token_requests(&server, "", &body, 8).await;
    assert_eq!(results.iter().filter(|(s, _)| *s == 200).count(), 1, "{results:?}");
    assert!(results.iter().all(|(s, b)| *s == 200 || (*s == 401 && b["error"] == "invalid_client")), "{results:?}");

    // Introspection and revocation take assertions addressed to them.
    let page = token_with(&server, &hs(&secret, "HS256", &good_claims(&id, &server.issuer))).await;
    assert_eq!(page.status, 200, "aud = issuer: {}", page.describe());
    let at = str_of(&page.json(), "access_token").to_string();
    let form = assertion_form(
        Params::new().set("token", &at),
        &hs(&secret, "HS256", &good_claims(&id, &server.url("/introspect"))),
    );
    let page = post_with_auth(&server, "/introspect", Auth::Nothing, &form).await;
    assert_eq!(page.json()["active"], true, "{}", page.describe());
    let form = assertion_form(
        Params::new().set("token", &at),
        &hs(&secret, "HS512", &good_claims(&id, &server.url("/revoke"))),
    );
    assert_revoke_ok(&post_with_auth(&server, "/revoke", Auth::Nothing, &form).await, "revoke");
    let form =
        assertion_form(Params::new().set("token", &at), &hs(&secret, "HS256", &good_claims(&id, &server.issuer)));
    assert_eq!(post_with_auth(&server, "/introspect", Auth::Nothing, &form).await.json(), json!({"active": false}));

    // Discovery advertises the method now that it works.
    let doc: Value =
        http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    for field in ["token_endpoint", "introspection_endpoint", "revocation_endpoint"] {
        let methods = doc[format!("{field}_auth_methods_supported")].as_array().unwrap().clone();
        assert!(methods.contains(&json!("client_secret_jwt")), "{field}: {methods:?}");
        let algs = doc[format!("{field}_auth_signing_alg_values_supported")].as_array().unwrap().clone();
        for alg in ["HS256", "HS384", "HS512", "RS256"] {
            assert!(algs.contains(&json!(alg)), "{field}: {algs:?}");
        }
    }

    // A new secret: the old one stops working at once, the new one works.
    let rotated = cli(&db, &["client", "rotate-secret", &id, "--json"], WITH_KEY, None).ok().json();
    let new_secret = str_of(&rotated, "client_secret").to_string();
    assert_ne!(new_secret, secret);
    let old = token_with(&server, &hs(&secret, "HS256", &good_claims(&id, &token_url))).await;
    assert_oauth_error(&old, 401, "invalid_client", "the old secret");
    let new = token_with(&server, &hs(&new_secret, "HS256", &good_claims(&id, &token_url))).await;
    assert_eq!(new.status, 200, "the new secret: {}", new.describe());

    // Without the root key the CLI cannot issue such a secret.
    let out = cli(&db, &["client", "rotate-secret", &id], &[], None);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("keys.encryption_key"), "{}", out.stderr);
}

async fn hmac_assertions_are_refused_wherever_they_do_not_belong(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, WITH_KEY).await;
    let (id, secret) = register_secret_jwt(&db, &[]);
    let token_url = server.url("/token");

    // The secret is an HMAC key only: as a password it is the wrong method.
    let basic = token(&server, Auth::Basic(&id, &secret), &cc_form()).await;
    assert_oauth_error(&basic, 401, "invalid_client", "client_secret_basic with a client_secret_jwt client");

    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good_claims(&id, &token_url);
        change(&mut claims);
        claims
    };
    let rsa = RsaKeyPair::generate(2048).unwrap();
    let rs256 = {
        let claims = good_claims(&id, &token_url);
        let header = json!({"alg": "RS256", "typ": "JWT"});
        let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
        let signer = RS256.signer_from_jwk(&rsa.to_jwk_private_key()).unwrap();
        format!("{input}.{}", b64url(&signer.sign(input.as_bytes()).unwrap()))
    };
    let unsigned = {
        let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
        format!("{header}.{}.", b64url(good_claims(&id, &token_url).to_string().as_bytes()))
    };
    let cases: Vec<(&str, String)> = vec![
        ("a wrong secret", hs(&format!("{secret}x"), "HS256", &good_claims(&id, &token_url))),
        ("an asymmetric algorithm", rs256),
        ("alg none", unsigned),
        ("iss is another client", hs(&secret, "HS256", &with(&|c| c["iss"] = "other".into()))),
        ("aud is not us", hs(&secret, "HS256", &with(&|c| c["aud"] = "https://elsewhere.example/token".into()))),
        ("expired", hs(&secret, "HS256", &with(&|c| c["exp"] = (now() - 120).into()))),
        ("no jti", hs(&secret, "HS256", &with(&|c| c.as_object_mut().unwrap().remove("jti").map(|_| ()).unwrap()))),
    ];
    for (what, assertion) in cases {
        let page = token_with(&server, &assertion).await;
        assert_oauth_error(&page, 401, "invalid_client", what);
    }

    // A client that registered HS512 may use nothing else.
    let (pinned, pinned_secret) = register_secret_jwt(&db, &["--signing-alg", "HS512"]);
    let page = token_with(&server, &hs(&pinned_secret, "HS256", &good_claims(&pinned, &token_url))).await;
    assert_oauth_error(&page, 401, "invalid_client", "HS256 for an HS512 client");
    let page = token_with(&server, &hs(&pinned_secret, "HS512", &good_claims(&pinned, &token_url))).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let out = cli(
        &db,
        &[
            "client",
            "create",
            "--name",
            "X",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "client_secret_jwt",
            "--signing-alg",
            "RS256",
        ],
        WITH_KEY,
        None,
    );
    assert_ne!(out.code, 0, "RS256 is not an HMAC algorithm");
    assert!(out.stderr.contains("HS256"), "{}", out.stderr);

    // Algorithm confusion: an HMAC assertion keyed by a private_key_jwt
    // client's public key must not pass as that client's signature.
    let jwks = json!({"keys": [serde_json::to_value(rsa.to_jwk_public_key().as_ref()).unwrap()]});
    let file = db.dir.path().join("jwks.json");
    std::fs::write(&file, jwks.to_string()).unwrap();
    let keyed = cli_json(
        &db,
        &[
            "client",
            "create",
            "--name",
            "Keyed",
            "--grant-type",
            "client_credentials",
            "--scope",
            "api:read",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            &file.display().to_string(),
        ],
    );
    let keyed_id = str_of(&keyed, "client_id");
    let public_pem = String::from_utf8(rsa.to_pem_public_key()).unwrap();
    for key in [public_pem.as_str(), &jwks.to_string()] {
        let page = token_with(&server, &hs(key, "HS256", &good_claims(keyed_id, &token_url))).await;
        assert_oauth_error(&page, 401, "invalid_client", "HS256 keyed by a public key");
    }
}

/// Without `keys.encryption_key` the method is neither offered nor accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_root_key_client_secret_jwt_is_not_offered() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(&db, &[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let doc: Value =
        http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    for field in ["token_endpoint", "introspection_endpoint", "revocation_endpoint"] {
        let methods = doc[format!("{field}_auth_methods_supported")].to_string();
        assert!(!methods.contains("client_secret_jwt"), "{field}: {methods}");
        let algs = doc[format!("{field}_auth_signing_alg_values_supported")].to_string();
        assert!(!algs.contains("HS"), "{field}: {algs}");
    }
    let metadata = json!({"client_name": "H", "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt"});
    let res = http().post(server.url("/register")).json(&metadata).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata", "{body}");
    let out = cli(
        &db,
        &[
            "client",
            "create",
            "--name",
            "H",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "client_secret_jwt",
        ],
        &[],
        None,
    );
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("not supported here") && out.stderr.contains("keys.encryption_key"), "{}", out.stderr);
}

/// Dynamic registration (RFC 7591) issues the secret once; RFC 7592 PUT
/// checks a sent secret against the derived one; switching to
/// client_secret_basic issues a secret of the other kind. The admin API
/// issues derived secrets too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_registered_clients_get_a_derived_secret() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut env = WITH_KEY.to_vec();
    env.extend([("LATCHKEY_REGISTRATION_MODE", "open"), ("LATCHKEY_ADMIN_ENABLED", "true")]);
    let server = Server::start(&db, &env).await;
    let metadata = json!({
        "client_name": "H", "grant_types": ["client_credentials"], "scope": "api:read",
        "token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS256",
    });
    let res = http().post(server.url("/register")).json(&metadata).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let registered: Value = res.json().await.unwrap();
    let id = str_of(&registered, "client_id").to_string();
    let secret = str_of(&registered, "client_secret").to_string();
    assert_eq!(registered["client_secret_expires_at"], 0);
    let token_url = server.url("/token");
    let page = token_with(&server, &hs(&secret, "HS256", &good_claims(&id, &token_url))).await;
    assert_eq!(page.status, 200, "{}", page.describe());

    let config_uri = str_of(&registered, "registration_client_uri").to_string();
    let rat = str_of(&registered, "registration_access_token").to_string();
    let mut update = metadata.clone();
    update["client_id"] = id.clone().into();
    update["client_secret"] = "not-the-secret".into();
    let res = http().put(&config_uri).bearer_auth(&rat).json(&update).send().await.unwrap();
    assert_eq!(res.status(), 400, "a wrong secret in a PUT");
    update["client_secret"] = secret.clone().into();
    update["client_name"] = "H2".into();
    let res = http().put(&config_uri).bearer_auth(&rat).json(&update).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["client_name"], "H2");
    assert!(body.get("client_secret").is_none(), "same method, same secret: {body}");

    update.as_object_mut().unwrap().remove("token_endpoint_auth_signing_alg");
    update["token_endpoint_auth_method"] = "client_secret_basic".into();
    let res = http().put(&config_uri).bearer_auth(&rat).json(&update).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let basic_secret = str_of(&body, "client_secret");
    assert_ne!(basic_secret, secret);
    let page = token(&server, Auth::Basic(&id, basic_secret), &cc_form()).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(stored_row(&db, &id).await.0.starts_with("hmac-sha256:"));

    // The admin API issues the same kind of secret.
    let admin = cli_json(&db, &["admin", "token", "create", "--name", "t", "--scope", "clients:write"]);
    let admin_token = str_of(&admin, "token");
    let body = json!({"client_name": "A", "grant_types": ["client_credentials"], "scope": "api:read",
        "token_endpoint_auth_method": "client_secret_jwt"});
    let res =
        http().post(server.url("/admin/api/v1/clients")).bearer_auth(admin_token).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let (admin_id, admin_secret) = (str_of(&created, "client_id"), str_of(&created, "client_secret"));
    assert!(stored_row(&db, admin_id).await.0.starts_with("derived:v1:"));
    let page = token_with(&server, &hs(admin_secret, "HS384", &good_claims(admin_id, &token_url))).await;
    assert_eq!(page.status, 200, "{}", page.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_library_authenticates_with_client_secret_jwt() {
    let Some(python) = authlib_python() else { return };
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(&db, WITH_KEY).await;
    let (id, secret) = register_secret_jwt(&db, &[]);
    let report =
        python_report(python, "authlib_client_secret_jwt.py", &[server.url("/token"), id.clone(), secret], &server)
            .await;
    let at = str_of(&report["hs256_token"], "access_token");
    assert_eq!(verify_jwt(&server, at).await["client_id"], id.as_str(), "authlib's token verifies");
    assert_eq!(report["hs512_status"], 200, "{report}");
    assert_eq!(report["first_status"], 200, "{report}");
    assert_eq!(report["replay_status"], 401, "{report}");
    assert_eq!(report["replay_error"], "invalid_client", "{report}");
    assert_eq!(report["wrong_status"], 401, "{report}");
    assert_eq!(report["wrong_error"], "invalid_client", "{report}");
}
