//! `private_key_jwt` client authentication (RFC 7523, OIDC Core §9;
//! docs/token-lifecycle.md, "Client authentication") at the token,
//! introspection and revocation endpoints, over real HTTP. Assertions are
//! signed here with josekit, and by Python's authlib (an independent client
//! library) in `an_independent_library_authenticates_with_private_key_jwt`.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::flow::*;
use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{ES256, HS256, JwsHeader, JwsSigner, PS256, RS256};
use josekit::jwt::JwtPayload;
use latchkey_tests::*;
use lifecycle::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

on_both_backends!(
    an_assertion_authenticates_once_at_every_endpoint,
    assertions_are_checked_claim_by_claim,
    keys_at_a_jwks_uri_are_fetched_and_fetched_again_for_a_new_key,
);

/// A client key pair: the private JWK signs, the public one is registered.
struct ClientKey {
    alg: &'static str,
    kid: String,
    private: Jwk,
    public: Value,
    /// PKCS#8 PEM of the private key (for authlib).
    private_pem: Vec<u8>,
}

fn rsa_key(kid: &str, alg: &'static str) -> ClientKey {
    let pair = RsaKeyPair::generate(2048).unwrap();
    finish_key(kid, alg, pair.to_jwk_private_key(), pair.to_jwk_public_key(), pair.to_pem_private_key())
}

fn ec_key(kid: &str) -> ClientKey {
    let pair = EcKeyPair::generate(EcCurve::P256).unwrap();
    finish_key(kid, "ES256", pair.to_jwk_private_key(), pair.to_jwk_public_key(), pair.to_pem_private_key())
}

fn finish_key(kid: &str, alg: &'static str, mut private: Jwk, mut public: Jwk, pem: Vec<u8>) -> ClientKey {
    private.set_key_id(kid);
    public.set_key_id(kid);
    let public = serde_json::to_value(public.as_ref()).unwrap();
    ClientKey { alg, kid: kid.to_string(), private, public, private_pem: pem }
}

/// `key`'s key pair under another kid or algorithm.
fn same_key(key: &ClientKey, kid: &str, alg: &'static str) -> ClientKey {
    ClientKey {
        alg,
        kid: kid.to_string(),
        private: key.private.clone(),
        public: key.public.clone(),
        private_pem: key.private_pem.clone(),
    }
}

fn jwks_of(keys: &[&ClientKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.public.clone()).collect::<Vec<_>>()})
}

/// Claims of a good assertion for `client_id`, addressed to `aud`.
fn good_claims(client_id: &str, aud: &str) -> Value {
    let now = now();
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + 60, "jti": random_state(),
    })
}

/// A compact JWS of `claims` exactly as given (josekit's JWT encoder would
/// refuse the malformed claims some tests send on purpose).
fn sign(key: &ClientKey, claims: &Value) -> String {
    let header = json!({"alg": key.alg, "typ": "JWT", "kid": key.kid});
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let signer: Box<dyn JwsSigner> = match key.alg {
        "RS256" => Box::new(RS256.signer_from_jwk(&key.private).unwrap()),
        "PS256" => Box::new(PS256.signer_from_jwk(&key.private).unwrap()),
        "ES256" => Box::new(ES256.signer_from_jwk(&key.private).unwrap()),
        other => panic!("no signer for {other}"),
    };
    format!("{input}.{}", b64url(&signer.sign(input.as_bytes()).unwrap()))
}

fn assertion_form(form: Params, assertion: &str) -> Params {
    form.set("client_assertion_type", JWT_BEARER).set("client_assertion", assertion)
}

fn cc_form() -> Params {
    Params::new().set("grant_type", "client_credentials").set("scope", "api:read")
}

/// Registers a client_credentials client with `private_key_jwt` through the
/// CLI; `keys` is `--jwks-file` content or a `--jwks-uri`.
fn register_keyed(db: &TestDb, keys: Result<&Value, &str>, extra: &[&str]) -> String {
    let file = db.dir.path().join(format!("jwks-{}.json", random_state()));
    let mut args = vec![
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
        "--introspection",
    ];
    let file_arg = file.display().to_string();
    match keys {
        Ok(jwks) => {
            std::fs::write(&file, jwks.to_string()).unwrap();
            args.extend(["--jwks-file", &file_arg]);
        }
        Err(uri) => args.extend(["--jwks-uri", uri]),
    }
    args.extend_from_slice(extra);
    let created = cli_json(db, &args);
    assert!(created["client_secret"].is_null(), "no secret for private_key_jwt: {created}");
    created["client_id"].as_str().unwrap().to_string()
}

