//! Pushed authorization requests (RFC 9126) end to end, on SQLite,
//! PostgreSQL and the Redis-backed cluster: a flow that starts with a push
//! and ends in the `openidconnect` crate (code exchange, ID token
//! validation), and the refusals: a replayed `request_uri` (also raced
//! across replicas), another client's, an expired one, and
//! `require_pushed_authorization_requests` per client and server-wide.
//! The finer rules of `/par` are tested in process
//! (crates/latchkey-server/tests/in_process/par.rs). Contract: docs/par-jar.md.

mod common;

use common::flow::*;
use latchkey_tests::*;
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, IssuerUrl, Nonce, PkceCodeVerifier, RedirectUrl, TokenResponse,
};
use serde_json::Value;

on_both_backends!(
    a_flow_that_starts_with_a_push_ends_in_openidconnect,
    pushed_requests_required_and_expired,
    a_fapi2_client_made_with_pyjwt,
);

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `POST` the pushed authorization request endpoint named by discovery.
async fn push(server: &Server, client: &TestClient, params: &Params) -> Page {
    let meta: Value =
        http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let endpoint = meta["pushed_authorization_request_endpoint"].as_str().expect("advertised");
    assert_eq!(endpoint, server.url("/par"));
    let path = endpoint.strip_prefix(&server.issuer).unwrap();
    post_with_auth(server, path, auth_of(client), &params.clone().without("client_id")).await
}

