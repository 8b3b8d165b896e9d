//! Signed request objects (RFC 9101) end to end, on SQLite, PostgreSQL and
//! the Redis-backed cluster: objects signed with josekit (an implementation
//! that is not ours) at `/authorize` and inside a pushed request (RFC 9126),
//! the flow finished by the `openidconnect` crate, and every refusal: an
//! unsigned object, a wrong key, a replayed `jti` (across replicas on the
//! cluster), an expired one, a wrong `aud`, `iss` or `client_id`, and
//! `require_signed_request_object`. Contract: docs/par-jar.md.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::*;
use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{ES256, JwsSigner, PS256, RS256};
use latchkey_tests::*;
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeVerifier, RedirectUrl,
    TokenResponse,
};
use serde_json::{Value, json};

on_both_backends!(signed_request_objects_at_authorize_and_inside_par);

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A compact JWS of `claims` with header `alg` and `kid`, signed by `key`
/// (built by hand so that malformed objects can be sent on purpose).
fn sign(key: &Jwk, alg: &str, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": alg, "kid": kid, "typ": "oauth-authz-req+jwt"});
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signer: Box<dyn JwsSigner> = match alg {
        "RS256" => Box::new(RS256.signer_from_jwk(key).unwrap()),
        "PS256" => Box::new(PS256.signer_from_jwk(key).unwrap()),
        "ES256" => Box::new(ES256.signer_from_jwk(key).unwrap()),
        other => panic!("no signer for {other}"),
    };
    format!("{input}.{}", b64(&signer.sign(input.as_bytes()).unwrap()))
}

/// An object without a signature (`alg: none`).
fn unsigned(claims: &Value) -> String {
    format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(claims.to_string().as_bytes()))
}

/// The request's parameters as request object claims, addressed to `issuer`.
fn claims_of(params: &Params, client_id: &str, issuer: &str) -> Value {
    let mut claims = json!({
        "iss": client_id, "aud": issuer, "client_id": client_id,
        "iat": now(), "nbf": now(), "exp": now() + 300, "jti": random_state(),
    });
    for (k, v) in &params.0 {
        claims[k] = json!(v);
    }
    claims
}

/// The authorization request by value: client_id and request only.
fn by_value(client_id: &str, jwt: &str) -> Params {
    Params::new().set("client_id", client_id).set("request", jwt)
}