async fn token_with(server: &Server, assertion: &str) -> Page {
    token(server, Auth::Nothing, &assertion_form(cc_form(), assertion)).await
}

async fn an_assertion_authenticates_once_at_every_endpoint(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let (rsa, ps, ec) = (rsa_key("rsa-1", "RS256"), rsa_key("ps-1", "PS256"), ec_key("ec-1"));
    let id = register_keyed(&db, Ok(&jwks_of(&[&rsa, &ps, &ec])), &[]);
    let token_url = server.url("/token");

    for key in [&rsa, &ps, &ec] {
        let assertion = sign(key, &good_claims(&id, &token_url));
        let page = token_with(&server, &assertion).await;
        assert_eq!(page.status, 200, "{}: {}", key.alg, page.describe());
        let at = str_of(&page.json(), "access_token").to_string();
        assert_eq!(claims(&at)["client_id"], id.as_str());
        // The same assertion again: refused, on whichever replica it lands.
        let replay = token_with(&server, &assertion).await;
        assert_oauth_error(&replay, 401, "invalid_client", &format!("{} replay", key.alg));
    }

    // The issuer is an accepted audience too, and `client_id` may be sent.
    let assertion = sign(&rsa, &good_claims(&id, &server.issuer));
    let page = token(&server, Auth::None(&id), &assertion_form(cc_form(), &assertion)).await;
    assert_eq!(page.status, 200, "aud = issuer: {}", page.describe());
    let at = str_of(&page.json(), "access_token").to_string();

    // Introspection and revocation take assertions addressed to them.
    let introspect_url = server.url("/introspect");
    let form = assertion_form(Params::new().set("token", &at), &sign(&ec, &good_claims(&id, &introspect_url)));
    let page = post_with_auth(&server, "/introspect", Auth::Nothing, &form).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(page.json()["active"], true);
    let revoke_url = server.url("/revoke");
    let form = assertion_form(Params::new().set("token", &at), &sign(&ps, &good_claims(&id, &revoke_url)));
    assert_revoke_ok(&post_with_auth(&server, "/revoke", Auth::Nothing, &form).await, "revoke");
    let form = assertion_form(Params::new().set("token", &at), &sign(&rsa, &good_claims(&id, &server.issuer)));
    let page = post_with_auth(&server, "/introspect", Auth::Nothing, &form).await;
    assert_eq!(page.json(), json!({"active": false}), "revoked");

    // Discovery says so, and only what works.
    let doc: Value =
        http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    for field in ["token_endpoint", "introspection_endpoint", "revocation_endpoint"] {
        let methods = &doc[format!("{field}_auth_methods_supported")];
        assert!(methods.as_array().unwrap().contains(&json!("private_key_jwt")), "{field}: {methods}");
        assert_eq!(
            doc[format!("{field}_auth_signing_alg_values_supported")],
            json!(["RS256", "PS256", "ES256", "EdDSA"])
        );
    }
}