/// Pushes `params`; the `request_uri`.
async fn pushed(server: &Server, client: &TestClient, params: &Params) -> String {
    let res = push(server, client, params).await;
    assert_eq!(res.status, 201, "{}", res.describe());
    let body = res.json();
    assert!(body["expires_in"].as_i64().is_some_and(|s| s > 0 && s <= 60), "{body}");
    let uri = body["request_uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with(PREFIX), "{uri}");
    uri
}

/// The authorization request as RFC 9126 §4 sends it: client_id and request_uri only.
fn by_reference(client_id: &str, request_uri: &str) -> Params {
    Params::new().set("client_id", client_id).set("request_uri", request_uri)
}

fn assert_refused(page: &Page, what: &str) {
    assert_eq!(page.status, 400, "{what}: {}", page.describe());
    assert!(page.location().is_none(), "{what}: never a redirect");
    assert!(page.body.contains("expired or was already used"), "{what}: {}", page.body);
}

async fn a_flow_that_starts_with_a_push_ends_in_openidconnect(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let client = confidential(&db);
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &rp_http()).await.unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret().to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());

    let p = pkce();
    let nonce = Nonce::new_random();
    let state = random_state();
    let params = code_request(&client.id, &p).set("nonce", nonce.secret()).set("state", &state);
    let uri = pushed(&server, &client, &params).await;

    let browser = Browser::new(&server);
    let url = format!("{}?{}", metadata.authorization_endpoint().as_str(), by_reference(&client.id, &uri).encode());
    let flow = browser.drive(browser.get(&url).await, Some(&alice), "allow").await;
    assert_eq!(one(&flow.params, "state"), state);
    assert_eq!(one(&flow.params, "iss"), server.issuer);
    let tokens = rp
        .exchange_code(AuthorizationCode::new(flow.code()))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(p.verifier.clone()))
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token.claims(&rp.id_token_verifier(), &nonce).unwrap_or_else(|e| panic!("ID token: {e:?}"));
    assert_eq!(claims.subject().as_str(), alice.id);

    // Used once: a replay (or a reload) is refused.
    assert_refused(&browser.authorize(&by_reference(&client.id, &uri)).await, "a replayed request_uri");

    // Another client cannot use it, and trying does not use it up.
    let other = confidential(&db);
    let uri = pushed(&server, &client, &params).await;
    assert_refused(&browser.authorize(&by_reference(&other.id, &uri)).await, "another client's request_uri");

    // Raced by many browsers (across replicas on the cluster): one wins.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let url = format!("{}?{}", server.url("/authorize"), by_reference(&client.id, &uri).encode());
        tasks.push(tokio::spawn(async move { http().get(url).send().await.unwrap().status().as_u16() }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400, 400, 400], "one login page, then refusals");

    // A client registered with require_pushed_authorization_requests (RFC 7591).
    let res = http()
        .post(server.url("/register"))
        .json(&serde_json::json!({"redirect_uris": [CB], "require_pushed_authorization_requests": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let registered: Value = res.json().await.unwrap();
    assert_eq!(registered["require_pushed_authorization_requests"], true, "{registered}");
    let strict = TestClient {
        id: registered["client_id"].as_str().unwrap().to_string(),
        secret: registered["client_secret"].as_str().map(String::from),
    };
    let page = browser.authorize(&code_request(&strict.id, &p)).await;
    let flow = browser.drive(page, Some(&alice), "allow").await;
    assert_eq!(flow.error().as_deref(), Some("invalid_request"), "{:?}", flow.params);
    let uri = pushed(&server, &strict, &code_request(&strict.id, &p)).await;
    let flow = browser.drive(browser.authorize(&by_reference(&strict.id, &uri)).await, Some(&alice), "allow").await;
    assert!(!flow.code().is_empty());
}

async fn pushed_requests_required_and_expired(backend: Backend) {
    let env_vars = [("LATCHKEY_PAR_REQUIRED", "true"), ("LATCHKEY_PAR_REQUEST_URI_TTL_SECONDS", "5")];
    let Env { db, server, alice } = env(backend, &env_vars).await;
    let client = public(&db);
    let meta = http().get(server.url("/.well-known/oauth-authorization-server")).send().await.unwrap();
    let meta: Value = meta.json().await.unwrap();
    assert_eq!(meta["require_pushed_authorization_requests"], true, "{meta}");

    let browser = Browser::new(&server);
    let p = pkce();
    let flow = browser.drive(browser.authorize(&code_request(&client.id, &p)).await, None, "allow").await;
    assert_eq!(flow.error().as_deref(), Some("invalid_request"), "not pushed: {:?}", flow.params);

    let res = push(&server, &client, &code_request(&client.id, &p)).await;
    assert_eq!(res.json()["expires_in"], 5, "{}", res.describe());
    let flow = browser
        .drive(
            browser.authorize(&by_reference(&client.id, res.json()["request_uri"].as_str().unwrap())).await,
            Some(&alice),
            "allow",
        )
        .await;
    let res = token(&server, auth_of(&client), &code_grant(&flow.code(), Some(&p.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());

    let uri = pushed(&server, &client, &code_request(&client.id, &p)).await;
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_refused(&browser.authorize(&by_reference(&client.id, &uri)).await, "an expired request_uri");
}

/// A FAPI 2.0 client written with PyJWT (tests/python/pyjwt_fapi2.py), not
/// our code: a signed request object (ES256) pushed with a `private_key_jwt`
/// assertion and a DPoP proof, whose replay is refused; the browser brings
/// the `request_uri`; the code is redeemed only with a proof by the same key
/// and gives DPoP-bound tokens and an ES256 ID token. The request URI is
/// used once. Contract: docs/advanced-protocols.md, "FAPI 2.0".
async fn a_fapi2_client_made_with_pyjwt(backend: Backend) {
    let Some(python) = python_with("jwt, cryptography") else { return };
    let algorithms = [("LATCHKEY_KEYS_ALGORITHMS", "RS256,ES256")];
    let Env { db, server, alice } = env(backend, &algorithms).await;
    let dir = tempfile::tempdir().unwrap();
    let pair = josekit::jws::ES256.generate_key_pair().unwrap();
    let pem = dir.path().join("client.pem");
    std::fs::write(&pem, pair.to_pem_private_key()).unwrap();
    let mut public = serde_json::to_value(pair.to_jwk_public_key().as_ref()).unwrap();
    public["kid"] = "c1".into();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, serde_json::json!({"keys": [public]}).to_string()).unwrap();
    let args = [
        "client",
        "create",
        "--name",
        "Bank",
        "--redirect-uri",
        CB,
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        jwks.to_str().unwrap(),
        "--signing-alg",
        "ES256",
        "--id-token-signed-response-alg",
        "ES256",
        "--fapi2",
        "--json",
    ];
    let id = cli(&db, &args, &algorithms, None).ok().json()["client_id"].as_str().unwrap().to_string();
    let state = dir.path().join("state.json");
    let common =
        [server.issuer.clone(), id.clone(), pem.display().to_string(), "c1".into(), state.display().to_string()];
    let push_args: Vec<String> = std::iter::once("push".to_string()).chain(common.iter().cloned()).collect();
    let pushed = python_report(python, "pyjwt_fapi2.py", &push_args, &server).await;
    assert_eq!(
        (pushed["replay_status"].as_i64(), pushed["replay_error"].as_str()),
        (Some(400), Some("invalid_dpop_proof"))
    );
    let uri = pushed["request_uri"].as_str().unwrap();

    let b = Browser::new(&server);
    let flow = b.follow_to_code(&by_reference(&id, uri), &alice).await;
    assert_eq!(one(&flow.params, "state"), "fapi-state");
    assert_eq!(one(&flow.params, "iss"), server.issuer);
    let redeem_args: Vec<String> =
        std::iter::once("redeem".to_string()).chain(common.iter().cloned()).chain([flow.code()]).collect();
    let redeemed = python_report(python, "pyjwt_fapi2.py", &redeem_args, &server).await;
    assert_eq!(redeemed["without_proof"], serde_json::json!([400, "invalid_dpop_proof"]), "{redeemed}");
    let tokens = &redeemed["tokens"];
    assert_eq!(tokens["token_type"], "DPoP");
    let id_token = verify_jwt_with(&server, tokens["id_token"].as_str().unwrap(), jsonwebtoken::Algorithm::ES256).await;
    assert_eq!(id_token["aud"], id.as_str());
    let access = verify_jwt(&server, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(access["cnf"]["jkt"], redeemed["jkt"]);
    assert_refused(&b.authorize(&by_reference(&id, uri)).await, "the request_uri again");
}