async fn signed_request_objects_at_authorize_and_inside_par(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let rsa = RsaKeyPair::generate(2048).unwrap();
    let (mut private, mut public) = (rsa.to_jwk_private_key(), rsa.to_jwk_public_key());
    private.set_key_id("k1");
    public.set_key_id("k1");
    let ec = EcKeyPair::generate(EcCurve::P256).unwrap();
    let (mut ec_private, mut ec_public) = (ec.to_jwk_private_key(), ec.to_jwk_public_key());
    ec_private.set_key_id("k2");
    ec_public.set_key_id("k2");
    let jwks = json!({"keys": [serde_json::to_value(public.as_ref()).unwrap(), serde_json::to_value(ec_public.as_ref()).unwrap()]});
    let file = db.dir.path().join("client-jwks.json");
    std::fs::write(&file, jwks.to_string()).unwrap();
    let file = file.to_str().unwrap();
    // A client_secret_basic client whose keys sign its request objects.
    let client = create_client(&db, "JAR App", &["--redirect-uri", CB, "--jwks-file", file]);
    let strict =
        create_client(&db, "Strict", &["--redirect-uri", CB, "--jwks-file", file, "--require-signed-request-object"]);

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &rp_http()).await.unwrap();
    let doc: Value =
        http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["request_parameter_supported"], true);
    assert_eq!(doc["request_object_signing_alg_values_supported"], json!(["RS256", "PS256", "ES256", "EdDSA"]));
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret().to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());

    // 1. By value at /authorize: only the object's parameters are used.
    let p = pkce();
    let nonce = Nonce::new_random();
    let state = random_state();
    let params = code_request(&client.id, &p)
        .set("nonce", nonce.secret())
        .set("state", &state)
        .set("max_age", "600")
        .set("scope", "openid email");
    let mut claims = claims_of(&params, &client.id, &server.issuer);
    claims["max_age"] = json!(600); // a number in JSON, as RFC 9101 allows
    let jwt = sign(&private, "RS256", "k1", &claims);
    let browser = Browser::new(&server);
    let outer = by_value(&client.id, &jwt).set("state", "outer-state").set("scope", "openid phone");
    let flow = browser.drive(browser.authorize(&outer).await, Some(&alice), "allow").await;
    assert_eq!(one(&flow.params, "state"), state, "the object's state, not the one beside it");
    let tokens = rp
        .exchange_code(AuthorizationCode::new(flow.code()))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(p.verifier.clone()))
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
    let id_token = tokens.id_token().expect("an ID token");
    let id_claims = id_token.claims(&rp.id_token_verifier(), &nonce).unwrap_or_else(|e| panic!("ID token: {e:?}"));
    assert_eq!(id_claims.subject().as_str(), alice.id);
    let mut scope: Vec<&str> = tokens.scopes().expect("scope").iter().map(|s| s.as_str()).collect();
    scope.sort();
    assert_eq!(scope, ["email", "openid"], "the object's scope, not the one beside it");

    // The same object again (the same jti; on the cluster, maybe another replica).
    let flow = browser.drive(browser.authorize(&by_value(&client.id, &jwt)).await, Some(&alice), "allow").await;
    assert_eq!(flow.error().as_deref(), Some("invalid_request_object"), "a replayed jti: {:?}", flow.params);

    // PS256 with the RSA key and ES256 with the EC key verify too.
    for (key, alg, kid) in [(&private, "PS256", "k1"), (&ec_private, "ES256", "k2")] {
        let jwt = sign(key, alg, kid, &claims_of(&code_request(&client.id, &p), &client.id, &server.issuer));
        let flow = browser.drive(browser.authorize(&by_value(&client.id, &jwt)).await, Some(&alice), "allow").await;
        assert!(!flow.code().is_empty(), "{alg}");
    }

    // Refusals, each sent back to the client as invalid_request_object.
    let other_key = RsaKeyPair::generate(2048).unwrap().to_jwk_private_key();
    let good = || claims_of(&code_request(&client.id, &p), &client.id, &server.issuer);
    let with = |name: &str, value: Value| {
        let mut c = good();
        c[name] = value;
        c
    };
    let mut no_exp = good();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut no_jti = good();
    no_jti.as_object_mut().unwrap().remove("jti");
    let cases: Vec<(&str, String)> = vec![
        ("alg none", unsigned(&good())),
        ("another key under the client's kid", sign(&other_key, "RS256", "k1", &good())),
        ("expired", sign(&private, "RS256", "k1", &with("exp", json!(now() - 120)))),
        ("no exp", sign(&private, "RS256", "k1", &no_exp)),
        ("exp two hours ahead", sign(&private, "RS256", "k1", &with("exp", json!(now() + 7200)))),
        ("not yet valid", sign(&private, "RS256", "k1", &with("nbf", json!(now() + 600)))),
        ("no jti", sign(&private, "RS256", "k1", &no_jti)),
        ("aud another server", sign(&private, "RS256", "k1", &with("aud", json!("https://other.example")))),
        ("iss another client", sign(&private, "RS256", "k1", &with("iss", json!(strict.id)))),
        ("client_id another client", sign(&private, "RS256", "k1", &with("client_id", json!(strict.id)))),
        ("not a JWS", "garbage".to_string()),
    ];
    for (what, jwt) in &cases {
        let flow = browser.drive(browser.authorize(&by_value(&client.id, jwt)).await, None, "allow").await;
        assert_eq!(flow.error().as_deref(), Some("invalid_request_object"), "{what}: {:?}", flow.params);
        // And at /par, in JSON.
        let res = post_with_auth(&server, "/par", auth_of(&client), &Params::new().set("request", jwt)).await;
        assert_oauth_error(&res, 400, "invalid_request_object", what);
    }
    // The outer client_id must be the object's client: another client's
    // object fails its signature check against that client's keys... and
    // with the same keys, its iss.
    let strict_jwt =
        sign(&private, "RS256", "k1", &claims_of(&code_request(&strict.id, &p), &strict.id, &server.issuer));
    let flow = browser.drive(browser.authorize(&by_value(&client.id, &strict_jwt)).await, None, "allow").await;
    assert_eq!(flow.error().as_deref(), Some("invalid_request_object"), "{:?}", flow.params);

    // 2. Inside a pushed request (RFC 9126 §3).
    let p2 = pkce();
    let jwt = sign(&private, "RS256", "k1", &claims_of(&code_request(&client.id, &p2), &client.id, &server.issuer));
    let res = post_with_auth(&server, "/par", auth_of(&client), &Params::new().set("request", &jwt)).await;
    assert_eq!(res.status, 201, "{}", res.describe());
    let uri = res.json()["request_uri"].as_str().unwrap().to_string();
    let reference = Params::new().set("client_id", &client.id).set("request_uri", &uri);
    let flow = browser.drive(browser.authorize(&reference).await, Some(&alice), "allow").await;
    let res = token(&server, auth_of(&client), &code_grant(&flow.code(), Some(&p2.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());

    // 3. require_signed_request_object: plain requests refused, signed ones fine.
    let flow = browser.drive(browser.authorize(&code_request(&strict.id, &p)).await, None, "allow").await;
    assert_eq!(flow.error().as_deref(), Some("invalid_request"), "{:?}", flow.params);
    let res =
        post_with_auth(&server, "/par", auth_of(&strict), &code_request(&strict.id, &p).without("client_id")).await;
    assert_oauth_error(&res, 400, "invalid_request", "a plain push of a client that must sign");
    let jwt = sign(&private, "RS256", "k1", &claims_of(&code_request(&strict.id, &p), &strict.id, &server.issuer));
    let flow = browser.drive(browser.authorize(&by_value(&strict.id, &jwt)).await, Some(&alice), "allow").await;
    assert!(!flow.code().is_empty());
    let shown = cli_json(&db, &["client", "show", &strict.id]);
    assert_eq!(shown["require_signed_request_object"], true, "{shown}");
}