async fn assertions_are_checked_claim_by_claim(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let key = rsa_key("k1", "RS256");
    let id = register_keyed(&db, Ok(&jwks_of(&[&key])), &["--signing-alg", "RS256"]);
    let aud = server.url("/token");
    let now = now();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = good_claims(&id, &aud);
        change(&mut c);
        c
    };

    let bad_claims: Vec<(&str, Value)> = vec![
        ("expired", with(&|c| c["exp"] = json!(now - 120))),
        ("exp an hour and more ahead", with(&|c| c["exp"] = json!(now + 7_200))),
        ("no exp", with(&|c| drop(c.as_object_mut().unwrap().remove("exp")))),
        ("not yet valid", with(&|c| c["nbf"] = json!(now + 600))),
        ("issued in the future", with(&|c| c["iat"] = json!(now + 600))),
        ("no jti", with(&|c| drop(c.as_object_mut().unwrap().remove("jti")))),
        ("another audience", with(&|c| c["aud"] = json!("https://elsewhere.example/token"))),
        ("iss differs from sub", with(&|c| c["iss"] = json!("someone-else"))),
        ("exp as a string", with(&|c| c["exp"] = json!((now + 60).to_string()))),
    ];
    for (what, claims) in &bad_claims {
        assert_oauth_error(&token_with(&server, &sign(&key, claims)).await, 401, "invalid_client", what);
    }

    // Signed by a key the client did not register.
    let stranger = rsa_key("k1", "RS256");
    let page = token_with(&server, &sign(&stranger, &good_claims(&id, &aud))).await;
    assert_oauth_error(&page, 401, "invalid_client", "foreign key with a registered kid");
    // PS256 is allowed in general but this client registered RS256 only.
    let ps = same_key(&key, "k1", "PS256");
    assert_oauth_error(&token_with(&server, &sign(&ps, &good_claims(&id, &aud))).await, 401, "invalid_client", "PS256");

    // `none`, and HMAC keyed with the public key (algorithm confusion).
    let claims_b64 = b64url(good_claims(&id, &aud).to_string().as_bytes());
    let unsigned = format!("{}.{claims_b64}.", b64url(br#"{"alg":"none","kid":"k1"}"#));
    assert_oauth_error(&token_with(&server, &unsigned).await, 401, "invalid_client", "alg none");
    let public_pem = RsaKeyPair::from_jwk(&key.private).unwrap().to_pem_public_key();
    for secret in [public_pem, key.public["n"].as_str().unwrap().as_bytes().to_vec()] {
        let mut header = JwsHeader::new();
        header.set_key_id("k1");
        let payload = JwtPayload::from_map(good_claims(&id, &aud).as_object().unwrap().clone()).unwrap();
        let hs =
            josekit::jwt::encode_with_signer(&payload, &header, &HS256.signer_from_bytes(&secret).unwrap()).unwrap();
        assert_oauth_error(&token_with(&server, &hs).await, 401, "invalid_client", "HS256 with the public key");
    }

    // Malformed requests: 400 invalid_request, not 401.
    let good = sign(&key, &good_claims(&id, &aud));
    let wrong_type = cc_form()
        .set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
        .set("client_assertion", &good);
    assert_oauth_error(&token(&server, Auth::Nothing, &wrong_type).await, 400, "invalid_request", "assertion type");
    let both = assertion_form(cc_form(), &good);
    assert_oauth_error(&token(&server, Auth::Basic(&id, "x"), &both).await, 400, "invalid_request", "two methods");
    let other_id = assertion_form(cc_form().set("client_id", "someone-else"), &good);
    assert_oauth_error(&token(&server, Auth::Nothing, &other_id).await, 400, "invalid_request", "client_id differs");
    for junk in ["", "a.b", "x.y.z", &"A".repeat(20_000)] {
        assert!(
            matches!(token_with(&server, junk).await.status.as_u16(), 400 | 401 | 413),
            "junk assertion {:?}",
            &junk[..junk.len().min(10)]
        );
    }
    // The good assertion was never spent by the refusals above.
    assert_eq!(token_with(&server, &good).await.status, 200);

    // A client registered for secrets cannot switch to assertions, and back.
    let secretive = confidential(&db);
    let claims = json!({"iss": secretive.id, "sub": secretive.id, "aud": aud, "exp": now + 60, "jti": "j"});
    assert_oauth_error(&token_with(&server, &sign(&key, &claims)).await, 401, "invalid_client", "secret client");
    assert_oauth_error(&token(&server, Auth::Basic(&id, "guess"), &cc_form()).await, 401, "invalid_client", "basic");
}

/// A tiny HTTP server on loopback that serves a JWK Set it can change, and
/// counts the fetches.
struct JwksHost {
    url: String,
    jwks: Arc<Mutex<String>>,
    fetches: Arc<Mutex<usize>>,
}

impl JwksHost {
    fn start(jwks: &Value) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/jwks.json", listener.local_addr().unwrap().port());
        let body = Arc::new(Mutex::new(jwks.to_string()));
        let fetches = Arc::new(Mutex::new(0));
        let (b, f) = (body.clone(), fetches.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = stream.read(&mut buf);
                *f.lock().unwrap() += 1;
                let body = b.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { url, jwks: body, fetches }
    }

    fn set(&self, jwks: &Value) {
        *self.jwks.lock().unwrap() = jwks.to_string();
    }

    fn fetches(&self) -> usize {
        *self.fetches.lock().unwrap()
    }
}

async fn keys_at_a_jwks_uri_are_fetched_and_fetched_again_for_a_new_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = Server::start(&db, &[]).await;
    let old = rsa_key("2026-a", "RS256");
    let host = JwksHost::start(&jwks_of(&[&old]));
    let id = register_keyed(&db, Err(&host.url), &[]);
    let aud = server.url("/token");

    for _ in 0..3 {
        assert_eq!(token_with(&server, &sign(&old, &good_claims(&id, &aud))).await.status, 200);
    }
    let replicas = server.replicas.len();
    assert!(host.fetches() <= replicas, "cached: {} fetches for {replicas} replica(s)", host.fetches());

    // The client rotates: the new kid is unknown, so the set is fetched again.
    let new = ec_key("2026-b");
    host.set(&jwks_of(&[&new]));
    let page = token_with(&server, &sign(&new, &good_claims(&id, &aud))).await;
    assert_eq!(page.status, 200, "a new kid after rotation: {}", page.describe());
    // A key id that exists nowhere does not make every request fetch again.
    let before = host.fetches();
    let ghost = rsa_key("ghost", "RS256");
    for _ in 0..3 {
        assert_oauth_error(
            &token_with(&server, &sign(&ghost, &good_claims(&id, &aud))).await,
            401,
            "invalid_client",
            "ghost",
        );
    }
    assert!(host.fetches() <= before + replicas, "at most one fetch per replica and 30 s");

    // A host that serves private keys is refused like a bad registration.
    let leaky = {
        let mut k = serde_json::to_value(old.private.as_ref()).unwrap();
        k["kid"] = "leak".into();
        json!({"keys": [k]})
    };
    let leaky_host = JwksHost::start(&leaky);
    let leaky_id = register_keyed(&db, Err(&leaky_host.url), &[]);
    let page = token_with(&server, &sign(&same_key(&old, "leak", "RS256"), &good_claims(&leaky_id, &aud))).await;
    assert_oauth_error(&page, 401, "invalid_client", "a key set with private members");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refuses_keys_that_cannot_work() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(&db, &[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let key = rsa_key("k", "RS256");
    let mut private = serde_json::to_value(key.private.as_ref()).unwrap();
    private["kid"] = "k".into();
    let base = json!({
        "client_name": "K", "grant_types": ["client_credentials"], "scope": "api:read",
        "token_endpoint_auth_method": "private_key_jwt",
    });
    let with = |extra: Value| {
        let mut m = base.clone();
        m.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        m
    };
    let cases = [
        (with(json!({})), "jwks or jwks_uri"),
        (with(json!({"jwks": jwks_of(&[&key]), "jwks_uri": "https://app.example/jwks"})), "both"),
        (with(json!({"jwks": {"keys": [private]}})), "public"),
        (with(json!({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}})), "not allowed"),
        (with(json!({"jwks_uri": "http://app.example/jwks"})), "jwks_uri"),
        (with(json!({"jwks": jwks_of(&[&key]), "token_endpoint_auth_signing_alg": "HS256"})), "HS256"),
    ];
    for (metadata, why) in cases {
        let res = http().post(server.url("/register")).json(&metadata).send().await.unwrap();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        assert_eq!(status, 400, "{metadata}: {body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{metadata}");
        assert!(body["error_description"].as_str().unwrap().contains(why), "{why}: {body}");
    }
    // Keys without private_key_jwt are kept for signed request objects (RFC 9101).
    let keys_only = json!({"client_name": "K", "redirect_uris": ["https://app.example/cb"], "jwks": jwks_of(&[&key])});
    let res = http().post(server.url("/register")).json(&keys_only).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let registered: Value = res.json().await.unwrap();
    assert_eq!(registered["token_endpoint_auth_method"], "client_secret_basic", "{registered}");
    assert_eq!(registered["jwks"], jwks_of(&[&key]), "{registered}");
    let res = http().post(server.url("/register")).json(&with(json!({"jwks": jwks_of(&[&key])}))).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let registered: Value = res.json().await.unwrap();
    assert_eq!(registered["token_endpoint_auth_method"], "private_key_jwt");
    assert!(registered.get("client_secret").is_none(), "no secret: {registered}");
    assert_eq!(registered["jwks"], jwks_of(&[&key]));
    let id = str_of(&registered, "client_id");
    let page = token_with(&server, &sign(&key, &good_claims(id, &server.url("/token")))).await;
    assert_eq!(page.status, 200, "{}", page.describe());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_library_authenticates_with_private_key_jwt() {
    let Some(python) = authlib_python() else { return };
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(&db, &[]).await;
    let key = rsa_key("authlib-1", "RS256");
    let id = register_keyed(&db, Ok(&jwks_of(&[&key])), &[]);
    let pem = db.dir.path().join("client-key.pem");
    std::fs::write(&pem, &key.private_pem).unwrap();
    let args = [server.url("/token"), id.clone(), pem.display().to_string(), "authlib-1".into()];
    let report = python_report(python, "authlib_private_key_jwt.py", &args, &server).await;
    assert_eq!(report["key_n"], key.public["n"], "authlib signed with the registered key");
    // authlib's token, checked the way a resource server would.
    let at = str_of(&report["token"], "access_token");
    let verified = verify_jwt(&server, at).await;
    assert_eq!(verified["client_id"], id.as_str());
    assert_eq!(report["replay_status"], 401, "{report}");
    assert_eq!(report["replay_error"], "invalid_client", "{report}");
    assert_eq!(report["fresh_status"], 200, "a fresh assertion from authlib works again: {report}");
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
